"""xAPI document resources kept by ingest: State, Activity Profile, Agent Profile (ADR 0026)."""
