"""Seed what the load test's users need, through the public API only.

The admin (from `PODIUM_ADMIN_EMAIL` / `PODIUM_ADMIN_PASSWORD`, as identity
ensures it) creates the LRS clients; a sponsor registers and creates the
competition the load is about (prediction, AUC, started, open to late joins,
daily limit `DAILY_LIMIT`) with its answer key and a training data file, an
activity competition that counts the LRS clients' statements (`ACTIVITY_RULES`,
every LRS client trusted), plus a few other public competitions for the list
page; the participants register and join both, and one warm-up submission is
scored so every consumer group has joined before the clock starts.
Registrations run in parallel, with progress.
"""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import httpx
import numpy as np
from podium_runtime.testing import eventually

T = TypeVar("T")

#: Rows of the answer key; a prediction file of this size is a small notebook's output.
ROWS = 2000
#: The competition's daily limit per participant. The load test never submits more than
#: `viewer.submissions_limit` minus `viewer.submissions_today` (it reads both).
DAILY_LIMIT = 50
#: Other public competitions, so the list page is not a list of one.
OTHER_COMPETITIONS = 4
#: Points of the activity competition for the verbs the LRS clients post (SPEC §7.3).
ACTIVITY_RULES = {
    "points": [
        {"verb": "http://adlnet.gov/expapi/verbs/completed", "points": 10},
        {"verb": "http://adlnet.gov/expapi/verbs/answered", "points": 2, "min_scaled_score": 0.5},
        {"verb": "http://adlnet.gov/expapi/verbs/experienced", "points": 1},
    ],
    "daily_cap": 500,
    "daily_goal_verb": "http://adlnet.gov/expapi/verbs/completed",
}


@dataclass
class Seed:
    """Everything the Locust users need; written as JSON for the Locust process."""

    competition_id: str
    competition_ids: list[str]
    sponsor: dict[str, str]
    participants: list[dict[str, str]]
    #: Basic `Authorization` header values of the LRS clients.
    lrs_clients: list[str]
    #: The activity competition the LRS clients' statements earn points in.
    activity_competition_id: str = ""
    answer_ids: list[str] = field(default_factory=list)
    answer_targets: list[int] = field(default_factory=list)

    def write(self, path: Path) -> None:
        """Write the seed (it holds passwords and LRS secrets: only this user may read it)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(asdict(self)))
        path.chmod(0o600)

    @classmethod
    def read(cls, path: Path) -> Seed:
        """Read a seed written by `write`."""
        return cls(**json.loads(path.read_text()))


def answer_key(seed: int = 14) -> tuple[list[str], list[int]]:
    """Row ids and 0/1 targets of the competition's answer key."""
    rng = np.random.default_rng(seed)
    ids = [f"row-{i:05d}" for i in range(ROWS)]
    return ids, [int(t) for t in rng.random(ROWS) < 0.4]


def csv_of(header: str, ids: list[str], values: list[Any]) -> bytes:
    """A two-column CSV file."""
    return (
        header + "\n" + "".join(f"{i},{v}\n" for i, v in zip(ids, values, strict=True))
    ).encode()


def expect(response: httpx.Response, *statuses: int) -> Any:
    """Return the JSON body of an expected answer; stop seeding with the answer otherwise."""
    if response.status_code not in statuses:
        raise RuntimeError(
            f"{response.request.method} {response.request.url.path} answered "
            f"{response.status_code}: {response.text[:500]}"
        )
    return response.json() if response.content else None


async def gather_with_progress(
    label: str, jobs: list[Callable[[], Awaitable[T]]], concurrency: int
) -> list[T]:
    """Run `jobs` with at most `concurrency` at once, printing progress; keep their order."""
    gate = asyncio.Semaphore(concurrency)
    done = 0
    started = time.monotonic()

    async def one(job: Callable[[], Awaitable[T]]) -> T:
        nonlocal done
        async with gate:
            result = await job()
        done += 1
        if done == len(jobs) or done % 10 == 0:
            print(
                f"loadtest: {label} {done}/{len(jobs)} ({time.monotonic() - started:.0f} s)",
                flush=True,
            )
        return result

    return list(await asyncio.gather(*(one(job) for job in jobs)))


async def login(http: httpx.AsyncClient, email: str, password: str) -> dict[str, str]:
    """Log in; return the bearer header."""
    tokens = expect(
        await http.post("/v1/auth/login", json={"email": email, "password": password}), 200
    )
    return {"Authorization": f"Bearer {tokens['access_token']}"}


async def register(http: httpx.AsyncClient, name: str, password: str) -> dict[str, str]:
    """Register an account with a unique address; return its e-mail, password and id."""
    email = f"loadtest-{uuid.uuid4().hex[:12]}@example.org"
    made = expect(
        await http.post(
            "/v1/auth/register",
            json={"email": email, "password": password, "display_name": name},
        ),
        201,
    )
    return {"email": email, "password": password, "id": str(made["id"]), "name": name}


async def create_competition(
    http: httpx.AsyncClient, auth: dict[str, str], title: str, kind: str = "prediction"
) -> str:
    """Create an active public competition that started an hour ago and takes late joins:
    an AUC prediction one, or an activity one with `ACTIVITY_RULES`."""
    now = datetime.now(UTC)
    body: dict[str, Any] = {
        "kind": kind,
        "title": title,
        "status": "active",
        "visibility": "public",
        "late_join": True,
        "starts_at": (now - timedelta(hours=1)).isoformat(),
        "ends_at": (now + timedelta(days=30)).isoformat(),
    }
    if kind == "prediction":
        body |= {
            "description": "A binary classification task: predict `target` for every `id`.",
            "metric": "auc_roc",
            "daily_submission_limit": DAILY_LIMIT,
            "public_fraction": 0.5,
        }
    else:
        body |= {"description": "Points for the lessons of ML 101.", "rules": ACTIVITY_RULES}
    return str(expect(await http.post("/v1/competitions", json=body, headers=auth), 201)["id"])


