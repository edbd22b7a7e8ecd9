"""The scoring service end to end: events in, scores out, on the real broker and database."""

from __future__ import annotations

import hashlib
import json
import math
import uuid
from datetime import UTC, datetime

import numpy as np
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from podium_contracts.events import (
    RescoreData,
    RescoreRequested,
    SubmissionInvalidated,
    SubmissionInvalidatedData,
    SubmissionReceivedData,
)
from podium_contracts.topics import SUBMISSIONS
from podium_runtime.blobs import create_blob_store
from podium_runtime.db import Database
from podium_runtime.outbox import Outbox, new_event
from podium_runtime.testing import eventually
from podium_scoring import service
from podium_scoring.models import messaging
from podium_scoring.service import Scorer
from scoring_harness import MAX_SUBMISSION_BYTES, Scoring
from sklearn.metrics import log_loss, roc_auc_score

ROWS = 2_000


def answer_key(competition_id: uuid.UUID, seed: int = 1) -> tuple[bytes, np.ndarray, np.ndarray]:
    """An answer key CSV with ids and 0/1 targets, plus the arrays and the documented split."""
    rng = np.random.default_rng(seed)
    ids = np.array([f"row-{i:05d}" for i in range(ROWS)])
    targets = (rng.random(ROWS) < 0.4).astype(int)
    csv = "id,target\n" + "".join(f"{i},{t}\n" for i, t in zip(ids, targets, strict=True))
    return csv.encode(), ids, targets


def is_public(competition_id: uuid.UUID, ids: np.ndarray, fraction: float) -> np.ndarray:
    """The split as SPEC §7.1 documents it, computed independently of the service."""
    values = [
        int.from_bytes(hashlib.sha256(f"{competition_id}:{i}".encode()).digest()[:8], "big")
        for i in ids
    ]
    return np.array(values, dtype=np.float64) / 2.0**64 < fraction


def predictions_csv(ids: np.ndarray, values: np.ndarray) -> bytes:
    """What a participant's notebook writes: BOM, Windows line endings, quoted numbers."""
    lines = ["Id , Target"] + [f'{i},"{v:.6f}"' for i, v in zip(ids, values, strict=True)]
    return b"\xef\xbb\xbf" + ("\r\n".join(lines) + "\r\n").encode()


@pytest.fixture(scope="module")
async def auc_competition(scoring: Scoring) -> tuple[uuid.UUID, np.ndarray, np.ndarray]:
    """An AUC competition with a loaded answer key."""
    competition_id = await scoring.create_competition("auc_roc", public_fraction=0.3)
    csv, ids, targets = answer_key(competition_id)
    loaded = await scoring.upload_key(competition_id, csv)
    assert loaded["status"] == "ready" and loaded["rows"] == ROWS
    return competition_id, ids, targets


async def test_valid_submission_is_scored_like_scikit_learn(
    scoring: Scoring, auc_competition: tuple[uuid.UUID, np.ndarray, np.ndarray]
) -> None:
    competition_id, ids, targets = auc_competition
    rng = np.random.default_rng(2)
    scores = np.round(targets * 0.3 + rng.random(ROWS), 2)  # rounded: plenty of ties
    order = rng.permutation(ROWS)  # rows in any order
    event = await scoring.submit(competition_id, predictions_csv(ids[order], scores[order]))

    outcome = await scoring.outcome(event.data.submission_id)
    assert outcome["type"] == "submission.scored", outcome["data"]
    public = is_public(competition_id, ids, 0.3)
    parsed = np.round(scores, 6)
    expected_public = roc_auc_score(targets[public], parsed[public])
    expected_private = roc_auc_score(targets[~public], parsed[~public])
    data = outcome["data"]
    assert math.isclose(data["public_score"], expected_public, rel_tol=1e-9)
    assert math.isclose(data["private_score"], expected_private, rel_tol=1e-9)
    assert data["metric"] == "auc_roc" and data["higher_is_better"] is True
    assert outcome["causation_id"] == str(event.id)
    assert outcome["correlation_id"] == event.correlation_id

    view = await scoring.read(event.data.submission_id)
    assert view["status"] == "scored"
    assert view["public_score"] == data["public_score"]
    assert view["private_score"] == data["private_score"]
    assert view["errors"] == []


