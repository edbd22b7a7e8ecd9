"""Points and leaderboards of activity competitions (SPEC §7.3).

Postgres holds the points ledger (one row per competition and statement, the
source of truth); each board (period `all`, `day`, `week`, `month`) is summed
from it and mirrored to Redis for the gateway's reads, in the same shape as the
prediction boards (key formats in `podium_contracts.redis_keys`).
"""
