/** Competition queries and the join command (SPEC §5.2). */
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { api, unwrap } from '@/lib/api-client';
import type { components } from '@/lib/api-schema';

export type Competition = components['schemas']['Competition'];
export type Enrollment = components['schemas']['EnrollmentOut'];

export interface CompetitionFilters {
  q?: string;
  status?: 'draft' | 'active' | 'ended' | 'canceled';
  kind?: 'prediction' | 'activity';
  mine?: 'owned' | 'joined';
}

export function useCompetitions(filters: CompetitionFilters) {
  return useQuery({
    queryKey: ['competitions', filters],
    queryFn: async () => unwrap(await api.GET('/v1/competitions', { params: { query: { ...filters, limit: 50 } } })),
  });
}

export function useCompetition(id: string) {
  return useQuery({
    queryKey: ['competition', id],
    queryFn: async () => unwrap(await api.GET('/v1/competitions/{competition_id}', { params: { path: { competition_id: id } } })),
  });
}

export function useEnrollment(id: string, enabled: boolean) {
  return useQuery({
    queryKey: ['enrollment', id],
    enabled,
    retry: false,
    queryFn: async () => {
      const answer = await api.GET('/v1/competitions/{competition_id}/enrollment', { params: { path: { competition_id: id } } });
      if (answer.response.status === 404) return null;
      return unwrap(answer);
    },
    // Pending decisions take milliseconds; poll as a fallback to the live event.
    refetchInterval: (query) => (query.state.data?.status === 'pending' ? 1000 : false),
  });
}

export function useJoin(id: string) {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: async (inviteCode?: string) =>
      unwrap(
        await api.POST('/v1/competitions/{competition_id}/join', {
          params: { path: { competition_id: id }, header: { 'Idempotency-Key': crypto.randomUUID() } },
          body: inviteCode ? { invite_code: inviteCode } : null,
        }),
      ),
    onSuccess: (answer) => {
      queryClient.setQueryData(['enrollment', id], { competition_id: id, status: 'pending', request_id: answer.request_id });
    },
  });
}

export function useJoinByCode() {
  return useMutation({
    mutationFn: async (code: string) =>
      unwrap(await api.POST('/v1/join/{invite_code}', { params: { path: { invite_code: code }, header: { 'Idempotency-Key': crypto.randomUUID() } } })),
  });
}

export function useLeave(id: string) {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: async () => unwrap(await api.DELETE('/v1/competitions/{competition_id}/enrollment', { params: { path: { competition_id: id } } })),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: ['enrollment', id] }),
  });
}
