/** Shared building blocks: states of a query, problems, fields, confirmation and copy buttons. */
import { useId, useRef, useState, type ReactNode } from 'react';
import { toProblem, type ProblemBody } from '@/lib/problem';

export function Spinner({ label = 'Loading…' }: { label?: string }) {
  return (
    <p className="muted" role="status" aria-live="polite">
      <span className="spinner" aria-hidden="true" /> {label}
    </p>
  );
}

/** An API problem shown to the user: its title and detail, never a blank page. */
export function ProblemAlert({ error, problem }: { error?: unknown; problem?: ProblemBody }) {
  const shown = problem ?? toProblem(error);
  return (
    <div className="alert error" role="alert">
      <strong>{shown.title}</strong>
      {shown.detail ? <span> — {shown.detail}</span> : null}
      {shown.code ? <code className="code-tag">{shown.code}</code> : null}
    </div>
  );
}

interface QueryLike<T> {
  isPending: boolean;
  isError: boolean;
  error: unknown;
  data: T | undefined;
}

/** Loading, error and empty states around the content of a query. */
export function QueryState<T>({
  query,
  empty,
  isEmpty,
  children,
}: {
  query: QueryLike<T>;
  empty?: ReactNode;
  isEmpty?: (data: T) => boolean;
  children: (data: T) => ReactNode;
}) {
  if (query.isPending) return <Spinner />;
  if (query.isError) return <ProblemAlert error={query.error} />;
  const data = query.data as T;
  if (isEmpty?.(data)) return <p className="empty">{empty ?? 'Nothing here yet.'}</p>;
  return <>{children(data)}</>;
}

export function Field({
  label,
  error,
  hint,
  children,
}: {
  label: string;
  error?: string | undefined;
  hint?: string;
  children: (props: { id: string; 'aria-invalid': boolean; 'aria-describedby'?: string }) => ReactNode;
}) {
  const id = useId();
  const describedBy = error ? `${id}-error` : hint ? `${id}-hint` : undefined;
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      {children({ id, 'aria-invalid': Boolean(error), ...(describedBy ? { 'aria-describedby': describedBy } : {}) })}
      {hint && !error ? (
        <small id={`${id}-hint`} className="muted">
          {hint}
        </small>
      ) : null}
      {error ? (
        <small id={`${id}-error`} className="field-error">
          {error}
        </small>
      ) : null}
    </div>
  );
}

/** A button that asks for confirmation in a modal dialog before acting. */
export function ConfirmButton({
  label,
  question,
  onConfirm,
  className = '',
  disabled,
}: {
  label: string;
  question: string;
  onConfirm: () => void;
  className?: string;
  disabled?: boolean;
}) {
  const dialog = useRef<HTMLDialogElement>(null);
  const titleId = useId();
  return (
    <>
      <button type="button" className={className} disabled={disabled} onClick={() => dialog.current?.showModal()}>
        {label}
      </button>
      <dialog ref={dialog} aria-labelledby={titleId}>
        <p id={titleId}>{question}</p>
        <div className="row">
          <button type="button" onClick={() => dialog.current?.close()}>
            Cancel
          </button>
          <button
            type="button"
            className="primary"
            onClick={() => {
              dialog.current?.close();
              onConfirm();
            }}
          >
            Yes, {label.toLowerCase()}
          </button>
        </div>
      </dialog>
    </>
  );
}

export function CopyButton({ text, label = 'Copy' }: { text: string; label?: string }) {
  const [copied, setCopied] = useState(false);
  return (
    <button
      type="button"
      onClick={() => {
        void navigator.clipboard?.writeText(text).then(
          () => setCopied(true),
          () => setCopied(false),
        );
      }}
      aria-live="polite"
    >
      {copied ? 'Copied' : label}
    </button>
  );
}

export function StatusBadge({ status }: { status: string }) {
  return <span className={`badge status-${status}`}>{status}</span>;
}
