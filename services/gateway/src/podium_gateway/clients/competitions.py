"""The competitions client: calls to the competitions service's internal API (SPEC §6).

The gateway states who the caller is in `X-Podium-User-Id` / `X-Podium-User-Role`;
the competitions service applies object-level checks next to its data. A
competition comes back as a typed `CompetitionView`, the facts the gateway's
routes decide on.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

import httpx
from fastapi import Depends
from podium_contracts.codes import SubmissionRefusal
from podium_runtime.problems import Problem
from pydantic import BaseModel, ConfigDict

from podium_gateway.auth import CurrentUser
from podium_gateway.clients import HttpDep, Relayed, SettingsDep
from podium_gateway.clients.internal import InternalClient

SERVICE = "competitions"


class ViewerView(BaseModel):
    """How the caller relates to the competition."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    role: Literal["viewer", "participant", "sponsor"]
    #: The caller's team (SPEC §10.2); None for a solo participant, a team of one.
    team_id: uuid.UUID | None = None


class CompetitionView(BaseModel):
    """The facts of a competition the gateway decides on, as competitions answers them."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    id: uuid.UUID
    owner_id: uuid.UUID
    kind: Literal["prediction", "activity"]
    status: str
    starts_at: datetime
    ends_at: datetime
    timezone: str = "UTC"
    daily_submission_limit: int | None = None
    metric: str | None = None
    viewer: ViewerView | None = None

    @property
    def is_participant(self) -> bool:
        """Tell whether the caller takes part (an accepted enrollment)."""
        return self.viewer is not None and self.viewer.role == "participant"

    def entrant(self, user_id: uuid.UUID) -> uuid.UUID:
        """Return whom the caller's daily limit counts for: their team, or themselves."""
        team_id = self.viewer.team_id if self.viewer is not None else None
        return team_id or user_id


class SubmitDecision(BaseModel):
    """Competitions' answer to "may this caller upload a prediction now?"."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    allowed: bool
    code: SubmissionRefusal | None = None
    status: int | None = None
    detail: str | None = None
    competition: CompetitionView

    def admitted(self) -> CompetitionView:
        """Return the competition when the upload is allowed; raise the refusal's problem."""
        if not self.allowed:
            raise Problem(self.status or 409, self.code or "FORBIDDEN", self.detail or "")
        return self.competition


def is_sponsor(competition: CompetitionView, user: CurrentUser | None) -> bool:
    """Tell whether `user` is the competition's owner or an admin."""
    if user is None:
        return False
    return user.is_admin or competition.owner_id == user.user_id


def require_sponsor(
    competition: CompetitionView, user: CurrentUser, action: str = "do this"
) -> None:
    """Refuse with 403 `NOT_OWNER` unless `user` is the competition's owner or an admin."""
    if not is_sponsor(competition, user):
        raise Problem(403, "NOT_OWNER", f"Only the competition's owner or an admin may {action}.")


def has_ended(competition: CompetitionView, now: datetime) -> bool:
    """Tell whether the competition is over: ended by status or past `ends_at`."""
    return competition.status == "ended" or competition.ends_at <= now


class CompetitionsClient(InternalClient):
    """The competitions internal API, over the gateway's shared HTTP client."""

    service = SERVICE

    async def join_target(
        self, competition_id: uuid.UUID | None = None, invite_code: str | None = None
    ) -> httpx.Response:
        """Resolve a join's competition by id or invite code (200 or a 404 problem)."""
        return await self.request(
            "GET",
            "/join-targets",
            None,
            params={
                "competition_id": str(competition_id) if competition_id else None,
                "invite_code": invite_code,
            },
        )

    async def enrollment(self, competition_id: uuid.UUID, user: CurrentUser) -> httpx.Response:
        """Return the caller's enrollment as the competitions service knows it."""
        return await self.request("GET", f"/competitions/{competition_id}/enrollment", user)

    async def rebuild_read_model(self, competition_id: uuid.UUID) -> None:
        """Ask competitions to write the competition's read-model card again (ADR 0041)."""
        await self.request("POST", f"/competitions/{competition_id}/read-model", None)

    async def competition(
        self, competition_id: uuid.UUID, user: CurrentUser | None
    ) -> CompetitionView:
        """Return the competition as `user` sees it; its problems (404, ...) raise `Relayed`."""
        got = await self.request("GET", f"/competitions/{competition_id}", user)
        if got.status_code != 200:
            raise Relayed(got)
        return CompetitionView.model_validate_json(got.content)

    async def may_submit(self, competition_id: uuid.UUID, user: CurrentUser) -> SubmitDecision:
        """Ask competitions whether `user` may upload now; its problems raise `Relayed`."""
        got = await self.request("GET", f"/competitions/{competition_id}/eligibility/submit", user)
        if got.status_code != 200:
            raise Relayed(got)
        return SubmitDecision.model_validate_json(got.content)


async def competitions_client(http: HttpDep, settings: SettingsDep) -> CompetitionsClient:
    """Return the competitions client over the shared HTTP client."""
    return CompetitionsClient(http, settings.competitions_url)


CompetitionsDep = Annotated[CompetitionsClient, Depends(competitions_client)]
