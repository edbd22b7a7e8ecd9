"""Podium gateway service: the public HTTP API in front of every service."""
