"""Podium ingest service: xAPI statements: raw and flattened storage, LRS queries and reports."""
