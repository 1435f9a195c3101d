"""bridge.keeper (README "How it works")."""
