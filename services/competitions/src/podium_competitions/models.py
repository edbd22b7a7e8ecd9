"""Tables of the competitions service, all in its own `competitions` schema (STYLE 7)."""

from __future__ import annotations

from podium_runtime.db import service_metadata
from podium_runtime.outbox import messaging_tables

SCHEMA = "competitions"
metadata = service_metadata(SCHEMA)
messaging = messaging_tables(metadata)
