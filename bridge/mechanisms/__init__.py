"""bridge.mechanisms (SPEC §2)."""
