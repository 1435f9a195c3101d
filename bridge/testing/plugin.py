"""The ``bridge`` pytest plugin: a local market in a fixture.

Installed with the package (entry point ``pytest11``), so any test suite can use:

- ``bridge_chain`` — a fresh :class:`~bridge.testing.LocalChain` per test: eth-tester in process
  by default, anvil with ``--bridge-chain anvil`` (or ``BRIDGE_TEST_CHAIN=anvil``), or for one
  test with ``@pytest.mark.bridge_chain("anvil")``;
- ``bridge_market_settings`` — the :class:`~bridge.testing.MarketSettings` a market is deployed
  with (override the fixture in a ``conftest.py``; the ``bridge_market(**fields)`` marker
  overrides single fields per test, e.g. ``@pytest.mark.bridge_market(mechanism="dara")``);
- ``bridge_market`` — a deployed :class:`~bridge.testing.LocalMarket` with its keeper;
- ``bridge_keeper`` — that market's in-process keeper (``run_until_idle()`` steps it;
  ``bridge_market.keeper_running()`` lets it run on its own thread);
- ``bridge_prover`` / ``bridge_requester`` — factories of funded, staked/deposited participants.

Nothing heavy is imported until a fixture is used, so the plugin costs nothing to other suites.

The fixtures are made on the test's thread; what they return may then be used from as many
threads as the application under test runs: every public method of ``bridge_chain`` and
``bridge_market`` (hence the ``bridge_prover``/``bridge_requester`` factories) and of the
participants they make is thread-safe. Funding and key derivation are serialised, time moves,
snapshots and reverts happen one at a time and never in the middle of a participant's send, and
a commit racing ``next_round`` lands in one round or the next, its record saying which
(:mod:`bridge.chain.local`, :mod:`bridge.sim.market` and :mod:`bridge.testing.market` say exactly
what holds which lock).
The in-process keeper is stepped by one thread at a time.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from bridge.client.participant import Participant
    from bridge.keeper.daemon import Keeper
    from bridge.testing import LocalChain, LocalMarket, MarketSettings

CHAIN_CHOICES = ("eth-tester", "anvil")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("bridge", "bridge prover market (local chain and market fixtures)")
    group.addoption("--bridge-chain", choices=CHAIN_CHOICES,
                    default=os.environ.get("BRIDGE_TEST_CHAIN", "eth-tester"),
                    help="chain behind the bridge_chain fixture: eth-tester (in process, "
                         "default) or anvil (a node; needs the anvil binary); env "
                         "BRIDGE_TEST_CHAIN")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "bridge_market(**fields): deploy this test's market with these "
                   "MarketSettings fields (mechanism, proofs, commit_period, refund_cap, …)")
    config.addinivalue_line(
        "markers", "bridge_chain(kind): run this test on this chain (eth-tester or anvil), "
                   "whatever --bridge-chain says")


def pytest_report_header(config: pytest.Config) -> str:
    return f"bridge: chain {config.getoption('bridge_chain')}"


@pytest.fixture
def bridge_chain(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LocalChain]:
    """A fresh local chain (see the module docstring); stopped after the test."""
    from bridge.testing import find_anvil, start_chain

    marker = request.node.get_closest_marker("bridge_chain")
    kind = marker.args[0] if marker and marker.args else request.config.getoption("bridge_chain")
    if kind not in CHAIN_CHOICES:
        raise pytest.UsageError(f"bridge_chain({kind!r}): use one of {', '.join(CHAIN_CHOICES)}")
    if kind == "anvil":
        # Asked for by name (the default is eth-tester): a missing node fails the test, never
        # skips it, so a suite meant to run on anvil cannot pass without having run there.
        named = os.environ.get("BRIDGE_ANVIL")
        if named and not os.access(named, os.X_OK):
            pytest.fail(f"BRIDGE_ANVIL={named} is not an executable anvil: fix the path, or "
                        "unset it to use node_modules/.bin/anvil", pytrace=False)
        if find_anvil() is None:
            pytest.fail("anvil was asked for (--bridge-chain anvil, BRIDGE_TEST_CHAIN or the "
                        "bridge_chain marker) but is not installed: `npm install "
                        "@foundry-rs/anvil-linux-amd64`, or set BRIDGE_ANVIL to its path",
                        pytrace=False)
    chain = start_chain(kind, tmp_path)
    yield chain
    chain.stop()


@pytest.fixture
def bridge_market_settings() -> MarketSettings:
    """The market parameters (defaults; override this fixture in a conftest for a suite)."""
    from bridge.testing import MarketSettings

    return MarketSettings()


@pytest.fixture
def bridge_market(request: pytest.FixtureRequest, bridge_chain: LocalChain, tmp_path: Path,
                  bridge_market_settings: MarketSettings) -> Iterator[LocalMarket]:
    """A market deployed on ``bridge_chain`` with its in-process keeper."""
    from bridge.testing import LocalMarket

    settings = bridge_market_settings
    marker = request.node.get_closest_marker("bridge_market")
    if marker is not None:
        known = {f.name for f in dataclasses.fields(settings)}
        unknown = sorted(set(marker.kwargs) - known)
        if unknown or marker.args:
            raise pytest.UsageError(
                f"bridge_market marker: unknown field(s) {', '.join(unknown) or marker.args}; "
                f"pass keyword arguments among {', '.join(sorted(known))}")
        settings = dataclasses.replace(settings, **marker.kwargs)
    market = LocalMarket(bridge_chain, tmp_path / "bridge-market", settings)
    yield market
    market.keeper.stop()


@pytest.fixture
def bridge_keeper(bridge_market: LocalMarket) -> Keeper:
    """The market's in-process keeper (step it with ``run_until_idle()``)."""
    return bridge_market.keeper


@pytest.fixture
def bridge_prover(bridge_market: LocalMarket) -> Callable[..., Participant]:
    """``bridge_prover(capacity=1, stake=None, key=None)`` → a funded, staked prover."""
    return bridge_market.prover


@pytest.fixture
def bridge_requester(bridge_market: LocalMarket) -> Callable[..., Participant]:
    """``bridge_requester(deposit=10**18, key=None)`` → a funded requester with a deposit."""
    return bridge_market.requester
