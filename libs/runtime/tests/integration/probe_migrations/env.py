"""Alembic environment of the runtime probe schema."""

from podium_runtime.migrations import run_env
from probe import metadata

run_env(metadata)
