/** The frame of every page: skip link, header navigation with the unread badge, main landmark. */
import { useEffect, useRef } from 'react';
import { Link, NavLink, Outlet, useLocation, useNavigate } from 'react-router-dom';
import { UnreadBadge } from '@/features/notifications/components/Inbox';
import { useAuth } from '@/lib/auth';

export function Layout() {
  const { user, loading, logout } = useAuth();
  const navigate = useNavigate();
  const location = useLocation();
  const main = useRef<HTMLElement>(null);
  // Move focus to the new page's content for keyboard and screen-reader users.
  const first = useRef(true);
  useEffect(() => {
    if (first.current) {
      first.current = false;
      return;
    }
    main.current?.focus();
  }, [location.pathname]);

  return (
    <>
      <a href="#main" className="skip-link">
        Skip to content
      </a>
      <header className="topbar">
        <nav aria-label="Main" className="row wrap spread">
          <Link to="/" className="brand">
            Podium
          </Link>
          <div className="row wrap">
            <NavLink to="/competitions" className="nav-link">
              Competitions
            </NavLink>
            {user ? (
              <>
                <UnreadBadge />
                <NavLink to="/profile" className="nav-link">
                  {user.display_name}
                </NavLink>
                {user.role === 'admin' ? (
                  <NavLink to="/admin/lrs-clients" className="nav-link">
                    Administration
                  </NavLink>
                ) : null}
                <button
                  type="button"
                  className="link"
                  onClick={() => {
                    void logout().then(() => navigate('/'));
                  }}
                >
                  Sign out
                </button>
              </>
            ) : loading ? null : (
              <>
                <NavLink to="/login" className="nav-link">
                  Sign in
                </NavLink>
                <NavLink to="/register" className="nav-link">
                  Register
                </NavLink>
              </>
            )}
          </div>
        </nav>
      </header>
      <main id="main" ref={main} tabIndex={-1}>
        <Outlet />
      </main>
      <footer className="muted small">
        <a href="/docs">API documentation</a>
      </footer>
    </>
  );
}
