/** The sponsor's commands: create/edit, lifecycle, invite codes, answer key, invalidation, rescore. */
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { api, upload, unwrap } from '@/lib/api-client';
import type { components } from '@/lib/api-schema';

export type CompetitionCreate = components['schemas']['CompetitionCreate'];
export type CompetitionUpdate = components['schemas']['CompetitionUpdate'];
export type Stats = components['schemas']['Stats'];

const path = (id: string) => ({ path: { competition_id: id } });

export function useCreateCompetition() {
  return useMutation({
    mutationFn: async (body: CompetitionCreate) => unwrap(await api.POST('/v1/competitions', { body })),
  });
}

export function useUpdateCompetition(id: string) {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: async (body: CompetitionUpdate) => unwrap(await api.PATCH('/v1/competitions/{competition_id}', { params: path(id), body })),
    onSuccess: (competition) => queryClient.setQueryData(['competition', id], competition),
  });
}

export function useRotateInvite(id: string) {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: async () => unwrap(await api.POST('/v1/competitions/{competition_id}/invite-code', { params: path(id) })),
    onSuccess: (competition) => queryClient.setQueryData(['competition', id], competition),
  });
}

export function useAnswerKey(id: string, enabled: boolean) {
  return useQuery({
    queryKey: ['answer-key', id],
    enabled,
    retry: false,
    queryFn: async () => {
      const answer = await api.GET('/v1/competitions/{competition_id}/answer-key', { params: path(id) });
      if (answer.response.status === 404) return null;
      return unwrap(answer);
    },
    refetchInterval: (query) => (query.state.data === null ? 1500 : false),
  });
}

export function useUploadAnswerKey(id: string) {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (file: File) => upload<components['schemas']['AnswerKeyAccepted']>(`/v1/competitions/${id}/answer-key`, file, { method: 'PUT' }),
    onSuccess: () => queryClient.setQueryData(['answer-key', id], null),
  });
}

export function useRoster(id: string) {
  return useQuery({
    queryKey: ['roster', id],
    queryFn: async () => unwrap(await api.GET('/v1/competitions/{competition_id}/participants', { params: { ...path(id), query: { limit: 200 } } })),
  });
}

export function useStats(id: string) {
  return useQuery({
    queryKey: ['stats', id],
    queryFn: async () => unwrap(await api.GET('/v1/competitions/{competition_id}/stats', { params: path(id) })),
  });
}

/** Every submission (owner); `waitingFor` ids are polled until scoring marks them invalidated. */
export function useAllSubmissions(id: string, enabled: boolean, waitingFor: string[] = []) {
  return useQuery({
    queryKey: ['submissions', id, 'all'],
    enabled,
    refetchInterval: (query) =>
      waitingFor.some((sid) => query.state.data?.items.find((s) => s.id === sid)?.status !== 'invalidated') ? 1000 : false,
    queryFn: async () => unwrap(await api.GET('/v1/competitions/{competition_id}/submissions', { params: { ...path(id), query: { limit: 100 } } })),
  });
}

export function useInvalidate(id: string) {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: async (submissionId: string) =>
      unwrap(
        await api.PATCH('/v1/competitions/{competition_id}/submissions/{submission_id}', {
          params: { path: { competition_id: id, submission_id: submissionId } },
          body: { invalidated: true },
        }),
      ),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: ['submissions', id] }),
  });
}

export function useRescore(id: string) {
  return useMutation({
    mutationFn: async () => unwrap(await api.POST('/v1/competitions/{competition_id}/rescore', { params: path(id) })),
  });
}

export function useDailyReport(id: string, kind: 'completions' | 'incomplete', date: string, enabled: boolean) {
  return useQuery({
    queryKey: ['report', id, kind, date],
    enabled: enabled && Boolean(date),
    queryFn: async () =>
      kind === 'completions'
        ? unwrap(await api.GET('/v1/reports/competitions/{competition_id}/completions', { params: { ...path(id), query: { date } } }))
        : unwrap(await api.GET('/v1/reports/competitions/{competition_id}/incomplete', { params: { ...path(id), query: { date } } })),
  });
}

export type TrustedLrsClients = components['schemas']['TrustedLrsClients'];

/** The LRS clients whose statements count for an activity competition (ADR 0054). */
export function useTrustedLrsClients(id: string) {
  return useQuery({
    queryKey: ['trusted-lrs-clients', id],
    queryFn: async () => unwrap(await api.GET('/v1/competitions/{competition_id}/trusted-lrs-clients', { params: path(id) })),
  });
}

export function useTrustLrsClients(id: string) {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: async (ids: string[]) =>
      unwrap(await api.PUT('/v1/competitions/{competition_id}/trusted-lrs-clients', { params: path(id), body: { lrs_client_ids: ids } })),
    onSuccess: (trust) => queryClient.setQueryData(['trusted-lrs-clients', id], trust),
  });
}
