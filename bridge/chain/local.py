"""A local chain with time control for tests: eth-tester in process, or an anvil node.

:func:`start_chain` returns a :class:`LocalChain` whatever the backend, so a test written against
one runs on the other (``--bridge-chain anvil`` in the pytest plugin). Both expose a web3 instance,
an unlocked funded account (``funder``), the latest block time and ``travel_to`` (mine a block at a
timestamp), snapshots, and — for processes outside the test — a JSON-RPC URL.

Threads: every method of :class:`LocalChain` may be called from several threads at once.

- Sends from the funder (:meth:`LocalChain.fund`, and the deployments of a
  :class:`~bridge.testing.LocalMarket`) hold :attr:`LocalChain.funder_lock` while the nonce is
  chosen and the transaction broadcast, then wait for their own receipt without it: two funds
  never share a nonce. Send from the funder yourself only while holding that lock.
- Time travel (:meth:`~LocalChain.travel_to`, :meth:`~LocalChain.advance`), snapshots and
  reverts hold :attr:`LocalChain.clock` exclusively, one at a time; funds, and every transaction
  a :class:`~bridge.testing.LocalMarket` participant sends, hold it shared (many at once). So a
  transaction is mined either wholly before a time move or snapshot or wholly after it, never in
  between, and a revert never strands a send half done. Wrap your own time-sensitive sends in
  ``with chain.clock.shared():`` for the same guarantee. (A node mining on a block time — anvil
  with ``--block-time`` — moves time by itself; nothing here stops that.)
- :meth:`~LocalChain.new_key` hands each caller a different key.
- Reads (:meth:`~LocalChain.now`, ``w3``) need no lock: web3's HTTP provider keeps one session
  per thread, and the eth-tester provider serialises every request (py-evm is not thread-safe).

Other processes sharing the chain through its URL are not covered by these locks.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from eth_utils import keccak
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


class ClockLock:
    """A shared/exclusive lock on a chain's time and state (see the module docstring).

    :meth:`exclusive` (time travel, snapshot, revert) waits until no thread holds the lock and
    keeps out everyone else; :meth:`shared` (sends) may be held by many threads at once, and
    waits while a thread holds or waits for the exclusive side (so a time move is not starved by
    a stream of sends). Both are reentrant: a thread may take either again inside an exclusive
    block, and the shared side inside a shared block. Taking the exclusive side inside a shared
    block would wait for itself: it raises :class:`RuntimeError` instead.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._readers: dict[int, int] = {}
        self._writer: int | None = None
        self._depth = 0
        self._waiting = 0

    @contextlib.contextmanager
    def shared(self) -> Iterator[None]:
        """Hold off time travel, snapshots and reverts by other threads inside the block."""
        me = threading.get_ident()
        with self._cond:
            if self._writer != me and me not in self._readers:
                while self._writer is not None or self._waiting:
                    self._cond.wait()
            self._readers[me] = self._readers.get(me, 0) + 1
        try:
            yield
        finally:
            with self._cond:
                self._readers[me] -= 1
                if not self._readers[me]:
                    del self._readers[me]
                    self._cond.notify_all()

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[None]:
        """Be the only thread inside a shared or exclusive block."""
        me = threading.get_ident()
        with self._cond:
            if self._writer == me:
                self._depth += 1
            else:
                if me in self._readers:
                    raise RuntimeError("cannot move chain time, snapshot or revert while this "
                                       "thread holds the chain's clock shared (inside a send)")
                self._waiting += 1
                try:
                    while self._writer is not None or self._readers:
                        self._cond.wait()
                finally:
                    self._waiting -= 1
                self._writer, self._depth = me, 1
        try:
            yield
        finally:
            with self._cond:
                self._depth -= 1
                if not self._depth:
                    self._writer = None
                    self._cond.notify_all()


