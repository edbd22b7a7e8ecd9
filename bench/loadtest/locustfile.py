"""Locust users of the load test: visitors, participants, LRS clients and a sponsor.

Run by `python -m loadtest` (`make loadtest`), which seeds the stack and
passes the seed file (`LOADTEST_SEED`) and the number of users of each kind
(`LOADTEST_VISITORS`, `LOADTEST_PARTICIPANTS`, `LOADTEST_LRS_CLIENTS`,
`LOADTEST_SPONSORS`). Every user class has a `fixed_count`, so the mix is
exact whatever the total. Think times are a browser's: a page, then a pause
of several seconds before the next click or refresh. Every answer that is not
2xx counts as an error; no route is expected to refuse here.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from locust import between, task
from locust.contrib.fasthttp import FastHttpUser
from urllib3 import encode_multipart_formdata

SEED: dict[str, Any] = (
    json.loads(Path(os.environ["LOADTEST_SEED"]).read_text())
    if os.environ.get("LOADTEST_SEED")
    else {}
)
COMPETITION = SEED.get("competition_id", "")
COMPETITIONS = SEED.get("competition_ids", [])
ACTIVITY = SEED.get("activity_competition_id", "")
#: Locust names of the routes: the path with its ids as placeholders.
C = "/v1/competitions/{id}"
XAPI_VERSION = {"X-Experience-API-Version": "1.0.3"}
VERBS = (
    "http://adlnet.gov/expapi/verbs/experienced",
    "http://adlnet.gov/expapi/verbs/answered",
    "http://adlnet.gov/expapi/verbs/completed",
)


def count(name: str) -> int:
    """The number of users of a kind, from the environment the runner sets."""
    return int(os.environ.get(name, "0"))


class Browser(FastHttpUser):
    """A browser tab: generous timeouts (a slow answer is slow, not an error)."""

    abstract = True
    network_timeout = 120.0
    connection_timeout = 60.0


class SignedIn(Browser):
    """A browser with a session: logs in once, refreshes the access token before it expires."""

    abstract = True
    email = ""
    password = ""

    def on_start(self) -> None:
        """Log in as the account this user plays."""
        self._tokens(
            self.client.post(
                "/v1/auth/login",
                json={"email": self.email, "password": self.password},
                name="/v1/auth/login",
            )
        )

    def _tokens(self, response: Any) -> None:
        body = response.json()
        self.refresh_token = body["refresh_token"]
        self.auth = {"Authorization": f"Bearer {body['access_token']}"}
        self.renew_at = time.monotonic() + body["expires_in"] - 120

    def headers(self) -> dict[str, str]:
        """The bearer header, refreshing the token as the web app does when it is about to end."""
        if time.monotonic() >= self.renew_at:
            self._tokens(
                self.client.post(
                    "/v1/auth/refresh",
                    json={"refresh_token": self.refresh_token},
                    name="/v1/auth/refresh",
                )
            )
        return self.auth


class Visitor(Browser):
    """An anonymous visitor: the board page, the competition list and pages, refreshed."""

    fixed_count = count("LOADTEST_VISITORS")
    wait_time = between(5, 15)

    @task(6)
    def board_page(self) -> None:
        """The board page: details and the first page of the board; some read on."""
        self.client.get(f"/v1/competitions/{COMPETITION}", name=C)
        board = self.client.get(
            f"/v1/competitions/{COMPETITION}/leaderboard?limit=20", name=f"{C}/leaderboard"
        ).json()
        if board.get("next_cursor") and random.random() < 0.3:
            self.client.get(
                f"/v1/competitions/{COMPETITION}/leaderboard?limit=20&cursor={board['next_cursor']}",
                name=f"{C}/leaderboard?cursor",
            )

    @task(2)
    def competition_list(self) -> None:
        """The list of running competitions."""
        self.client.get("/v1/competitions?status=active&limit=20", name="/v1/competitions")

    @task(1)
    def activity_board(self) -> None:
        """The activity competition's page with today's points board."""
        self.client.get(f"/v1/competitions/{ACTIVITY}", name=C)
        self.client.get(
            f"/v1/competitions/{ACTIVITY}/leaderboard?period=day&limit=20",
            name=f"{C}/leaderboard?period=day",
        )

    @task(2)
    def competition_page(self) -> None:
        """Another competition's page: details, roster and board."""
        competition = random.choice(COMPETITIONS)
        self.client.get(f"/v1/competitions/{competition}", name=C)
        self.client.get(f"/v1/competitions/{competition}/participants", name=f"{C}/participants")
        self.client.get(
            f"/v1/competitions/{competition}/leaderboard?limit=20", name=f"{C}/leaderboard"
        )


