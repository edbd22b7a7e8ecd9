"""Erasing a deleted user's data from the notifier schema (issue 18)."""
