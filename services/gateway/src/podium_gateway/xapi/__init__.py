"""xAPI Learning Record Store edge: statement validation, equivalence, id claims, /xapi routes."""
