"""Halting a round costs more than it can gain (docs/design/contract.md, "Griefing").

A market with small caps (8 bids, 4 asks) and ``fillCost`` 1 ether: orders below a quarter of a
side's cap pay nothing; the k-th order past the quarter burns ``⌈fillCost · k² / S⌉``
(``S = Σ k²`` over the ``M = cap − ⌊cap/4⌋`` paying orders), so filling a side burns at least
``fillCost``; a bid pays from its free balance, an ask from its prover's collateral; the fees stay
in the market (``burned``, part of ``nonFree``). Invalid orders forfeit ``minEscrow`` to the keeper.
"""

from __future__ import annotations

import os
from dataclasses import replace

import pytest

from bridge.chain.deploy import Mechanism, deploy_market
from bridge.chain.tester import TesterChain
from tests.contracts.conftest import (
    DIFFICULTY_BITS,
    MIN_ESCROW,
    REFUND_CAP,
    Accounts,
    market_config,
)
from tests.contracts.flow import CIPHERTEXT, Driver
from tests.contracts.test_guards import reverts
from tests.contracts.test_market import MILLI, conserved

ETHER = 10**18
FILL_COST = ETHER
BIDS, ASKS = 8, 4


def fee(cap: int, position: int) -> int:
    """The specification: 0 below a quarter, then ⌈fillCost · k² / S⌉."""
    free = cap // 4
    if position < free:
        return 0
    m, k = cap - free, position - free + 1
    s = m * (m + 1) * (2 * m + 1) // 6
    return -(-FILL_COST * k * k // s)


@pytest.fixture
def small(chain: TesterChain, accounts: Accounts, pow_verifier: object) -> Driver:
    cfg = replace(market_config(accounts, pow_verifier.address,  # type: ignore[attr-defined]
                                Mechanism.DARA),
                  fill_cost=FILL_COST, max_bids_per_round=BIDS, max_asks_per_round=ASKS)
    return Driver(chain, deploy_market(chain.w3, cfg, accounts.owner), accounts.keeper,
                  accounts.owner, DIFFICULTY_BITS)


def test_the_fee_is_zero_below_a_quarter_then_rises_and_a_full_side_burns_at_least_fill_cost(
        small: Driver) -> None:
    f = small.market.functions
    for side, cap in ((0, BIDS), (1, ASKS)):
        got = [f.congestionFee(side, p).call() for p in range(cap)]
        assert got == [fee(cap, p) for p in range(cap)]
        quarter = cap // 4
        assert got[:quarter] == [0] * quarter and got[quarter] > 0  # the boundary exactly
        assert all(a < b for a, b in zip(got[quarter:], got[quarter + 1:], strict=False))
        # the ceilings add at most one wei per paying order
        assert FILL_COST <= sum(got) < FILL_COST + cap
    # the production caps: the figures docs/design/contract.md quotes
    assert fee(8192, 2047) == 0 and fee(8192, 2048) > 0


def test_a_bid_past_the_quarter_burns_its_fee_from_the_free_balance(
        small: Driver, accounts: Accounts) -> None:
    m = small
    f = m.market.functions
    r = m.next_round()
    q = accounts.r1
    m.send("deposit", sender=q, value=ETHER)
    for _ in range(2):  # a quarter of 8: free
        m.commit_bid(r, q, MIN_ESCROW, deposit=False)
    assert f.burned().call() == 0
    assert m.balance(q) == ETHER - 2 * MIN_ESCROW
    # the third pays fee(8, 2); with one wei less than escrow + fee it is refused
    due = fee(BIDS, 2)
    poor = accounts.r2
    m.send("deposit", sender=poor, value=MIN_ESCROW + due - 1)
    with reverts("InsufficientBalance", account=poor, available=MIN_ESCROW + due - 1,
                 required=MIN_ESCROW + due):
        m.send("commitBid", r, os.urandom(32), CIPHERTEXT, MIN_ESCROW, os.urandom(32),
               sender=poor)
    m.send("deposit", sender=poor, value=1)
    m.commit_bid(r, poor, MIN_ESCROW, deposit=False)
    (ev,) = m.market.events.CongestionFeeBurned().get_logs(from_block=0)
    assert (ev["args"]["round"], ev["args"]["payer"], ev["args"]["side"], ev["args"]["fee"]) == (
        r, poor, 0, due)
    assert m.balance(poor) == 0
    assert f.burned().call() == due
    nonfree, _ = m.liabilities()
    assert nonfree == 3 * MIN_ESCROW + due  # the fee stays held: no one can withdraw it
    # fill the side: every fee burned, the round full
    for _ in range(3, BIDS):
        m.commit_bid(r, q, MIN_ESCROW, deposit=False)
    assert f.burned().call() == sum(fee(BIDS, p) for p in range(BIDS)) >= FILL_COST
    with reverts("RoundFull", round=r, side=0, cap=BIDS):
        m.send("commitBid", r, os.urandom(32), CIPHERTEXT, MIN_ESCROW, os.urandom(32), sender=q)
    conserved(m, accounts)
    # the round voids (nobody settles it): every escrow comes back, the fees do not
    m.past_settle_deadline(r)
    m.void(r, accounts.anyone)
    assert m.balance(q) == ETHER - sum(fee(BIDS, p) for p in range(3, BIDS))
    assert m.liabilities()[0] == f.burned().call()
    conserved(m, accounts)


def test_an_ask_past_the_quarter_pays_its_fee_from_collateral_above_its_reservation(
        small: Driver, accounts: Accounts) -> None:
    m = small
    f = m.market.functions
    r = m.next_round()
    m.prover_ready(accounts.p1, 1)  # the first ask (a quarter of 4): free
    m.commit_ask(r, accounts.p1, MILLI)
    due = fee(ASKS, 1)
    p = accounts.p2
    m.prover_ready(p, 1, extra=due - 1)
    with reverts("InsufficientCollateral", prover=p, collateral=REFUND_CAP + MIN_ESCROW + due - 1,
                 required=REFUND_CAP + MIN_ESCROW + due):
        m.send("commitAsk", r, os.urandom(32), CIPHERTEXT, sender=p)
    m.send("stake", sender=p, value=1)
    rc = m.send("commitAsk", r, os.urandom(32), CIPHERTEXT, sender=p)
    (ev,) = m.events(rc, "CongestionFeeBurned")
    assert (ev["args"]["side"], ev["args"]["fee"]) == (1, due)
    assert m.collateral(p) == REFUND_CAP + MIN_ESCROW  # what the ask reserves stays
    assert f.burned().call() == due
    conserved(m, accounts)


def test_invalid_orders_forfeit_min_escrow_to_the_keeper_that_settles_them(
        dara: Driver, accounts: Accounts) -> None:
    m = dara
    m.prover_ready(accounts.p1, 1)
    m.prover_ready(accounts.p2, 1)
    r = m.next_round()
    m.commit_bid(r, accounts.r1, 5 * MILLI)
    m.commit_bid(r, accounts.r2, 4 * MILLI)
    m.commit_ask(r, accounts.p1, MILLI)
    m.commit_ask(r, accounts.p2, MILLI)
    before = {a: m.balance(a) for a in (accounts.r1, accounts.r2, accounts.keeper)}
    collateral = {a: m.collateral(a) for a in (accounts.p1, accounts.p2)}
    s = m.clear_and_settle(r, invalid_bids=[1], invalid_asks=[1])
    begun, page = s.receipts[0], s.receipts[-1]
    (ask_forfeit,) = m.events(begun, "InvalidForfeited")
    assert (ask_forfeit["args"]["keeper"], ask_forfeit["args"]["orders"],
            ask_forfeit["args"]["amount"]) == (accounts.keeper, 1, MIN_ESCROW)
    (bid_forfeit,) = m.events(page, "InvalidForfeited")
    assert (bid_forfeit["args"]["orders"], bid_forfeit["args"]["amount"]) == (1, MIN_ESCROW)
    assert m.balance(accounts.r2) == before[accounts.r2] + 4 * MILLI - MIN_ESCROW
    assert m.balance(accounts.keeper) == before[accounts.keeper] + 2 * MIN_ESCROW
    assert m.collateral(accounts.p2) == collateral[accounts.p2] - MIN_ESCROW
    assert m.collateral(accounts.p1) == collateral[accounts.p1]  # valid: nothing forfeited
    conserved(m, accounts)


def test_the_market_serves_its_configuration_views_through_its_module_and_nothing_else(
        small: Driver, accounts: Accounts) -> None:
    """The views live in the module (out of the market's dispatch, which every commit walks);
    the market's fallback delegates, so they answer on the market with its own values. Unknown
    selectors and plain ETH transfers revert: nothing reaches the module that is not a view."""
    f = small.market.functions
    assert (f.maxBidsPerRound().call(), f.maxAsksPerRound().call(), f.fillCost().call(),
            f.minEscrow().call(), f.refundCap().call()) == (BIDS, ASKS, FILL_COST, MIN_ESCROW,
                                                            REFUND_CAP)
    assert f.congestionFee(0, 1).call() == 0 and f.burned().call() == 0
    w3 = small.chain.w3
    module = f.settlementModule().call()
    assert module != small.market.address
    for data, value in ((b"\xde\xad\xbe\xef", 0), (b"", 1), (b"", 0)):
        with pytest.raises(Exception):  # noqa: B017 (a revert without data: any error)
            w3.eth.call({"from": accounts.anyone, "to": small.market.address, "data": data,
                         "value": value})
