"""Helpers of the xAPI end-to-end tests: a running LRS stack (identity, ingest, gateways)."""
