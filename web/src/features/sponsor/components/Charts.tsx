/** Small SVG bar charts (no chart library: a few bars do not justify 60 KB). */
import { formatNumber } from '@/lib/format';

export function BarChart({ title, bars, unit }: { title: string; bars: { label: string; value: number }[]; unit: string }) {
  if (!bars.length) return <p className="empty">{title}: no data yet.</p>;
  const max = Math.max(...bars.map((b) => b.value), 1);
  const width = 320;
  const barWidth = width / bars.length;
  return (
    <figure className="chart">
      <figcaption>{title}</figcaption>
      <svg viewBox={`0 0 ${width} 120`} role="img" aria-label={`${title}: ${bars.map((b) => `${b.label} ${b.value} ${unit}`).join(', ')}`}>
        {bars.map((bar, i) => {
          const height = (bar.value / max) * 100;
          return (
            <g key={bar.label}>
              <rect x={i * barWidth + 2} y={105 - height} width={Math.max(1, barWidth - 4)} height={height} className="bar">
                <title>{`${bar.label}: ${formatNumber(bar.value)} ${unit}`}</title>
              </rect>
            </g>
          );
        })}
        <line x1="0" y1="105" x2={width} y2="105" className="axis" />
      </svg>
      <p className="muted small">
        {bars[0]?.label} … {bars.at(-1)?.label} · max {formatNumber(max)} {unit}
      </p>
    </figure>
  );
}
