"""Leaderboard projection of the competitions service (SPEC §7.2).

Postgres holds every scored submission and the ranked boards (the source of
truth, rebuildable from `submission.scored` events); Redis mirrors each board
for the gateway's reads (key formats in `podium_contracts.redis_keys`).
"""
