/** A competition's page: overview, join, upload and my submissions, the live board. */
import { Link, useParams } from 'react-router-dom';
import { ProblemAlert, Spinner } from '@/components/ui';
import { useCompetition } from '@/features/competitions/api/competitions';
import { CompetitionOverview } from '@/features/competitions/components/CompetitionOverview';
import { JoinPanel } from '@/features/competitions/components/JoinPanel';
import { useBoard } from '@/features/leaderboard/api/leaderboard';
import { Leaderboard } from '@/features/leaderboard/components/Leaderboard';
import { MySubmissions } from '@/features/submissions/components/MySubmissions';
import { SubmitPanel } from '@/features/submissions/components/SubmitPanel';
import { useAuth } from '@/lib/auth';

export function CompetitionRoute() {
  const { id = '' } = useParams();
  const { user, loading } = useAuth();
  const query = useCompetition(id);
  // The board's first page loads alongside the competition, not after it.
  useBoard({ competitionId: id, split: 'public', period: 'all' });
  if (query.isPending) return <Spinner />;
  if (query.isError) return <ProblemAlert error={query.error} />;
  const c = query.data;
  const role = c.viewer?.role ?? 'viewer';
  const sponsor = role === 'sponsor';
  const ended = c.status === 'ended' || new Date(c.ends_at) < new Date();
  return (
    <>
      <div className="row spread wrap">
        <h1>{c.title}</h1>
        {sponsor ? (
          <Link className="button" to={`/competitions/${c.id}/manage`}>
            Manage
          </Link>
        ) : null}
      </div>
      <div className="columns">
        <div>
          <CompetitionOverview competition={c} />
          {!user && !loading ? (
            <p className="card">
              <Link to={`/login?next=/competitions/${c.id}`}>Sign in</Link> or <Link to="/register">create an account</Link> to take part.
            </p>
          ) : null}
          {user && !sponsor && c.status === 'active' ? <JoinPanel competition={c} /> : null}
          {user && role === 'participant' && c.kind === 'prediction' && c.status === 'active' ? (
            <SubmitPanel competitionId={c.id} metric={c.metric} used={c.viewer?.submissions_today} limit={c.viewer?.submissions_limit ?? c.daily_submission_limit} />
          ) : null}
          {user && role === 'participant' && c.kind === 'prediction' ? <MySubmissions competitionId={c.id} /> : null}
        </div>
        <Leaderboard
          competitionId={c.id}
          kind={c.kind}
          timezone={c.timezone}
          myUserId={user?.id}
          privateVisible={sponsor || ended}
          dailyCap={c.rules?.daily_cap}
        />
      </div>
    </>
  );
}
