"""Erasure of a learner's learning records and retention of raw statements (docs/xapi.md)."""
