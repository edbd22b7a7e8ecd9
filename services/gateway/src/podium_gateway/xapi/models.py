"""xAPI 1.0.3 statement models: strict pydantic validation with spec-citing rules (SPEC §5.4).

Every model forbids unknown properties: xAPI Data 2.2 says an LRS rejects
statements with properties the specification does not define. Section numbers
in comments refer to xAPI 1.0.3 Part Two (Data) unless they say otherwise.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    StringConstraints,
    Tag,
    TypeAdapter,
    ValidationError,
    model_validator,
)
from pydantic.functional_validators import AfterValidator

# Schemed IRI: RFC 3987 needs a scheme and no whitespace (Part Three 3.1 "IRI Requirements").
_IRI = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:[^\s]+$")
# RFC 5646 language tag, simplified: primary subtag then alphanumeric subtags (5.2 Language Map).
_LANGUAGE_TAG = re.compile(r"^(?:[A-Za-z]{2,8}|[xXiI])(?:-[A-Za-z0-9]{1,8})*$")
# ISO 8601 duration (4.6 "ISO 8601 Durations"); a 'T' must be followed by a component.
# Weeks stand alone (ISO 8601 4.4.3.2: PnW is its own format, never mixed with others).
_DURATION = re.compile(
    r"^P(?:\d+(?:\.\d+)?W|(?!$)(?:\d+(?:\.\d+)?Y)?(?:\d+(?:\.\d+)?M)?(?:\d+(?:\.\d+)?D)?"
    r"(?:T(?=\d)(?:\d+(?:\.\d+)?H)?(?:\d+(?:\.\d+)?M)?(?:\d+(?:\.\d+)?S)?)?)$"
)
# ISO 8601 timestamp with date and time (4.5 "ISO 8601 Timestamps").
_TIMESTAMP = re.compile(
    r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|z|[+-]\d{2}(?::?\d{2})?)?$"
)
_SHA1 = re.compile(r"^[0-9a-fA-F]{40}$")
_MBOX = re.compile(r"^mailto:[^@\s]+@[^@\s]+$")
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
# 2.4.10 Version: "1.0.x"; 2.0.0 statements are accepted where compatible (SPEC §5.4).
_VERSION = re.compile(r"^(?:1\.0(?:\.\d+)?|2\.0\.\d+)$")

VOIDED_VERB = "http://adlnet.gov/expapi/verbs/voided"


def _duration(value: str) -> str:
    if not _DURATION.match(value):
        raise ValueError(f"{value!r} is not an ISO 8601 duration")
    return value


def parse_timestamp(value: str) -> datetime:
    """Parse an xAPI timestamp (ISO 8601, 4.5); naive values are read as UTC."""
    if not _TIMESTAMP.match(value):
        raise ValueError(f"{value!r} is not an ISO 8601 timestamp")
    # 4.5: "-00:00" is not a valid offset (RFC 3339 'unknown local offset').
    if value.endswith("-00:00") or value.endswith("-0000") or value.endswith("-00"):
        raise ValueError(f"{value!r} uses the -00:00 offset, which xAPI forbids")
    try:
        return datetime.fromisoformat(value.replace("z", "Z"))
    except ValueError as exc:
        raise ValueError(f"{value!r} is not a valid date and time") from exc


def _timestamp(value: str) -> str:
    parse_timestamp(value)
    return value


# The patterns are checked in pydantic's core (compiled once, no Python call per value):
# a mismatch names its pattern, and `_PATTERN_MESSAGES` says what it means.
IRI = Annotated[StrictStr, StringConstraints(pattern=_IRI.pattern)]
LanguageTag = Annotated[StrictStr, StringConstraints(pattern=_LANGUAGE_TAG.pattern)]
UUIDString = Annotated[StrictStr, StringConstraints(pattern=_UUID.pattern)]
Mbox = Annotated[StrictStr, StringConstraints(pattern=_MBOX.pattern)]
Sha1 = Annotated[StrictStr, StringConstraints(pattern=_SHA1.pattern)]
_PATTERN_MESSAGES = {
    _IRI.pattern: "is not an IRI (an absolute IRI with a scheme is required)",
    _LANGUAGE_TAG.pattern: "is not an RFC 5646 language tag",
    _UUID.pattern: "is not a UUID in its hyphenated form",
    # 2.4.2.3: mbox is a mailto IRI.
    _MBOX.pattern: "is not a mailto: IRI",
    _SHA1.pattern: "is not an mbox_sha1sum (40 hexadecimal characters)",
}
Duration = Annotated[StrictStr, AfterValidator(_duration)]
Timestamp = Annotated[StrictStr, AfterValidator(_timestamp)]
LanguageMap = dict[LanguageTag, StrictStr]
# 5.3 Extensions: keys are IRIs, values any JSON.
Extensions = dict[IRI, Any]


class XapiModel(BaseModel):
    """Base of every xAPI object: unknown properties are rejected (2.2)."""

    model_config = ConfigDict(extra="forbid", strict=True)


class Account(XapiModel):
    """2.4.2.4 Account Object: a user account on an existing system."""

    homePage: IRI
    name: StrictStr


class _Identified(XapiModel):
    """Inverse functional identifiers shared by Agents and identified Groups (2.4.2.3)."""

    name: StrictStr | None = None
    mbox: Mbox | None = None
    mbox_sha1sum: Sha1 | None = None
    openid: IRI | None = None
    account: Account | None = None

    def identifiers(self) -> list[str]:
        """Return the names of the inverse functional identifiers present."""
        return [
            f for f in ("mbox", "mbox_sha1sum", "openid", "account") if getattr(self, f) is not None
        ]


class Agent(_Identified):
    """2.4.2.1 Agent: exactly one inverse functional identifier."""

    objectType: Literal["Agent"] | None = None

    @model_validator(mode="after")
    def _one_identifier(self) -> Agent:
        found = self.identifiers()
        if len(found) != 1:
            raise ValueError(
                "an Agent needs exactly one inverse functional identifier "
                f"(mbox, mbox_sha1sum, openid or account); found {found or 'none'}"
            )
        return self


class Group(_Identified):
    """2.4.2.2 Group: anonymous (members, no identifier) or identified (one identifier)."""

    objectType: Literal["Group"]
    member: list[Agent] | None = None

    @model_validator(mode="after")
    def _anonymous_or_identified(self) -> Group:
        found = self.identifiers()
        if len(found) > 1:
            raise ValueError(
                f"a Group has at most one inverse functional identifier; found {found}"
            )
        if not found and not self.member:
            raise ValueError("an anonymous Group must list its members")
        return self


def _actor_tag(value: Any) -> str:
    if isinstance(value, dict):
        return "Group" if value.get("objectType") == "Group" else "Agent"
    return "Group" if isinstance(value, Group) else "Agent"


Actor = Annotated[
    Annotated[Agent, Tag("Agent")] | Annotated[Group, Tag("Group")], Discriminator(_actor_tag)
]


class Verb(XapiModel):
    """2.4.3 Verb: an IRI and an optional display language map."""

    id: IRI
    display: LanguageMap | None = None


class InteractionComponent(XapiModel):
    """2.4.4.1 Interaction component of choice, likert, matching and performance activities."""

    id: StrictStr
    description: LanguageMap | None = None


class ActivityDefinition(XapiModel):
    """2.4.4.1 Activity Definition."""

    name: LanguageMap | None = None
    description: LanguageMap | None = None
    type: IRI | None = None
    moreInfo: IRI | None = None
    extensions: Extensions | None = None
    interactionType: (
        Literal[
            "true-false",
            "choice",
            "fill-in",
            "long-fill-in",
            "matching",
            "performance",
            "sequencing",
            "likert",
            "numeric",
            "other",
        ]
        | None
    ) = None
    correctResponsesPattern: list[StrictStr] | None = None
    choices: list[InteractionComponent] | None = None
    scale: list[InteractionComponent] | None = None
    source: list[InteractionComponent] | None = None
    target: list[InteractionComponent] | None = None
    steps: list[InteractionComponent] | None = None

    @model_validator(mode="after")
    def _interaction_components(self) -> ActivityDefinition:
        # 2.4.4.1: interaction properties only make sense with an interactionType.
        uses = [
            f
            for f in ("correctResponsesPattern", "choices", "scale", "source", "target", "steps")
            if getattr(self, f) is not None
        ]
        if uses and self.interactionType is None:
            raise ValueError(f"{', '.join(uses)} need an interactionType")
        return self


class Activity(XapiModel):
    """2.4.4.1 Activity: an IRI id and an optional definition."""

    objectType: Literal["Activity"] | None = None
    id: IRI
    definition: ActivityDefinition | None = None


class StatementRef(XapiModel):
    """2.4.4.3 Statement Reference: points at another statement by UUID."""

    objectType: Literal["StatementRef"]
    id: UUIDString


class ObjectAgent(Agent):
    """An Agent used as a statement object must say so (2.4.4.2)."""

    objectType: Literal["Agent"]


class Score(XapiModel):
    """2.4.5.1 Score: scaled in [-1, 1]; raw between min and max; min below max."""

    scaled: StrictFloat | StrictInt | None = Field(default=None, ge=-1, le=1)
    raw: StrictFloat | StrictInt | None = None
    min: StrictFloat | StrictInt | None = None
    max: StrictFloat | StrictInt | None = None

    @model_validator(mode="after")
    def _ranges(self) -> Score:
        if self.min is not None and self.max is not None and self.min >= self.max:
            raise ValueError("score.min must be less than score.max")
        if self.raw is not None:
            if self.min is not None and self.raw < self.min:
                raise ValueError("score.raw must not be below score.min")
            if self.max is not None and self.raw > self.max:
                raise ValueError("score.raw must not be above score.max")
        return self


class Result(XapiModel):
    """2.4.5 Result."""

    score: Score | None = None
    success: StrictBool | None = None
    completion: StrictBool | None = None
    response: StrictStr | None = None
    duration: Duration | None = None
    extensions: Extensions | None = None


ActivityOrList = Activity | list[Activity]


class ContextActivities(XapiModel):
    """2.4.6.2 Context Activities: each key holds an Activity or an array of them."""

    parent: ActivityOrList | None = None
    grouping: ActivityOrList | None = None
    category: ActivityOrList | None = None
    other: ActivityOrList | None = None


class ContextAgent(XapiModel):
    """xAPI 2.0 (9274.1.1 4.2.2.5) contextAgent: an Agent and why it is relevant."""

    objectType: Literal["contextAgent"]
    agent: Agent
    relevantTypes: Annotated[list[IRI], Field(min_length=1)] | None = None


class ContextGroup(XapiModel):
    """xAPI 2.0 (9274.1.1 4.2.2.5) contextGroup: a Group and why it is relevant."""

    objectType: Literal["contextGroup"]
    group: Group
    relevantTypes: Annotated[list[IRI], Field(min_length=1)] | None = None


class Context(XapiModel):
    """2.4.6 Context (with the xAPI 2.0 contextAgents and contextGroups)."""

    registration: UUIDString | None = None
    instructor: Actor | None = None
    team: Group | None = None
    contextActivities: ContextActivities | None = None
    revision: StrictStr | None = None
    platform: StrictStr | None = None
    language: LanguageTag | None = None
    statement: StatementRef | None = None
    extensions: Extensions | None = None
    contextAgents: list[ContextAgent] | None = None
    contextGroups: list[ContextGroup] | None = None


class Attachment(XapiModel):
    """2.4.11 Attachment: metadata; the content travels by sha2 in a multipart part or fileUrl."""

    usageType: IRI
    display: LanguageMap
    description: LanguageMap | None = None
    contentType: StrictStr
    length: StrictInt = Field(ge=0)
    sha2: StrictStr
    fileUrl: IRI | None = None


def _object_tag(value: Any) -> str:
    if isinstance(value, dict):
        kind = value.get("objectType", "Activity")
        return kind if isinstance(kind, str) else "Activity"
    return str(getattr(value, "objectType", None) or "Activity")


def _check_context_for_object(context: Context | None, obj: Any) -> None:
    # 2.4.6: revision and platform MUST only be used when the object is an Activity.
    if context is None or isinstance(obj, Activity):
        return
    for name in ("revision", "platform"):
        if getattr(context, name) is not None:
            raise ValueError(f"context.{name} is only allowed when the object is an Activity")


SubStatementObject = Annotated[
    Annotated[Activity, Tag("Activity")]
    | Annotated[ObjectAgent, Tag("Agent")]
    | Annotated[Group, Tag("Group")]
    | Annotated[StatementRef, Tag("StatementRef")],
    Discriminator(_object_tag),
]


class SubStatement(XapiModel):
    """2.4.4.3 SubStatement: no id, stored, version, authority, or nested SubStatement."""

    objectType: Literal["SubStatement"]
    actor: Actor
    verb: Verb
    object: SubStatementObject
    result: Result | None = None
    context: Context | None = None
    timestamp: Timestamp | None = None
    attachments: list[Attachment] | None = None

    @model_validator(mode="after")
    def _context_rules(self) -> SubStatement:
        _check_context_for_object(self.context, self.object)
        return self


StatementObject = Annotated[
    Annotated[Activity, Tag("Activity")]
    | Annotated[ObjectAgent, Tag("Agent")]
    | Annotated[Group, Tag("Group")]
    | Annotated[StatementRef, Tag("StatementRef")]
    | Annotated[SubStatement, Tag("SubStatement")],
    Discriminator(_object_tag),
]


class Statement(XapiModel):
    """2.4 Statement as a client sends it (stored and authority are overwritten by the LRS)."""

    id: UUIDString | None = None
    actor: Actor
    verb: Verb
    object: StatementObject
    result: Result | None = None
    context: Context | None = None
    timestamp: Timestamp | None = None
    stored: Timestamp | None = None
    authority: Actor | None = None
    version: Annotated[StrictStr, Field(pattern=_VERSION.pattern)] | None = None
    attachments: list[Attachment] | None = None

    @model_validator(mode="after")
    def _statement_rules(self) -> Statement:
        _check_context_for_object(self.context, self.object)
        # 2.3.2 Voiding: a voiding statement's object is a StatementRef.
        if self.verb.id == VOIDED_VERB and not isinstance(self.object, StatementRef):
            raise ValueError("a voiding statement's object must be a StatementRef")
        # 2.4.9: an authority Group is an OAuth consumer and user: anonymous, two Agents.
        if isinstance(self.authority, Group) and (
            self.authority.identifiers() or len(self.authority.member or ()) != 2
        ):
            raise ValueError("an authority Group must be anonymous with exactly two member Agents")
        return self


def _reject_nulls(value: Any, path: str) -> None:
    """2.2: properties set to null are rejected (extension values may hold any JSON)."""
    # A statement is mostly text: only arrays and objects are walked into, and a
    # place's path is written out only for the containers on the way down.
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "extensions":
                continue
            if item is None:
                raise ValueError(f"{path}{key} is null; omit the property instead")
            if type(item) in _CONTAINERS:
                _reject_nulls(item, f"{path}{key}.")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            if item is None:
                raise ValueError(f"{path.rstrip('.')}[{index}] is null")
            if type(item) in _CONTAINERS:
                _reject_nulls(item, f"{path.rstrip('.')}[{index}].")


_CONTAINERS = (dict, list)


_STATEMENT = TypeAdapter(Statement)


class StatementError(ValueError):
    """A statement that does not follow xAPI; `errors` lists every problem found."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{e['field']}: {e['message']}" for e in errors))


