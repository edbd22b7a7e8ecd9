"""Alembic environment of the competitions service."""

from podium_competitions.models import metadata
from podium_runtime.migrations import run_env

run_env(metadata)
