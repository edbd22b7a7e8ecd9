"""Alembic environment of the ingest service."""

from podium_ingest.models import metadata
from podium_runtime.migrations import run_env

run_env(metadata)
