"""The actor key: how xAPI actors are named on `podium.xapi.statements` and `podium.learning`.

The gateway keys statements by it, ingest stores and queries by it, and the
competitions service reads e-mails out of it, so its format is part of the
contract (SPEC §4, §7.3). Pure functions, no I/O.
"""

from __future__ import annotations

import hashlib
from typing import Any

_MBOX = "mbox:mailto:"


def actor_key(actor: dict[str, Any]) -> str:
    """Return a stable string naming an Agent or Group by its inverse functional identifier.

    Identified actors are named by their IFI (xAPI 1.0.3 Data 2.4.2.3); anonymous
    groups have none (2.4.2.2) and are named by a digest of their sorted members.
    """
    if "mbox" in actor:
        return f"mbox:{actor['mbox'].lower()}"
    if "mbox_sha1sum" in actor:
        return f"mbox_sha1sum:{actor['mbox_sha1sum'].lower()}"
    if "openid" in actor:
        return f"openid:{actor['openid']}"
    if "account" in actor:
        return f"account:{actor['account']['homePage']}|{actor['account']['name']}"
    members = sorted(actor_key(m) for m in actor.get("member", []))
    return "group:" + hashlib.sha1("\n".join(members).encode()).hexdigest()  # noqa: S324 - a name, not a secret


def mbox_email(key: str) -> str | None:
    """Return the lower-cased e-mail of an actor key `mbox:mailto:<address>`, else None."""
    if key.lower().startswith(_MBOX):
        return key[len(_MBOX) :].lower() or None
    return None
