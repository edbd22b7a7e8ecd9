/** The caller's submissions to a competition with their scores and status. */
import { DataTable, ScoreCells, scoreColumns } from '@/components/table';
import { QueryState, StatusBadge } from '@/components/ui';
import { formatDateTime } from '@/lib/format';
import { useMySubmissions } from '../api/submissions';

export function MySubmissions({ competitionId, title = 'My submissions' }: { competitionId: string; title?: string }) {
  const submissions = useMySubmissions(competitionId, true);
  return (
    <section className="card" aria-labelledby="my-submissions">
      <h2 id="my-submissions">{title}</h2>
      <QueryState query={submissions} isEmpty={(d) => d.items.length === 0} empty="No submissions yet.">
        {(page) => (
          <DataTable columns={['Submitted', 'Status', ...scoreColumns]}>
            {page.items.map((s) => (
              <tr key={s.id}>
                <td>{formatDateTime(s.submitted_at)}</td>
                <td>
                  <StatusBadge status={s.status} />
                  {s.errors.length ? <span className="muted small"> {s.errors.map((e) => e.code).join(', ')}</span> : null}
                </td>
                <ScoreCells submission={s} />
              </tr>
            ))}
          </DataTable>
        )}
      </QueryState>
    </section>
  );
}
