"""Alembic environment of the rewards service."""

from podium_rewards.models import metadata
from podium_runtime.migrations import run_env

run_env(metadata)
