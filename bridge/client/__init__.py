"""bridge.client (SPEC §2)."""
