"""bridge.sim (README "How it works")."""
