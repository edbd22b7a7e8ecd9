"""Alembic environment of the identity service."""

from podium_identity.models import metadata
from podium_runtime.migrations import run_env

run_env(metadata)
