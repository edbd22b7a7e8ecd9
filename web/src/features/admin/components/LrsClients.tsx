/** Admin: xAPI credentials of learning tools (create, shown once; list; revoke). */
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { DataTable } from '@/components/table';
import { ConfirmButton, CopyButton, Field, ProblemAlert, QueryState } from '@/components/ui';
import { api, unwrap } from '@/lib/api-client';
import type { components } from '@/lib/api-schema';
import { formatDateTime } from '@/lib/format';

type Created = components['schemas']['LrsClientCreated'];
type Scope = components['schemas']['LrsClientCreate']['scopes'][number];
const SCOPES: Scope[] = ['statements/write', 'statements/read', 'statements/read/mine'];

export function LrsClients() {
  const queryClient = useQueryClient();
  const clients = useQuery({
    queryKey: ['lrs-clients'],
    queryFn: async () => unwrap(await api.GET('/v1/admin/lrs-clients')),
  });
  const [name, setName] = useState('');
  const [scopes, setScopes] = useState<Scope[]>(['statements/write']);
  const [created, setCreated] = useState<Created | null>(null);
  const create = useMutation({
    mutationFn: async () => unwrap(await api.POST('/v1/admin/lrs-clients', { body: { name, scopes } })),
    onSuccess: (client) => {
      setCreated(client);
      setName('');
      void queryClient.invalidateQueries({ queryKey: ['lrs-clients'] });
    },
  });
  const revoke = useMutation({
    mutationFn: async (id: string) => unwrap(await api.DELETE('/v1/admin/lrs-clients/{client_id}', { params: { path: { client_id: id } } })),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: ['lrs-clients'] }),
  });

  return (
    <>
      <h1>LRS clients</h1>
      <section className="card" aria-labelledby="new-client">
        <h2 id="new-client">New client</h2>
        <form
          className="form"
          onSubmit={(e) => {
            e.preventDefault();
            setCreated(null);
            create.mutate();
          }}
        >
          <Field label="Name">{(p) => <input {...p} value={name} onChange={(e) => setName(e.target.value)} required />}</Field>
          <fieldset>
            <legend>Scopes</legend>
            {SCOPES.map((scope) => (
              <label key={scope} className="inline">
                <input
                  type="checkbox"
                  checked={scopes.includes(scope)}
                  onChange={(e) => setScopes((s) => (e.target.checked ? [...s, scope] : s.filter((x) => x !== scope)))}
                />{' '}
                {scope}
              </label>
            ))}
          </fieldset>
          <button type="submit" className="primary" disabled={!name || !scopes.length || create.isPending}>
            Create client
          </button>
        </form>
        {create.isError ? <ProblemAlert error={create.error} /> : null}
        {created ? (
          <div className="alert success" role="status">
            <p>
              <strong>Copy the secret now: it is shown only this once.</strong>
            </p>
            <dl className="facts">
              <dt>Client id (for the sponsors who trust this tool)</dt>
              <dd>
                <code data-testid="lrs-id">{created.id}</code> <CopyButton text={created.id} label="Copy id" />
              </dd>
              <dt>Key</dt>
              <dd>
                <code data-testid="lrs-key">{created.key}</code> <CopyButton text={created.key} label="Copy key" />
              </dd>
              <dt>Secret</dt>
              <dd>
                <code data-testid="lrs-secret">{created.secret}</code> <CopyButton text={created.secret} label="Copy secret" />
              </dd>
            </dl>
            <button type="button" onClick={() => setCreated(null)}>
              I have stored it
            </button>
          </div>
        ) : null}
      </section>
      <section className="card" aria-labelledby="clients">
        <h2 id="clients">Clients</h2>
        <QueryState query={clients} isEmpty={(d) => d.items.length === 0} empty="No LRS clients yet.">
          {(list) => (
            <DataTable columns={['Name', 'Key', 'Client id', 'Scopes', 'Created', 'Action']}>
              {list.items.map((c) => (
                <tr key={c.id}>
                  <td>{c.name}</td>
                  <td>
                    <code>{c.key}</code>
                  </td>
                  <td>
                    <code>{c.id}</code>
                  </td>
                  <td>{c.scopes.join(', ')}</td>
                  <td>{formatDateTime(c.created_at)}</td>
                  <td>{c.revoked_at ? 'revoked' : <ConfirmButton label="Revoke" question={`Revoke ${c.name}? Tools using it are refused within seconds.`} onConfirm={() => revoke.mutate(c.id)} />}</td>
                </tr>
              ))}
            </DataTable>
          )}
        </QueryState>
      </section>
    </>
  );
}
