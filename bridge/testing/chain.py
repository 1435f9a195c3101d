"""A local chain with time control for tests: eth-tester in process, or an anvil node.

:func:`start_chain` returns a :class:`LocalChain` whatever the backend, so a test written against
one runs on the other (``--bridge-chain anvil`` in the pytest plugin). Both expose a web3 instance,
an unlocked funded account (``funder``), the latest block time and ``travel_to`` (mine a block at a
timestamp), snapshots, and — for processes outside the test — a JSON-RPC URL.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from web3 import HTTPProvider, Web3

from bridge.errors import ConfigError

CHAINS = ("eth-tester", "anvil")


def find_anvil() -> Path | None:
    """The anvil binary: ``$BRIDGE_ANVIL``, the project's ``node_modules/.bin/anvil``, or
    ``anvil`` on ``PATH``; None if there is none."""
    from bridge.chain.anvil import ANVIL

    for candidate in (os.environ.get("BRIDGE_ANVIL"), str(ANVIL), shutil.which("anvil")):
        if candidate and os.access(candidate, os.X_OK):
            return Path(candidate)
    return None


@dataclass
class LocalChain:
    """A chain a test controls (see the module docstring)."""

    kind: str
    w3: Web3
    funder: str
    """An unlocked account holding plenty of ether (deploys, funds the accounts it makes)."""
    now: Callable[[], int]
    """Timestamp of the latest block."""
    travel_to: Callable[[int], None]
    """Mine a block at this timestamp or later (time never goes back)."""
    snapshot: Callable[[], int]
    revert: Callable[[int], None]
    url: str | None = None
    """JSON-RPC URL for other processes (anvil; for eth-tester see :meth:`serve`)."""
    backend: Any = None
    """The :class:`~bridge.chain.tester.TesterChain` or :class:`~bridge.chain.anvil.Anvil`."""
    _stops: list[Callable[[], None]] = field(default_factory=list)

    @classmethod
    def of_tester(cls, tester: Any) -> LocalChain:
        """Wrap an existing :class:`~bridge.chain.tester.TesterChain`."""
        return cls("eth-tester", tester.w3, tester.accounts[0], tester.now, tester.travel_to,
                   tester.snapshot, tester.revert, backend=tester)

    @classmethod
    def of_anvil(cls, node: Any) -> LocalChain:
        """Wrap a started :class:`~bridge.chain.anvil.Anvil` (the caller stops it)."""
        w3 = Web3(HTTPProvider(node.url, request_kwargs={"timeout": 60}))
        return cls("anvil", w3, w3.eth.accounts[0], node.now, node.travel_to,
                   lambda: int(node.rpc("evm_snapshot"), 16),
                   lambda sid: node.rpc("evm_revert", hex(sid)), url=node.url, backend=node)

    def advance(self, seconds: int) -> None:
        """Mine a block ``seconds`` after the latest one."""
        self.travel_to(self.now() + seconds)

    def fund(self, address: str, wei: int) -> None:
        """Send ``wei`` from the funder to ``address`` and wait for it."""
        tx = self.w3.eth.send_transaction(
            {"from": self.funder, "to": address, "value": wei})  # type: ignore[typeddict-item]
        self.w3.eth.wait_for_transaction_receipt(tx)

    def serve(self) -> str:
        """A JSON-RPC URL other processes (the CLI, a JS client) can use; for eth-tester this
        starts :class:`~bridge.chain.rpcserver.RpcServer` on a free port (once)."""
        if self.url is None:
            from bridge.chain.rpcserver import RpcServer

            server = RpcServer(self.backend).start()
            self._stops.append(server.stop)
            self.url = server.url
        return self.url

    def stop(self) -> None:
        """Stop the servers and node this chain started."""
        while self._stops:
            self._stops.pop()()


def start_chain(kind: str = "eth-tester", workdir: Path | None = None) -> LocalChain:
    """A fresh local chain: ``eth-tester`` (in process) or ``anvil`` (a node on a free port,
    mining each transaction at once; needs ``workdir`` for its log)."""
    if kind == "eth-tester":
        from bridge.chain.tester import make_tester_chain

        return LocalChain.of_tester(make_tester_chain(accounts=2))
    if kind == "anvil":
        import tempfile

        from bridge.chain.anvil import Anvil

        binary = find_anvil()
        if binary is None:
            raise ConfigError("anvil is not installed: `npm install @foundry-rs/anvil-linux-amd64`"
                              " (or set BRIDGE_ANVIL to its path), or use the eth-tester chain")
        node = Anvil(workdir or Path(tempfile.mkdtemp(prefix="bridge-anvil-")), block_time=None,
                     binary=binary).start()
        chain = LocalChain.of_anvil(node)
        chain._stops.append(node.stop)
        return chain
    raise ConfigError(f"chain {kind!r}: use one of {', '.join(CHAINS)}")
