"""Test a system built on the market against a local chain: the pieces behind the pytest plugin.

The plugin (:mod:`bridge.testing.plugin`, registered as a ``pytest11`` entry point, so installing
the package is enough) offers fixtures built from these; they also work without pytest:

- :func:`start_chain` / :class:`LocalChain`: eth-tester in process or an anvil node, with time
  control (``travel_to``), snapshots and a JSON-RPC URL for other processes;
- :class:`LocalMarket`: a deployed market (:class:`MarketSettings`), the real keeper in process,
  funded provers and requesters, phase helpers and :class:`RoundOutcome` as plain data.
"""

from bridge.chain.local import CHAINS, LocalChain, find_anvil, start_chain
from bridge.sim.market import (
    AskOutcome,
    BidOutcome,
    JobOutcome,
    LocalMarket,
    MarketSettings,
    RoundOutcome,
)

__all__ = ["CHAINS", "AskOutcome", "BidOutcome", "JobOutcome", "LocalChain", "LocalMarket",
           "MarketSettings", "RoundOutcome", "find_anvil", "start_chain"]
