"""bridge.chain (README "How it works")."""
