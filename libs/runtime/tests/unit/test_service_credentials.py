"""Signed internal service credentials (ADR 0053): what a credential binds and when it dies."""

from __future__ import annotations

import pytest
from podium_runtime.service_credentials import CredentialError, sign, verify

KEY = b"k" * 32
CALLER = [("X-Podium-User-Id", "5f0c"), ("X-Podium-User-Role", "user")]


def _refusal(**changes: object) -> str:
    request: dict[str, object] = {
        "keys": [KEY],
        "method": "GET",
        "target": "/internal/v1/competitions/1?limit=5",
        "headers": CALLER,
        "now": 1_000.0,
    }
    credential = sign(KEY, "GET", "/internal/v1/competitions/1?limit=5", CALLER, now=1_000.0)
    request.update(changes)
    with pytest.raises(CredentialError) as refused:
        verify(credential=request.pop("credential", credential), **request)  # type: ignore[arg-type]
    return refused.value.code


def test_a_credential_authorises_exactly_the_request_it_was_signed_for():
    credential = sign(KEY, "GET", "/internal/x?a=1", CALLER, now=1_000.0)
    verify([b"old" * 11, KEY], credential, "GET", "/internal/x?a=1", reversed(CALLER), now=1_020.0)


@pytest.mark.parametrize(
    "changes",
    [
        {"method": "DELETE"},
        {"target": "/internal/v1/competitions/2?limit=5"},
        {"target": "/internal/v1/competitions/1?limit=500"},
        {"headers": [("X-Podium-User-Id", "5f0c"), ("X-Podium-User-Role", "admin")]},
        {"headers": [*CALLER, ("X-Podium-User-Extra", "1")]},
        {"keys": [b"another key"]},
        {"now": 1_000.0 + 30 + 6},
        {"credential": "v1.99999999999.AAAA"},
    ],
)
def test_any_change_of_the_request_or_a_late_use_is_refused(changes: dict[str, object]):
    assert _refusal(**changes) == "SERVICE_CREDENTIAL_INVALID"


@pytest.mark.parametrize("credential", [None, ""])
def test_no_credential_is_refused_as_required(credential: str | None):
    assert _refusal(credential=credential) == "SERVICE_CREDENTIAL_REQUIRED"


@pytest.mark.parametrize("credential", ["v2.1030.x", "v1.-5.x", "v1.١٠٣٠.x", "v1.1030.", "garbage"])
def test_malformed_credentials_are_refused(credential: str):
    assert _refusal(credential=credential) == "SERVICE_CREDENTIAL_INVALID"
