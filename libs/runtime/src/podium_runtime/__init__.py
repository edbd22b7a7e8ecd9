"""Podium runtime: the plumbing every service shares (settings, db, outbox, broker, health)."""
