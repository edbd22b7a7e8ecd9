/** A competition's board: tabs, periods, pagination, around-me, live reorder (FLIP animation). */
import { useLayoutEffect, useRef, useState } from 'react';
import { DataTable } from '@/components/table';
import { ProblemAlert, Spinner } from '@/components/ui';
import { formatDateTime, formatNumber, localDay } from '@/lib/format';
import { useAroundMe, useBoard, useBoardStream, type Entry, type Period, type Split } from '../api/leaderboard';

interface Props {
  competitionId: string;
  kind: 'prediction' | 'activity';
  timezone: string;
  myUserId?: string | undefined;
  /** Whether the private split may be shown (owner, or after the end). */
  privateVisible: boolean;
  dailyCap?: number | null | undefined;
}

/** Move rows smoothly from their old position to the new one (First, Last, Invert, Play). */
function useFlip(entries: Entry[] | undefined) {
  const body = useRef<HTMLTableSectionElement>(null);
  const positions = useRef(new Map<string, number>());
  useLayoutEffect(() => {
    const rows = body.current?.querySelectorAll<HTMLTableRowElement>('tr[data-user]') ?? [];
    const next = new Map<string, number>();
    const reduced = window.matchMedia?.('(prefers-reduced-motion: reduce)').matches;
    rows.forEach((row) => {
      const user = row.dataset.user as string;
      const top = row.getBoundingClientRect().top;
      next.set(user, top);
      const before = positions.current.get(user);
      if (before !== undefined && before !== top && !reduced && row.animate) {
        row.animate([{ transform: `translateY(${before - top}px)` }, { transform: 'translateY(0)' }], { duration: 300, easing: 'ease-out' });
        row.classList.add('moved');
        setTimeout(() => row.classList.remove('moved'), 1200);
      }
    });
    positions.current = next;
  }, [entries]);
  return body;
}

export function Leaderboard({ competitionId, kind, timezone, myUserId, privateVisible, dailyCap }: Props) {
  const [split, setSplit] = useState<Split>('public');
  const [period, setPeriod] = useState<Period>('all');
  const [date, setDate] = useState<string>('');
  const [cursors, setCursors] = useState<string[]>([]);
  const cursor = cursors.at(-1);
  const query = { competitionId, split, period, date: kind === 'activity' && date ? date : undefined, cursor };
  const board = useBoard(query);
  const around = useAroundMe(query, Boolean(myUserId));
  const live = useBoardStream(competitionId, split, period, query.date);
  const body = useFlip(board.data?.entries);
  const mine = around.data?.entries.find((entry) => entry.user_id === myUserId);

  const splits: Split[] = kind === 'prediction' && privateVisible ? ['public', 'private'] : ['public'];
  const periods: Period[] = kind === 'activity' ? ['day', 'week', 'month', 'all'] : ['all'];

  return (
    <section aria-labelledby="board-title" className="card">
      <div className="row spread">
        <h2 id="board-title">Leaderboard</h2>
        <span className={`live-dot ${live}`} role="status">
          {live === 'open' ? 'Live' : 'Reconnecting…'}
        </span>
      </div>
      {splits.length > 1 ? (
        <div role="tablist" aria-label="Board split" className="tabs">
          {splits.map((s) => (
            <button key={s} role="tab" type="button" aria-selected={split === s} onClick={() => { setSplit(s); setCursors([]); }}>
              {s === 'public' ? 'Public' : 'Private'}
            </button>
          ))}
        </div>
      ) : null}
      {periods.length > 1 ? (
        <div className="row wrap">
          <div role="tablist" aria-label="Period" className="tabs">
            {periods.map((p) => (
              <button key={p} role="tab" type="button" aria-selected={period === p} onClick={() => { setPeriod(p); setCursors([]); }}>
                {{ day: 'Day', week: 'Week', month: 'Month', all: 'All time' }[p]}
              </button>
            ))}
          </div>
          {period !== 'all' ? (
            <label className="inline">
              Date{' '}
              <input type="date" value={date || localDay(timezone)} onChange={(e) => { setDate(e.target.value); setCursors([]); }} />
            </label>
          ) : null}
        </div>
      ) : null}
      {kind === 'activity' && myUserId && dailyCap ? (
        <p className="muted" data-testid="my-points">
          My points {period === 'day' ? 'today' : 'this period'}: <strong>{formatNumber(mine?.score ?? 0, 2)}</strong>
          {period === 'day' ? <> of a daily cap of {formatNumber(dailyCap, 2)}</> : null}
        </p>
      ) : null}
      {board.isPending ? <Spinner label="Loading the leaderboard…" /> : null}
      {board.isError ? <ProblemAlert error={board.error} /> : null}
      {board.data ? (
        <>
          <p className="muted small">
            {formatNumber(board.data.total, 0)} ranked · as of <time dateTime={board.data.as_of ?? ''}>{formatDateTime(board.data.as_of)}</time>
          </p>
          {board.data.entries.length === 0 ? (
            <p className="empty">No one is ranked yet.</p>
          ) : (
            <DataTable
              className="board"
              caption="Ranks, best first"
              hideCaption
              bodyRef={body}
              columns={[
                'Rank',
                'Participant',
                { label: kind === 'activity' ? 'Points' : 'Score', numeric: true },
                { label: kind === 'activity' ? 'Statements' : 'Entries', numeric: true },
                { label: 'Last', className: 'hide-narrow' },
              ]}
            >
              {board.data.entries.map((entry) => (
                <tr key={entry.user_id} data-user={entry.user_id} className={entry.user_id === myUserId ? 'me' : undefined} aria-current={entry.user_id === myUserId ? 'true' : undefined}>
                  <td>{entry.rank}</td>
                  <td>
                    {entry.display_name ?? 'Anonymous'}
                    {entry.user_id === myUserId ? <span className="badge">you</span> : null}
                  </td>
                  <td className="num">{formatNumber(entry.score)}</td>
                  <td className="num">{entry.submissions}</td>
                  <td className="hide-narrow">{formatDateTime(entry.last_submission_at)}</td>
                </tr>
              ))}
            </DataTable>
          )}
          <nav className="row" aria-label="Board pages">
            <button type="button" disabled={!cursors.length} onClick={() => setCursors((c) => c.slice(0, -1))}>
              Previous
            </button>
            <button type="button" disabled={!board.data.next_cursor} onClick={() => setCursors((c) => [...c, board.data.next_cursor as string])}>
              Next
            </button>
          </nav>
        </>
      ) : null}
      {myUserId && around.data && around.data.rank ? (
        <details>
          <summary>Around me (rank {around.data.rank})</summary>
          <ol className="around" start={around.data.entries[0]?.rank ?? 1}>
            {around.data.entries.map((entry) => (
              <li key={entry.user_id} className={entry.user_id === myUserId ? 'me' : undefined}>
                {entry.display_name ?? 'Anonymous'} — {formatNumber(entry.score)}
              </li>
            ))}
          </ol>
        </details>
      ) : null}
    </section>
  );
}
