import { render, screen, within } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { DataTable, ScoreCells, scoreColumns } from './table';

function submissionsTable(items: { id: string; public_score?: number | null; private_score?: number | null }[]) {
  return render(
    <DataTable columns={['Submission', ...scoreColumns]} caption="Submissions" hideCaption>
      {items.map((s) => (
        <tr key={s.id}>
          <td>{s.id}</td>
          <ScoreCells submission={s} />
        </tr>
      ))}
    </DataTable>,
  );
}

describe('ScoreCells', () => {
  it('shows both scores right-aligned under numeric headers, a dash until scored', () => {
    submissionsTable([
      { id: 'scored', public_score: 0.912345, private_score: 0.5 },
      { id: 'queued', public_score: null, private_score: null },
      { id: 'public only', public_score: 0.25 },
    ]);
    const table = screen.getByRole('table', { name: 'Submissions' });
    const headers = within(table).getAllByRole('columnheader');
    expect(headers.map((h) => h.textContent)).toEqual(['Submission', 'Public', 'Private']);
    expect(headers.map((h) => h.className)).toEqual(['', 'num', 'num']);

    // Scores are shown to four decimals in the viewer's locale.
    const shown = (value: number) => value.toLocaleString(undefined, { maximumFractionDigits: 4 });
    const [, scored, queued, publicOnly] = within(table).getAllByRole('row');
    const cells = (row: HTMLElement | undefined) => within(row as HTMLElement).getAllByRole('cell');
    expect(cells(scored).map((c) => c.textContent)).toEqual(['scored', shown(0.9123), shown(0.5)]);
    expect(cells(scored).slice(1).every((c) => c.className === 'num')).toBe(true);
    expect(cells(queued).map((c) => c.textContent)).toEqual(['queued', '—', '—']);
    expect(cells(publicOnly).map((c) => c.textContent)).toEqual(['public only', shown(0.25), '—']);
  });
});

describe('DataTable', () => {
  it('is a keyboard-scrollable frame with a visible caption unless hidden', () => {
    const { container } = render(
      <DataTable columns={['a', { label: 'b', className: 'hide-narrow' }]} caption="First rows">
        <tr>
          <td>1</td>
          <td>2</td>
        </tr>
      </DataTable>,
    );
    const frame = container.firstElementChild as HTMLElement;
    expect(frame.className).toBe('table-wrap');
    expect(frame.tabIndex).toBe(0);
    expect(screen.getByText('First rows').className).toBe('');
    expect(screen.getByRole('columnheader', { name: 'b' }).className).toBe('hide-narrow');
  });
});
