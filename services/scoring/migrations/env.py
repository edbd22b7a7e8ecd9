"""Alembic environment of the scoring service."""

from podium_runtime.migrations import run_env
from podium_scoring.models import metadata

run_env(metadata)
