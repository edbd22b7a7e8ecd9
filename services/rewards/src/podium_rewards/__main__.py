"""Command line: `python -m podium_rewards serve|migrate|verify <proof.json>`."""

from __future__ import annotations

import sys
from pathlib import Path

from podium_runtime.cli import run_service

from podium_rewards.app import create_api
from podium_rewards.config import get_settings
from podium_rewards.models import SCHEMA
from podium_rewards.verify import verify_command


def main() -> None:
    """Run the rewards service command line."""
    sys.exit(
        run_service(
            get_settings(),
            create_api,
            Path(__file__).resolve().parents[2] / "migrations",
            SCHEMA,
            extra_commands={"verify": verify_command},
        )
    )


if __name__ == "__main__":
    main()
