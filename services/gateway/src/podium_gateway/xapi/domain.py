"""Pure xAPI logic of the LRS edge: actor keys, statement preparation and equivalence.

Equivalence follows xAPI 1.0.3 Data 2.3.1 (Statement Comparison Requirements):
differences that the immutability exceptions allow are ignored (LRS-assigned
`id`, `stored`, `authority`, `version`; a timestamp the LRS filled in; verb
`display`; Activity definitions; case of language tags and UUIDs; timestamp
serialisation), every other difference counts. The canonical form is hashed
so replicas can claim an id with a short value.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import json
import re
import uuid
from datetime import UTC, datetime
from typing import Any

import orjson

from podium_gateway.xapi.models import parse_timestamp


def _copy(value: Any) -> Any:
    """Deep copy of a JSON document; a round trip through orjson is many times faster."""
    try:
        return orjson.loads(orjson.dumps(value))
    except (orjson.JSONEncodeError, TypeError):  # integers beyond 64 bits
        return copy.deepcopy(value)


CONTEXT_ACTIVITY_KEYS = ("parent", "grouping", "category", "other")


@functools.lru_cache(maxsize=64)  # a batch formats one `stored` instant many times
def format_timestamp(moment: datetime) -> str:
    """Format an instant the way the LRS writes `stored` (UTC, microseconds, Z)."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def prepare_statement(
    raw: dict[str, Any], stored: datetime, authority: dict[str, Any], version: str = "1.0.0"
) -> dict[str, Any]:
    """Return the statement as the LRS stores it: id, stored, authority, version, timestamp set.

    2.4.1 the LRS assigns a missing id; 2.4.8 it sets stored; 2.4.9 it sets authority;
    2.4.10 version defaults to 1.0.0 (2.0.0 when the request speaks 2.0.0); 2.4.7 a
    missing timestamp takes the stored value;
    2.4.6.2 single context activities become arrays. `raw` is a valid statement
    (`models.validate_statement`).
    """
    statement: dict[str, Any] = _copy(raw)
    # A valid statement's id is hyphenated (`models.UUIDString`): lower case is its stored form.
    statement["id"] = statement["id"].lower() if "id" in statement else str(uuid.uuid4())
    statement["stored"] = format_timestamp(stored)
    statement.setdefault("timestamp", statement["stored"])
    statement["authority"] = authority
    statement.setdefault("version", version)
    _arrays_for_context_activities(statement)
    if isinstance(statement.get("object"), dict) and statement["object"].get("objectType") == (
        "SubStatement"
    ):
        _arrays_for_context_activities(statement["object"])
    return statement


def _arrays_for_context_activities(statement: dict[str, Any]) -> None:
    activities = statement.get("context", {}).get("contextActivities")
    if not isinstance(activities, dict):
        return
    for key in CONTEXT_ACTIVITY_KEYS:
        if isinstance(activities.get(key), dict):
            activities[key] = [activities[key]]


def canonical(statement: dict[str, Any]) -> dict[str, Any]:
    """Return the comparison form of a statement (2.3.1): what two equivalent statements share."""
    doc = {k: v for k, v in statement.items() if k not in _ASSIGNED_BY_LRS}
    # A timestamp the LRS filled in from `stored` was not part of what the client sent.
    if "timestamp" in doc and doc["timestamp"] == statement.get("stored"):
        doc.pop("timestamp")
    _canonical_statement(doc)
    # Numbers last, on what is compared only; it copies all the way down, so the form
    # shares nothing with `statement`.
    comparable: dict[str, Any] = _numbers(doc)
    return comparable


#: Set by the LRS, not by the client: never part of the comparison (2.3.1).
_ASSIGNED_BY_LRS = frozenset({"id", "stored", "authority", "version"})


