"""Podium identity service: accounts, tokens, JWKS and LRS clients."""
