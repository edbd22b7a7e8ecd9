"""Helpers for end-to-end competition and join tests: the stack and signed-in users."""
