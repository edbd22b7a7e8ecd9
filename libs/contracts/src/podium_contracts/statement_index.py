"""The index of stored xAPI statement ids: a Bloom filter in Redis (docs/adr/0059).

Ingest sets an id's bits before the transaction that stores the statement commits;
the gateway's claim script reads them. A clear bit proves the id is not stored, so
the gateway asks ingest's store only about ids whose bits are all set (or when the
index is missing). Both sides compute the same positions here; the filter's size is
the size of the Redis string, so each side takes the positions modulo it in Lua.
"""

from __future__ import annotations

import hashlib
import uuid

from podium_contracts.redis_keys import GATEWAY_PREFIX

#: Bit positions per id (four 32-bit slices of one BLAKE2b digest of the id's bytes).
INDEX_HASHES = 4


def statement_index_key(prefix: str = GATEWAY_PREFIX) -> str:
    """Return the key of the stored-ids index (ingest writes it, the gateway reads it)."""
    return f"{prefix}xapi:stored-ids"


def index_positions(statement_id: str | uuid.UUID) -> list[int]:
    """Return the id's `INDEX_HASHES` 32-bit positions (taken modulo the filter's bits)."""
    value = statement_id if isinstance(statement_id, uuid.UUID) else uuid.UUID(statement_id)
    digest = hashlib.blake2b(value.bytes, digest_size=4 * INDEX_HASHES).digest()
    return [int.from_bytes(digest[i : i + 4], "big") for i in range(0, 4 * INDEX_HASHES, 4)]