async def join(http: httpx.AsyncClient, competition_id: str, user: dict[str, str]) -> None:
    """Log the participant in, ask to join and await the acceptance."""
    auth = await login(http, user["email"], user["password"])
    expect(await http.post(f"/v1/competitions/{competition_id}/join", headers=auth), 202)

    async def accepted() -> bool:
        got = await http.get(f"/v1/competitions/{competition_id}/enrollment", headers=auth)
        status = got.json().get("status") if got.status_code == 200 else None
        if status not in (None, "pending", "accepted"):
            raise RuntimeError(f"join of {user['email']} answered {got.text}")
        return status == "accepted"

    await eventually(accepted, timeout=120, interval=0.25, message="join accepted")


async def lrs_client(http: httpx.AsyncClient, admin: dict[str, str], index: int) -> tuple[str, str]:
    """Create an LRS client with the admin API; return its id and Basic `Authorization`."""
    made = expect(
        await http.post(
            "/v1/admin/lrs-clients",
            json={"name": f"load test course player {index}", "scopes": ["statements/write"]},
            headers=admin,
        ),
        201,
    )
    basic = base64.b64encode(f"{made['key']}:{made['secret']}".encode()).decode()
    return str(made["id"]), f"Basic {basic}"


async def warm_up(
    http: httpx.AsyncClient, competition_id: str, user: dict[str, str], ids: list[str]
) -> None:
    """Score one submission end to end, so consumer groups and caches are warm."""
    auth = await login(http, user["email"], user["password"])
    rng = np.random.default_rng(0)
    file = csv_of("id,target", ids, [f"{v:.4f}" for v in rng.random(len(ids))])
    made = expect(
        await http.post(
            f"/v1/competitions/{competition_id}/submissions",
            files={"file": ("predictions.csv", file, "text/csv")},
            headers=auth,
        ),
        202,
    )

    async def scored() -> bool:
        got = expect(await http.get(f"/v1/submissions/{made['id']}", headers=auth), 200)
        if got["status"] not in ("queued", "scored"):
            raise RuntimeError(f"the warm-up submission was not scored: {got}")
        return bool(got["status"] == "scored")

    await eventually(scored, timeout=180, interval=0.5, message="warm-up submission scored")


async def seed(
    base_url: str,
    admin_email: str,
    admin_password: str,
    participants: int,
    lrs_clients: int,
    concurrency: int = 8,
) -> Seed:
    """Create the sponsor, competitions, participants and LRS clients; return the seed."""
    password = f"Load test {secrets.token_urlsafe(12)}"
    ids, targets = answer_key()
    limits = httpx.Limits(max_connections=concurrency * 2)
    async with httpx.AsyncClient(base_url=base_url, timeout=120, limits=limits) as http:
        admin = await login(http, admin_email, admin_password)
        sponsor = await register(http, "Load test sponsor", password)
        sponsor_auth = await login(http, sponsor["email"], password)
        competition_id = await create_competition(http, sponsor_auth, "Load test: churn")
        activity_id = await create_competition(
            http, sponsor_auth, "Load test: ML 101 points", "activity"
        )
        others = [
            await create_competition(http, sponsor_auth, f"Load test: task {i + 1}")
            for i in range(OTHER_COMPETITIONS)
        ]
        key = expect(
            await http.put(
                f"/v1/competitions/{competition_id}/answer-key",
                files={"file": ("answers.csv", csv_of("id,target", ids, targets), "text/csv")},
                headers=sponsor_auth,
            ),
            202,
        )
        train = csv_of("id,feature", ids, [f"{v:.3f}" for v in np.linspace(0, 1, len(ids))])
        expect(
            await http.post(
                f"/v1/competitions/{competition_id}/files",
                files={"file": ("train.csv", train, "text/csv")},
                data={"description": "Training features"},
                headers=sponsor_auth,
            ),
            201,
        )

        async def key_loaded() -> bool:
            got = await http.get(
                f"/v1/competitions/{competition_id}/answer-key", headers=sponsor_auth
            )
            return got.status_code == 200 and got.json()["sha256"] == key["sha256"]

        await eventually(key_loaded, timeout=180, interval=0.5, message="answer key loaded")
        print(f"loadtest: competition {competition_id} ready (answer key loaded)", flush=True)

        users = await gather_with_progress(
            "participants registered",
            [
                partial(register, http, f"Participant {i + 1:03d}", password)
                for i in range(participants)
            ],
            concurrency,
        )
        await gather_with_progress(
            "participants joined",
            [
                partial(join, http, joined, user)
                for joined in (competition_id, activity_id)
                for user in users
            ],
            concurrency,
        )
        clients = await gather_with_progress(
            "LRS clients created",
            [partial(lrs_client, http, admin, i) for i in range(lrs_clients)],
            concurrency,
        )
        expect(
            await http.put(
                f"/v1/competitions/{activity_id}/trusted-lrs-clients",
                json={"lrs_client_ids": [client_id for client_id, _ in clients]},
                headers=sponsor_auth,
            ),
            200,
        )
        if users:
            await warm_up(http, competition_id, users[0], ids)
            print("loadtest: warm-up submission scored", flush=True)
    return Seed(
        competition_id=competition_id,
        competition_ids=[competition_id, activity_id, *others],
        sponsor=sponsor,
        participants=users,
        lrs_clients=[basic for _, basic in clients],
        activity_competition_id=activity_id,
        answer_ids=ids,
        answer_targets=targets,
    )
