"""Tables of the scoring service, all in its own `scoring` schema (STYLE 7)."""

from __future__ import annotations

from podium_runtime.db import service_metadata
from podium_runtime.outbox import messaging_tables

SCHEMA = "scoring"
metadata = service_metadata(SCHEMA)
messaging = messaging_tables(metadata)
