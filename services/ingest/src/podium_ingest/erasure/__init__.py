"""Erasing a deleted platform user's learning records from the ingest schema (issue 18)."""
