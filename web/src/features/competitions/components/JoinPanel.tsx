/** Join a competition (open or with an invite code) and watch the decision arrive live. */
import { useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { ProblemAlert, StatusBadge } from '@/components/ui';
import { useLiveEvent } from '@/lib/live';
import { useEnrollment, useJoin, useLeave, type Competition } from '../api/competitions';

const REASONS: Record<string, string> = {
  FULL: 'the competition is full',
  INVALID_INVITE_CODE: 'the invite code is not valid',
  COMPETITION_NOT_ACTIVE: 'the competition is not open',
  COMPETITION_NOT_FOUND: 'the competition does not exist',
  ALREADY_STARTED: 'the competition has started and does not take late joins',
  OWNER_CANNOT_JOIN: 'owners do not join their own competition',
};

export function JoinPanel({ competition, initialCode }: { competition: Competition; initialCode?: string }) {
  const queryClient = useQueryClient();
  const enrollment = useEnrollment(competition.id, true);
  const join = useJoin(competition.id);
  const leave = useLeave(competition.id);
  const [code, setCode] = useState(initialCode ?? '');

  useLiveEvent('enrollment.updated', () => {
    void queryClient.invalidateQueries({ queryKey: ['enrollment', competition.id] });
    void queryClient.invalidateQueries({ queryKey: ['competition', competition.id] });
  });

  const status = enrollment.data?.status;
  if (status === 'accepted') {
    return (
      <p className="row wrap" role="status">
        <StatusBadge status="accepted" /> You take part in this competition.
        <button type="button" className="link" onClick={() => leave.mutate()}>
          Leave
        </button>
      </p>
    );
  }
  return (
    <form
      className="card join"
      aria-label="Join"
      onSubmit={(e) => {
        e.preventDefault();
        join.mutate(code.trim() || undefined);
      }}
    >
      {status === 'pending' ? (
        <p role="status" aria-live="polite">
          <StatusBadge status="pending" /> Your request is being decided…
        </p>
      ) : null}
      {status === 'rejected' ? (
        <p role="alert">
          <StatusBadge status="rejected" /> Not accepted: {REASONS[enrollment.data?.reason ?? ''] ?? enrollment.data?.reason ?? 'no reason given'}.
        </p>
      ) : null}
      {competition.visibility === 'private' ? (
        <label className="inline">
          Invite code <input value={code} onChange={(e) => setCode(e.target.value)} autoComplete="off" />
        </label>
      ) : null}
      <button type="submit" className="primary" disabled={join.isPending || status === 'pending'}>
        Join competition
      </button>
      {join.isError ? <ProblemAlert error={join.error} /> : null}
    </form>
  );
}
