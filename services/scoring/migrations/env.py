"""Alembic environment of the scoring service."""

from podium_scoring.models import metadata
from podium_runtime.migrations import run_env

run_env(metadata)
