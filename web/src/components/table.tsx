/** Tables: a scrollable, keyboard-focusable frame with its header row, and a submission's score cells. */
import type { ReactNode, Ref } from 'react';
import { formatNumber } from '@/lib/format';

/** One header cell: its label, right-aligned when the column holds numbers. */
export interface Column {
  label: ReactNode;
  numeric?: boolean;
  className?: string;
}

/** A table that scrolls sideways on narrow screens and can be scrolled from the keyboard. */
export function DataTable({
  columns,
  caption,
  hideCaption = false,
  className,
  bodyRef,
  children,
}: {
  columns: readonly (Column | string)[];
  caption?: string;
  /** Keep the caption for screen readers only. */
  hideCaption?: boolean;
  className?: string;
  bodyRef?: Ref<HTMLTableSectionElement>;
  children: ReactNode;
}) {
  return (
    <div className="table-wrap" tabIndex={0}>
      <table className={className}>
        {caption ? <caption className={hideCaption ? 'sr-only' : undefined}>{caption}</caption> : null}
        <thead>
          <tr>
            {columns.map((column, i) => {
              const { label, numeric, className: extra } = typeof column === 'string' ? { label: column } : column;
              const classes = [numeric ? 'num' : '', extra ?? ''].filter(Boolean).join(' ');
              return (
                <th key={i} scope="col" className={classes || undefined}>
                  {label}
                </th>
              );
            })}
          </tr>
        </thead>
        <tbody ref={bodyRef}>{children}</tbody>
      </table>
    </div>
  );
}

/** The header cells that go with `ScoreCells`. */
export const scoreColumns: readonly Column[] = [
  { label: 'Public', numeric: true },
  { label: 'Private', numeric: true },
];

/** A submission's public and private scores as two numeric cells; "—" while not scored. */
export function ScoreCells({ submission }: { submission: { public_score?: number | null; private_score?: number | null } }) {
  return (
    <>
      <td className="num">{formatNumber(submission.public_score)}</td>
      <td className="num">{formatNumber(submission.private_score)}</td>
    </>
  );
}
