"""Admin route of the LRS: erase one learner's learning records (docs/xapi.md).

A school honouring a deletion request names the learner as an xAPI Agent; ingest
deletes, in one transaction, the statements whose actor or object is that agent
and every document kept for it (podium_ingest.privacy).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from podium_contracts.actors import actor_key
from podium_runtime.problems import Problem
from pydantic import BaseModel, Field

from podium_gateway.auth import AdminDep
from podium_gateway.clients.statements import statement_store
from podium_gateway.xapi.api import claims
from podium_gateway.xapi.models import validate_actor

router = APIRouter(tags=["admin"])


class ErasureRequest(BaseModel):
    """The learner whose learning records are erased."""

    agent: dict[str, Any] = Field(
        description="An xAPI Agent with one inverse functional identifier",
        examples=[{"mbox": "mailto:learner@example.com"}],
    )


class ErasureResult(BaseModel):
    """What the erasure removed."""

    statements: int
    documents: int


@router.post(
    "/v1/admin/xapi/erasures",
    summary="Erase a learner's xAPI statements and documents",
    response_model=ErasureResult,
)
async def erase_learner(body: ErasureRequest, admin: AdminDep, request: Request) -> Any:
    """Delete every statement whose actor or object is the agent, and its documents."""
    try:
        agent = validate_actor(body.agent)
    except ValueError as exc:
        raise Problem(400, "XAPI_INVALID_AGENT", f"agent is not a valid Agent: {exc}") from exc
    if agent.get("objectType") == "Group":
        raise Problem(400, "XAPI_INVALID_AGENT", "Erasure names one learner, an Agent.")
    erased = await statement_store(request).erase(actor_key(agent))
    # The ids' claims go too: the statements are gone, and their ids may be used again.
    await claims(request).forget(erased["statement_ids"])
    return ErasureResult(statements=erased["statements"], documents=erased["documents"])
