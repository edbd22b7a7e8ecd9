/** The notifications inbox, and the unread badge of the header. */
import { useState } from 'react';
import { Link } from 'react-router-dom';
import { QueryState } from '@/components/ui';
import { formatDateTime } from '@/lib/format';
import { useInbox, useMarkRead } from '../api/notifications';

export function UnreadBadge() {
  const inbox = useInbox(true);
  const count = inbox.data?.unread_count ?? 0;
  return (
    <Link to="/notifications" className="nav-link">
      Notifications
      {count ? (
        <span className="badge count" aria-label={`${count} unread`} data-testid="unread-count">
          {count}
        </span>
      ) : null}
    </Link>
  );
}

function localLink(link: string | null): string | null {
  if (!link) return null;
  try {
    const url = new URL(link, window.location.origin);
    return url.pathname + url.search;
  } catch {
    return null;
  }
}

export function Inbox() {
  const [unreadOnly, setUnreadOnly] = useState(false);
  const inbox = useInbox(unreadOnly);
  const markRead = useMarkRead();
  return (
    <>
      <h1>Notifications</h1>
      <label className="inline">
        <input type="checkbox" checked={unreadOnly} onChange={(e) => setUnreadOnly(e.target.checked)} /> Unread only
      </label>
      <QueryState query={inbox} isEmpty={(d) => d.items.length === 0} empty="No notifications.">
        {(page) => (
          <ul className="cards">
            {page.items.map((n) => {
              const to = localLink(n.link);
              return (
                <li key={n.id} className={`card ${n.read_at ? '' : 'unread'}`}>
                  <h2 className="h3">{to ? <Link to={to}>{n.title}</Link> : n.title}</h2>
                  <p>{n.body}</p>
                  <p className="row spread small muted">
                    <time dateTime={n.created_at}>{formatDateTime(n.created_at)}</time>
                    {n.read_at ? null : (
                      <button type="button" onClick={() => markRead.mutate(n.id)}>
                        Mark read
                      </button>
                    )}
                  </p>
                </li>
              );
            })}
          </ul>
        )}
      </QueryState>
    </>
  );
}
