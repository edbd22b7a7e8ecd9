"""The whole platform for the operations suites: all six services behind one gateway."""
