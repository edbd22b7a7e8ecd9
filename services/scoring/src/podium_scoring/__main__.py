"""Command line: `python -m podium_scoring serve|migrate`."""

from __future__ import annotations

import sys
from pathlib import Path

from podium_runtime.cli import run_service

from podium_scoring.app import create_api
from podium_scoring.config import get_settings
from podium_scoring.models import SCHEMA


def main() -> None:
    """Run the scoring service command line."""
    sys.exit(
        run_service(
            get_settings(), create_api, Path(__file__).resolve().parents[2] / "migrations", SCHEMA
        )
    )


if __name__ == "__main__":
    main()
