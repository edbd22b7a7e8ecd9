/** Who is signed in: the profile behind the in-memory access token, and the session actions. */
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from 'react';
import { api, session, unwrap } from './api-client';
import type { components } from './api-schema';
import { setViewerTimeZone } from './format';

export type User = components['schemas']['UserDocument'];

interface AuthState {
  user: User | null;
  /** True until the first silent refresh has answered. */
  loading: boolean;
  login: (email: string, password: string) => Promise<void>;
  logout: () => Promise<void>;
}

const AuthContext = createContext<AuthState | null>(null);

export function AuthProvider({ children }: { children: ReactNode }) {
  const queryClient = useQueryClient();
  const [token, setToken] = useState<string | null>(session.accessToken);
  const [booted, setBooted] = useState(false);

  useEffect(() => session.subscribe(setToken), []);
  useEffect(() => {
    void session.boot().finally(() => setBooted(true));
  }, []);

  const me = useQuery({
    queryKey: ['me', token !== null],
    queryFn: async () => unwrap(await api.GET('/v1/users/me')),
    enabled: token !== null,
    staleTime: 60_000,
  });
  const user = token ? (me.data ?? null) : null;
  useEffect(() => setViewerTimeZone(user?.timezone), [user?.timezone]);

  const login = useCallback(
    async (email: string, password: string) => {
      const answer = unwrap(await api.POST('/v1/auth/login', { body: { email, password } }));
      session.accept(answer);
      await queryClient.invalidateQueries();
    },
    [queryClient],
  );

  const logout = useCallback(async () => {
    await api.POST('/v1/auth/logout', { body: {} });
    session.clear();
    queryClient.clear();
  }, [queryClient]);

  const value = useMemo<AuthState>(
    () => ({ user, loading: !booted || (token !== null && me.isPending), login, logout }),
    [user, booted, token, me.isPending, login, logout],
  );
  return <AuthContext.Provider value={value}>{children}</AuthContext.Provider>;
}

export function useAuth(): AuthState {
  const state = useContext(AuthContext);
  if (!state) throw new Error('useAuth outside AuthProvider');
  return state;
}
