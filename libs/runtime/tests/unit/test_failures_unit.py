"""Which errors are outages, and how repeated failures are logged."""

from __future__ import annotations

import errno
import logging

import asyncpg.exceptions as pg
import pytest
import redis.exceptions as redis_errors
from aiokafka import errors as kafka_errors
from podium_runtime.failures import Backoff, FailureLog, is_infrastructure_error
from sqlalchemy import exc as sa


def _wrapped(inner: BaseException) -> Exception:
    try:
        try:
            raise inner
        except BaseException as exc:
            raise RuntimeError("while handling") from exc
    except RuntimeError as outer:
        return outer


@pytest.mark.parametrize(
    "error",
    [
        ConnectionRefusedError(errno.ECONNREFUSED, "refused"),
        TimeoutError(),
        OSError(errno.EHOSTUNREACH, "no route"),
        sa.OperationalError("SELECT 1", {}, Exception("server closed the connection")),
        sa.DBAPIError("SELECT 1", {}, Exception("gone"), connection_invalidated=True),
        sa.TimeoutError("QueuePool limit reached"),
        pg.ConnectionDoesNotExistError("connection was closed"),
        pg.AdminShutdownError("terminating connection due to administrator command"),
        redis_errors.ConnectionError("Connection refused"),
        redis_errors.TimeoutError("Timeout reading from socket"),
        kafka_errors.KafkaConnectionError("no broker"),
        kafka_errors.KafkaTimeoutError(),
        _wrapped(ConnectionResetError(errno.ECONNRESET, "reset")),
    ],
)
def test_outages_are_infrastructure_errors(error: BaseException) -> None:
    assert is_infrastructure_error(error)


@pytest.mark.parametrize(
    "error",
    [
        ValueError("not a number"),
        KeyError("competition"),
        FileNotFoundError(errno.ENOENT, "submission file missing"),
        sa.IntegrityError("INSERT", {}, Exception("duplicate key")),
        sa.DataError("INSERT", {}, Exception("invalid input syntax")),
        kafka_errors.MessageSizeTooLargeError(),
        _wrapped(ValueError("bad row")),
    ],
)
def test_faults_of_the_work_itself_are_not(error: BaseException) -> None:
    assert not is_infrastructure_error(error)


def test_backoff_doubles_up_to_its_cap() -> None:
    waits = Backoff(0.1, 1.0)
    assert [waits.next_delay() for _ in range(6)] == [0.1, 0.2, 0.4, 0.8, 1.0, 1.0]


def test_a_repeated_failure_is_logged_once_per_interval_with_its_count(
    caplog: pytest.LogCaptureFixture,
) -> None:
    failures = FailureLog(logging.getLogger("podium.test"), interval=3600)
    with caplog.at_level(logging.WARNING, logger="podium.test"):
        written = [
            failures.log(logging.WARNING, "handler failed", ConnectionError("down"))
            for _ in range(100)
        ]
        assert written.count(True) == 1
        failures.log(logging.WARNING, "handler failed", ValueError("another failure"))
    assert len(caplog.records) == 2
    failures.recovered()
    with caplog.at_level(logging.WARNING, logger="podium.test"):
        assert failures.log(logging.WARNING, "handler failed", ConnectionError("down"))
