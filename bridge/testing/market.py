"""The integrators' :class:`LocalMarket`: the sim's market on a local chain, plus the CLI.

Everything but the command line is :class:`bridge.sim.market.LocalMarket` (deployment, the
in-process keeper, funded participants, phase helpers, outcomes as plain data; its docstring says
what is thread-safe). :meth:`LocalMarket.cli` runs the ``bridge`` command in process against the
market. It lives here because of the layers (``docs/design/architecture.md``): the command line sits
above the sim (``bridge demo`` runs a simulated world built on the sim's market), and
:mod:`bridge.testing` sits above the command line, so only this floor may import it.

Threads: :meth:`LocalMarket.cli` (and :func:`run_cli`) runs one command at a time in the whole
process (Click's runner swaps ``sys.stdout`` and ``os.environ`` while it runs); the chain's clock
is not held, so a command that waits (``--wait``) lets other threads move time meanwhile.
"""

from __future__ import annotations

import threading
from typing import Any

from typer.testing import CliRunner

from bridge.chain.connect import use_embedded
from bridge.cli import app
from bridge.sim import market as sim_market
from bridge.sim.market import AskOutcome, BidOutcome, JobOutcome, MarketSettings, RoundOutcome

__all__ = ["AskOutcome", "BidOutcome", "JobOutcome", "LocalMarket", "MarketSettings",
           "RoundOutcome", "run_cli"]

_CLI_LOCK = threading.Lock()
"""One command at a time in the process (Click swaps ``sys.stdout``/``environ``)."""


def run_cli(market: sim_market.LocalMarket, *args: str, key: bytes | None = None,
            from_block: bool = True) -> Any:
    """Run ``bridge ARGS --rpc … --market … [--from-block …]`` in process against ``market``
    (``key``: the signer's private key, passed as ``BRIDGE_PRIVATE_KEY``; ``from_block``: pass
    the market's deployment block); returns Click's result (``exit_code``, ``output``)."""
    env = {"BRIDGE_PRIVATE_KEY": "0x" + key.hex()} if key is not None else {}
    argv = [*args, "--rpc", market.chain.url or "eth-tester", "--market", market.address]
    if from_block:
        argv += ["--from-block", str(market.deploy_block)]
    with _CLI_LOCK:
        if market.chain.url is not None:
            return CliRunner().invoke(app, argv, env=env)
        previous = use_embedded(market.chain.backend)
        try:
            return CliRunner().invoke(app, argv, env=env)
        finally:
            use_embedded(previous)


class LocalMarket(sim_market.LocalMarket):
    """A deployed market with its keeper and funded participants (see
    :class:`bridge.sim.market.LocalMarket`), and the command line (:meth:`cli`)."""

    def cli(self, *args: str, key: bytes | None = None, from_block: bool = True) -> Any:
        """Run ``bridge ARGS`` in process against this market: :func:`run_cli`. One command at a
        time in the process; the clock is not held."""
        return run_cli(self, *args, key=key, from_block=from_block)
