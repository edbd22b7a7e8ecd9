"""Background e-mail sender: drains the e-mail outbox with retries, backoff and dead-lettering.

Consumers only insert rows, so an SMTP outage never blocks event handling
(SPEC §7.4). Rows are claimed with `FOR UPDATE SKIP LOCKED`, so replicas share
the work; a failed mail is retried with exponential backoff and becomes `dead`
after `email_max_attempts` (or at once on a permanent 5xx refusal) while the
others keep flowing.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from podium_runtime.db import Database

from podium_notifier.config import Settings
from podium_notifier.mail import MailTransport, OutgoingMail, PermanentFailure
from podium_notifier.repositories import emails

log = logging.getLogger(__name__)


class EmailSender:
    """Sends due mails in batches; woken after commits that queued mail."""

    def __init__(self, database: Database, transport: MailTransport, settings: Settings) -> None:
        self.database = database
        self.transport = transport
        self.settings = settings
        self._wakeup = asyncio.Event()

    def wake(self) -> None:
        """Look for due mails now instead of after the poll interval."""
        self._wakeup.set()

    def backoff(self, attempts: int) -> timedelta:
        """Return the wait before attempt `attempts + 1`: exponential, capped."""
        seconds = self.settings.email_backoff_seconds * 2 ** max(attempts - 1, 0)
        return timedelta(seconds=min(seconds, self.settings.email_backoff_max_seconds))

    async def send_due(self) -> int:
        """Send one claimed batch of due mails; return how many were attempted."""
        async with self.database.session() as session:
            rows = await emails.claim_due_emails(session, self.settings.email_batch_size)
            if not rows:
                return 0
            mails = [OutgoingMail(r.to_address, r.subject, r.text_body, r.html_body) for r in rows]
            results = await asyncio.gather(
                *(self.transport.send(m) for m in mails), return_exceptions=True
            )
            for row, result in zip(rows, results, strict=True):
                if isinstance(result, BaseException):
                    attempts = row.attempts + 1
                    permanent = isinstance(result, PermanentFailure)
                    give_up = permanent or attempts >= self.settings.email_max_attempts
                    error = f"{type(result).__name__}: {result}"
                    await emails.mark_email_failed(
                        session, row.id, error, None if give_up else self.backoff(attempts)
                    )
                    log.warning(
                        "e-mail dead-lettered" if give_up else "e-mail failed; will retry",
                        extra={"email_id": row.id, "attempts": attempts, "error": error},
                    )
                else:
                    await emails.mark_email_sent(session, row.id)
        return len(rows)

    async def run(self) -> None:
        """Send until cancelled: immediately when woken, otherwise every poll interval."""
        while True:
            try:
                if await self.send_due():
                    continue
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("e-mail sender failed; retrying")
            self._wakeup.clear()
            try:
                await asyncio.wait_for(self._wakeup.wait(), self.settings.email_poll_seconds)
            except TimeoutError:
                pass
