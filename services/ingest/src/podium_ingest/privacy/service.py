"""Erasure and retention use cases (no HTTP): what a school's deletion request removes.

Policy (docs/xapi.md "Erasure and retention"): erasing a learner deletes, in one
transaction, every statement whose actor or object is the learner (raw and
flattened, voided or not) and every State and Agent Profile document of the
learner. Statements are removed rather than voided: a voiding statement would
keep the learner's identifier in the store. Retention deletes statements whose
`stored` is older than the configured number of days, in bounded batches.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from podium_ingest.privacy import repository


@dataclass(frozen=True)
class Erasure:
    """What one erasure removed."""

    statement_ids: list[str]
    documents: int

    @property
    def statements(self) -> int:
        """How many statements were deleted."""
        return len(self.statement_ids)


async def erase_learner(session: AsyncSession, agent_key: str) -> Erasure:
    """Delete the learner's statements and documents (the agent named by its actor key)."""
    removed = await repository.delete_statements_of(session, agent_key)
    documents = await repository.delete_documents_of(session, agent_key)
    return Erasure(statement_ids=[str(i) for i in removed], documents=documents)


async def purge_expired_batch(
    session: AsyncSession, retention_days: int, batch: int = 5000, now: datetime | None = None
) -> int:
    """Delete one batch of statements stored more than `retention_days` ago; return how many."""
    cutoff = (now or datetime.now(UTC)) - timedelta(days=retention_days)
    return await repository.delete_statements_stored_before(session, cutoff, batch)
