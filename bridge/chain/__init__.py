"""bridge.chain (SPEC §2)."""
