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
    """Run ``bridge ARGS --rpc eth-tester --market … [--from-block …]`` on ``world``'s chain
    (``key``: the participant's, as ``BRIDGE_PRIVATE_KEY``)."""
    from typer.testing import CliRunner

    from bridge.chain.connect import use_embedded
    from bridge.cli import app

    env = {"BRIDGE_PRIVATE_KEY": "0x" + key.hex()} if key is not None else {}
    previous = use_embedded(world.tester_chain)  # type: ignore[attr-defined]
    try:
        extra = ["--from-block", str(world.deploy_block)] if from_block else []
        return CliRunner().invoke(app, [*args, "--rpc", "eth-tester", "--market",
                                        world.market.address, *extra], env=env)
    finally:
        use_embedded(previous)
