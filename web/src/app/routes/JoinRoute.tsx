/** The invite link `/join/<code>`: join by code, then follow the decision live. */
import { useQueryClient } from '@tanstack/react-query';
import { useEffect, useRef } from 'react';
import { Link, useParams } from 'react-router-dom';
import { ProblemAlert, Spinner } from '@/components/ui';
import { useCompetition, useEnrollment, useJoinByCode } from '@/features/competitions/api/competitions';
import { JoinPanel } from '@/features/competitions/components/JoinPanel';
import { useAuth } from '@/lib/auth';
import { useLiveEvent } from '@/lib/live';

function Joined({ competitionId, code }: { competitionId: string; code: string }) {
  const queryClient = useQueryClient();
  const competition = useCompetition(competitionId);
  // A private competition shows itself to members only: until the request is accepted it
  // answers 404, so follow the request (live, with polling as the fallback) and ask again.
  const enrollment = useEnrollment(competitionId, competition.isError);
  const status = enrollment.data?.status;
  useLiveEvent('enrollment.updated', () => {
    void queryClient.invalidateQueries({ queryKey: ['enrollment', competitionId] });
  });
  const { isError, refetch } = competition;
  useEffect(() => {
    if (isError && status === 'accepted') void refetch();
  }, [isError, status, refetch]);
  if (competition.isPending) return <Spinner />;
  if (competition.isError) {
    if (enrollment.isPending || status === 'pending' || status === 'accepted') {
      return <Spinner label="Waiting for the decision on your request…" />;
    }
    return <ProblemAlert error={competition.error} />;
  }
  return (
    <>
      <h1>{competition.data.title}</h1>
      <JoinPanel competition={competition.data} initialCode={code} />
      <p>
        <Link to={`/competitions/${competitionId}`}>Go to the competition</Link>
      </p>
    </>
  );
}

export function JoinRoute() {
  const { code = '' } = useParams();
  const { user, loading } = useAuth();
  const join = useJoinByCode();
  const sent = useRef(false);
  useEffect(() => {
    if (user && !sent.current) {
      sent.current = true;
      join.mutate(code);
    }
  }, [user, code, join]);
  if (loading) return <Spinner />;
  if (!user) {
    return (
      <div className="narrow">
        <h1>You are invited</h1>
        <p>
          <Link to={`/login?next=/join/${encodeURIComponent(code)}`}>Sign in</Link> or <Link to="/register">create an account</Link> to accept the invitation.
        </p>
      </div>
    );
  }
  if (join.isError) return <ProblemAlert error={join.error} />;
  if (!join.data) return <Spinner label="Sending your request…" />;
  return <Joined competitionId={join.data.competition_id} code={code} />;
}