async def test_bad_file_is_rejected_with_every_problem_at_once(scoring: Scoring) -> None:
    competition_id = await scoring.create_competition("log_loss", public_fraction=0.5)
    csv, ids, _ = answer_key(competition_id, seed=3)
    await scoring.upload_key(competition_id, csv)
    lines = ["id,target"]
    lines += [f"{i},0.5" for i in ids[10:]]  # the first ten ids are missing
    lines += [f"{ids[20]},0.4", "nobody,0.2", f"{ids[30]},NaN"]  # duplicates, unknown, NaN
    lines[50] = f"{ids[59]},1.7"  # a probability above one
    event = await scoring.submit(competition_id, "\n".join(lines).encode())

    outcome = await scoring.outcome(event.data.submission_id)
    assert outcome["type"] == "submission.rejected"
    errors = {e["code"]: e for e in outcome["data"]["errors"]}
    assert set(errors) == {
        "MISSING_IDS",
        "DUPLICATE_ID",
        "UNKNOWN_IDS",
        "NOT_A_NUMBER",
        "VALUE_OUT_OF_RANGE",
    }
    assert errors["MISSING_IDS"]["count"] == 10
    assert errors["MISSING_IDS"]["rows"] == [str(i) for i in ids[:10]]
    assert errors["UNKNOWN_IDS"]["rows"] == ["nobody"]
    assert errors["VALUE_OUT_OF_RANGE"]["rows"] == [str(ids[59])]
    view = await scoring.read(event.data.submission_id)
    assert view["status"] == "rejected"
    assert {e["code"] for e in view["errors"]} == set(errors)
    assert view["public_score"] is None


async def test_a_header_of_thousands_of_columns_is_rejected_with_a_bounded_error_list(
    scoring: Scoring,
) -> None:
    """Regression: one error per extra column made an event over Kafka's 1 MiB limit."""
    competition_id = await scoring.create_competition("log_loss", public_fraction=0.5)
    csv, ids, _ = answer_key(competition_id, seed=4)
    await scoring.upload_key(competition_id, csv)
    extra = [f"extra_column_{n:05d}" for n in range(6600)]
    header = ",".join(["id", "target", *extra])
    rows = [",".join([str(i), "0.5", *("0" for _ in extra)]) for i in ids[:3]]
    event = await scoring.submit(competition_id, "\n".join([header, *rows]).encode())

    outcome = await scoring.outcome(event.data.submission_id)
    assert outcome["type"] == "submission.rejected"
    errors = outcome["data"]["errors"]
    assert len(json.dumps(outcome)) < 100_000
    listed = [e for e in errors if e["code"] == "EXTRA_COLUMN" and e["count"] is None]
    assert len(listed) == 50
    summary = [e for e in errors if e["code"] == "EXTRA_COLUMN" and e["count"] is not None]
    assert [e["count"] for e in summary] == [6600 - 50]
    view = await scoring.read(event.data.submission_id)
    assert view["status"] == "rejected"
    assert len(view["errors"]) == len(errors)


