"""Prebuilt read-only queries: a catalogue per service, run by name only (seed 001 §a.07b).

Operators need answers that are not worth an endpoint each ("active
participants per competition", "statements per verb per day"). A service
declares them here, each with typed parameters; `run()` executes one in a
READ ONLY transaction with a statement timeout and a row limit. There is no
way to send SQL: callers name a query and pass parameters, which are bound,
never interpolated.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, TypeAdapter, ValidationError
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from podium_runtime.db import Database
from podium_runtime.problems import ServiceError

#: Parameter types a query may declare.
PARAMETER_TYPES: dict[str, Any] = {
    "int": int,
    "str": str,
    "uuid": uuid.UUID,
    "date": date,
    "datetime": datetime,
}


class QueryError(ServiceError):
    """A query that cannot be run: unknown name, bad parameters, too slow."""


@dataclass(frozen=True)
class Parameter:
    """One bound parameter: its type name, whether it is required, its default."""

    type: str
    required: bool = True
    default: Any = None
    description: str = ""


@dataclass(frozen=True)
class PrebuiltQuery:
    """A named, parameterised, read-only query."""

    name: str
    description: str
    sql: str
    parameters: dict[str, Parameter] = field(default_factory=dict)

    def bind(self, values: dict[str, Any]) -> dict[str, Any]:
        """Return the validated parameters; `VALIDATION_ERROR` names each bad one."""
        unknown = sorted(set(values) - set(self.parameters))
        errors = [{"field": k, "message": "Unknown parameter."} for k in unknown]
        bound: dict[str, Any] = {}
        for name, spec in self.parameters.items():
            if name not in values or values[name] is None:
                if spec.required:
                    errors.append({"field": name, "message": "Required."})
                bound[name] = spec.default
                continue
            try:
                bound[name] = TypeAdapter(PARAMETER_TYPES[spec.type]).validate_python(values[name])
            except ValidationError:
                errors.append({"field": name, "message": f"Must be a {spec.type}."})
        if errors:
            raise QueryError(
                "VALIDATION_ERROR",
                "The parameters do not fit the query.",
                status=422,
                errors=errors,
            )
        return bound


class QueryDescription(BaseModel):
    """A catalogue entry as listed to operators."""

    name: str
    description: str
    parameters: dict[str, dict[str, Any]]


class QueryResult(BaseModel):
    """Columns and rows of one run (at most `limit` rows; `truncated` says if there were more)."""

    name: str
    columns: list[str]
    rows: list[list[Any]]
    truncated: bool


class QueryCatalogue:
    """A service's prebuilt queries."""

    def __init__(self) -> None:
        self.queries: dict[str, PrebuiltQuery] = {}

    def register(self, *queries: PrebuiltQuery) -> None:
        """Add queries to the catalogue."""
        for query in queries:
            self.queries[query.name] = query

    def describe(self) -> list[QueryDescription]:
        """Return every query with its parameters, by name."""
        return [
            QueryDescription(
                name=q.name,
                description=q.description,
                parameters={
                    n: {"type": p.type, "required": p.required, "description": p.description}
                    for n, p in q.parameters.items()
                },
            )
            for q in sorted(self.queries.values(), key=lambda q: q.name)
        ]

    async def run(
        self,
        database: Database,
        name: str,
        values: dict[str, Any],
        *,
        timeout_ms: int = 5000,
        limit: int = 1000,
    ) -> QueryResult:
        """Run a query by name in a read-only transaction with a statement timeout."""
        query = self.queries.get(name)
        if query is None:
            raise QueryError("UNKNOWN_QUERY", f"No prebuilt query is called {name!r}.", status=404)
        bound = query.bind(values)
        try:
            async with database.session() as session:
                # Both are local to this transaction; nothing it runs can write.
                await session.execute(text("SET TRANSACTION READ ONLY"))
                await session.execute(text(f"SET LOCAL statement_timeout = {int(timeout_ms)}"))
                result = await session.execute(text(query.sql), bound)
                columns = list(result.keys())
                rows = result.fetchmany(limit + 1)
                await session.rollback()
        except DBAPIError as exc:
            if "statement timeout" in str(exc.orig):
                raise QueryError(
                    "QUERY_TIMEOUT", f"The query took longer than {timeout_ms} ms.", status=503
                ) from exc
            raise
        return QueryResult(
            name=name,
            columns=columns,
            rows=[[_plain(v) for v in row] for row in rows[:limit]],
            truncated=len(rows) > limit,
        )


def _plain(value: Any) -> Any:
    """Return a JSON-friendly form of a column value."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, int | float | str | bool) or value is None:
        return value
    return str(value)
