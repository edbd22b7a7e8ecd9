"""Helpers for end-to-end submission and leaderboard tests: the prediction stack."""
