"""Teams and final submissions of prediction competitions (SPEC §10.2)."""
