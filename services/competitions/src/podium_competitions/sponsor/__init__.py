"""Sponsor tools of prediction competitions: statistics and exports (SPEC §10.2)."""
