"""Alembic environment of the notifier service."""

from podium_notifier.models import metadata
from podium_runtime.migrations import run_env

run_env(metadata)
