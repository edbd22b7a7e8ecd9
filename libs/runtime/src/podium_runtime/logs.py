"""JSON-lines logging with service, correlation id and event type on every line (SPEC §9).

Values under keys that look secret are redacted before they are written, so a
careless `extra={"password": ...}` never reaches the log.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any

from podium_runtime.context import correlation_id_var, event_type_var
from podium_runtime.tracing import current_trace_id

_SECRET_KEY = re.compile(
    r"pass(word)?|secret|token|authorization|api[_-]?key|hash|cookie", re.IGNORECASE
)
_BEARER = re.compile(r"(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+", re.IGNORECASE)
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}
REDACTED = "[REDACTED]"


def redact(value: Any, key: str = "") -> Any:
    """Return `value` with secret-looking fields and bearer credentials masked."""
    if key and _SECRET_KEY.search(key):
        return REDACTED
    if isinstance(value, dict):
        return {k: redact(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    if isinstance(value, str):
        return _BEARER.sub(r"\1 " + REDACTED, value)
    return value


class JsonFormatter(logging.Formatter):
    """Format records as one JSON object per line."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        """Render `record` with context fields and redacted extras."""
        payload: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "service": self.service,
            "logger": record.name,
            "message": redact(record.getMessage()),
            "correlation_id": correlation_id_var.get(),
        }
        event_type = event_type_var.get()
        if event_type:
            payload["event_type"] = event_type
        trace_id = current_trace_id()
        if trace_id:
            payload["trace_id"] = trace_id
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                payload[key] = redact(value, key)
        if record.exc_info:
            payload["exc_info"] = redact(self.formatException(record.exc_info))
        return json.dumps(payload, default=str)


class TextFormatter(logging.Formatter):
    """Human-readable lines for a developer's terminal, still redacted."""

    def format(self, record: logging.LogRecord) -> str:
        """Render `record` as `LEVEL logger [correlation] message`."""
        cid = correlation_id_var.get()
        text = f"{record.levelname:<5} {record.name} [{cid or '-'}] {redact(record.getMessage())}"
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return text


def configure_logging(service: str, level: str = "INFO", json_lines: bool = True) -> None:
    """Install the formatter on the root logger (idempotent)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service) if json_lines else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # httpcore and httpx log raw headers (bearer tokens, refresh cookies) at DEBUG.
    for noisy in (
        "aiokafka",
        "uvicorn.access",
        "faststream",
        "sqlalchemy.engine",
        "httpcore",
        "httpx",
    ):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))
