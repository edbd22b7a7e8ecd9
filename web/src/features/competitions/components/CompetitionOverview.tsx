/** What a competition is: description (sanitised Markdown), timeline, rules, metric and limits. */
import { StatusBadge } from '@/components/ui';
import { formatDateTime, formatNumber } from '@/lib/format';
import { renderMarkdown } from '@/lib/markdown';
import type { Competition } from '../api/competitions';

export function CompetitionOverview({ competition }: { competition: Competition }) {
  const c = competition;
  return (
    <section aria-labelledby="about" className="card">
      <h2 id="about" className="sr-only">
        About
      </h2>
      <p className="row wrap">
        <StatusBadge status={c.status} />
        <span className="badge">{c.kind}</span>
        <span className="badge">{c.visibility}</span>
      </p>
      {c.description ? (
        // Sanitised by DOMPurify in renderMarkdown: no scripts, handlers or styles survive.
        <div className="markdown" dangerouslySetInnerHTML={{ __html: renderMarkdown(c.description) }} />
      ) : (
        <p className="muted">No description.</p>
      )}
      <dl className="facts">
        <dt>Starts</dt>
        <dd>{formatDateTime(c.starts_at)}</dd>
        <dt>Ends</dt>
        <dd>{formatDateTime(c.ends_at)}</dd>
        <dt>Time zone</dt>
        <dd>{c.timezone}</dd>
        <dt>Participants</dt>
        <dd>
          {formatNumber(c.participants, 0)}
          {c.max_participants ? ` of ${formatNumber(c.max_participants, 0)}` : ''}
        </dd>
        <dt>Late join</dt>
        <dd>{c.late_join ? 'allowed' : 'not allowed'}</dd>
        {c.kind === 'prediction' ? (
          <>
            <dt>Metric</dt>
            <dd>{c.metric ?? '—'}</dd>
            <dt>Daily submissions</dt>
            <dd>{c.daily_submission_limit ?? 'unlimited'}</dd>
            <dt>Public board</dt>
            <dd>{c.public_fraction ? `${Math.round(c.public_fraction * 100)}% of the rows` : '—'}</dd>
          </>
        ) : null}
        {c.kind === 'activity' && c.rules ? (
          <>
            <dt>Points</dt>
            <dd>
              <ul className="plain">
                {c.rules.points.map((rule, i) => (
                  <li key={i}>
                    {formatNumber(rule.points, 2)} for <code>{rule.verb}</code>
                    {rule.activity_prefix ? <> on <code>{rule.activity_prefix}…</code></> : null}
                  </li>
                ))}
              </ul>
            </dd>
            <dt>Daily cap</dt>
            <dd>{c.rules.daily_cap ? formatNumber(c.rules.daily_cap, 2) : 'none'}</dd>
          </>
        ) : null}
      </dl>
    </section>
  );
}