class LocalChain:
    """A chain a test controls (see the module docstring; every method is thread-safe)."""

    def __init__(self, kind: str, w3: Web3, funder: str, now: Callable[[], int],
                 travel_to: Callable[[int], None], snapshot: Callable[[], int],
                 revert: Callable[[int], None], url: str | None = None,
                 backend: Any = None) -> None:
        self.kind = kind
        self.w3 = w3
        self.funder = funder
        """An unlocked account holding plenty of ether (deploys, funds the accounts it makes)."""
        self.url = url
        """JSON-RPC URL for other processes (anvil; for eth-tester see :meth:`serve`)."""
        self.backend = backend
        """The :class:`~bridge.chain.tester.TesterChain` or :class:`~bridge.chain.anvil.Anvil`."""
        self.clock = ClockLock()
        """Exclusive for time moves, snapshots and reverts; shared for sends (module docstring)."""
        self.funder_lock = threading.RLock()
        """Held while a transaction from :attr:`funder` is given its nonce and broadcast."""
        self._now = now
        self._travel_to = travel_to
        self._snapshot = snapshot
        self._revert = revert
        self._funder_nonce: int | None = None
        self._keys = 0
        self._keys_lock = threading.Lock()
        self._after_revert: list[Callable[[], None]] = []
        self._stops: list[Callable[[], None]] = []
        self._serve_lock = threading.Lock()

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

    # -- time and state --------------------------------------------------------------------------
    def now(self) -> int:
        """Timestamp of the latest block."""
        return self._now()

    def travel_to(self, timestamp: int) -> None:
        """Mine a block at ``timestamp`` or later (time never goes back); one move at a time,
        never in the middle of a send (see the module docstring)."""
        with self.clock.exclusive():
            if self._now() >= timestamp:
                return
            try:
                self._travel_to(timestamp)
            except Exception:
                # a block mined meanwhile (a keeper thread, another process) may already be
                # later than ``timestamp``: the node then refuses to mine before it
                if self._now() >= timestamp:
                    return
                raise

    def advance(self, seconds: int) -> None:
        """Mine a block ``seconds`` after the latest one (read and moved in one step)."""
        with self.clock.exclusive():
            self.travel_to(self.now() + seconds)

    def snapshot(self) -> int:
        """A snapshot id to :meth:`revert` to (taken when no send is in flight)."""
        with self.clock.exclusive():
            return self._snapshot()

    def revert(self, snapshot_id: int) -> None:
        """Return to a snapshot (when no send is in flight); nonces the market's senders and the
        funder kept locally are forgotten, so the next sends read them from the chain again."""
        with self.clock.exclusive():
            self._revert(snapshot_id)
            with self.funder_lock:
                self._funder_nonce = None
            for hook in list(self._after_revert):
                hook()

    def after_revert(self, hook: Callable[[], None]) -> None:
        """Call ``hook`` after every :meth:`revert` (a :class:`~bridge.testing.LocalMarket`
        resynchronises its participants' nonces this way)."""
        self._after_revert.append(hook)

    # -- accounts ----------------------------------------------------------------------------------
    def new_key(self) -> bytes:
        """A private key no other caller on this chain gets, derived from a public label
        (``keccak("bridge testing account <n>")``, n = 0, 1, …): never use it for real funds."""
        with self._keys_lock:
            n = self._keys
            self._keys += 1
        return keccak(text=f"bridge testing account {n}")

    def fund(self, address: str, wei: int, *, timeout: float = 120) -> dict[str, Any]:
        """Send ``wei`` from the funder to ``address`` and wait for it; returns the receipt.

        The nonce is chosen and the transaction broadcast under :attr:`funder_lock`; the wait
        for its receipt is not, so funds from several threads overlap without sharing a nonce.
        """
        with self.clock.shared():
            with self.funder_lock:
                tx = self._send_from_funder({"to": address, "value": wei})
            return dict(self.w3.eth.wait_for_transaction_receipt(tx, timeout=timeout))

    def _send_from_funder(self, tx: dict[str, Any]) -> Any:
        """Broadcast ``tx`` from the funder with the next nonce (hold :attr:`funder_lock`)."""
        pending = self.w3.eth.get_transaction_count(self.funder, "pending")  # type: ignore[arg-type]
        nonce = max(pending, self._funder_nonce or 0)
        try:
            tx_hash = self.w3.eth.send_transaction(
                {**tx, "from": self.funder, "nonce": nonce})  # type: ignore[typeddict-item]
        except BaseException:
            self._funder_nonce = None  # nothing was sent: read the chain's count next time
            raise
        self._funder_nonce = nonce + 1
        return tx_hash

    # -- other processes ---------------------------------------------------------------------------
    def serve(self) -> str:
        """A JSON-RPC URL other processes (the CLI, a JS client) can use; for eth-tester this
        starts :class:`~bridge.chain.rpcserver.RpcServer` on a free port (once)."""
        with self._serve_lock:
            if self.url is None:
                from bridge.chain.rpcserver import RpcServer

                server = RpcServer(self.backend).start()
                self._stops.append(server.stop)
                self.url = server.url
            return self.url

    def stop(self) -> None:
        """Stop the servers and node this chain started."""
        with self._serve_lock:
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
