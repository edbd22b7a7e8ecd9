/** My profile: display name, time zone and notification preferences. */
import { useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { Field, ProblemAlert } from '@/components/ui';
import { api, unwrap } from '@/lib/api-client';
import type { User } from '@/lib/auth';
import { fieldErrors, toProblem, type ProblemBody } from '@/lib/problem';

function zones(): string[] {
  const supported = (Intl as unknown as { supportedValuesOf?: (key: string) => string[] }).supportedValuesOf;
  return supported ? supported('timeZone') : ['UTC'];
}

export function Profile({ user }: { user: User }) {
  const queryClient = useQueryClient();
  const [name, setName] = useState(user.display_name);
  const [timezone, setTimezone] = useState(user.timezone);
  const [preferences, setPreferences] = useState(user.notification_preferences ?? {});
  const [problem, setProblem] = useState<ProblemBody | null>(null);
  const [saved, setSaved] = useState(false);
  const errors = fieldErrors(problem ?? undefined);

  async function save(event: FormEvent) {
    event.preventDefault();
    setProblem(null);
    setSaved(false);
    try {
      const updated = unwrap(await api.PATCH('/v1/users/me', { body: { display_name: name, timezone, notification_preferences: preferences } }));
      queryClient.setQueryData(['me', true], updated);
      setSaved(true);
    } catch (error) {
      setProblem(toProblem(error));
    }
  }

  return (
    <div className="narrow">
      <h1>Profile</h1>
      <form className="form" onSubmit={(e) => void save(e)}>
        {problem ? <ProblemAlert problem={problem} /> : null}
        <p className="muted">{user.email}</p>
        <Field label="Display name" error={errors.display_name}>{(p) => <input {...p} value={name} onChange={(e) => setName(e.target.value)} />}</Field>
        <Field label="Time zone" error={errors.timezone} hint="Dates are shown in this zone; daily goals count in it">
          {(p) => (
            <select {...p} value={timezone} onChange={(e) => setTimezone(e.target.value)}>
              {[...new Set([timezone, ...zones()])].map((z) => (
                <option key={z}>{z}</option>
              ))}
            </select>
          )}
        </Field>
        <fieldset>
          <legend>Notifications</legend>
          {Object.keys(preferences).length === 0 ? <p className="muted">No preferences available.</p> : null}
          <table>
            <thead>
              <tr>
                <th scope="col">Type</th>
                <th scope="col">In app</th>
                <th scope="col">E-mail</th>
              </tr>
            </thead>
            <tbody>
              {Object.entries(preferences).map(([type, channels]) => (
                <tr key={type}>
                  <th scope="row">{type}</th>
                  {(['in_app', 'email'] as const).map((channel) => (
                    <td key={channel}>
                      <input
                        type="checkbox"
                        aria-label={`${type} ${channel === 'in_app' ? 'in app' : 'by e-mail'}`}
                        checked={Boolean(channels[channel])}
                        onChange={(e) => setPreferences((p) => ({ ...p, [type]: { ...p[type], [channel]: e.target.checked } }))}
                      />
                    </td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
        </fieldset>
        <button type="submit" className="primary">
          Save
        </button>
        {saved ? <p role="status">Saved.</p> : null}
      </form>
    </div>
  );
}
