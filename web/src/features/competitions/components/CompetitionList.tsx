/** Browse competitions: search, status, kind and "mine" filters. */
import { useState } from 'react';
import { Link, useSearchParams } from 'react-router-dom';
import { QueryState, StatusBadge } from '@/components/ui';
import { useAuth } from '@/lib/auth';
import { formatDate, formatNumber } from '@/lib/format';
import { useCompetitions, type CompetitionFilters } from '../api/competitions';

export function CompetitionList() {
  const { user } = useAuth();
  const [params, setParams] = useSearchParams();
  const [text, setText] = useState(params.get('q') ?? '');
  const filters: CompetitionFilters = {
    ...(params.get('q') ? { q: params.get('q') as string } : {}),
    ...(params.get('status') ? { status: params.get('status') as CompetitionFilters['status'] } : {}),
    ...(params.get('kind') ? { kind: params.get('kind') as CompetitionFilters['kind'] } : {}),
    ...(params.get('mine') ? { mine: params.get('mine') as CompetitionFilters['mine'] } : {}),
  };
  const competitions = useCompetitions(filters);
  const set = (name: string, value: string) => {
    const next = new URLSearchParams(params);
    if (value) next.set(name, value);
    else next.delete(name);
    setParams(next, { replace: true });
  };

  return (
    <>
      <div className="row spread">
        <h1>Competitions</h1>
        {user ? (
          <Link className="button primary" to="/competitions/new">
            New competition
          </Link>
        ) : null}
      </div>
      <form
        className="filters"
        role="search"
        onSubmit={(e) => {
          e.preventDefault();
          set('q', text.trim());
        }}
      >
        <label className="inline">
          Search <input type="search" value={text} onChange={(e) => setText(e.target.value)} placeholder="Title or description" />
        </label>
        <label className="inline">
          Status{' '}
          <select value={params.get('status') ?? ''} onChange={(e) => set('status', e.target.value)}>
            <option value="">Any</option>
            <option value="active">Active</option>
            <option value="draft">Draft</option>
            <option value="ended">Ended</option>
            <option value="canceled">Canceled</option>
          </select>
        </label>
        <label className="inline">
          Kind{' '}
          <select value={params.get('kind') ?? ''} onChange={(e) => set('kind', e.target.value)}>
            <option value="">Any</option>
            <option value="prediction">Prediction</option>
            <option value="activity">Activity</option>
          </select>
        </label>
        {user ? (
          <label className="inline">
            Mine{' '}
            <select value={params.get('mine') ?? ''} onChange={(e) => set('mine', e.target.value)}>
              <option value="">All</option>
              <option value="owned">I run</option>
              <option value="joined">I joined</option>
            </select>
          </label>
        ) : null}
        <button type="submit">Search</button>
      </form>
      <QueryState query={competitions} isEmpty={(d) => d.items.length === 0} empty="No competition matches these filters.">
        {(page) => (
          <ul className="cards" aria-label="Competitions">
            {page.items.map((c) => (
              <li key={c.id} className="card">
                <h2 className="h3">
                  <Link to={`/competitions/${c.id}`}>{c.title}</Link>
                </h2>
                <p className="row wrap small">
                  <StatusBadge status={c.status} />
                  <span className="badge">{c.kind}</span>
                  {c.visibility === 'private' ? <span className="badge">private</span> : null}
                  <span className="muted">
                    {formatDate(c.starts_at)} – {formatDate(c.ends_at)} · {formatNumber(c.participants, 0)} participants
                  </span>
                </p>
              </li>
            ))}
          </ul>
        )}
      </QueryState>
    </>
  );
}
