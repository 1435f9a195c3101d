"""bridge.chain (README "How it works")."""

from bridge.chain import abi_checks

abi_checks.install()
