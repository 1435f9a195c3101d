"""Connecting to a chain by URL, or to the process's embedded eth-tester chain.

``eth-tester`` names one in-process chain per Python process (created on first use), so commands
run in the same process (the demo, CLI tests through a runner) see the same chain. Any other value
must be an http(s) URL of a node.
"""

from __future__ import annotations

import threading

from web3 import HTTPProvider, Web3

from bridge.chain.tester import TesterChain, make_tester_chain
from bridge.errors import ConfigError

EMBEDDED = "eth-tester"
_embedded: TesterChain | None = None
_lock = threading.Lock()


def embedded_chain() -> TesterChain:
    """The process's embedded chain (created with funded accounts on first use)."""
    global _embedded
    with _lock:
        if _embedded is None:
            _embedded = make_tester_chain(accounts=10)
        return _embedded


def use_embedded(chain: TesterChain | None) -> TesterChain | None:
    """Make ``chain`` the process's embedded chain (None: forget it); returns the previous one.

    Lets a test or the demo point ``--rpc eth-tester`` commands at a chain it built itself.
    """
    global _embedded
    with _lock:
        previous, _embedded = _embedded, chain
        return previous


def connect(rpc: str, timeout: float = 10.0) -> Web3:
    """A web3 instance for ``rpc`` (an http(s) URL or ``eth-tester``)."""
    if rpc == EMBEDDED:
        return embedded_chain().w3
    if not rpc.startswith(("http://", "https://")):
        raise ConfigError(f"--rpc {rpc!r} is not an http(s) URL: use e.g. "
                          "http://127.0.0.1:8545, or eth-tester for the embedded chain")
    return Web3(HTTPProvider(rpc, request_kwargs={"timeout": timeout}))
