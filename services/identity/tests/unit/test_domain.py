"""Pure account rules: password strength, e-mail, time zones, token hashing."""

from __future__ import annotations

import pytest
from podium_identity import domain
from podium_runtime.timezones import is_iana_zone


@pytest.mark.parametrize(
    ("password", "rules"),
    [
        ("Sh0rt!", {"min_length"}),
        ("onlylowercaseletters", {"character_classes"}),
        ("AAAAAAAAAAAAAA", {"character_classes"}),
        ("ada@example.org", {"not_email"}),
        ("ADA@EXAMPLE.ORG", {"not_email"}),
        ("correct horse battery", set()),
        ("Tr0ub4dor&3xyz", set()),
    ],
)
def test_password_rules_name_what_failed(password: str, rules: set[str]) -> None:
    found = {v.rule for v in domain.password_violations(password, "ada@example.org")}
    assert found == rules


def test_email_is_normalised_and_validated() -> None:
    assert domain.normalize_email("  Ada@Example.ORG ") == "ada@example.org"
    with pytest.raises(ValueError):
        domain.normalize_email("not-an-address")


def test_timezones_are_iana_names() -> None:
    assert is_iana_zone("Europe/Paris") and is_iana_zone("UTC")
    assert not is_iana_zone("Mars/Olympus")


def test_tokens_are_random_and_stored_hashed() -> None:
    first, second = domain.new_token("rt_"), domain.new_token("rt_")
    assert first != second and first.startswith("rt_") and len(first) > 40
    assert domain.token_hash(first) != first and len(domain.token_hash(first)) == 64
