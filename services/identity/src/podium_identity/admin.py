"""Administration use cases: user management and the audit log (SPEC §10.5, ADR 0037).

Every change an administrator makes is recorded in `audit_log` in the same
transaction as the change itself, so a change without its entry (or an entry
without its change) cannot exist. Entries other services' actions produce
arrive through `record()` with their own ids, which makes a re-sent entry a
no-op.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from podium_contracts.events import UserDeleted, UserDeletedData, UserUpdated
from podium_runtime import audit
from podium_runtime.audit import AuditEntry
from podium_runtime.cursors import CursorCodec
from podium_runtime.outbox import new_event
from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncSession

from podium_identity import repository
from podium_identity.service import PRODUCER, AccountError, Accounts

USERS_CURSOR = CursorCodec(datetime, uuid.UUID)
AUDIT_CURSOR = CursorCodec(int)
ROLES = ("user", "admin")


def user_state(user: Row[Any]) -> dict[str, Any]:
    """Return what an administrator may change about a user, for audit summaries."""
    return {"role": user.role, "disabled": user.disabled_at is not None}


class Administration:
    """The administrator's use cases; `Accounts` supplies events and verification mail."""

    def __init__(self, accounts: Accounts) -> None:
        self.accounts = accounts

    # --- audit log -----------------------------------------------------------

    async def record(self, session: AsyncSession, entry: AuditEntry) -> bool:
        """Append one entry; False if it was already recorded (same id)."""
        values = entry.model_dump(exclude={"at"})
        return await repository.insert_audit_entry(session, **values)

    async def _audit(
        self,
        session: AsyncSession,
        actor: Row[Any],
        action: str,
        target_type: str,
        target_id: Any,
        before: dict[str, Any] | None = None,
        after: dict[str, Any] | None = None,
    ) -> None:
        await self.record(
            session,
            audit.entry(
                service=PRODUCER,
                actor_id=actor.id,
                actor_role=actor.role,
                action=action,
                target_type=target_type,
                target_id=target_id,
                before=before,
                after=after,
            ),
        )

    async def audit_page(
        self, session: AsyncSession, cursor: str | None, limit: int, **filters: Any
    ) -> tuple[list[Row[Any]], str | None]:
        """Return one page of audit entries, newest first, and the next page's cursor."""
        after = AUDIT_CURSOR.decode_optional(cursor)
        rows = await repository.audit_entries(
            session, before_seq=after[0] if after else None, limit=limit + 1, **filters
        )
        more = len(rows) > limit
        rows = rows[:limit]
        return rows, AUDIT_CURSOR.encode(rows[-1].seq) if more else None

    async def latest_by_target(
        self, session: AsyncSession, target_type: str, target_ids: list[str]
    ) -> dict[str, Row[Any]]:
        """Return the newest entry about each target (e.g. what happened to a dead letter)."""
        return await repository.latest_audit_by_target(session, target_type, target_ids)

    # --- users -----------------------------------------------------------------

    async def users_page(
        self,
        session: AsyncSession,
        *,
        query: str | None,
        role: str | None,
        disabled: bool | None,
        cursor: str | None,
        limit: int,
    ) -> tuple[list[Row[Any]], str | None]:
        """Search users (e-mail or display name), newest first; return a page and its cursor."""
        after = USERS_CURSOR.decode_optional(cursor)
        rows = await repository.search_users(
            session,
            query=query.strip() if query else None,
            role=role,
            disabled=disabled,
            after=after,
            limit=limit + 1,
        )
        more = len(rows) > limit
        rows = rows[:limit]
        return rows, USERS_CURSOR.encode(rows[-1].created_at, rows[-1].id) if more else None

    async def user(self, session: AsyncSession, user_id: uuid.UUID) -> Row[Any]:
        """Return one user; 404 `NOT_FOUND` otherwise."""
        user = await repository.user_by_id(session, user_id)
        if user is None:
            raise AccountError("NOT_FOUND", "No such user.")
        return user

    async def change_user(
        self,
        session: AsyncSession,
        admin: Row[Any],
        user_id: uuid.UUID,
        *,
        role: str | None = None,
        disabled: bool | None = None,
    ) -> Row[Any]:
        """Change a user's role or disabled state, audited; disabling revokes every token.

        An administrator cannot disable or demote themselves: the platform
        would risk having no administrator left.
        """
        user = await repository.user_by_id(session, user_id, for_update=True)
        if user is None:
            raise AccountError("NOT_FOUND", "No such user.")
        if user.id == admin.id and (disabled or (role is not None and role != "admin")):
            raise AccountError(
                "SELF_CHANGE_REFUSED", "Administrators cannot disable or demote themselves."
            )
        values: dict[str, Any] = {}
        if role is not None and role != user.role:
            values["role"] = role
        if disabled is not None and disabled != (user.disabled_at is not None):
            values["disabled_at"] = datetime.now(tz=user.created_at.tzinfo) if disabled else None
        if not values:
            return user
        updated = await repository.update_user(session, user_id, **values)
        if "disabled_at" in values:
            if disabled:
                # Neither a refresh token nor an access token may outlive the decision.
                await repository.revoke_user_refresh_tokens(session, user_id)
                await self.accounts.revoke_access_tokens(user_id)
            await self._audit(
                session,
                admin,
                "user.disabled" if disabled else "user.enabled",
                "user",
                user_id,
                {"disabled": not disabled},
                {"disabled": bool(disabled)},
            )
        if "role" in values:
            await self._audit(
                session, admin, "user.role_changed", "user", user_id,
                {"role": user.role}, {"role": updated.role},
            )  # fmt: skip
            await self.accounts.outbox.add(
                session, new_event(UserUpdated, PRODUCER, self.accounts.user_data(updated))
            )
        return updated

    async def resend_verification(
        self, session: AsyncSession, admin: Row[Any], user_id: uuid.UUID
    ) -> None:
        """Send the user a new verification e-mail, audited; 409 if already verified."""
        user = await self.user(session, user_id)
        if user.email_verified_at is not None:
            raise AccountError("ALREADY_VERIFIED", "This address is already verified.")
        await self.accounts.request_email_verification(session, user_id)
        await self._audit(session, admin, "user.verification_resent", "user", user_id)

    async def lrs_client_changed(
        self, session: AsyncSession, admin: Row[Any], action: str, client: Row[Any]
    ) -> None:
        """Record the creation or revocation of xAPI credentials (never the secret)."""
        state = {"name": client.name, "key": client.key, "scopes": list(client.scopes)}
        created = action == "lrs_client.created"
        await self._audit(
            session,
            admin,
            action,
            "lrs_client",
            client.id,
            None if created else state,
            state if created else {**state, "revoked": True},
        )

    async def erase_user(
        self, session: AsyncSession, actor: Row[Any] | None, user_id: uuid.UUID
    ) -> None:
        """Delete the account and announce `user.deleted`; every service erases its copies.

        `actor` is the administrator, or None when users erase themselves. The
        audit entry keeps the id and role only: no personal data survives here.
        """
        user = await repository.user_by_id(session, user_id, for_update=True)
        if user is None:
            raise AccountError("NOT_FOUND", "No such user.")
        await repository.delete_user(session, user_id)
        await self.record(
            session,
            audit.entry(
                service=PRODUCER,
                actor_id=actor.id if actor is not None else user_id,
                actor_role=actor.role if actor is not None else user.role,
                action="user.deleted",
                target_type="user",
                target_id=user_id,
                before={"role": user.role},
            ),
        )
        data = UserDeletedData(user_id=user_id, email=user.email)
        await self.accounts.outbox.add(session, new_event(UserDeleted, PRODUCER, data))