_participants = itertools.count()


class Participant(SignedIn):
    """A participant: browses their pages and submits prediction files within the daily limit."""

    fixed_count = count("LOADTEST_PARTICIPANTS")
    wait_time = between(5, 15)

    def on_start(self) -> None:
        """Log in, read the competition's `viewer` block: how many submissions are left today."""
        account = SEED["participants"][next(_participants) % len(SEED["participants"])]
        self.email, self.password, self.user_id = (
            account["email"],
            account["password"],
            account["id"],
        )
        super().on_start()
        viewer = self.details()["viewer"]
        self.used = int(viewer["submissions_today"] or 0)
        self.limit = int(viewer["submissions_limit"] or 0)
        self.submission_ids: list[str] = []
        # A participant uploads now and then (a notebook run takes a while), not in lockstep.
        self.next_upload = time.monotonic() + random.uniform(10, 60)
        self.quality = random.uniform(0.3, 0.9)

    def details(self) -> dict[str, Any]:
        """The competition page as this participant sees it."""
        return self.client.get(
            f"/v1/competitions/{COMPETITION}", headers=self.headers(), name=C + " (signed in)"
        ).json()

    @task(3)
    def competition_page(self) -> None:
        """The competition page, the board around me, and maybe an upload."""
        self.details()
        self.client.get(
            f"/v1/competitions/{COMPETITION}/leaderboard/around-me?window=5",
            headers=self.headers(),
            name=f"{C}/leaderboard/around-me",
        )
        if time.monotonic() >= self.next_upload and self.used < self.limit:
            self.upload()

    def upload(self) -> None:
        """Upload a prediction file: the truth blurred by noise, so scores and ranks move."""
        ids, targets = SEED["answer_ids"], SEED["answer_targets"]
        noise = 1 - self.quality
        lines = ["id,target"] + [
            f"{i},{min(max(t * self.quality + random.random() * noise, 0.0), 1.0):.4f}"
            for i, t in zip(ids, targets, strict=True)
        ]
        body, content_type = encode_multipart_formdata(
            {"file": ("predictions.csv", ("\n".join(lines) + "\n").encode(), "text/csv")}
        )
        made = self.client.post(
            f"/v1/competitions/{COMPETITION}/submissions",
            data=body,  # type: ignore[arg-type]  # bytes go out as they are (multipart)
            headers={**self.headers(), "Content-Type": content_type},
            name=f"{C}/submissions [upload]",
        )
        if made.status_code == 202:
            self.used += 1
            self.submission_ids.append(made.json()["id"])
            self.quality = min(self.quality + random.uniform(0.0, 0.05), 0.99)
        self.next_upload = time.monotonic() + random.uniform(30, 90)

    @task(2)
    def my_submissions(self) -> None:
        """My submissions, and the latest one's status (the page polls it until it is scored)."""
        self.client.get(
            f"/v1/competitions/{COMPETITION}/submissions?limit=20",
            headers=self.headers(),
            name=f"{C}/submissions",
        )
        if self.submission_ids:
            self.client.get(
                f"/v1/submissions/{self.submission_ids[-1]}",
                headers=self.headers(),
                name="/v1/submissions/{id}",
            )

    @task(2)
    def notifications(self) -> None:
        """The inbox; an unread notification is opened and marked read."""
        inbox = self.client.get(
            "/v1/notifications?limit=20", headers=self.headers(), name="/v1/notifications"
        ).json()
        unread = [item for item in inbox.get("items", []) if not item.get("read_at")]
        if unread and random.random() < 0.5:
            self.client.post(
                f"/v1/notifications/{unread[0]['id']}/read",
                headers=self.headers(),
                name="/v1/notifications/{id}/read",
            )

    @task(1)
    def profile_and_competitions(self) -> None:
        """My profile and the competitions I joined."""
        self.client.get("/v1/users/me", headers=self.headers(), name="/v1/users/me")
        self.client.get(
            "/v1/competitions?mine=joined", headers=self.headers(), name="/v1/competitions?mine"
        )

    @task(1)
    def data_files(self) -> None:
        """The competition's data files."""
        self.client.get(
            f"/v1/competitions/{COMPETITION}/files", headers=self.headers(), name=f"{C}/files"
        )


