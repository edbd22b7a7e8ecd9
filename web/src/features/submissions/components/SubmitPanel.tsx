/** Upload a prediction file: drop or pick, pre-check, preview, progress, then the live outcome. */
import { useQueryClient } from '@tanstack/react-query';
import { useId, useMemo, useRef, useState, type DragEvent } from 'react';
import { DataTable } from '@/components/table';
import { ProblemAlert, StatusBadge } from '@/components/ui';
import { upload } from '@/lib/api-client';
import { formatNumber } from '@/lib/format';
import { useLiveEvent } from '@/lib/live';
import { toProblem, type ProblemBody } from '@/lib/problem';
import { expectationFromSample, precheck, previewRows, type FileError } from '../precheck';
import { useSample, useSubmission, type Accepted } from '../api/submissions';

/** Largest file the gateway takes (its `max_submission_bytes` default). */
export const MAX_SUBMISSION_BYTES = 50 * 1024 * 1024;

export function ErrorList({ errors, title }: { errors: FileError[]; title: string }) {
  return (
    <div className="alert error" role="alert">
      <strong>{title}</strong>
      <ul className="errors">
        {errors.map((error, i) => (
          <li key={`${error.code}-${i}`}>
            <code className="code-tag">{error.code}</code>
            {error.column ? <> column <code>{error.column}</code></> : null}: {error.message}
            {error.rows.length ? <div className="muted small">rows: {error.rows.join(', ')}</div> : null}
          </li>
        ))}
      </ul>
    </div>
  );
}

