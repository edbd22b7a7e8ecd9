import { Link, useParams } from 'react-router-dom';
import { ProblemAlert, Spinner } from '@/components/ui';
import { useCompetition } from '@/features/competitions/api/competitions';
import { SponsorConsole } from '@/features/sponsor/components/SponsorConsole';

export function ManageRoute() {
  const { id = '' } = useParams();
  const query = useCompetition(id);
  if (query.isPending) return <Spinner />;
  if (query.isError) return <ProblemAlert error={query.error} />;
  if (query.data.viewer?.role !== 'sponsor') return <ProblemAlert problem={{ title: 'Not allowed', status: 403, detail: 'Only the owner manages a competition.', code: 'NOT_OWNER' }} />;
  return (
    <>
      <div className="row spread wrap">
        <h1>Manage: {query.data.title}</h1>
        <Link to={`/competitions/${id}`}>Public page</Link>
      </div>
      <SponsorConsole competition={query.data} />
    </>
  );
}