class Sponsor(SignedIn):
    """The competition's owner watching it: statistics, roster, submissions, both boards."""

    fixed_count = count("LOADTEST_SPONSORS")
    wait_time = between(5, 15)

    def on_start(self) -> None:
        """Log in as the sponsor."""
        self.email, self.password = SEED["sponsor"]["email"], SEED["sponsor"]["password"]
        super().on_start()

    @task(3)
    def stats(self) -> None:
        """The statistics page."""
        self.client.get(
            f"/v1/competitions/{COMPETITION}/stats", headers=self.headers(), name=f"{C}/stats"
        )

    @task(1)
    def roster(self) -> None:
        """Who takes part."""
        self.client.get(
            f"/v1/competitions/{COMPETITION}/participants",
            headers=self.headers(),
            name=f"{C}/participants (sponsor)",
        )

    @task(1)
    def submissions(self) -> None:
        """Every submission (the owner sees all of them)."""
        self.client.get(
            f"/v1/competitions/{COMPETITION}/submissions?limit=50",
            headers=self.headers(),
            name=f"{C}/submissions (sponsor)",
        )

    @task(1)
    def private_board(self) -> None:
        """The private board, which only the owner sees before the end."""
        self.client.get(
            f"/v1/competitions/{COMPETITION}/leaderboard?split=private&limit=20",
            headers=self.headers(),
            name=f"{C}/leaderboard?split=private",
        )

    @task(1)
    def answer_key(self) -> None:
        """Whether the answer key is loaded."""
        self.client.get(
            f"/v1/competitions/{COMPETITION}/answer-key",
            headers=self.headers(),
            name=f"{C}/answer-key",
        )


_lrs_clients = itertools.count()


class LrsClient(Browser):
    """A course player's LRS client: batches of 10 statements, each one learner's lesson.

    Every client is trusted by the activity competition, which the participants joined:
    the statements earn points there (SPEC §7.3).
    """

    fixed_count = count("LOADTEST_LRS_CLIENTS")
    wait_time = between(1, 3)

    def on_start(self) -> None:
        """Take the next LRS client's credentials."""
        clients = SEED["lrs_clients"]
        self.auth = {"Authorization": clients[next(_lrs_clients) % len(clients)], **XAPI_VERSION}

    @task
    def post_statements(self) -> None:
        """POST a batch of 10 valid statements of one learner (ids assigned by the LRS)."""
        learner = random.choice(SEED["participants"])
        lesson = random.randint(1, 20)
        batch = [self.statement(learner, lesson) for _ in range(10)]
        self.client.post(
            "/xapi/statements",
            data=json.dumps(batch),
            headers={**self.auth, "Content-Type": "application/json"},
            name="/xapi/statements [batch of 10]",
        )

    def statement(self, learner: dict[str, str], lesson: int) -> dict[str, Any]:
        """One step of a learner in a lesson, with a score."""
        return {
            "actor": {
                "objectType": "Agent",
                "account": {"homePage": self.host, "name": learner["id"]},
            },
            "verb": {"id": (verb := random.choice(VERBS)), "display": {"en-US": verb[31:]}},
            "object": {
                "objectType": "Activity",
                "id": f"http://podium.example/courses/ml-101/lessons/{lesson}",
                "definition": {"name": {"en-US": f"Lesson {lesson}"}},
            },
            "result": {"score": {"scaled": round(random.random(), 3)}, "completion": True},
            "context": {"registration": str(uuid.uuid4())},
            "timestamp": datetime.now(UTC).isoformat(),
        }