export function SubmitPanel({ competitionId, metric, used, limit }: { competitionId: string; metric: string | null; used?: number | null; limit?: number | null }) {
  const inputId = useId();
  const input = useRef<HTMLInputElement>(null);
  const queryClient = useQueryClient();
  const sample = useSample(competitionId, true);
  const expectation = useMemo(
    () => (sample.data ? expectationFromSample(sample.data, metric, MAX_SUBMISSION_BYTES) : null),
    [sample.data, metric],
  );
  const [file, setFile] = useState<File | null>(null);
  const [checks, setChecks] = useState<FileError[] | null>(null);
  const [preview, setPreview] = useState<{ header: string[]; rows: string[][] } | null>(null);
  const [progress, setProgress] = useState<number | null>(null);
  const [problem, setProblem] = useState<ProblemBody | null>(null);
  const [submitted, setSubmitted] = useState<string | null>(null);
  const [dragging, setDragging] = useState(false);
  const result = useSubmission(submitted);

  useLiveEvent('submission.scored', () => {
    void queryClient.invalidateQueries({ queryKey: ['submission', submitted] });
    void queryClient.invalidateQueries({ queryKey: ['submissions', competitionId] });
  });

  async function choose(picked: File | undefined) {
    setProblem(null);
    setSubmitted(null);
    setProgress(null);
    if (!picked) return;
    setFile(picked);
    if (picked.size > MAX_SUBMISSION_BYTES) {
      setChecks([{ code: 'TOO_LARGE', message: `the file has ${picked.size} bytes; the limit is ${MAX_SUBMISSION_BYTES}`, rows: [] }]);
      setPreview(null);
      return;
    }
    const bytes = new Uint8Array(await picked.arrayBuffer());
    setPreview(previewRows(bytes));
    setChecks(
      expectation
        ? precheck(bytes, expectation)
        : precheck(bytes, { idColumn: '', targetColumn: '', ids: null, range: null, maxBytes: MAX_SUBMISSION_BYTES }).filter((e) =>
            ['TOO_LARGE', 'EMPTY_FILE', 'NOT_CSV'].includes(e.code),
          ),
    );
  }

  async function send() {
    if (!file) return;
    setProblem(null);
    setProgress(0);
    try {
      const accepted = await upload<Accepted>(`/v1/competitions/${competitionId}/submissions`, file, {
        onProgress: setProgress,
        idempotencyKey: crypto.randomUUID(),
      });
      setSubmitted(accepted.id);
      void queryClient.invalidateQueries({ queryKey: ['submissions', competitionId] });
      void queryClient.invalidateQueries({ queryKey: ['competition', competitionId] });
    } catch (error) {
      setProblem(toProblem(error));
      setProgress(null);
    }
  }

  function onDrop(event: DragEvent) {
    event.preventDefault();
    setDragging(false);
    void choose(event.dataTransfer.files[0]);
  }

  const blocking = (checks ?? []).length > 0;
  const outcome = result.data;
  return (
    <section className="card" aria-labelledby={`${inputId}-title`}>
      <h2 id={`${inputId}-title`}>Submit predictions</h2>
      {limit ? (
        <p className="muted">
          {formatNumber(used ?? 0, 0)} of {formatNumber(limit, 0)} submissions used today (UTC).
        </p>
      ) : null}
      {expectation ? (
        <p className="muted small">
          Expected columns: <code>{expectation.idColumn}</code>, <code>{expectation.targetColumn}</code> · {formatNumber(expectation.ids?.length ?? 0, 0)} ids
          {expectation.range ? ` · values in [${expectation.range[0]}, ${expectation.range[1]}]` : ''} ·{' '}
          <a href={`data:text/csv;charset=utf-8,${encodeURIComponent(sample.data ?? '')}`} download="sample-submission.csv">
            sample file
          </a>
        </p>
      ) : sample.isError ? (
        <p className="muted small">The expected ids are not available yet; the file is checked by the scorer.</p>
      ) : null}
      <div
        className={`dropzone ${dragging ? 'dragging' : ''}`}
        onDragOver={(e) => {
          e.preventDefault();
          setDragging(true);
        }}
        onDragLeave={() => setDragging(false)}
        onDrop={onDrop}
      >
        <p>Drop a CSV file here, or</p>
        <label htmlFor={inputId} className="button">
          Choose a file
        </label>
        <input id={inputId} ref={input} className="sr-only" type="file" accept=".csv,text/csv" onChange={(e) => void choose(e.target.files?.[0])} />
        {file ? (
          <p>
            <strong>{file.name}</strong> · {formatNumber(file.size / 1024, 1)} KB
          </p>
        ) : null}
      </div>
      {preview ? (
        <DataTable className="preview" caption={`First rows of ${file?.name ?? ''}`} columns={preview.header}>
          {preview.rows.map((row, i) => (
            <tr key={i}>{row.map((cell, j) => <td key={j}>{cell}</td>)}</tr>
          ))}
        </DataTable>
      ) : null}
      {checks && checks.length ? <ErrorList title="This file would be rejected:" errors={checks} /> : null}
      {checks && !checks.length ? <p className="ok" role="status">The file passed the checks.</p> : null}
      <div className="row">
        <button type="button" className="primary" disabled={!file || progress !== null && !submitted && !problem} onClick={() => void send()}>
          {blocking ? 'Upload anyway' : 'Upload'}
        </button>
        {progress !== null && !submitted ? (
          <progress max={1} value={progress} aria-label="Upload progress">
            {Math.round(progress * 100)}%
          </progress>
        ) : null}
      </div>
      {problem ? <ProblemAlert problem={problem} /> : null}
      {submitted ? (
        <div className="result" role="status" aria-live="polite">
          Submission <code>{submitted.slice(0, 8)}</code>: <StatusBadge status={outcome?.status ?? 'queued'} />
          {outcome?.status === 'scored' ? <> public score <strong>{formatNumber(outcome.public_score)}</strong></> : null}
        </div>
      ) : null}
      {outcome?.status === 'rejected' && outcome.errors.length ? (
        <ErrorList title="The scorer rejected the file:" errors={outcome.errors.map((e) => ({ ...e, rows: e.rows ?? [] }))} />
      ) : null}
    </section>
  );
}
