"""Podium rewards service: point wallets, sweepstakes drawings and prize fulfilment."""
