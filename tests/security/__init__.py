"""Security suite: replays of the attacks against the public API; the attacker must win none."""
