"""Start identity, competitions, scoring and the gateway on real infrastructure (SPEC §5.3).

Reuses the users and helpers of `competitions_support` and adds what a
prediction competition needs: answer keys, prediction files, and waiting for
scores and leaderboards through the public API.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from competitions_support.stack import CompetitionsStack
from platform_support.stack import (
    User,
    run_id,
    serve_competitions,
    serve_gateway,
    serve_identity,
    serve_notifier,
    serve_scoring,
)
from podium_runtime.blobs import BlobSettings
from podium_runtime.testing import TestInfrastructure, eventually

ROWS = 300


def answer_key(seed: int = 1, rows: int = ROWS) -> tuple[bytes, np.ndarray, np.ndarray]:
    """An answer key CSV with ids and 0/1 targets, plus the arrays."""
    rng = np.random.default_rng(seed)
    ids = np.array([f"row-{i:05d}" for i in range(rows)])
    targets = (rng.random(rows) < 0.4).astype(int)
    csv = "id,target\n" + "".join(f"{i},{t}\n" for i, t in zip(ids, targets, strict=True))
    return csv.encode(), ids, targets


def predictions_csv(ids: np.ndarray, values: np.ndarray) -> bytes:
    """A prediction file as a participant's notebook writes it."""
    lines = ["id,target"] + [f"{i},{v:.6f}" for i, v in zip(ids, values, strict=True)]
    return ("\n".join(lines) + "\n").encode()


def is_public(competition_id: str, ids: np.ndarray, fraction: float) -> np.ndarray:
    """The documented public/private split (SPEC §7.1), computed independently."""
    import hashlib

    values = [
        int.from_bytes(hashlib.sha256(f"{competition_id}:{i}".encode()).digest()[:8], "big")
        for i in ids
    ]
    return np.array(values, dtype=np.float64) / 2.0**64 < fraction


@dataclass
class PredictionStack(CompetitionsStack):
    """The competitions stack plus scoring: submit, await outcomes, read boards."""

    #: Where the notifier's dev sink writes mails, when the stack runs the notifier.
    mail_dir: Path | None = None
    #: The local blob store's directory, shared by the gateway and scoring.
    blob_dir: Path | None = None

    async def prediction_competition(self, owner: User, **fields: Any) -> dict[str, Any]:
        """Create an active AUC competition that has started and takes late joins."""
        now = datetime.now(UTC)
        body: dict[str, Any] = {
            "metric": "auc_roc",
            "daily_submission_limit": 5,
            "public_fraction": 0.5,
            "late_join": True,
            "starts_at": (now - timedelta(hours=1)).isoformat(),
        }
        body.update(fields)
        return await self.create(owner, **body)

    async def upload_key(self, competition_id: str, owner: User, csv: bytes) -> dict[str, Any]:
        """Upload the answer key through the gateway and await scoring's `ready`."""
        put = await self.http.put(
            f"/v1/competitions/{competition_id}/answer-key",
            files={"file": ("key.csv", csv, "text/csv")},
            headers=owner.auth,
        )
        assert put.status_code == 202, put.text
        sha = put.json()["sha256"]

        async def loaded() -> dict[str, Any] | None:
            got = await self.http.get(
                f"/v1/competitions/{competition_id}/answer-key", headers=owner.auth
            )
            body = got.json()
            return body if got.status_code == 200 and body["sha256"] == sha else None

        return await eventually(loaded, timeout=60, message="answer key loaded")

    async def submit(
        self, competition_id: str, user: User, csv: bytes, **headers: str
    ) -> httpx.Response:
        """POST a prediction file."""
        return await self.http.post(
            f"/v1/competitions/{competition_id}/submissions",
            files={"file": ("predictions.csv", csv, "text/csv")},
            headers={**user.auth, **headers},
        )

    async def outcome(self, submission_id: str, user: User, timeout: float = 30) -> dict[str, Any]:
        """Await the end of `queued` for a submission, read as `user`."""

        async def done() -> dict[str, Any] | None:
            got = await self.http.get(f"/v1/submissions/{submission_id}", headers=user.auth)
            assert got.status_code == 200, got.text
            body = got.json()
            return body if body["status"] != "queued" else None

        return await eventually(done, timeout=timeout, interval=0.05, message="submission judged")

    async def warm_up(self) -> None:
        """Score one submission end to end, so that every consumer group has joined.

        Consumer groups join once (about 5 s each on tansu): one scored submission warms all.
        """
        owner, player = await self.sign_up(), await self.sign_up()
        warm = await self.prediction_competition(owner)
        await self.join(warm["id"], player, timeout=60)
        csv, ids, targets = answer_key(seed=99, rows=50)
        await self.upload_key(warm["id"], owner, csv)
        made = await self.submit(warm["id"], player, predictions_csv(ids, targets * 0.5))
        assert made.status_code == 202, made.text
        judged = await self.outcome(made.json()["id"], player, timeout=60)
        assert judged["status"] == "scored", judged

    async def board(
        self, competition_id: str, user: User | None = None, **params: Any
    ) -> httpx.Response:
        """GET the leaderboard (anonymously without `user`)."""
        return await self.http.get(
            f"/v1/competitions/{competition_id}/leaderboard",
            params=params,
            headers=user.auth if user else {},
        )


@contextlib.asynccontextmanager
async def prediction_stack(
    test_infra: TestInfrastructure,
    tmp: Path,
    *,
    with_notifier: bool = False,
    gateway: dict[str, Any] | None = None,
    scoring: dict[str, Any] | None = None,
    competitions: dict[str, Any] | None = None,
) -> AsyncIterator[PredictionStack]:
    """Run identity, competitions, scoring and the gateway; warm up every consumer group.

    `with_notifier` adds the notifier (dev mail sink in `stack.mail_dir`) behind the gateway;
    `gateway`, `scoring` and `competitions` are settings of those services that differ from
    the test defaults.
    """
    await test_infra.migrate("identity", "competitions", "scoring")
    if with_notifier:
        await test_infra.migrate("notifier")
    run = run_id()
    blobs = BlobSettings(backend="local", dir=tmp / "blobs")
    async with contextlib.AsyncExitStack() as stack:
        identity = await serve_identity(stack, test_infra, tmp, run)
        competitions_url = await serve_competitions(
            stack,
            test_infra,
            **{"auto_end_interval_seconds": 0.2, "db_pool_size": 10, **(competitions or {})},
        )
        scoring_url = await serve_scoring(stack, test_infra, blob=blobs, **(scoring or {}))
        extra: dict[str, Any] = {}
        mail_dir = None
        if with_notifier:
            extra["notifier_url"], mail_dir = await serve_notifier(stack, test_infra, tmp)
        gateway_url, http = await serve_gateway(
            stack,
            test_infra,
            run,
            identity_url=identity,
            competitions_url=competitions_url,
            scoring_url=scoring_url,
            blob=blobs,
            max_submission_bytes=200_000,
            **extra,
            **(gateway or {}),
        )
        running = PredictionStack(
            gateway_url, http, test_infra.topic_prefix, test_infra.infra.kafka_bootstrap_servers
        )
        running.mail_dir = mail_dir
        running.blob_dir = blobs.dir
        await running.warm_up()
        yield running
