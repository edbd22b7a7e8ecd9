"""Pure xAPI logic of the store: actor keys, flattening, durations (no I/O).

The statements arriving here were validated by the gateway (SPEC §5.4); this
module only reads them.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Any

from podium_contracts.actors import actor_key

VOIDED_VERB = "http://adlnet.gov/expapi/verbs/voided"

_DURATION = re.compile(
    r"^P(?:(?P<years>\d+(?:\.\d+)?)Y)?(?:(?P<months>\d+(?:\.\d+)?)M)?(?:(?P<weeks>\d+(?:\.\d+)?)W)?"
    r"(?:(?P<days>\d+(?:\.\d+)?)D)?(?:T(?:(?P<hours>\d+(?:\.\d+)?)H)?"
    r"(?:(?P<minutes>\d+(?:\.\d+)?)M)?(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?$"
)
_SECONDS = {
    "years": 365 * 86400,
    "months": 30 * 86400,
    "weeks": 7 * 86400,
    "days": 86400,
    "hours": 3600,
    "minutes": 60,
    "seconds": 1,
}


def duration_seconds(value: str | None) -> float | None:
    """Return an ISO 8601 duration in seconds (months as 30 days, years as 365), or None."""
    if not value:
        return None
    match = _DURATION.match(value)
    if match is None:
        return None
    return sum(float(v) * _SECONDS[k] for k, v in match.groupdict().items() if v)


def parse_instant(value: str) -> datetime:
    """Parse an ISO 8601 timestamp; a missing offset means UTC (xAPI 4.5)."""
    moment = datetime.fromisoformat(value.replace("z", "Z"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def user_id_of(actor: dict[str, Any], platform_url: str) -> uuid.UUID | None:
    """Return the Podium user id an actor names: account.name on the platform's homePage."""
    account = actor.get("account")
    if not isinstance(account, dict):
        return None
    if account.get("homePage", "").rstrip("/") != platform_url.rstrip("/"):
        return None
    try:
        return uuid.UUID(account.get("name", ""))
    except ValueError:
        return None


def is_voiding(statement: dict[str, Any]) -> bool:
    """Tell whether a statement voids another (xAPI 2.3.2: verb voided, StatementRef object)."""
    found: bool = (
        statement["verb"]["id"] == VOIDED_VERB
        and statement["object"].get("objectType") == "StatementRef"
    )
    return found


def flatten(statement: dict[str, Any], platform_url: str) -> dict[str, Any]:
    """Return the flattened row of a stored statement (table `statement_facts`)."""
    obj = statement["object"]
    object_type = obj.get("objectType", "Activity")
    result = statement.get("result") or {}
    score = result.get("score") or {}
    context = statement.get("context") or {}
    registration = context.get("registration")
    return {
        "statement_id": uuid.UUID(statement["id"]),
        "actor_key": actor_key(statement["actor"]),
        "object_agent_key": actor_key(obj) if object_type in ("Agent", "Group") else None,
        "user_id": user_id_of(statement["actor"], platform_url),
        "verb_id": statement["verb"]["id"],
        "object_type": object_type,
        "activity_id": obj["id"] if object_type == "Activity" else None,
        "target_id": uuid.UUID(obj["id"]) if object_type == "StatementRef" else None,
        "registration": uuid.UUID(registration) if registration else None,
        "timestamp": parse_instant(statement.get("timestamp") or statement["stored"]),
        "stored": parse_instant(statement["stored"]),
        "scaled_score": score.get("scaled"),
        "success": result.get("success"),
        "completion": result.get("completion"),
        "duration_seconds": duration_seconds(result.get("duration")),
        "is_voiding": is_voiding(statement),
        "voided": False,
    }
