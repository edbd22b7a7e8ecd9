/** The inbox and its live unread count (SPEC §5.6). */
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { api, unwrap } from '@/lib/api-client';
import { useLiveEvent } from '@/lib/live';

export function useInbox(unreadOnly: boolean, enabled = true) {
  const queryClient = useQueryClient();
  useLiveEvent('notification', () => void queryClient.invalidateQueries({ queryKey: ['notifications'] }));
  return useQuery({
    queryKey: ['notifications', unreadOnly],
    enabled,
    queryFn: async () => unwrap(await api.GET('/v1/notifications', { params: { query: { unread: unreadOnly, limit: 50 } } })),
  });
}

export function useMarkRead() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: async (id: string) => unwrap(await api.POST('/v1/notifications/{notification_id}/read', { params: { path: { notification_id: id } } })),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: ['notifications'] }),
  });
}
