/** Pages that need a signed-in user (and the admin page, an admin). */
import type { ReactNode } from 'react';
import { Navigate, useLocation } from 'react-router-dom';
import { ProblemAlert, Spinner } from '@/components/ui';
import { LrsClients } from '@/features/admin/components/LrsClients';
import { Inbox } from '@/features/notifications/components/Inbox';
import { Profile } from '@/features/profile/components/Profile';
import { useAuth, type User } from '@/lib/auth';

function SignedIn({ children }: { children: (user: User) => ReactNode }) {
  const { user, loading } = useAuth();
  const location = useLocation();
  if (loading) return <Spinner />;
  if (!user) return <Navigate to={`/login?next=${encodeURIComponent(location.pathname)}`} replace />;
  return <>{children(user)}</>;
}

export function NotificationsRoute() {
  return <SignedIn>{() => <Inbox />}</SignedIn>;
}

export function ProfileRoute() {
  return <SignedIn>{(user) => <Profile user={user} />}</SignedIn>;
}

export function AdminRoute() {
  return (
    <SignedIn>
      {(user) => (user.role === 'admin' ? <LrsClients /> : <ProblemAlert problem={{ title: 'Not allowed', status: 403, detail: 'This page is for administrators.', code: 'FORBIDDEN' }} />)}
    </SignedIn>
  );
}
