import { render, screen, within } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { ErrorList } from './SubmitPanel';

describe('ErrorList', () => {
  it('shows every error with its code, column and sample rows', () => {
    render(
      <ErrorList
        title="This file would be rejected:"
        errors={[
          { code: 'MISSING_IDS', column: 'id', message: '2 ids have no prediction', rows: ['b', 'c'], count: 2 },
          { code: 'NOT_A_NUMBER', column: 'target', message: '1 value is not a number', rows: ['a'] },
        ]}
      />,
    );
    const alert = screen.getByRole('alert');
    expect(within(alert).getByText('This file would be rejected:')).toBeTruthy();
    const items = within(alert).getAllByRole('listitem');
    expect(items).toHaveLength(2);
    expect(items[0]?.textContent).toContain('MISSING_IDS');
    expect(items[0]?.textContent).toContain('rows: b, c');
    expect(items[1]?.textContent).toContain('target');
  });
});
