/** Submission queries, the upload with progress, and the expected file (SPEC §5.3, §10.2). */
import { useQuery } from '@tanstack/react-query';
import { api, getText, unwrap } from '@/lib/api-client';
import type { components } from '@/lib/api-schema';

export type Submission = components['schemas']['SubmissionView'];
export type Accepted = components['schemas']['SubmissionAccepted'];

export function useMySubmissions(competitionId: string, enabled: boolean) {
  return useQuery({
    queryKey: ['submissions', competitionId],
    enabled,
    queryFn: async () =>
      unwrap(await api.GET('/v1/competitions/{competition_id}/submissions', { params: { path: { competition_id: competitionId } } })),
    refetchInterval: (query) => (query.state.data?.items.some((s) => s.status === 'queued') ? 1500 : false),
  });
}

export function useSubmission(id: string | null) {
  return useQuery({
    queryKey: ['submission', id],
    enabled: id !== null,
    queryFn: async () => unwrap(await api.GET('/v1/submissions/{submission_id}', { params: { path: { submission_id: id as string } } })),
    // The live `submission.scored` event refreshes it; polling is the fallback.
    refetchInterval: (query) => (query.state.data?.status === 'queued' || !query.state.data ? 1000 : false),
  });
}

export function useSample(competitionId: string, enabled: boolean) {
  return useQuery({
    queryKey: ['sample', competitionId],
    enabled,
    retry: false,
    staleTime: 5 * 60_000,
    queryFn: () => getText(`/v1/competitions/${competitionId}/sample-submission`),
  });
}
