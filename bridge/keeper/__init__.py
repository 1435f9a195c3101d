"""bridge.keeper (SPEC §2)."""
