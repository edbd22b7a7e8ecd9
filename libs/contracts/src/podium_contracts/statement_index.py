"""The index of stored xAPI statement ids: a Bloom filter in Redis (docs/adr/0059).

Ingest sets an id's bits before the transaction that stores the statement commits;
the gateway's claim script reads them. A clear bit proves the id is not stored, so
the gateway asks ingest's store only about ids whose bits are all set (or when the
index is missing). Both sides compute the same positions here; the filter's size is
the size of the Redis string, so each side takes the positions modulo it in Lua.
"""

from __future__ import annotations

import hashlib
import struct
import uuid
from collections.abc import Iterable

from podium_contracts.redis_keys import GATEWAY_PREFIX

#: Bit positions per id (four 32-bit slices of one BLAKE2b digest of the id's bytes).
INDEX_HASHES = 4


def statement_index_key(prefix: str = GATEWAY_PREFIX) -> str:
    """Return the key of the stored-ids index (ingest writes it, the gateway reads it)."""
    return f"{prefix}xapi:stored-ids"


def index_positions(statement_id: str | uuid.UUID) -> list[int]:
    """Return the id's `INDEX_HASHES` 32-bit positions (taken modulo the filter's bits)."""
    return list(_POSITIONS.unpack(_digest(statement_id)))


_POSITIONS = struct.Struct(f">{INDEX_HASHES}I")


def packed_positions(statement_ids: Iterable[str | uuid.UUID]) -> bytes:
    """Return the ids' positions as one string of big-endian 32-bit integers.

    The positions `index_positions` returns, id after id, as the one Redis argument both
    sides' scripts read with `struct.unpack('>I4', ...)`: four integers per id would each
    be encoded by the client and parsed by Redis.
    """
    return b"".join(_digest(i) for i in statement_ids)


def _digest(statement_id: str | uuid.UUID) -> bytes:
    """Return the id's positions as big-endian 32-bit words: one BLAKE2b digest of its bytes."""
    return hashlib.blake2b(_id_bytes(statement_id), digest_size=4 * INDEX_HASHES).digest()


def _id_bytes(statement_id: str | uuid.UUID) -> bytes:
    """Return the id's 16 bytes, as `uuid.UUID(statement_id).bytes` does (ValueError if none)."""
    if isinstance(statement_id, uuid.UUID):
        return statement_id.bytes
    digits = statement_id.replace("-", "")
    # The hyphenated form, as ids are stored: index_positions takes a third of the time
    # it took through `uuid.UUID` (docs/performance.md, "The statement route's checks").
    if len(statement_id) == 36 and len(digits) == 32:
        return bytes.fromhex(digits)
    return uuid.UUID(statement_id).bytes
