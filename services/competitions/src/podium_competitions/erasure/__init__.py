"""Erasing a deleted user's personal data from the competitions schema (issue 18)."""
