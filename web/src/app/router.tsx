/** Client routes; the gateway answers each of them with index.html (SPA fallback). */
import { lazy, Suspense, type ReactNode } from 'react';
import { createBrowserRouter } from 'react-router-dom';
import { Spinner } from '@/components/ui';
import { Layout } from './routes/Layout';
import { CompetitionRoute } from './routes/CompetitionRoute';
import { CompetitionsRoute } from './routes/CompetitionsRoute';
import { JoinRoute } from './routes/JoinRoute';
import { NotFound } from './routes/NotFound';

// Pages most visitors never open are loaded on demand, keeping the first load small.
const Auth = {
  Login: lazy(() => import('@/features/auth/components/AuthPages').then((m) => ({ default: m.LoginPage }))),
  Register: lazy(() => import('@/features/auth/components/AuthPages').then((m) => ({ default: m.RegisterPage }))),
  Forgot: lazy(() => import('@/features/auth/components/AuthPages').then((m) => ({ default: m.ForgotPasswordPage }))),
  Reset: lazy(() => import('@/features/auth/components/AuthPages').then((m) => ({ default: m.ResetPasswordPage }))),
  Verify: lazy(() => import('@/features/auth/components/AuthPages').then((m) => ({ default: m.VerifyEmailPage }))),
};
const Manage = lazy(() => import('./routes/ManageRoute').then((m) => ({ default: m.ManageRoute })));
const NewCompetition = lazy(() => import('./routes/NewCompetitionRoute').then((m) => ({ default: m.NewCompetitionRoute })));
const Notifications = lazy(() => import('./routes/AccountRoutes').then((m) => ({ default: m.NotificationsRoute })));
const ProfilePage = lazy(() => import('./routes/AccountRoutes').then((m) => ({ default: m.ProfileRoute })));
const Admin = lazy(() => import('./routes/AccountRoutes').then((m) => ({ default: m.AdminRoute })));

const page = (element: ReactNode) => <Suspense fallback={<Spinner />}>{element}</Suspense>;

export const router = createBrowserRouter([
  {
    element: <Layout />,
    children: [
      { path: '/', element: <CompetitionsRoute /> },
      { path: '/competitions', element: <CompetitionsRoute /> },
      { path: '/competitions/new', element: page(<NewCompetition />) },
      { path: '/competitions/:id', element: <CompetitionRoute /> },
      { path: '/competitions/:id/leaderboard', element: <CompetitionRoute /> },
      { path: '/competitions/:id/manage', element: page(<Manage />) },
      { path: '/join/:code', element: <JoinRoute /> },
      { path: '/login', element: page(<Auth.Login />) },
      { path: '/register', element: page(<Auth.Register />) },
      { path: '/forgot-password', element: page(<Auth.Forgot />) },
      { path: '/reset-password', element: page(<Auth.Reset />) },
      { path: '/verify', element: page(<Auth.Verify />) },
      { path: '/notifications', element: page(<Notifications />) },
      { path: '/profile', element: page(<ProfilePage />) },
      { path: '/admin/lrs-clients', element: page(<Admin />) },
      { path: '*', element: <NotFound /> },
    ],
  },
]);
