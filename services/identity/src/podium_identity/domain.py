"""Pure account rules: password strength, e-mail and time zone validation, opaque tokens."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from email_validator import EmailNotValidError, validate_email

MIN_PASSWORD_LENGTH = 12
LRS_SCOPES = (
    "all",
    "all/read",
    "statements/write",
    "statements/read",
    "statements/read/mine",
    "state",
    "define",
    "profile",
)


@dataclass(frozen=True)
class RuleViolation:
    """One failed validation rule, named so a client can explain it."""

    field: str
    rule: str
    message: str

    def as_dict(self) -> dict[str, str]:
        """Return the problem `errors` entry."""
        return {"field": self.field, "rule": self.rule, "message": self.message}


def normalize_email(email: str) -> str:
    """Return the canonical, lower-cased form of an address; raise ValueError when invalid."""
    try:
        result = validate_email(email.strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise ValueError(str(exc)) from exc
    return result.normalized.lower()


def lookup_email(email: str) -> str:
    """Return the form used to look an address up at login (never raises)."""
    try:
        return normalize_email(email)
    except ValueError:
        return email.strip().lower()


def _character_classes(password: str) -> int:
    classes = (
        any(c.islower() for c in password),
        any(c.isupper() for c in password),
        any(c.isdigit() for c in password),
        any(not c.isalnum() for c in password),
    )
    return sum(classes)


def password_violations(password: str, email: str) -> list[RuleViolation]:
    """Return every strength rule the password breaks (SPEC §5.1)."""
    violations = []
    if len(password) < MIN_PASSWORD_LENGTH:
        violations.append(
            RuleViolation(
                "password", "min_length", f"Use at least {MIN_PASSWORD_LENGTH} characters."
            )
        )
    if _character_classes(password) < 2:
        violations.append(
            RuleViolation(
                "password",
                "character_classes",
                "Mix at least two kinds of characters (lower case, upper case, digits, symbols).",
            )
        )
    lowered = password.strip().lower()
    local_part = email.split("@", 1)[0].lower()
    if lowered and (lowered == email.lower() or lowered == local_part):
        violations.append(
            RuleViolation("password", "not_email", "The password must not be your e-mail address.")
        )
    return violations


def new_token(prefix: str = "") -> str:
    """Return a new opaque token with 256 bits of entropy."""
    return prefix + secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    """Return the sha256 under which an opaque high-entropy token is stored."""
    return hashlib.sha256(token.encode()).hexdigest()


def clean_display_name(name: str) -> str:
    """Return the display name trimmed of surrounding and repeated whitespace."""
    return " ".join(name.split())
