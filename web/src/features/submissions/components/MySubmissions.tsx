/** The caller's submissions to a competition with their scores and status. */
import { QueryState, StatusBadge } from '@/components/ui';
import { formatDateTime, formatNumber } from '@/lib/format';
import { useMySubmissions } from '../api/submissions';

export function MySubmissions({ competitionId, title = 'My submissions' }: { competitionId: string; title?: string }) {
  const submissions = useMySubmissions(competitionId, true);
  return (
    <section className="card" aria-labelledby="my-submissions">
      <h2 id="my-submissions">{title}</h2>
      <QueryState query={submissions} isEmpty={(d) => d.items.length === 0} empty="No submissions yet.">
        {(page) => (
          <div className="table-wrap" tabIndex={0}>
            <table>
              <thead>
                <tr>
                  <th scope="col">Submitted</th>
                  <th scope="col">Status</th>
                  <th scope="col" className="num">Public</th>
                  <th scope="col" className="num">Private</th>
                </tr>
              </thead>
              <tbody>
                {page.items.map((s) => (
                  <tr key={s.id}>
                    <td>{formatDateTime(s.submitted_at)}</td>
                    <td>
                      <StatusBadge status={s.status} />
                      {s.errors.length ? <span className="muted small"> {s.errors.map((e) => e.code).join(', ')}</span> : null}
                    </td>
                    <td className="num">{formatNumber(s.public_score)}</td>
                    <td className="num">{formatNumber(s.private_score)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </QueryState>
    </section>
  );
}
