/** The signed-in user's live updates (`/v1/stream`), shared by every component that listens. */
import { createContext, useContext, useEffect, useRef, useState, type ReactNode } from 'react';
import { session } from './api-client';
import { useAuth } from './auth';
import { openEventStream, type StreamEvent } from './event-stream';

type Handler = (data: unknown, event: StreamEvent) => void;

interface Live {
  subscribe: (type: string, handler: Handler) => () => void;
  status: 'connecting' | 'open' | 'closed';
}

const LiveContext = createContext<Live | null>(null);

export function LiveProvider({ children }: { children: ReactNode }) {
  const { user } = useAuth();
  const handlers = useRef(new Map<string, Set<Handler>>());
  const [status, setStatus] = useState<Live['status']>('closed');

  useEffect(() => {
    if (!user) return;
    const stream = openEventStream({
      url: '/v1/stream',
      headers: (): Record<string, string> => (session.accessToken ? { Authorization: `Bearer ${session.accessToken}` } : {}),
      onStatus: setStatus,
      onEvent: (event) => {
        let data: unknown = event.data;
        try {
          data = JSON.parse(event.data);
        } catch {
          /* plain text */
        }
        for (const handler of handlers.current.get(event.event) ?? []) handler(data, event);
      },
    });
    return () => stream.close();
  }, [user]);

  const [live] = useState<Omit<Live, 'status'>>(() => ({
    subscribe(type, handler) {
      const set = handlers.current.get(type) ?? new Set<Handler>();
      set.add(handler);
      handlers.current.set(type, set);
      return () => set.delete(handler);
    },
  }));
  return <LiveContext.Provider value={{ ...live, status }}>{children}</LiveContext.Provider>;
}

/** Call `handler` for every live event of `type` while the component is mounted. */
export function useLiveEvent(type: string, handler: Handler): void {
  const live = useContext(LiveContext);
  const latest = useRef(handler);
  useEffect(() => {
    latest.current = handler;
  });
  useEffect(() => live?.subscribe(type, (data, event) => latest.current(data, event)), [live, type]);
}
