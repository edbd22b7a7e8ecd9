"""Command line: `python -m podium_gateway serve|migrate`."""

from __future__ import annotations

import sys

from podium_runtime.cli import run_service

from podium_gateway.app import create_api
from podium_gateway.config import get_settings


def main() -> None:
    """Run the gateway service command line."""
    sys.exit(run_service(get_settings(), create_api, None, None))


if __name__ == "__main__":
    main()
