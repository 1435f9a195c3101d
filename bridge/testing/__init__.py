"""Test a system built on the market against a local chain: the pieces behind the pytest plugin.

The plugin (:mod:`bridge.testing.plugin`, registered as a ``pytest11`` entry point, so installing
the package is enough) offers fixtures built from these; they also work without pytest:

- :func:`start_chain` / :class:`LocalChain`: eth-tester in process or an anvil node, with time
  control (``travel_to``), snapshots and a JSON-RPC URL for other processes;
- :class:`LocalMarket`: a deployed market (:class:`MarketSettings`), the real keeper in process,
  funded provers and requesters, phase helpers, :class:`RoundOutcome` as plain data, and the
  ``bridge`` command run in process (:meth:`LocalMarket.cli`, :func:`run_cli`).

The chain is :mod:`bridge.chain.local` and the market :mod:`bridge.sim.market` (the sim's
worlds and the demo use them too); this package, on the top floor of the layers
(``docs/design/architecture.md``), adds what needs the command line.
"""

from bridge.chain.local import CHAINS, LocalChain, find_anvil, start_chain
from bridge.testing.market import (
    AskOutcome,
    BidOutcome,
    JobOutcome,
    LocalMarket,
    MarketSettings,
    RoundOutcome,
    run_cli,
)

__all__ = ["CHAINS", "AskOutcome", "BidOutcome", "JobOutcome", "LocalChain", "LocalMarket",
           "MarketSettings", "RoundOutcome", "find_anvil", "run_cli", "start_chain"]
