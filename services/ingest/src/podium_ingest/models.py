"""Tables of the ingest service, all in its own `ingest` schema (STYLE 7)."""

from __future__ import annotations

from podium_runtime.db import service_metadata
from podium_runtime.outbox import messaging_tables

SCHEMA = "ingest"
metadata = service_metadata(SCHEMA)
messaging = messaging_tables(metadata)
