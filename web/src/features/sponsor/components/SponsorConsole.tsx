/** The sponsor's console of one competition: lifecycle, invites, answer key, roster, stats, moderation, learning tools. */
import { useState } from 'react';
import { DataTable, ScoreCells, scoreColumns } from '@/components/table';
import { ConfirmButton, CopyButton, ProblemAlert, QueryState, StatusBadge } from '@/components/ui';
import type { components } from '@/lib/api-schema';
import { formatDateTime, formatNumber, localDay } from '@/lib/format';
import {
  useAllSubmissions,
  useAnswerKey,
  useDailyReport,
  useInvalidate,
  useRescore,
  useRoster,
  useRotateInvite,
  useStats,
  useTrustedLrsClients,
  useTrustLrsClients,
  useUpdateCompetition,
  useUploadAnswerKey,
} from '../api/sponsor';
import { BarChart } from './Charts';
import { CompetitionForm, type FormValues } from './CompetitionForm';

type Competition = components['schemas']['Competition'];

function toLocalInput(iso: string): string {
  const date = new Date(iso);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

function valuesOf(c: Competition): FormValues {
  return {
    kind: c.kind,
    title: c.title,
    description: c.description,
    visibility: c.visibility,
    starts_at: toLocalInput(c.starts_at),
    ends_at: toLocalInput(c.ends_at),
    timezone: c.timezone,
    max_participants: c.max_participants ? String(c.max_participants) : '',
    late_join: c.late_join,
    metric: c.metric ?? 'auc_roc',
    daily_submission_limit: c.daily_submission_limit ? String(c.daily_submission_limit) : '',
    public_fraction: c.public_fraction ? String(c.public_fraction) : '',
    rules: JSON.stringify(c.rules ?? { points: [] }, null, 2),
  };
}

function Lifecycle({ competition }: { competition: Competition }) {
  const update = useUpdateCompetition(competition.id);
  const move = (status: 'active' | 'ended' | 'canceled') => update.mutate({ status });
  return (
    <section className="card" aria-labelledby="lifecycle">
      <h2 id="lifecycle">Status</h2>
      <p>
        <StatusBadge status={competition.status} />
      </p>
      <div className="row wrap">
        {competition.status === 'draft' ? <ConfirmButton className="primary" label="Activate" question="Open the competition to participants now?" onConfirm={() => move('active')} /> : null}
        {competition.status === 'active' ? <ConfirmButton label="End" question="End the competition now? Submissions stop and the private board is revealed." onConfirm={() => move('ended')} /> : null}
        {competition.status === 'draft' || competition.status === 'active' ? (
          <ConfirmButton className="danger" label="Cancel competition" question="Cancel the competition? This cannot be undone." onConfirm={() => move('canceled')} />
        ) : null}
      </div>
      {update.isError ? <ProblemAlert error={update.error} /> : null}
    </section>
  );
}

function Invite({ competition }: { competition: Competition }) {
  const rotate = useRotateInvite(competition.id);
  if (competition.visibility !== 'private' || !competition.invite_code) return null;
  const link = `${window.location.origin}/join/${competition.invite_code}`;
  return (
    <section className="card" aria-labelledby="invite">
      <h2 id="invite">Invite link</h2>
      <p className="row wrap">
        <code data-testid="invite-link">{link}</code>
        <CopyButton text={link} label="Copy link" />
      </p>
      <ConfirmButton label="New invite code" question="Replace the invite code? The current link stops working at once." onConfirm={() => rotate.mutate()} />
      {rotate.isError ? <ProblemAlert error={rotate.error} /> : null}
    </section>
  );
}

function AnswerKey({ competition }: { competition: Competition }) {
  const state = useAnswerKey(competition.id, true);
  const uploadKey = useUploadAnswerKey(competition.id);
  const [file, setFile] = useState<File | null>(null);
  return (
    <section className="card" aria-labelledby="answer-key">
      <h2 id="answer-key">Answer key</h2>
      {state.data ? (
        <p role="status">
          <StatusBadge status={state.data.status} /> {state.data.rows !== null ? `${formatNumber(state.data.rows, 0)} rows` : ''} · columns <code>{state.data.id_column}</code>, <code>{state.data.target_column}</code> · loaded {formatDateTime(state.data.loaded_at)}
        </p>
      ) : uploadKey.isSuccess ? (
        <p role="status">Processing the answer key…</p>
      ) : (
        <p className="muted">No answer key yet: submissions cannot be scored until one is uploaded.</p>
      )}
      {state.data?.errors.length ? (
        <ul className="errors">
          {state.data.errors.map((e, i) => (
            <li key={i}>
              <code className="code-tag">{e.code}</code> {e.message}
            </li>
          ))}
        </ul>
      ) : null}
      <form
        className="row wrap"
        onSubmit={(e) => {
          e.preventDefault();
          if (file) uploadKey.mutate(file);
        }}
      >
        <label className="inline">
          Answer key CSV <input type="file" accept=".csv,text/csv" onChange={(e) => setFile(e.target.files?.[0] ?? null)} />
        </label>
        <button type="submit" disabled={!file || uploadKey.isPending}>
          Upload answer key
        </button>
      </form>
      {uploadKey.isError ? <ProblemAlert error={uploadKey.error} /> : null}
    </section>
  );
}

function Roster({ id }: { id: string }) {
  const roster = useRoster(id);
  return (
    <section className="card" aria-labelledby="roster">
      <h2 id="roster">Participants</h2>
      <QueryState query={roster} isEmpty={(d) => d.items.length === 0} empty="No participants yet.">
        {(page) => (
          <ul className="plain">
            {page.items.map((p) => (
              <li key={p.user_id}>
                {p.display_name} <span className="muted small">joined {formatDateTime(p.enrolled_at)}</span>
              </li>
            ))}
          </ul>
        )}
      </QueryState>
    </section>
  );
}

function StatsPanel({ id }: { id: string }) {
  const stats = useStats(id);
  return (
    <section className="card" aria-labelledby="stats">
      <h2 id="stats">Statistics</h2>
      <QueryState query={stats}>
        {(s) => (
          <>
            <p>
              {formatNumber(s.participants, 0)} participants · {formatNumber(s.rejected_requests, 0)} rejected requests · {formatNumber(s.left, 0)} left
            </p>
            <div className="grid2">
              <BarChart title="Joins per day" unit="joins" bars={s.joins_per_day.map((d) => ({ label: d.date, value: d.joins }))} />
              <BarChart title="Submissions per day" unit="submissions" bars={s.submissions_per_day.map((d) => ({ label: d.date, value: d.submissions }))} />
              <BarChart title="Score distribution (best per participant)" unit="participants" bars={s.score_distribution.map((b) => ({ label: `${formatNumber(b.low, 3)}–${formatNumber(b.high, 3)}`, value: b.count }))} />
            </div>
          </>
        )}
      </QueryState>
    </section>
  );
}

function Moderation({ competition }: { competition: Competition }) {
  const [waiting, setWaiting] = useState<string[]>([]);
  const submissions = useAllSubmissions(competition.id, true, waiting);
  const invalidate = useInvalidate(competition.id);
  const rescore = useRescore(competition.id);
  return (
    <section className="card" aria-labelledby="moderation">
      <div className="row spread">
        <h2 id="moderation">Submissions</h2>
        <ConfirmButton label="Rescore all" question="Rescore every submission against the current answer key?" onConfirm={() => rescore.mutate()} />
      </div>
      {rescore.isSuccess ? <p role="status">Rescoring queued.</p> : null}
      {rescore.isError || invalidate.isError ? <ProblemAlert error={rescore.error ?? invalidate.error} /> : null}
      <QueryState query={submissions} isEmpty={(d) => d.items.length === 0} empty="No submissions yet.">
        {(page) => (
          <DataTable columns={['Submitted', 'Participant', 'Status', ...scoreColumns, 'Action']}>
            {page.items.map((s) => (
              <tr key={s.id}>
                <td>{formatDateTime(s.submitted_at)}</td>
                <td>
                  <code>{s.user_id.slice(0, 8)}</code>
                </td>
                <td>
                  <StatusBadge status={s.status} />
                </td>
                <ScoreCells submission={s} />
                <td>
                  {s.status === 'scored' ? (
                    <ConfirmButton label="Invalidate" question="Invalidate this submission? The boards recompute without it." onConfirm={() => invalidate.mutate(s.id, { onSuccess: () => setWaiting((w) => [...w, s.id]) })} />
                  ) : null}
                </td>
              </tr>
            ))}
          </DataTable>
        )}
      </QueryState>
    </section>
  );
}

function Reports({ competition }: { competition: Competition }) {
  const [date, setDate] = useState(localDay(competition.timezone));
  const completions = useDailyReport(competition.id, 'completions', date, true);
  const incomplete = useDailyReport(competition.id, 'incomplete', date, true);
  return (
    <section className="card" aria-labelledby="reports">
      <h2 id="reports">Daily goal report</h2>
      <label className="inline">
        Day <input type="date" value={date} onChange={(e) => setDate(e.target.value)} />
      </label>
      <div className="grid2">
        {([['Completed', completions], ['Not completed', incomplete]] as const).map(([title, query]) => (
          <div key={title}>
            <h3>{title}</h3>
            <QueryState query={query} isEmpty={(d) => d.participants.length === 0} empty="Nobody.">
              {(report) => (
                <ul className="plain">
                  {report.participants.map((p) => (
                    <li key={p.user_id}>
                      {p.display_name ?? p.user_id.slice(0, 8)} <span className="muted small">{p.statements} statements</span>
                    </li>
                  ))}
                </ul>
              )}
            </QueryState>
          </div>
        ))}
      </div>
    </section>
  );
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function LearningTools({ competition }: { competition: Competition }) {
  const trusted = useTrustedLrsClients(competition.id);
  const save = useTrustLrsClients(competition.id);
  const [draft, setDraft] = useState<string | null>(null);
  const text = draft ?? (trusted.data?.lrs_client_ids ?? []).join('\n');
  const ids = text.split(/\s+/).filter(Boolean);
  const invalid = ids.filter((value) => !UUID.test(value));
  return (
    <section className="card" aria-labelledby="learning-tools">
      <h2 id="learning-tools">Learning tools</h2>
      <p className="muted">
        Only statements from these LRS clients earn points here. Ask an administrator for the client id of each learning tool your participants use.
      </p>
      {trusted.data?.any_lrs_client ? (
        <p role="status">This competition still counts statements from every LRS client. Save a list to count only the tools you trust.</p>
      ) : null}
      <form
        onSubmit={(e) => {
          e.preventDefault();
          if (invalid.length === 0) save.mutate(ids, { onSuccess: () => setDraft(null) });
        }}
      >
        <label>
          Trusted LRS client ids (one per line)
          <textarea rows={3} value={text} onChange={(e) => setDraft(e.target.value)} />
        </label>
        {invalid.length ? <p role="alert">Not a client id: {invalid.join(', ')}</p> : null}
        <button type="submit" disabled={invalid.length > 0 || save.isPending}>
          Save learning tools
        </button>
      </form>
      {save.isSuccess && draft === null ? <p role="status">Saved.</p> : null}
      {trusted.isError ? <ProblemAlert error={trusted.error} /> : null}
      {save.isError ? <ProblemAlert error={save.error} /> : null}
    </section>
  );
}

export function SponsorConsole({ competition }: { competition: Competition }) {
  const update = useUpdateCompetition(competition.id);
  return (
    <>
      <Lifecycle competition={competition} />
      <Invite competition={competition} />
      {competition.kind === 'prediction' ? <AnswerKey competition={competition} /> : null}
      <StatsPanel id={competition.id} />
      {competition.kind === 'prediction' ? <Moderation competition={competition} /> : <Reports competition={competition} />}
      {competition.kind === 'activity' ? <LearningTools competition={competition} /> : null}
      <Roster id={competition.id} />
      <section className="card" aria-labelledby="edit">
        <h2 id="edit">Settings</h2>
        <CompetitionForm
          key={competition.updated_at}
          editing
          initial={valuesOf(competition)}
          submitLabel="Save changes"
          onSubmit={async (body) => {
            const { kind: _kind, status: _status, ...changes } = body;
            void _kind;
            void _status;
            await update.mutateAsync(changes);
          }}
        />
        {update.isSuccess ? <p role="status">Saved.</p> : null}
      </section>
    </>
  );
}