def validate_statement(raw: Any, index: int | None = None) -> Statement:
    """Validate one statement document; raise `StatementError` with readable reasons."""
    prefix = f"[{index}]." if index is not None else ""
    if not isinstance(raw, dict):
        raise StatementError([{"field": prefix.rstrip(".") or "$", "message": "not an object"}])
    try:
        _reject_nulls(raw, prefix)
    except ValueError as exc:
        raise StatementError([{"field": prefix.rstrip(".") or "$", "message": str(exc)}]) from exc
    try:
        return _STATEMENT.validate_python(raw)
    except ValidationError as exc:
        errors = []
        for err in exc.errors():
            loc = ".".join(str(p) for p in err.get("loc", ()) if not _is_tag(p))
            errors.append({"field": f"{prefix}{loc}".rstrip(".") or "$", "message": _message(err)})
        raise StatementError(errors) from exc


def _message(error: Any) -> str:
    """Return what a pydantic error means in xAPI's words."""
    kind = error.get("type")
    if kind == "extra_forbidden":
        return "unknown property (xAPI does not define it here)"
    pattern = (error.get("ctx") or {}).get("pattern")
    if kind == "string_pattern_mismatch" and pattern in _PATTERN_MESSAGES:
        return f"{error.get('input')!r} {_PATTERN_MESSAGES[pattern]}"
    return str(error.get("msg", "")).removeprefix("Value error, ")


def _is_tag(part: Any) -> bool:
    return part in ("Agent", "Group", "Activity", "StatementRef", "SubStatement") or (
        isinstance(part, str) and part.startswith(("function-after", "list[", "str"))
    )


_ACTOR: TypeAdapter[Agent | Group] = TypeAdapter(Actor)


def validate_actor(raw: Any) -> dict[str, Any]:
    """Validate an Agent or Group given as a query filter; return it as a plain document."""
    if not isinstance(raw, dict):
        raise ValueError("an Agent or Group must be a JSON object")
    try:
        _reject_nulls(raw, "")
        actor = _ACTOR.validate_python(raw)
    except ValidationError as exc:
        raise ValueError("; ".join(_message(e) for e in exc.errors())) from exc
    document: dict[str, Any] = actor.model_dump(exclude_none=True)
    return document


def validate_iri(value: str) -> str:
    """Return `value` when it is an IRI; raise ValueError otherwise."""
    # fullmatch: `$` alone would let a trailing newline through (pydantic's core does not).
    if not _IRI.fullmatch(value):
        raise ValueError(f"{value!r} {_PATTERN_MESSAGES[_IRI.pattern]}")
    return value
