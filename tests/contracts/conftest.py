"""Fixtures for the contract tests (eth-tester, py-evm Prague).

- ``chain``: one in-process chain per test session (``bridge.chain.tester.TesterChain``) with ten
  funded accounts; every test runs inside a snapshot that is reverted afterwards, so tests are
  independent and cheap.
- ``accounts``: named roles: ``owner``, ``keeper``, requesters ``r1..r3``, provers ``p1..p3``,
  and ``anyone``.
- ``pow_verifier``: ``ProofOfWorkVerifier(8)`` (≈256 hashes per proof).
- ``proofphi`` / ``dara`` / ``fixedprice``: a :class:`tests.contracts.flow.Driver` over a market
  of that mechanism (commit/settle/proof periods 100 s, refundCap 1e15 wei/unit, capacity every 2
  rounds at most 2-fold; fixedprice: initial price 5e15 wei/unit, prices every 2 rounds, steps of at
  most ×1.25).
- Time travel: ``Driver.next_round()``, ``close(r)``, ``past_settle_deadline(r)``,
  ``past_proof_deadline(settled)``, or ``chain.travel_to(ts)`` / ``chain.advance(s)``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from coincurve import PrivateKey
from web3.contract import Contract

from bridge.chain.deploy import MarketConfig, Mechanism, deploy, deploy_market
from bridge.chain.tester import TesterChain, make_tester_chain
from tests.contracts.flow import Driver
from tests.contracts.posted_price import PP, deploy_pp_market

KEEPER_SECRET = bytes.fromhex("11" * 32)
KEEPER_PUBKEY = PrivateKey(KEEPER_SECRET).public_key.format(compressed=False)[1:]
PERIOD = 100
REFUND_CAP = 10**15
DIFFICULTY_BITS = 8


@dataclass(frozen=True)
class Accounts:
    """Named test accounts."""

    owner: str
    keeper: str
    r1: str
    r2: str
    r3: str
    p1: str
    p2: str
    p3: str
    anyone: str


@dataclass
class Deployed:
    """Contracts deployed once per session."""

    pow_verifier: Contract
    proofphi: Contract
    dara: Contract
    fixedprice: Contract


MIN_ESCROW = 1_000
MAX_BIDS = 40
MAX_ASKS = 8
INITIAL_PRICE = 5 * 10**15
PRICE_EVERY = 2
PRICE_STEP_BPS = 2_500


def market_config(acc: Accounts, verifier: str, mechanism: Mechanism) -> MarketConfig:
    """The test markets' parameters."""
    return MarketConfig(
        owner=acc.owner, keeper=acc.keeper, keeper_public_key=KEEPER_PUBKEY, verifier=verifier,
        mechanism=mechanism, commit_period=PERIOD, settle_period=PERIOD, proof_period=PERIOD,
        refund_cap=REFUND_CAP, capacity_interval=2, capacity_factor=2, min_escrow=MIN_ESCROW,
        max_bids_per_round=MAX_BIDS, max_asks_per_round=MAX_ASKS, checkpoint_interval=2,
        initial_price=INITIAL_PRICE if mechanism == Mechanism.FIXEDPRICE else 0,
        price_window=8, price_every=PRICE_EVERY, price_step_bps=PRICE_STEP_BPS,
    )


AHEAD_OF_THE_CLOCK = 30 * 86_400
"""Seconds the session chain starts ahead of the wall clock (see :func:`_session_chain`)."""


@pytest.fixture(scope="session")
def _session_chain() -> TesterChain:
    """One chain for the session, each test reverting to where it began.

    py-evm stamps a new block ``max(wall clock, parent + 1)``. A test that starts from a snapshot
    taken minutes ago would see its first block jump to the wall clock, past the round it just
    moved into (a flake that grows with the machine's load). Started a month ahead of the clock,
    the chain only moves by its own blocks and by the tests' time travel: block times are the
    same on an idle and on a loaded machine."""
    chain = make_tester_chain(accounts=10)
    chain.travel_to(int(time.time()) + AHEAD_OF_THE_CLOCK)
    return chain


@pytest.fixture(scope="session")
def accounts(_session_chain: TesterChain) -> Accounts:
    a = _session_chain.accounts
    return Accounts(a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8])


@pytest.fixture(scope="session")
def _deployed(_session_chain: TesterChain, accounts: Accounts) -> Deployed:
    w3 = _session_chain.w3
    pow_verifier = deploy(w3, "ProofOfWorkVerifier", DIFFICULTY_BITS, sender=accounts.owner)
    proofphi = deploy_market(
        w3, market_config(accounts, pow_verifier.address, Mechanism.PROOFPHI), accounts.owner)
    dara = deploy_market(
        w3, market_config(accounts, pow_verifier.address, Mechanism.DARA), accounts.owner)
    fixedprice = deploy_market(
        w3, market_config(accounts, pow_verifier.address, Mechanism.FIXEDPRICE), accounts.owner)
    return Deployed(pow_verifier, proofphi, dara, fixedprice)


@pytest.fixture
def chain(_session_chain: TesterChain, _deployed: Deployed) -> Iterator[TesterChain]:
    snap = _session_chain.snapshot()
    yield _session_chain
    _session_chain.revert(snap)


@pytest.fixture
def pow_verifier(_deployed: Deployed) -> Contract:
    return _deployed.pow_verifier


@pytest.fixture
def proofphi(chain: TesterChain, _deployed: Deployed, accounts: Accounts) -> Driver:
    return Driver(chain, _deployed.proofphi, accounts.keeper, accounts.owner, DIFFICULTY_BITS)


@pytest.fixture
def fixedprice(chain: TesterChain, _deployed: Deployed, accounts: Accounts) -> Driver:
    return Driver(chain, _deployed.fixedprice, accounts.keeper, accounts.owner, DIFFICULTY_BITS)


@pytest.fixture
def dara(chain: TesterChain, _deployed: Deployed, accounts: Accounts) -> Driver:
    return Driver(chain, _deployed.dara, accounts.keeper, accounts.owner, DIFFICULTY_BITS)


@pytest.fixture(scope="module")
def _pp_market(_session_chain: TesterChain, accounts: Accounts) -> Contract:
    return deploy_pp_market(_session_chain.w3, accounts)


@pytest.fixture
def pp(_session_chain: TesterChain, _pp_market: Contract, accounts: Accounts) -> Iterator[PP]:
    """The posted-price test market (:mod:`tests.contracts.posted_price`), reverted after."""
    snap = _session_chain.snapshot()
    yield PP(_session_chain, _pp_market, accounts)
    _session_chain.revert(snap)
