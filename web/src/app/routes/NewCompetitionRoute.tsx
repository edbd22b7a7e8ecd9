import { useNavigate } from 'react-router-dom';
import { useCreateCompetition } from '@/features/sponsor/api/sponsor';
import { CompetitionForm, defaultValues } from '@/features/sponsor/components/CompetitionForm';

export function NewCompetitionRoute() {
  const navigate = useNavigate();
  const create = useCreateCompetition();
  return (
    <div className="narrow">
      <h1>New competition</h1>
      <CompetitionForm
        initial={defaultValues()}
        submitLabel="Create competition"
        onSubmit={async (body) => {
          const competition = await create.mutateAsync(body);
          navigate(`/competitions/${competition.id}/manage`);
        }}
      />
    </div>
  );
}
