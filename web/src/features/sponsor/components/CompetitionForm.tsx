/** Create or edit a competition; the API's RFC 7807 `errors` are shown beside their fields. */
import { useState, type FormEvent } from 'react';
import { Field, ProblemAlert } from '@/components/ui';
import { ApiError, fieldErrors, toProblem, type ProblemBody } from '@/lib/problem';
import type { CompetitionCreate } from '../api/sponsor';

export interface FormValues {
  kind: 'prediction' | 'activity';
  title: string;
  description: string;
  visibility: 'public' | 'private';
  starts_at: string;
  ends_at: string;
  timezone: string;
  max_participants: string;
  late_join: boolean;
  metric: string;
  daily_submission_limit: string;
  public_fraction: string;
  rules: string;
}

const METRICS = ['auc_roc', 'log_loss', 'accuracy', 'f1', 'rmse', 'mae', 'r2'];

function toLocalInput(date: Date): string {
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

export function defaultValues(): FormValues {
  const now = new Date();
  return {
    kind: 'prediction',
    title: '',
    description: '',
    visibility: 'public',
    starts_at: toLocalInput(now),
    ends_at: toLocalInput(new Date(now.getTime() + 30 * 86_400_000)),
    timezone: Intl.DateTimeFormat().resolvedOptions().timeZone,
    max_participants: '',
    late_join: true,
    metric: 'auc_roc',
    daily_submission_limit: '5',
    public_fraction: '0.5',
    rules: JSON.stringify({ points: [{ verb: 'http://adlnet.gov/expapi/verbs/completed', points: 10 }], daily_cap: 50 }, null, 2),
  };
}

/** The request body for the values (local date-times become instants with an offset). */
export function toBody(values: FormValues): CompetitionCreate {
  const body: CompetitionCreate = {
    kind: values.kind,
    title: values.title.trim(),
    description: values.description,
    visibility: values.visibility,
    starts_at: new Date(values.starts_at).toISOString(),
    ends_at: new Date(values.ends_at).toISOString(),
    timezone: values.timezone,
    late_join: values.late_join,
    ...(values.max_participants ? { max_participants: Number(values.max_participants) } : {}),
  };
  if (values.kind === 'prediction') {
    body.metric = values.metric as CompetitionCreate['metric'];
    if (values.daily_submission_limit) body.daily_submission_limit = Number(values.daily_submission_limit);
    if (values.public_fraction) body.public_fraction = Number(values.public_fraction);
  } else {
    body.rules = JSON.parse(values.rules) as CompetitionCreate['rules'];
  }
  return body;
}

export function CompetitionForm({
  initial,
  submitLabel,
  onSubmit,
  editing = false,
}: {
  initial: FormValues;
  submitLabel: string;
  onSubmit: (body: CompetitionCreate) => Promise<unknown>;
  editing?: boolean;
}) {
  const [values, setValues] = useState(initial);
  const [problem, setProblem] = useState<ProblemBody | null>(null);
  const [busy, setBusy] = useState(false);
  const errors = fieldErrors(problem ?? undefined);
  const set = <K extends keyof FormValues>(name: K, value: FormValues[K]) => setValues((v) => ({ ...v, [name]: value }));

  async function submit(event: FormEvent) {
    event.preventDefault();
    setProblem(null);
    let body: CompetitionCreate;
    try {
      body = toBody(values);
    } catch {
      setProblem({ title: 'Invalid rules', status: 422, code: 'VALIDATION_ERROR', errors: [{ field: 'rules', message: 'Rules must be valid JSON.' }] });
      return;
    }
    setBusy(true);
    try {
      await onSubmit(body);
    } catch (error) {
      setProblem(error instanceof ApiError ? error.problem : toProblem(error));
    } finally {
      setBusy(false);
    }
  }

  return (
    <form onSubmit={(e) => void submit(e)} className="form" noValidate>
      {problem ? <ProblemAlert problem={problem} /> : null}
      {!editing ? (
        <fieldset>
          <legend>Kind</legend>
          {(['prediction', 'activity'] as const).map((kind) => (
            <label key={kind} className="inline">
              <input type="radio" name="kind" value={kind} checked={values.kind === kind} onChange={() => set('kind', kind)} /> {kind === 'prediction' ? 'Prediction (files scored automatically)' : 'Activity (xAPI points)'}
            </label>
          ))}
        </fieldset>
      ) : null}
      <Field label="Title" error={errors.title}>
        {(p) => <input {...p} value={values.title} onChange={(e) => set('title', e.target.value)} required maxLength={200} />}
      </Field>
      <Field label="Description (Markdown)" error={errors.description}>
        {(p) => <textarea {...p} rows={6} value={values.description} onChange={(e) => set('description', e.target.value)} />}
      </Field>
      <Field label="Visibility" error={errors.visibility}>
        {(p) => (
          <select {...p} value={values.visibility} onChange={(e) => set('visibility', e.target.value as FormValues['visibility'])}>
            <option value="public">Public</option>
            <option value="private">Private (invite code)</option>
          </select>
        )}
      </Field>
      <div className="grid2">
        <Field label="Starts" error={errors.starts_at}>
          {(p) => <input {...p} type="datetime-local" value={values.starts_at} onChange={(e) => set('starts_at', e.target.value)} />}
        </Field>
        <Field label="Ends" error={errors.ends_at}>
          {(p) => <input {...p} type="datetime-local" value={values.ends_at} onChange={(e) => set('ends_at', e.target.value)} />}
        </Field>
      </div>
      <Field label="Time zone (IANA)" error={errors.timezone}>
        {(p) => <input {...p} value={values.timezone} onChange={(e) => set('timezone', e.target.value)} />}
      </Field>
      <Field label="Maximum participants" error={errors.max_participants} hint="Empty for no limit">
        {(p) => <input {...p} type="number" min={1} value={values.max_participants} onChange={(e) => set('max_participants', e.target.value)} />}
      </Field>
      <label className="inline">
        <input type="checkbox" checked={values.late_join} onChange={(e) => set('late_join', e.target.checked)} /> Allow joining after the start
      </label>
      {values.kind === 'prediction' ? (
        <div className="grid2">
          <Field label="Metric" error={errors.metric}>
            {(p) => (
              <select {...p} value={values.metric} onChange={(e) => set('metric', e.target.value)} disabled={editing}>
                {METRICS.map((m) => <option key={m}>{m}</option>)}
              </select>
            )}
          </Field>
          <Field label="Daily submission limit" error={errors.daily_submission_limit}>
            {(p) => <input {...p} type="number" min={1} value={values.daily_submission_limit} onChange={(e) => set('daily_submission_limit', e.target.value)} />}
          </Field>
          <Field label="Public share of rows" error={errors.public_fraction} hint="Between 0 and 1, e.g. 0.5">
            {(p) => <input {...p} type="number" step="0.05" min={0} max={1} value={values.public_fraction} onChange={(e) => set('public_fraction', e.target.value)} />}
          </Field>
        </div>
      ) : (
        <Field label="Point rules (JSON)" error={errors.rules} hint="points: [{verb, points, activity_prefix?, min_scaled_score?}], daily_cap, daily_goal_verb">
          {(p) => <textarea {...p} rows={8} className="mono" value={values.rules} onChange={(e) => set('rules', e.target.value)} />}
        </Field>
      )}
      <button type="submit" className="primary" disabled={busy}>
        {submitLabel}
      </button>
    </form>
  );
}
