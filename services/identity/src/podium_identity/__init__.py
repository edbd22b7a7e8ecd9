"""Podium identity service: users, passwords, RS256 tokens with JWKS, refresh tokens and LRS clients."""
