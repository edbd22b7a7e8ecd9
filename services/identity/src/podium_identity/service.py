"""Account use cases: registration, login, token rotation, profile, LRS clients (SPEC §5.1).

Functions take the caller's session and `flush()` through the repository; the
entrypoint commits (STYLE 3). Events go through the outbox in the same
transaction as the change (SPEC §4).
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import redis.asyncio as redis
from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from podium_contracts.events import (
    UserData,
    UserEmailVerificationRequested,
    UserPasswordResetRequested,
    UserRegistered,
    UserTokenData,
    UserUpdated,
)
from podium_contracts.redis_keys import tokens_revoked_before_key
from podium_runtime.db import AnyRow
from podium_runtime.outbox import Outbox, new_event
from podium_runtime.problems import ServiceError
from podium_runtime.timezones import is_iana_zone
from sqlalchemy.ext.asyncio import AsyncSession

from podium_identity import domain, repository
from podium_identity.config import Settings
from podium_identity.keys import KeyRing

log = logging.getLogger(__name__)

PRODUCER = "identity"
VERIFY_EMAIL = "verify_email"
RESET_PASSWORD = "reset_password"  # noqa: S105 - a token purpose, not a secret


#: The status each refusal is reported with (SPEC §5.1).
_STATUS = {
    "VALIDATION_ERROR": 422,
    "INVALID_EMAIL": 422,
    "WEAK_PASSWORD": 422,
    "INVALID_TIMEZONE": 422,
    "EMAIL_TAKEN": 409,
    "INVALID_CREDENTIALS": 401,
    "INVALID_REFRESH_TOKEN": 401,
    "REFRESH_TOKEN_REUSED": 401,
    "INVALID_TOKEN": 401,
    "EMAIL_NOT_VERIFIED": 403,
    "ACCOUNT_DISABLED": 403,
    "SELF_CHANGE_REFUSED": 409,
    "ALREADY_VERIFIED": 409,
    "FORBIDDEN": 403,
    "ACCOUNT_LOCKED": 429,
    "INVALID_VERIFICATION_TOKEN": 400,
    "INVALID_RESET_TOKEN": 400,
    "NOT_FOUND": 404,
}
#: Refusals that ask the client to authenticate again (RFC 6750 §3).
_BEARER_CHALLENGE = frozenset({"INVALID_CREDENTIALS", "INVALID_TOKEN", "INVALID_REFRESH_TOKEN"})


class AccountError(ServiceError):
    """A refused account operation with a stable code; its status follows from the code."""

    def __init__(
        self,
        code: str,
        detail: str,
        *,
        errors: list[dict[str, Any]] | None = None,
        retry_after: int | None = None,
    ) -> None:
        headers = {"Retry-After": str(retry_after)} if retry_after else {}
        if code in _BEARER_CHALLENGE:
            headers["WWW-Authenticate"] = "Bearer"
        super().__init__(code, detail, status=_STATUS[code], errors=errors, headers=headers)
        self.retry_after = retry_after


class RefreshTokenReused(AccountError):
    """A rotated refresh token came back: its family is revoked and must stay revoked."""

    #: The family revocation commits even though the caller is refused.
    commit_effects = True


@dataclass(frozen=True)
class TokenPair:
    """What a successful login or refresh returns."""

    access_token: str
    refresh_token: str
    expires_in: int


def build_hasher(settings: Settings) -> PasswordHasher:
    """Return the argon2id hasher with the configured cost."""
    return PasswordHasher(
        time_cost=settings.argon2_time_cost,
        memory_cost=settings.argon2_memory_kib,
        parallelism=settings.argon2_parallelism,
        hash_len=32,
        salt_len=16,
        type=Type.ID,
    )


# Count a failure and start the window on the first one, atomically.
_COUNT_FAILURE = """
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return count
"""


class LoginThrottle:
    """Per-account lockout in Redis: N failures within a window lock the account (SPEC §5.1)."""

    def __init__(self, redis_client: redis.Redis, settings: Settings) -> None:
        self.redis = redis_client
        self.prefix = settings.redis_key_prefix
        self.max_failures = settings.lockout_max_failures
        self.window_ms = settings.lockout_window_seconds * 1000
        self.lock_seconds = settings.lockout_seconds

    def _keys(self, email: str) -> tuple[str, str]:
        # Keyed by a hash: Redis never holds the address itself.
        digest = domain.token_hash(email)
        return f"{self.prefix}login-failures:{digest}", f"{self.prefix}locked:{digest}"

    async def locked_for(self, email: str) -> int:
        """Return the seconds the account stays locked (0 when it is not)."""
        ttl = await self.redis.ttl(self._keys(email)[1])
        return max(0, int(ttl))

    async def failed(self, email: str) -> int:
        """Record a failure; return the lock duration if this one locks the account, else 0."""
        failures_key, lock_key = self._keys(email)
        count = int(await self.redis.eval(_COUNT_FAILURE, 1, failures_key, self.window_ms))
        if count >= self.max_failures:
            await self.redis.set(lock_key, b"1", ex=self.lock_seconds)
            await self.redis.delete(failures_key)
            return self.lock_seconds
        return 0

    async def succeeded(self, email: str) -> None:
        """Forget earlier failures after a successful login."""
        await self.redis.delete(self._keys(email)[0])

    async def clear(self, email: str) -> None:
        """Lift a lock (after a password reset)."""
        await self.redis.delete(*self._keys(email))


class Accounts:
    """The identity use cases with their collaborators."""

    def __init__(
        self,
        settings: Settings,
        keyring: KeyRing,
        outbox: Outbox,
        throttle: LoginThrottle,
    ) -> None:
        self.settings = settings
        self.keyring = keyring
        self.outbox = outbox
        self.throttle = throttle
        self.hasher = build_hasher(settings)
        self._dummy_hash: str | None = None

    # --- passwords ---------------------------------------------------------

    async def hash_password(self, password: str) -> str:
        """Hash with argon2id off the event loop."""
        return await asyncio.to_thread(self.hasher.hash, password)

    async def _verify_password(self, password_hash: str | None, password: str) -> bool:
        if password_hash is None:
            # Unknown e-mail: spend the same work as a real check, then fail (no timing oracle).
            if self._dummy_hash is None:
                self._dummy_hash = await self.hash_password(domain.new_token())
            password_hash = self._dummy_hash
        try:
            return await asyncio.to_thread(self.hasher.verify, password_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def check_password(self, password: str, email: str) -> None:
        """Raise `WEAK_PASSWORD` naming every failed rule."""
        violations = domain.password_violations(password, email)
        if violations:
            raise AccountError(
                "WEAK_PASSWORD",
                " ".join(v.message for v in violations),
                errors=[v.as_dict() for v in violations],
            )

    # --- events ------------------------------------------------------------

    @staticmethod
    def user_data(user: AnyRow) -> UserData:
        """Return the public profile facts of a user row."""
        return UserData(
            user_id=user.id,
            email=user.email,
            display_name=user.display_name,
            timezone=user.timezone,
            role=user.role,
        )

    async def _issue_user_token(
        self, session: AsyncSession, user: AnyRow, purpose: str, lifetime: int
    ) -> UserTokenData:
        token = domain.new_token()
        expires_at = datetime.now(UTC) + timedelta(seconds=lifetime)
        await repository.insert_user_token(
            session,
            id=uuid.uuid4(),
            user_id=user.id,
            purpose=purpose,
            token_hash=domain.token_hash(token),
            expires_at=expires_at,
        )
        return UserTokenData(
            user_id=user.id,
            email=user.email,
            display_name=user.display_name,
            token=token,
            expires_at=expires_at,
        )

    # --- registration ------------------------------------------------------

    def validate_registration(
        self, email: str, password: str, display_name: str, timezone: str | None
    ) -> tuple[str, str, str]:
        """Return (email, display name, timezone) normalised, or raise naming the failed rule."""
        try:
            normalized = domain.normalize_email(email)
        except ValueError as exc:
            raise AccountError(
                "INVALID_EMAIL",
                "The e-mail address is not valid.",
                errors=[{"field": "email", "rule": "email_format", "message": str(exc)}],
            ) from exc
        name = domain.clean_display_name(display_name)
        if not name:
            raise AccountError(
                "VALIDATION_ERROR",
                "The display name must not be empty.",
                errors=[{"field": "display_name", "rule": "required", "message": "Required."}],
            )
        zone = timezone or "UTC"
        self.check_timezone(zone)
        self.check_password(password, normalized)
        return normalized, name, zone

    @staticmethod
    def check_timezone(zone: str) -> None:
        """Raise `INVALID_TIMEZONE` unless `zone` is an IANA time zone."""
        if not is_iana_zone(zone):
            raise AccountError(
                "INVALID_TIMEZONE",
                f"{zone!r} is not an IANA time zone (e.g. Europe/Paris).",
                errors=[{"field": "timezone", "rule": "iana_timezone", "message": "Unknown zone."}],
            )

    async def register(
        self,
        session: AsyncSession,
        email: str,
        password: str,
        display_name: str,
        timezone: str | None,
        *,
        role: str = "user",
        verified: bool = False,
    ) -> AnyRow:
        """Create an account; emit `user.registered` and a verification request."""
        normalized, name, zone = self.validate_registration(email, password, display_name, timezone)
        password_hash = await self.hash_password(password)
        user = await repository.insert_user(
            session,
            id=uuid.uuid4(),
            email=normalized,
            password_hash=password_hash,
            display_name=name,
            timezone=zone,
            role=role,
            email_verified_at=datetime.now(UTC) if verified else None,
        )
        if user is None:
            raise AccountError("EMAIL_TAKEN", "An account with this e-mail already exists.")
        events = [new_event(UserRegistered, PRODUCER, self.user_data(user))]
        if not verified:
            data = await self._issue_user_token(
                session, user, VERIFY_EMAIL, self.settings.email_verification_token_seconds
            )
            events.append(new_event(UserEmailVerificationRequested, PRODUCER, data))
        await self.outbox.add(session, *events)
        log.info("user registered", extra={"user_id": str(user.id)})
        return user

    # --- login and tokens --------------------------------------------------

    async def _issue_tokens(
        self, session: AsyncSession, user: AnyRow, family_id: uuid.UUID
    ) -> TokenPair:
        access = self.keyring.issue_access_token(
            user.id,
            user.email,
            user.role,
            timedelta(seconds=self.settings.access_token_seconds),
            self.settings.jwt_issuer,
        )
        refresh = domain.new_token("rt_")
        await repository.insert_refresh_token(
            session,
            id=uuid.uuid4(),
            user_id=user.id,
            family_id=family_id,
            token_hash=domain.token_hash(refresh),
            expires_at=datetime.now(UTC) + timedelta(seconds=self.settings.refresh_token_seconds),
        )
        return TokenPair(access, refresh, self.settings.access_token_seconds)

    async def login(self, session: AsyncSession, email: str, password: str) -> TokenPair:
        """Check the password (with lockout) and open a new token family."""
        key = domain.lookup_email(email)
        locked = await self.throttle.locked_for(key)
        if locked:
            raise AccountError(
                "ACCOUNT_LOCKED", "Too many failed logins; try again later.", retry_after=locked
            )
        user = await repository.user_by_email(session, key)
        ok = await self._verify_password(user.password_hash if user else None, password)
        if not ok or user is None:
            lock = await self.throttle.failed(key)
            if lock:
                log.warning("account locked after failed logins")
                raise AccountError(
                    "ACCOUNT_LOCKED", "Too many failed logins; try again later.", retry_after=lock
                )
            raise AccountError("INVALID_CREDENTIALS", "The e-mail or the password is wrong.")
        await self.throttle.succeeded(key)
        if user.disabled_at is not None:
            raise AccountError("ACCOUNT_DISABLED", "This account has been disabled.")
        if self.settings.require_verified_email and user.email_verified_at is None:
            raise AccountError("EMAIL_NOT_VERIFIED", "Confirm your e-mail address first.")
        if self.hasher.check_needs_rehash(user.password_hash):
            # Cost parameters went up since this hash was made: upgrade it transparently.
            await repository.update_user(
                session, user.id, password_hash=await self.hash_password(password)
            )
        return await self._issue_tokens(session, user, uuid.uuid4())

    async def refresh(self, session: AsyncSession, refresh_token: str) -> TokenPair:
        """Rotate a refresh token; reuse of a rotated one revokes the family (flushed first)."""
        row = await repository.refresh_token_by_hash(session, domain.token_hash(refresh_token))
        if row is None or row.revoked_at is not None:
            raise AccountError("INVALID_REFRESH_TOKEN", "The refresh token is not valid.")
        if row.rotated_at is not None:
            # A token that was already exchanged is back: assume theft, end the whole session.
            await repository.revoke_family(session, row.family_id)
            log.warning("refresh token reuse; family revoked", extra={"user_id": str(row.user_id)})
            raise RefreshTokenReused(
                "REFRESH_TOKEN_REUSED",
                "This refresh token was already used; the session has been revoked.",
            )
        if row.expires_at <= datetime.now(UTC):
            raise AccountError("INVALID_REFRESH_TOKEN", "The refresh token has expired.")
        user = await repository.user_by_id(session, row.user_id)
        if user is None or user.disabled_at is not None:
            raise AccountError("INVALID_REFRESH_TOKEN", "The refresh token is not valid.")
        await repository.mark_refresh_token_rotated(session, row.id)
        return await self._issue_tokens(session, user, row.family_id)

    async def logout(self, session: AsyncSession, user_id: uuid.UUID, refresh_token: str) -> None:
        """Revoke the caller's refresh token family; others' tokens are left alone."""
        row = await repository.refresh_token_by_hash(session, domain.token_hash(refresh_token))
        if row is not None and row.user_id == user_id:
            await repository.revoke_family(session, row.family_id)

    # --- e-mail verification and password reset ------------------------------

    async def verify_email(self, session: AsyncSession, token: str) -> AnyRow:
        """Consume a verification token and mark the address verified."""
        user_id = await repository.use_user_token(
            session, domain.token_hash(token), VERIFY_EMAIL, datetime.now(UTC)
        )
        if user_id is None:
            raise AccountError(
                "INVALID_VERIFICATION_TOKEN", "The verification link is invalid or has expired."
            )
        user = await repository.user_by_id(session, user_id)
        assert user is not None
        if user.email_verified_at is None:
            user = await repository.update_user(
                session, user_id, email_verified_at=datetime.now(UTC)
            )
        return user

    async def request_email_verification(self, session: AsyncSession, user_id: uuid.UUID) -> None:
        """Send a new verification e-mail when the address is still unverified."""
        user = await repository.user_by_id(session, user_id)
        if user is None or user.email_verified_at is not None:
            return
        data = await self._issue_user_token(
            session, user, VERIFY_EMAIL, self.settings.email_verification_token_seconds
        )
        await self.outbox.add(session, new_event(UserEmailVerificationRequested, PRODUCER, data))

    async def forgot_password(self, session: AsyncSession, email: str) -> None:
        """Emit a reset request when the account exists; say nothing either way."""
        user = await repository.user_by_email(session, domain.lookup_email(email))
        if user is None:
            return
        data = await self._issue_user_token(
            session, user, RESET_PASSWORD, self.settings.password_reset_token_seconds
        )
        await self.outbox.add(session, new_event(UserPasswordResetRequested, PRODUCER, data))

    async def reset_password(self, session: AsyncSession, token: str, password: str) -> None:
        """Consume a reset token, set the password, log out every session, lift a lockout."""
        user_id = await repository.use_user_token(
            session, domain.token_hash(token), RESET_PASSWORD, datetime.now(UTC)
        )
        if user_id is None:
            raise AccountError("INVALID_RESET_TOKEN", "The reset link is invalid or has expired.")
        user = await repository.user_by_id(session, user_id, for_update=True)
        assert user is not None
        self.check_password(password, user.email)
        await repository.update_user(
            session,
            user_id,
            password_hash=await self.hash_password(password),
            # Receiving the reset e-mail proves the address too.
            email_verified_at=user.email_verified_at or datetime.now(UTC),
        )
        await repository.revoke_user_refresh_tokens(session, user_id)
        await self.throttle.clear(user.email)
        # The reset logs out every session.
        await self.revoke_access_tokens(user_id)

    async def revoke_access_tokens(self, user_id: uuid.UUID) -> None:
        """Void every access token issued to the user until now.

        Access tokens stay valid by signature for up to their lifetime; the
        gateway refuses those issued before this instant (`401 TOKEN_REVOKED`).
        """
        await self.throttle.redis.set(
            tokens_revoked_before_key(user_id),
            str(time.time()),
            ex=self.settings.access_token_seconds + 60,
        )

    # --- profile -----------------------------------------------------------

    async def profile(self, session: AsyncSession, user_id: uuid.UUID) -> AnyRow:
        """Return the user's row; `INVALID_TOKEN` if the account no longer exists."""
        user = await repository.user_by_id(session, user_id)
        if user is None:
            raise AccountError("INVALID_TOKEN", "The account of this token no longer exists.")
        return user

    async def update_profile(
        self, session: AsyncSession, user_id: uuid.UUID, changes: dict[str, Any]
    ) -> AnyRow:
        """Change display name, time zone or notification preferences; emit `user.updated`."""
        user = await repository.user_by_id(session, user_id, for_update=True)
        if user is None:
            raise AccountError("INVALID_TOKEN", "The account of this token no longer exists.")
        values: dict[str, Any] = {}
        if changes.get("display_name") is not None:
            name = domain.clean_display_name(changes["display_name"])
            if not name:
                raise AccountError(
                    "VALIDATION_ERROR",
                    "The display name must not be empty.",
                    errors=[{"field": "display_name", "rule": "required", "message": "Required."}],
                )
            values["display_name"] = name
        if changes.get("timezone") is not None:
            self.check_timezone(changes["timezone"])
            values["timezone"] = changes["timezone"]
        if not values:
            return user
        updated = await repository.update_user(session, user_id, **values)
        if self.user_data(updated) != self.user_data(user):
            await self.outbox.add(
                session, new_event(UserUpdated, PRODUCER, self.user_data(updated))
            )
        return updated

    async def ensure_admin(
        self, session: AsyncSession, email: str, password: str, display_name: str = "Administrator"
    ) -> AnyRow:
        """Create the admin account, or give an existing account the admin role."""
        user = await repository.user_by_email(session, domain.lookup_email(email))
        if user is None:
            return await self.register(
                session, email, password, display_name, "UTC", role="admin", verified=True
            )
        if user.role != "admin":
            user = await repository.update_user(session, user.id, role="admin")
            await self.outbox.add(session, new_event(UserUpdated, PRODUCER, self.user_data(user)))
        return user

    async def require_admin(self, session: AsyncSession, user_id: uuid.UUID) -> AnyRow:
        """Return the user if they are an admin now (not merely when the token was issued)."""
        user = await self.profile(session, user_id)
        if user.role != "admin":
            raise AccountError("FORBIDDEN", "This route is for administrators.")
        return user

    # --- LRS clients -------------------------------------------------------

    async def create_lrs_client(
        self, session: AsyncSession, name: str, scopes: list[str], created_by: uuid.UUID
    ) -> tuple[AnyRow, str]:
        """Create xAPI credentials; return the row and the secret (shown once)."""
        clean = domain.clean_display_name(name)
        if not clean:
            raise AccountError(
                "VALIDATION_ERROR",
                "The name must not be empty.",
                errors=[{"field": "name", "rule": "required", "message": "Required."}],
            )
        secret = domain.new_token()
        row = await repository.insert_lrs_client(
            session,
            id=uuid.uuid4(),
            name=clean,
            key=domain.new_token("lrs_")[:36],
            # 256 random bits need no slow hash: sha256 resists any offline guessing.
            secret_hash=domain.token_hash(secret),
            scopes=sorted(set(scopes)),
            created_by=created_by,
        )
        log.info("lrs client created", extra={"lrs_client_id": str(row.id)})
        return row, secret

    async def verify_lrs_client(self, session: AsyncSession, key: str, secret: str) -> AnyRow:
        """Return the live client whose key and secret match; `INVALID_CREDENTIALS` otherwise."""
        row = await repository.lrs_client_by_key(session, key)
        expected = row.secret_hash if row is not None else domain.token_hash("")
        if not hmac.compare_digest(expected, domain.token_hash(secret)) or row is None:
            raise AccountError("INVALID_CREDENTIALS", "Unknown or revoked LRS client credentials.")
        return row
