"""Where each internal service answers (SPEC §6), for the operator routes that ask them all."""

from __future__ import annotations

from podium_gateway.config import Settings

#: Services with a database, each serving `/internal/ops` (podium_runtime.operations).
SERVICES = ("identity", "competitions", "scoring", "ingest", "notifier")


def service_urls(settings: Settings) -> dict[str, str]:
    """Return the internal base URL of every service with a database."""
    return {
        "identity": settings.identity_url,
        "competitions": settings.competitions_url,
        "scoring": settings.scoring_url,
        "ingest": settings.ingest_url,
        "notifier": settings.notifier_url,
    }


def service_url(settings: Settings, service: str) -> str:
    """Return one service's internal base URL."""
    return service_urls(settings)[service]
