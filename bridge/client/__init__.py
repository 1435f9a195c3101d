"""bridge.client (README "How it works")."""
