"""The failure model: is an error the message's fault or the infrastructure's? (ADR 0029).

A consumer or a request that fails because Postgres, Redis or the broker is
unreachable, or because a call to one of them timed out, has done nothing
wrong: the same work succeeds once the dependency is back. Such errors are
*infrastructure errors*. A consumer never counts them as attempts and never
dead-letters a message because of them; it waits with capped exponential
backoff and tries the same message again. An HTTP request answers 503 with
`Retry-After` instead of 500. Every other error is the message's (or the
request's) own and is handled by the bounded retries and the dead-letter topic.

`FailureLog` keeps an outage from flooding the logs: the same failure is logged
once per interval with the number of repeats in between.
"""

from __future__ import annotations

import errno
import logging
import socket
import time
from collections.abc import Iterator
from typing import Any

import asyncpg.exceptions as pg
import redis.exceptions as redis_errors
from aiokafka import errors as kafka_errors
from sqlalchemy import exc as sa

#: OS errors of a socket whose peer is gone or unreachable.
_NETWORK_ERRNOS = frozenset(
    {
        errno.ECONNREFUSED,
        errno.ECONNRESET,
        errno.ECONNABORTED,
        errno.EHOSTUNREACH,
        errno.ENETUNREACH,
        errno.ENETDOWN,
        errno.ETIMEDOUT,
        errno.EPIPE,
        errno.ENOTCONN,
    }
)

_INFRASTRUCTURE_TYPES: tuple[type[BaseException], ...] = (
    ConnectionError,  # builtin: refused, reset, aborted, broken pipe
    TimeoutError,  # builtin, asyncio.TimeoutError included
    socket.gaierror,  # a host name that does not resolve (yet)
    sa.OperationalError,  # the driver lost or could not open the connection
    sa.InterfaceError,
    sa.DisconnectionError,
    sa.TimeoutError,  # no pooled connection became free in time
    pg.PostgresConnectionError,
    pg.ConnectionDoesNotExistError,
    pg.InterfaceError,
    pg.OperatorInterventionError,  # admin shutdown, crash shutdown, cannot connect now
    pg.TooManyConnectionsError,
    pg.SerializationError,  # transient by definition: the same work succeeds when retried
    pg.DeadlockDetectedError,
    redis_errors.ConnectionError,
    redis_errors.TimeoutError,
    redis_errors.BusyLoadingError,
    kafka_errors.KafkaConnectionError,
    kafka_errors.KafkaTimeoutError,
    kafka_errors.NodeNotReadyError,
    kafka_errors.RequestTimedOutError,
)


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """Yield `exc`, the driver error it wraps and its causes, each once."""
    seen: set[int] = set()
    pending: list[BaseException | None] = [exc]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        orig = getattr(current, "orig", None)
        pending += [
            orig if isinstance(orig, BaseException) else None,
            current.__cause__,
            current.__context__,
        ]
        if isinstance(current, BaseExceptionGroup):
            pending += list(current.exceptions)


def is_infrastructure_error(exc: BaseException) -> bool:
    """Return True when `exc` means a dependency is unreachable or slow, not bad work."""
    for error in _causes(exc):
        if isinstance(error, _INFRASTRUCTURE_TYPES):
            return True
        if isinstance(error, sa.DBAPIError) and error.connection_invalidated:
            return True
        if isinstance(error, OSError) and error.errno in _NETWORK_ERRNOS:
            return True
        if isinstance(error, kafka_errors.KafkaError) and getattr(error, "retriable", False):
            return True
    return False


class Backoff:
    """Capped exponential backoff: `initial`, doubled after each failure, at most `cap`."""

    def __init__(self, initial: float, cap: float) -> None:
        self.initial = max(initial, 0.001)
        self.cap = max(cap, self.initial)
        self.failures = 0

    def next_delay(self) -> float:
        """Return the delay before the next try and count one more failure."""
        delay: float = min(self.initial * 2.0**self.failures, self.cap)
        self.failures = min(self.failures + 1, 64)
        return delay


class FailureLog:
    """Logs a repeated identical failure once per `interval` seconds, with the repeat count."""

    def __init__(self, logger: logging.Logger, interval: float = 30.0) -> None:
        self.logger = logger
        self.interval = interval
        self._last: dict[str, tuple[float, int]] = {}

    def log(
        self,
        level: int,
        message: str,
        exc: BaseException,
        *,
        extra: dict[str, Any] | None = None,
        exc_info: bool = False,
    ) -> bool:
        """Log `message` for `exc` unless the same failure was logged within the interval.

        Returns True when a line was written. The next line written for the same
        failure carries `repeated`, the number of failures that were not logged.
        """
        key = f"{message}|{type(exc).__name__}|{str(exc)[:200]}"
        now = time.monotonic()
        last, suppressed = self._last.get(key, (float("-inf"), 0))
        if now - last < self.interval:
            self._last[key] = (last, suppressed + 1)
            return False
        if len(self._last) > 1000:  # bounded: an endless variety of messages is not remembered
            self._last.clear()
        self._last[key] = (now, 0)
        fields = {"error": repr(exc)[:2000], "repeated": suppressed, **(extra or {})}
        self.logger.log(level, message, extra=fields, exc_info=exc if exc_info else None)
        return True

    def recovered(self) -> None:
        """Forget logged failures, so the next outage is reported at once."""
        self._last.clear()


__all__ = ["Backoff", "FailureLog", "is_infrastructure_error"]