@pytest.mark.parametrize(
    ("content", "code"),
    [
        (b"", "EMPTY_FILE"),
        (b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00\xb5U0#", "NOT_CSV"),
        (b"id,target\n" + b"row-00001,0.5\n" * 40_000, "TOO_LARGE"),
    ],
)
async def test_unreadable_files_are_rejected_cleanly(
    scoring: Scoring,
    auc_competition: tuple[uuid.UUID, np.ndarray, np.ndarray],
    content: bytes,
    code: str,
) -> None:
    assert code != "TOO_LARGE" or len(content) > MAX_SUBMISSION_BYTES
    event = await scoring.submit(auc_competition[0], content)
    outcome = await scoring.outcome(event.data.submission_id)
    assert outcome["type"] == "submission.rejected"
    assert [e["code"] for e in outcome["data"]["errors"]] == [code]


async def test_file_that_does_not_match_its_checksum_is_rejected(
    scoring: Scoring, auc_competition: tuple[uuid.UUID, np.ndarray, np.ndarray]
) -> None:
    competition_id, ids, _ = auc_competition
    event = await scoring.submit(
        competition_id,
        predictions_csv(ids, np.full(ROWS, 0.5)),
        sha256=hashlib.sha256(b"something else").hexdigest(),
    )
    outcome = await scoring.outcome(event.data.submission_id)
    assert [e["code"] for e in outcome["data"]["errors"]] == ["CHECKSUM_MISMATCH"]


async def test_one_class_public_part_is_rejected_as_metric_undefined(scoring: Scoring) -> None:
    competition_id = await scoring.create_competition("auc_roc")
    key = "id,target\n" + "".join(f"r{i},1\n" for i in range(50))
    await scoring.upload_key(competition_id, key.encode())
    submission = "id,target\n" + "".join(f"r{i},0.{i}\n" for i in range(50))
    event = await scoring.submit(competition_id, submission.encode())
    outcome = await scoring.outcome(event.data.submission_id)
    assert [e["code"] for e in outcome["data"]["errors"]] == ["METRIC_UNDEFINED"]


async def test_submission_without_answer_key_is_rejected_not_left_queued(
    scoring: Scoring,
) -> None:
    competition_id = await scoring.create_competition("auc_roc")
    event = await scoring.submit(competition_id, b"id,target\nr1,0.5\n")
    outcome = await scoring.outcome(event.data.submission_id)
    assert [e["code"] for e in outcome["data"]["errors"]] == ["ANSWER_KEY_MISSING"]
    assert (await scoring.read(event.data.submission_id))["status"] == "rejected"


async def test_unprocessable_submission_becomes_scoring_failed_and_is_dead_lettered(
    scoring: Scoring, auc_competition: tuple[uuid.UUID, np.ndarray, np.ndarray]
) -> None:
    competition_id, ids, _ = auc_competition
    # The file was never stored: every attempt fails until the retries run out.
    event = await scoring.submit(competition_id, predictions_csv(ids, np.zeros(ROWS)), store=False)

    outcome = await scoring.outcome(event.data.submission_id)
    assert outcome["type"] == "submission.rejected"
    assert [e["code"] for e in outcome["data"]["errors"]] == ["SCORING_FAILED"]
    assert (await scoring.read(event.data.submission_id))["status"] == "rejected"
    dead_letter_topic = scoring.settings.kafka_topic_prefix + SUBMISSIONS.dead_letter
    copies = await eventually(
        lambda: _async(scoring.log.dead_letters(dead_letter_topic, event.id)),
        message="the message is on the dead-letter topic",
    )
    headers = dict(copies[0].headers)
    assert headers["x-error-code"] == b"BlobNotFoundError"
    assert headers["x-attempts"] == str(scoring.settings.consumer_max_attempts).encode()


async def _async(value: object) -> object:
    return value


async def _uncommitted(scoring: Scoring) -> int:
    """Return how many records of the submissions topic the scoring group has not committed."""
    topic = scoring.settings.kafka_topic_prefix + SUBMISSIONS.name
    admin = AIOKafkaAdminClient(bootstrap_servers=scoring.settings.kafka_bootstrap_servers)
    reader = AIOKafkaConsumer(bootstrap_servers=scoring.settings.kafka_bootstrap_servers)
    await admin.start()
    await reader.start()
    try:
        committed = await admin.list_consumer_group_offsets(scoring.settings.service_name)
        partitions = [TopicPartition(topic, p) for p in reader.partitions_for_topic(topic) or ()]
        ends = await reader.end_offsets(partitions)
    finally:
        await reader.stop()
        await admin.close()
    done = {tp: meta.offset for tp, meta in committed.items() if tp.topic == topic}
    return sum(end - max(done.get(tp, 0), 0) for tp, end in ends.items())


async def test_an_unprocessable_file_in_a_poll_fails_alone_and_the_offsets_move_past_it(
    scoring: Scoring, auc_competition: tuple[uuid.UUID, np.ndarray, np.ndarray]
) -> None:
    competition_id, ids, targets = auc_competition
    good = predictions_csv(ids, targets.astype(float))
    # Stored, published together: one competition's partition, in one poll when it can be.
    events = [
        await scoring.submit(competition_id, good, store=store, publish=False)
        for store in (True, False, True)
    ]
    await scoring.producer.publisher.publish(*events)
    first, poison, last = events

    for neighbour in (first, last):
        outcome = await scoring.outcome(neighbour.data.submission_id)
        assert outcome["type"] == "submission.scored", outcome["data"]
        assert outcome["causation_id"] == str(neighbour.id)
    outcome = await scoring.outcome(poison.data.submission_id)
    assert [e["code"] for e in outcome["data"]["errors"]] == ["SCORING_FAILED"]
    dead_letter_topic = scoring.settings.kafka_topic_prefix + SUBMISSIONS.dead_letter
    await eventually(
        lambda: _async(scoring.log.dead_letters(dead_letter_topic, poison.id)),
        message="the poison message is on the dead-letter topic",
    )

    # Every offset is committed, so nothing is delivered again; nothing came twice either.
    async def all_committed() -> bool:
        return await _uncommitted(scoring) == 0

    await eventually(
        all_committed,
        message="the scoring group committed every offset of the submissions topic",
    )
    for event in events:
        sid = event.data.submission_id
        outcomes = scoring.log.events("submission.scored", sid)
        outcomes += scoring.log.events("submission.rejected", sid)
        assert len(outcomes) == 1, outcomes
    assert len(scoring.log.dead_letters(dead_letter_topic, poison.id)) == 1


async def test_rescore_uses_the_current_key_and_skips_invalidated_submissions(
    scoring: Scoring,
) -> None:
    competition_id = await scoring.create_competition("log_loss", public_fraction=0.5)
    csv, ids, targets = answer_key(competition_id, seed=5)
    await scoring.upload_key(competition_id, csv)
    predictions = np.where(targets == 1, 0.8, 0.3)
    kept = await scoring.submit(competition_id, predictions_csv(ids, predictions))
    dropped = await scoring.submit(competition_id, predictions_csv(ids, 1 - predictions))
    first = await scoring.outcome(kept.data.submission_id)
    await scoring.outcome(dropped.data.submission_id)

    await scoring.producer.publisher.publish(
        new_event(
            SubmissionInvalidated,
            "competitions",
            SubmissionInvalidatedData(
                submission_id=dropped.data.submission_id,
                competition_id=competition_id,
                user_id=dropped.data.user_id,
                invalidated_by=uuid.uuid4(),
            ),
        )
    )

    async def invalidated() -> bool:
        return (await scoring.read(dropped.data.submission_id))["status"] == "invalidated"

    await eventually(invalidated, message="the submission shows as invalidated")

    flipped = 1 - targets  # a corrected key: the kept submission now scores badly
    new_key = "id,target\n" + "".join(f"{i},{t}\n" for i, t in zip(ids, flipped, strict=True))
    await scoring.upload_key(competition_id, new_key.encode())
    await scoring.producer.publisher.publish(
        new_event(
            RescoreRequested,
            "competitions",
            RescoreData(competition_id=competition_id, requested_by=uuid.uuid4()),
        )
    )
    second = await scoring.outcome(kept.data.submission_id, count=2)
    public = is_public(competition_id, ids, 0.5)
    expected = log_loss(flipped[public], y_proba=predictions[public], labels=[0, 1])
    assert math.isclose(second["data"]["public_score"], expected, rel_tol=1e-9)
    assert second["data"]["public_score"] > first["data"]["public_score"]
    assert (await scoring.read(kept.data.submission_id))["public_score"] == second["data"][
        "public_score"
    ]
    # Invalidated submissions stay off the board: no new outcome for them.
    assert len(scoring.log.events("submission.scored", dropped.data.submission_id)) == 1


async def test_list_of_a_users_submissions_is_paginated_newest_first(
    scoring: Scoring, auc_competition: tuple[uuid.UUID, np.ndarray, np.ndarray]
) -> None:
    competition_id = auc_competition[0]
    user = uuid.uuid4()
    events = [
        await scoring.submit(competition_id, b"id,target\nrow-00001,0.5\n", user_id=user)
        for _ in range(3)
    ]
    for event in events:
        await scoring.outcome(event.data.submission_id)
    await scoring.submit(competition_id, b"not mine", user_id=uuid.uuid4())

    url = f"/internal/competitions/{competition_id}/submissions"
    first = (await scoring.http.get(url, params={"user_id": str(user), "limit": 2})).json()
    second = (
        await scoring.http.get(
            url, params={"user_id": str(user), "limit": 2, "cursor": first["next_cursor"]}
        )
    ).json()
    listed = [item["id"] for item in first["items"] + second["items"]]
    assert listed == [str(e.data.submission_id) for e in reversed(events)]
    assert second["next_cursor"] is None
    assert all(item["status"] == "rejected" for item in first["items"])


async def test_unknown_submission_is_a_404_problem(scoring: Scoring) -> None:
    response = await scoring.http.get(f"/internal/submissions/{uuid.uuid4()}")
    assert response.status_code == 404
    assert response.json()["code"] == "SUBMISSION_NOT_FOUND"
    response = await scoring.http.get(
        f"/internal/competitions/{uuid.uuid4()}/submissions", params={"cursor": "garbage"}
    )
    assert response.status_code == 400
    assert response.json()["code"] == "INVALID_CURSOR"


async def test_bad_answer_key_is_reported_and_submissions_are_rejected(scoring: Scoring) -> None:
    competition_id = await scoring.create_competition("auc_roc")
    loaded = await scoring.upload_key(competition_id, b"id,target\nr1,1\nr1,0\nr2,maybe\n")
    assert loaded["status"] == "invalid"
    assert {e["code"] for e in loaded["errors"]} == {"DUPLICATE_ID", "NOT_A_NUMBER"}
    event = await scoring.submit(competition_id, b"id,target\nr1,0.5\nr2,0.5\n")
    outcome = await scoring.outcome(event.data.submission_id)
    assert [e["code"] for e in outcome["data"]["errors"]] == ["ANSWER_KEY_INVALID"]


async def test_competition_read_shows_metric_and_key_state(
    scoring: Scoring, auc_competition: tuple[uuid.UUID, np.ndarray, np.ndarray]
) -> None:
    body = (await scoring.http.get(f"/internal/competitions/{auc_competition[0]}")).json()
    assert body["metric"] == "auc_roc" and body["higher_is_better"] is True
    assert body["answer_key"]["status"] == "ready"
    assert body["answer_key"]["rows"] == ROWS
    assert body["answer_key"]["public_fraction"] == 0.3


async def test_a_restarted_scorer_reloads_the_key_from_the_blob_store(
    scoring: Scoring, auc_competition: tuple[uuid.UUID, np.ndarray, np.ndarray]
) -> None:
    competition_id, ids, targets = auc_competition
    settings = scoring.settings
    # A new process: empty key cache, its own connections; only Postgres and blobs remain.
    database = Database(settings.database_url, pool_size=2)
    scorer = Scorer(
        blobs=create_blob_store(settings.blob),
        outbox=Outbox(messaging.outbox, settings.kafka_topic_prefix),
        settings=settings,
    )
    values = np.linspace(0, 1, ROWS)
    csv = predictions_csv(ids, values)
    ref = await scoring.blobs.put(f"submissions/{competition_id}/restart.csv", csv)
    submission_id = uuid.uuid4()
    data = SubmissionReceivedData(
        submission_id=submission_id,
        competition_id=competition_id,
        user_id=uuid.uuid4(),
        blob_key=ref.key,
        sha256=ref.sha256,
        size_bytes=ref.size,
        submitted_at=datetime.now(UTC),
    )
    try:
        async with database.session() as session:
            await service.score_submission(session, scorer, data, final_attempt=True)
    finally:
        await database.dispose()
    view = await scoring.read(submission_id)
    public = is_public(competition_id, ids, 0.3)
    assert view["status"] == "scored"
    assert math.isclose(
        view["public_score"], roc_auc_score(targets[public], values[public]), rel_tol=1e-9
    )
