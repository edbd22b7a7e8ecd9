"""Podium gateway service: public HTTP API: authenticates callers, publishes command events, reads projections."""
