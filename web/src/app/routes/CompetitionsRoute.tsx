import { CompetitionList } from '@/features/competitions/components/CompetitionList';

export function CompetitionsRoute() {
  return <CompetitionList />;
}
