"""bridge.sim (SPEC §2)."""
