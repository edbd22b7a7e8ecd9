/** Leaderboard queries and the board's live stream (SPEC §5.2, §7.2-7.3). */
import { keepPreviousData, useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect, useState } from 'react';
import { api, session, unwrap } from '@/lib/api-client';
import type { components } from '@/lib/api-schema';
import { openEventStream } from '@/lib/event-stream';

export type Board = components['schemas']['Leaderboard'];
export type Entry = components['schemas']['LeaderboardEntry'];
export type Split = 'public' | 'private';
export type Period = 'all' | 'day' | 'week' | 'month';

export interface BoardQuery {
  competitionId: string;
  split: Split;
  period: Period;
  date?: string | undefined;
  cursor?: string | undefined;
  limit?: number;
}

export function useBoard(query: BoardQuery) {
  const { competitionId, split, period, date, cursor, limit = 25 } = query;
  return useQuery({
    queryKey: ['board', competitionId, split, period, date ?? null, cursor ?? null, limit],
    placeholderData: keepPreviousData,
    queryFn: async () =>
      unwrap(
        await api.GET('/v1/competitions/{competition_id}/leaderboard', {
          params: { path: { competition_id: competitionId }, query: { split, period, limit, ...(cursor ? { cursor } : {}), ...(date ? { date } : {}) } },
        }),
      ),
  });
}

export function useAroundMe(query: BoardQuery, enabled: boolean) {
  const { competitionId, split, period, date } = query;
  return useQuery({
    queryKey: ['board', competitionId, split, period, date ?? null, 'around-me'],
    enabled,
    queryFn: async () =>
      unwrap(
        await api.GET('/v1/competitions/{competition_id}/leaderboard/around-me', {
          params: { path: { competition_id: competitionId }, query: { split, period, window: 3, ...(date ? { date } : {}) } },
        }),
      ),
  });
}

/** Refetch the shown board whenever the server says it changed; returns the stream status. */
export function useBoardStream(competitionId: string, split: Split, period: Period, date?: string) {
  const queryClient = useQueryClient();
  const [status, setStatus] = useState<'connecting' | 'open' | 'closed'>('connecting');
  useEffect(() => {
    const params = new URLSearchParams({ split, period, ...(date ? { date } : {}) });
    const stream = openEventStream({
      url: `/v1/competitions/${competitionId}/leaderboard/stream?${params}`,
      headers: (): Record<string, string> => (session.accessToken ? { Authorization: `Bearer ${session.accessToken}` } : {}),
      onStatus: setStatus,
      onEvent: (event) => {
        if (event.event !== 'leaderboard.changed') return;
        void queryClient.invalidateQueries({ queryKey: ['board', competitionId] });
        void queryClient.invalidateQueries({ queryKey: ['competition', competitionId] });
      },
    });
    return () => stream.close();
  }, [competitionId, split, period, date, queryClient]);
  return status;
}
