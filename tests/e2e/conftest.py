"""Fixtures for the end-to-end tests: a simulated market world on the plugin's chain.

- ``make_world(mechanism, **overrides)``: a :class:`bridge.sim.world.World` — the plugin's
  market (:class:`bridge.sim.market.LocalMarket`: proof-of-work verifier, market, the real keeper
  with SQLite in the test's tmp dir) on the ``bridge_chain`` fixture (eth-tester unless
  ``--bridge-chain anvil``) plus simulated participants, already staked/deposited. Small
  populations keep eth-tester (~50 ms per transaction) fast.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bridge.sim.world import SimConfig, World
from bridge.testing import LocalChain, run_cli

WorldFactory = Callable[..., World]


@pytest.fixture
def make_world(tmp_path: Path, bridge_chain: LocalChain) -> WorldFactory:
    def factory(mechanism: str = "proofphi", **overrides: Any) -> World:
        cfg = SimConfig(mechanism=mechanism, **{"provers": 3, "requesters": 4, **overrides})
        world = World(bridge_chain, cfg, tmp_path)
        world.setup_participants()
        return world

    return factory


def cleared(world: World, r: int) -> tuple[Any, dict[str, Any]]:
    """Close round ``r`` and step the keeper to ``cleared`` without sending anything; returns the
    keeper's chain view and its stored outcome (to tamper with, as a cheating keeper would)."""
    from bridge.keeper.store import Phase

    keeper = world.keeper
    assert keeper.pipeline is not None
    world.travel_to(world.market.params.closes_at(r) + 1)
    keeper.read_logs()
    view = keeper.view()
    while keeper.store.round_phase(r) is not Phase.CLEARED:
        keeper.pipeline.step(r, view)
    outcome = keeper.store.outcome(r)
    assert outcome is not None
    return view, outcome


def cli(world: World, *args: str, key: bytes | None = None, from_block: bool = True) -> Any:
    """Run ``bridge ARGS`` in process against ``world``'s market (``key``: the participant's, as
    ``BRIDGE_PRIVATE_KEY``); see :func:`bridge.testing.run_cli`."""
    return run_cli(world.local, *args, key=key, from_block=from_block)
