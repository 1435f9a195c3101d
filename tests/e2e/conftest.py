"""Fixtures for the end-to-end tests: a simulated market world on a fresh eth-tester chain.

- ``make_world(mechanism, **overrides)``: deploys a proof-of-work verifier and a market from the
  committed artifacts, funds a keeper (the real :class:`bridge.keeper.daemon.Keeper`, SQLite in
  the test's tmp dir) and simulated participants (:mod:`bridge.sim.world`), with participants
  already staked/deposited. Small populations keep eth-tester (~50 ms per transaction) fast.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bridge.chain.tester import make_tester_chain
from bridge.sim.world import SimConfig, World

WorldFactory = Callable[..., World]


@pytest.fixture
def make_world(tmp_path: Path) -> WorldFactory:
    def factory(mechanism: str = "proofphi", **overrides: Any) -> World:
        chain = make_tester_chain(accounts=2)
        cfg = SimConfig(mechanism=mechanism, **{"provers": 3, "requesters": 4, **overrides})
        world = World(chain.w3, chain.accounts[0], cfg, tmp_path, travel=chain.travel_to)
        world.tester_chain = chain  # type: ignore[attr-defined]  # for CLI tests on this chain
        world.setup_participants()
        return world

    return factory
