"""The ``bridge`` command: demo, keeper, prover, requester, round.

Connection: ``--rpc URL`` (or ``eth-tester`` for the embedded chain; env ``BRIDGE_RPC``) and
``--market ADDRESS|DEPLOYMENT_FILE`` (env ``BRIDGE_MARKET``). Key: ``--keystore FILE`` (password in
``BRIDGE_KEYSTORE_PASSWORD`` or a prompt) or ``BRIDGE_PRIVATE_KEY``; never on the command line.
Amounts accept ``wei``, ``gwei`` and ``ether`` suffixes. Every command prints a short summary, or
JSON with ``--json``. An error is one line naming the problem and the fix (exit 1; 2 for
configuration errors).
"""

from __future__ import annotations

from bridge.cli import (  # noqa: F401 - registers commands
    agents,
    audit,
    circuits,
    ops,
    posted_price,
    prover,
    requester,
    rounds,
)
from bridge.cli.apps import app

__all__ = ["app", "main"]


def main() -> None:
    """Console-script entry point."""
    app()
