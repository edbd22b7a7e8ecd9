"""What every end-to-end stack of the root test suites shares: users, identity, the gateway."""
