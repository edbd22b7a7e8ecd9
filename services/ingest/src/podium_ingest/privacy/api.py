"""Internal erasure API, called by the gateway's admin route (docs/xapi.md)."""

from __future__ import annotations

from fastapi import APIRouter
from podium_runtime.deps import SessionDep
from pydantic import BaseModel, Field

from podium_ingest.privacy import service


class ErasureIn(BaseModel):
    """The learner to erase, named by the contract's actor key."""

    agent_key: str = Field(min_length=1, max_length=2000)


class ErasureOut(BaseModel):
    """What the erasure removed (the gateway forgets the ids' claims)."""

    statements: int
    documents: int
    statement_ids: list[str]


router = APIRouter(prefix="/internal", tags=["internal"])


@router.post("/erasures")
async def erase(body: ErasureIn, session: SessionDep) -> ErasureOut:
    """Delete the learner's statements and documents in one transaction."""
    erased = await service.erase_learner(session, body.agent_key)
    return ErasureOut(
        statements=erased.statements,
        documents=erased.documents,
        statement_ids=erased.statement_ids,
    )
