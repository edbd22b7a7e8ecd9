"""Prebuilt queries run read-only, with a statement timeout, by name only (real Postgres)."""

from __future__ import annotations

import pytest
from podium_runtime.db import Database
from podium_runtime.queries import Parameter, PrebuiltQuery, QueryCatalogue, QueryError
from probe import ProbeSettings
from sqlalchemy.exc import DBAPIError

CATALOGUE = QueryCatalogue()
CATALOGUE.register(
    PrebuiltQuery(
        name="ledger_rows_of",
        description="Rows handled by one name.",
        sql="SELECT count(*) AS rows FROM runtime_probe.ledger WHERE handled_by = :name",
        parameters={"name": Parameter("str")},
    ),
    # Both below are deliberately wrong: the runner must stop them.
    PrebuiltQuery(
        name="sneaky_write",
        description="Tries to write.",
        sql="INSERT INTO runtime_probe.ledger (request_id, handled_by) "
        "VALUES (gen_random_uuid(), 'query') RETURNING id",
    ),
    PrebuiltQuery(name="slow", description="Takes a second.", sql="SELECT pg_sleep(1)"),
)


@pytest.fixture
async def database(probe_settings: ProbeSettings) -> Database:
    """The probe's database."""
    db = Database(probe_settings.database_url, pool_size=2)
    yield db  # type: ignore[misc]
    await db.dispose()


async def test_a_query_runs_with_bound_parameters(database: Database) -> None:
    result = await CATALOGUE.run(database, "ledger_rows_of", {"name": "x' OR 'a'='a"})
    assert result.columns == ["rows"] and result.rows == [[0]]


async def test_a_query_cannot_write(database: Database) -> None:
    with pytest.raises(DBAPIError, match="read-only"):
        await CATALOGUE.run(database, "sneaky_write", {})
    result = await CATALOGUE.run(database, "ledger_rows_of", {"name": "query"})
    assert result.rows == [[0]]


async def test_a_slow_query_is_stopped_by_the_statement_timeout(database: Database) -> None:
    with pytest.raises(QueryError) as stopped:
        await CATALOGUE.run(database, "slow", {}, timeout_ms=100)
    assert stopped.value.code == "QUERY_TIMEOUT" and stopped.value.status == 503


async def test_unknown_names_and_bad_parameters_are_refused(database: Database) -> None:
    with pytest.raises(QueryError) as unknown:
        await CATALOGUE.run(database, "SELECT 1", {})
    assert unknown.value.code == "UNKNOWN_QUERY" and unknown.value.status == 404
    with pytest.raises(QueryError) as bad:
        await CATALOGUE.run(database, "ledger_rows_of", {"name": 3, "sql": "DELETE"})
    assert bad.value.status == 422
    assert {e["field"] for e in bad.value.errors or []} == {"name", "sql"}
