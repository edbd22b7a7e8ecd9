"""Data files of competitions: versions, visibility, metadata (SPEC §10.2)."""