def _canonical_statement(doc: dict[str, Any]) -> None:
    """Reduce `doc` to its compared parts, replacing (never editing) the objects it holds."""
    doc["actor"] = _canonical_actor(doc["actor"])
    doc["verb"] = {"id": doc["verb"]["id"]}  # verb display is not part of the statement
    if "timestamp" in doc:
        doc["timestamp"] = _instant(doc["timestamp"])
    result = doc.get("result")
    if isinstance(result, dict) and isinstance(result.get("duration"), str):
        doc["result"] = {**result, "duration": _hundredths(result["duration"])}
    obj = doc["object"]
    kind = obj.get("objectType", "Activity")
    if kind == "Activity":
        doc["object"] = {"objectType": "Activity", "id": obj["id"]}
    elif kind in ("Agent", "Group"):
        doc["object"] = _canonical_actor(obj)
    elif kind == "StatementRef":
        doc["object"] = {"objectType": "StatementRef", "id": obj["id"].lower()}
    elif kind == "SubStatement":
        doc["object"] = sub = dict(obj)
        _canonical_statement(sub)
    if doc.get("context"):
        doc["context"] = _canonical_context(doc["context"])
    if doc.get("attachments"):
        doc["attachments"] = [_canonical_attachment(a) for a in doc["attachments"]]


def _canonical_attachment(attachment: dict[str, Any]) -> dict[str, Any]:
    attachment = dict(attachment)
    for key in ("display", "description"):
        if key in attachment:
            attachment[key] = {tag.lower(): text for tag, text in attachment[key].items()}
    return attachment


def _canonical_context(context: dict[str, Any]) -> dict[str, Any]:
    context = dict(context)
    if "registration" in context:
        context["registration"] = context["registration"].lower()
    if "language" in context:
        context["language"] = context["language"].lower()
    if "statement" in context:
        context["statement"] = {**context["statement"], "id": context["statement"]["id"].lower()}
    for key in ("instructor", "team"):
        if key in context:
            context[key] = _canonical_actor(context[key])
    if context.get("contextActivities"):
        activities = dict(context["contextActivities"])
        for key in CONTEXT_ACTIVITY_KEYS:
            if key in activities:
                items = activities[key] if isinstance(activities[key], list) else [activities[key]]
                activities[key] = [{"objectType": "Activity", "id": a["id"]} for a in items]
        context["contextActivities"] = activities
    return context


_SECONDS_FRACTION = re.compile(r"(\d+\.\d{2})\d+S$")


def _hundredths(duration: str) -> str:
    """Durations compare to 0.01 s: finer digits of the seconds are dropped (xAPI 2.0 4.2.7)."""
    return _SECONDS_FRACTION.sub(r"\1S", duration)


def _canonical_actor(actor: dict[str, Any]) -> dict[str, Any]:
    actor = dict(actor)
    actor.setdefault("objectType", "Agent")
    if "mbox_sha1sum" in actor:
        actor["mbox_sha1sum"] = actor["mbox_sha1sum"].lower()
    if "member" in actor:
        members = [_canonical_actor(m) for m in actor["member"]]
        actor["member"] = sorted(members, key=lambda m: json.dumps(m, sort_keys=True))
    return actor


def _instant(value: str) -> str:
    moment = parse_timestamp(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    # 4.5: precision beyond milliseconds may be lost; compare to the millisecond.
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


_PLAIN = frozenset({str, int, bool, type(None)})


def _numbers(value: Any) -> Any:
    """JSON numbers compare by value: 1 and 1.0 are the same number (returns a deep copy)."""
    # Most values are text: they are taken as they are without a call per value.
    if isinstance(value, dict):
        return {k: v if type(v) in _PLAIN else _numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [v if type(v) in _PLAIN else _numbers(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def content_hash(statement: dict[str, Any]) -> str:
    """Return the sha256 of the canonical form: equal hashes mean equivalent statements."""
    document = canonical(statement)
    try:
        encoded = orjson.dumps(document, option=orjson.OPT_SORT_KEYS)
    except (orjson.JSONEncodeError, TypeError):  # integers beyond 64 bits
        encoded = json.dumps(
            document, sort_keys=True, separators=(",", ":"), ensure_ascii=False
        ).encode()
    return hashlib.sha256(encoded).hexdigest()


def equivalent(first: dict[str, Any], second: dict[str, Any]) -> bool:
    """Tell whether two statements are the same statement by xAPI's comparison rules."""
    return canonical(first) == canonical(second)
