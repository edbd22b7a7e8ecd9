"""Command line: `python -m podium_ingest serve|migrate|erase|purge`."""

from __future__ import annotations

import sys
from pathlib import Path

from podium_runtime.cli import run_service

from podium_ingest.app import create_api
from podium_ingest.config import get_settings
from podium_ingest.models import SCHEMA
from podium_ingest.privacy.commands import erase_command, purge_command


def main() -> None:
    """Run the ingest service command line."""
    sys.exit(
        run_service(
            get_settings(),
            create_api,
            Path(__file__).resolve().parents[2] / "migrations",
            SCHEMA,
            extra_commands={"erase": erase_command, "purge": purge_command},
        )
    )


if __name__ == "__main__":
    main()
