"""ProverMarket in FIXEDPRICE mode: the posted price (who, when, how far), what settlement checks.

The test market (conftest): initial price 5 milli per unit, prices posted for even rounds only,
a post moves the price at most ×1.25 either way (2,500 bps).
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from bridge.chain.deploy import Mechanism, deploy_market
from bridge.chain.limits import Limits
from bridge.chain.settlement import JobEntry
from bridge.chain.tester import TesterChain
from tests.contracts.conftest import (
    INITIAL_PRICE,
    PRICE_EVERY,
    Accounts,
    market_config,
)
from tests.contracts.flow import Driver
from tests.contracts.test_market import MILLI, conserved, rejected


def _even_round_ahead(m: Driver) -> int:
    """Move to a round whose successor takes a price post (a multiple of PRICE_EVERY); return
    that successor."""
    r = m.current_round()
    while (r + 1) % PRICE_EVERY:
        r = m.next_round()
    return r + 1


def _price(m: Driver, r: int) -> int:
    return int(m.market.functions.roundPrice(r).call())


def test_the_initial_price_holds_until_a_post_and_a_post_carries_forward(
        fixedprice: Driver, accounts: Accounts) -> None:
    m = fixedprice
    target = _even_round_ahead(m)
    assert _price(m, 0) == _price(m, target + 5) == INITIAL_PRICE
    rc = m.send("postPrice", target, 6 * MILLI, sender=accounts.keeper)
    ev = m.events(rc, "PricePosted")[0]["args"]
    assert (ev["round"], ev["price"], ev["previous"]) == (target, 6 * MILLI, INITIAL_PRICE)
    assert _price(m, target - 1) == INITIAL_PRICE
    assert _price(m, target) == _price(m, target + 1) == _price(m, target + 7) == 6 * MILLI
    # a second post in the same round replaces the first (still bounded by round target − 1)
    m.send("postPrice", target, 4 * MILLI, sender=accounts.keeper)
    assert _price(m, target) == _price(m, target + 3) == 4 * MILLI
    # two rounds later the next post is measured from the carried price
    m.next_round()
    m.next_round()
    nxt = m.current_round() + 1
    assert nxt % PRICE_EVERY == 0
    m.send("postPrice", nxt, 5 * MILLI, sender=accounts.keeper)
    assert [_price(m, x) for x in (target - 1, target, nxt - 1, nxt, nxt + 9)] == [
        INITIAL_PRICE, 4 * MILLI, 4 * MILLI, 5 * MILLI, 5 * MILLI]


def test_round_price_is_the_last_post_at_or_before_the_round(fixedprice: Driver,
                                                             accounts: Accounts) -> None:
    """Five posts (every other round, some skipped); every round's price against a model (the
    contract looks at the last two posts first and binary-searches the rest)."""
    m = fixedprice
    posts: dict[int, int] = {}
    price = INITIAL_PRICE
    for k in range(7):
        target = _even_round_ahead(m)
        if k != 3:  # one due round without a post: the price carries
            price = price * 12_000 // 10_000 if k % 2 == 0 else price * 9_000 // 10_000
            m.send("postPrice", target, price, sender=accounts.keeper)
            posts[target] = price
        m.next_round()
    last = m.current_round() + 3

    def model(r: int) -> int:
        at = [x for x in posts if x <= r]
        return posts[max(at)] if at else INITIAL_PRICE

    assert [_price(m, r) for r in range(last)] == [model(r) for r in range(last)]
    assert len(set(posts.values())) == len(posts) == 6


def test_only_the_rounds_keeper_posts_one_round_ahead_on_due_rounds(
        fixedprice: Driver, accounts: Accounts) -> None:
    m = fixedprice
    target = _even_round_ahead(m)
    cur = target - 1
    with rejected("NotKeeper"):
        m.send("postPrice", target, INITIAL_PRICE, sender=accounts.owner)
    with rejected("PriceTooLate"):  # the current round's price is fixed: it has opened
        m.send("postPrice", cur, INITIAL_PRICE, sender=accounts.keeper)
    with rejected("PriceTooEarly"):
        m.send("postPrice", target + PRICE_EVERY, INITIAL_PRICE, sender=accounts.keeper)
    m.next_round()
    with rejected("PriceNotDue"):  # target + 1 is odd
        m.send("postPrice", target + 1, INITIAL_PRICE, sender=accounts.keeper)
    with rejected("PriceTooLate"):  # target opened before its price was posted: it carries
        m.send("postPrice", target, INITIAL_PRICE, sender=accounts.keeper)


def test_a_post_moves_the_price_at_most_one_step_each_way(fixedprice: Driver,
                                                          accounts: Accounts) -> None:
    m = fixedprice
    target = _even_round_ahead(m)
    p = INITIAL_PRICE
    hi = p * 12_500 // 10_000
    lo = -(-p * 10_000 // 12_500)
    for bad in (hi + 1, lo - 1, 0):
        with rejected("PriceStepTooLarge"):
            m.send("postPrice", target, bad, sender=accounts.keeper)
    m.send("postPrice", target, hi, sender=accounts.keeper)
    assert _price(m, target) == hi
    m.send("postPrice", target, lo, sender=accounts.keeper)
    assert _price(m, target) == lo


def test_post_price_is_refused_on_other_mechanisms(dara: Driver, accounts: Accounts) -> None:
    with rejected("PriceNotUsed"):
        dara.send("postPrice", dara.current_round() + 1, 1, sender=accounts.keeper)
    assert int(dara.market.functions.roundPrice(0).call()) == 0


@pytest.mark.parametrize("field, value", [("initial_price", 0), ("initial_price", 2**128),
                                          ("price_window", 0), ("price_window", 1025),
                                          ("price_every", 0), ("price_every", 1025),
                                          ("price_step_bps", 0), ("price_step_bps", 1_000_001)])
def test_a_fixedprice_market_needs_its_price_parameters(
        chain: TesterChain, accounts: Accounts, pow_verifier: object, field: str,
        value: int) -> None:
    cfg = replace(market_config(accounts, pow_verifier.address,  # type: ignore[attr-defined]
                                Mechanism.FIXEDPRICE), **{field: value})
    with pytest.raises(Exception, match="InvalidConfig"):
        deploy_market(chain.w3, cfg, accounts.owner)


def test_the_largest_parameters_deploy_and_a_price_stays_below_2_to_the_128(
        chain: TesterChain, accounts: Accounts, pow_verifier: object) -> None:
    top = 2**128 - 1
    cfg = replace(market_config(accounts, pow_verifier.address,  # type: ignore[attr-defined]
                                Mechanism.FIXEDPRICE),
                  initial_price=top, price_window=1024, price_every=1, price_step_bps=1_000_000)
    m = Driver(chain, deploy_market(chain.w3, cfg, accounts.owner), accounts.keeper,
               accounts.owner)
    assert _price(m, 0) == top
    with rejected("PriceStepTooLarge"):  # within the step (×101), above 2^128 − 1
        m.send("postPrice", m.current_round() + 1, top + 1, sender=accounts.keeper)
    m.send("postPrice", m.current_round() + 1, top, sender=accounts.keeper)
    wide = replace(cfg, price_window=1024, price_every=1024)
    assert deploy_market(chain.w3, wide, accounts.owner).functions.priceEvery().call() == 1024


# ----------------------------------------------------------------------------- settlement


def _round(m: Driver, acc: Accounts) -> int:
    """At 5 milli per unit: bids 10 (size 1), 9 (size 1), 8 (size 2: 4 per unit, not eligible),
    5 milli (size 1: exactly eligible); p1 offers 2 units at 1 milli, p2 1 unit at 5 milli
    (exactly eligible), p3 1 unit at 6 milli (not). Eligible demand 3 units ≤ supply 3: all
    three eligible bids win."""
    m.prover_ready(acc.p1, 2)
    m.prover_ready(acc.p2, 1)
    m.prover_ready(acc.p3, 1)
    r = m.next_round()
    assert _price(m, r) == INITIAL_PRICE == 5 * MILLI
    m.commit_bid(r, acc.r1, 10 * MILLI)
    m.commit_bid(r, acc.r2, 9 * MILLI)
    m.commit_bid(r, acc.r3, 8 * MILLI, size=2)
    m.commit_bid(r, acc.r1, 5 * MILLI)
    m.commit_ask(r, acc.p1, 1 * MILLI)
    m.commit_ask(r, acc.p2, 5 * MILLI)
    m.commit_ask(r, acc.p3, 6 * MILLI)
    m.close(r)
    return r


def test_a_fixedprice_round_settles_at_the_posted_price_and_conserves(
        fixedprice: Driver, accounts: Accounts) -> None:
    m = fixedprice
    r = _round(m, accounts)
    bids, asks, bo, ao, jobs = m.clear(r)
    assert [b.charge for b in bids] == [5 * MILLI, 5 * MILLI, 0, 5 * MILLI]
    assert sorted((j.ask_index, j.payment) for j in jobs) == [
        (0, 5 * MILLI), (0, 5 * MILLI), (1, 5 * MILLI)]
    s = m.settle(r, bids, asks, bo, ao, jobs)
    assert len(s.jobs) == 3
    for k in range(len(s.jobs)):
        m.prove(s, k)
    conserved(m, accounts)


def test_each_fixedprice_check_refuses_a_settlement_that_breaks_it(
        fixedprice: Driver, accounts: Accounts) -> None:
    m = fixedprice
    r = _round(m, accounts)
    bids, asks, bo, ao, jobs = m.clear(r)
    p = 5 * MILLI
    # bid 2 (8 milli for 2 units) is below 5 milli per unit: it may not win, even paying its
    # value (a winner pays at least price × size, at most its value: only eligible bids can)
    ineligible = list(bids)
    ineligible[2] = replace(bids[2], charge=8 * MILLI)
    with rejected("ChargeBelowPrice"):
        m.settle(r, ineligible, asks, bo, ao,
                 [*jobs, JobEntry(2, 2, 1, 1 * MILLI), JobEntry(2, 2, 1, 1 * MILLI)])
    # a winner charged one wei below the price
    cheap = list(bids)
    cheap[0] = replace(bids[0], charge=p - 1)
    cheap_jobs = [replace(j, payment=p - 1) if j.bid_index == 0 else j for j in jobs]
    with rejected("ChargeBelowPrice"):
        m.settle(r, cheap, asks, bo, ao, cheap_jobs)
    # a job paid one wei above the price (the charge covers it: budget balance alone passes)
    rich = list(bids)
    rich[0] = replace(bids[0], charge=p + 1)
    rich_jobs = [replace(j, payment=p + 1) if j.bid_index == 0 else j for j in jobs]
    with rejected("PaymentAbovePrice"):
        m.settle(r, rich, asks, bo, ao, rich_jobs)
    # dropping an eligible winner while the eligible demand fits the supply
    dropped = list(bids)
    dropped[3] = replace(bids[3], charge=0)
    with rejected("EligibleDemandUnserved"):
        m.settle(r, dropped, asks, bo, ao, [j for j in jobs if j.bid_index != 3])
    s = m.settle(r, bids, asks, bo, ao, jobs)
    assert len(s.jobs) == 3


def test_a_long_demand_may_leave_eligible_bids_out(fixedprice: Driver,
                                                    accounts: Accounts) -> None:
    """Supply 1 unit, two eligible bids: one wins (the better), the other loses, and the chain
    accepts it because the eligible demand exceeds the eligible supply."""
    m = fixedprice
    m.prover_ready(accounts.p1, 1)
    r = m.next_round()
    m.commit_bid(r, accounts.r1, 7 * MILLI)
    m.commit_bid(r, accounts.r2, 9 * MILLI)
    m.commit_ask(r, accounts.p1, 2 * MILLI)
    m.close(r)
    bids, asks, bo, ao, jobs = m.clear(r)
    assert [b.charge for b in bids] == [0, 7 * MILLI + 1]  # threshold: beat the other bid's tie
    assert [j.payment for j in jobs] == [5 * MILLI]  # min(price, threshold: none) = price
    m.settle(r, bids, asks, bo, ao, jobs)
    conserved(m, accounts)


def test_fixedprice_pages_and_voids_like_the_other_mechanisms(fixedprice: Driver,
                                                              accounts: Accounts) -> None:
    m = fixedprice
    m.prover_ready(accounts.p1, 3)
    r = m.next_round()
    for who, value in ((accounts.r1, 9), (accounts.r2, 8), (accounts.r3, 7), (accounts.r1, 2),
                       (accounts.r2, 6)):
        m.commit_bid(r, who, value * MILLI)
    m.commit_ask(r, accounts.p1, 1 * MILLI)
    m.close(r)
    bids, asks, bo, ao, jobs = m.clear(r)
    # checkpoint interval 2: three pages; send two, then let the deadline pass and void
    s = m.settle(r, bids, asks, bo, ao, jobs, pages=2, limits=Limits(max_page_bids=2))
    assert len(s.receipts) == 3
    before = {a: m.balance(a) for a in (accounts.r1, accounts.r2, accounts.r3)}
    m.past_settle_deadline(r)
    m.void(r, accounts.anyone, settled=s)
    escrow = {accounts.r1: 11 * MILLI, accounts.r2: 14 * MILLI, accounts.r3: 7 * MILLI}
    refunded = {a: m.balance(a) - before[a] for a in before}
    settled_refunds = {a: sum(b.escrow - b.charge for b in bids[:4] if b.requester == a)
                       for a in before}
    assert {a: refunded[a] + settled_refunds[a] for a in before} == escrow
    assert int(m.market.functions.roundInfo(r).call()[7]) == 2  # VOIDED
    conserved(m, accounts)
    # and a round settled in full pages through to the end
    r2 = m.next_round()
    for who, value in ((accounts.r1, 9), (accounts.r2, 8), (accounts.r3, 7)):
        m.commit_bid(r2, who, value * MILLI)
    m.commit_ask(r2, accounts.p1, 1 * MILLI)
    m.close(r2)
    s2 = m.settle(r2, *m.clear(r2), limits=Limits(max_page_bids=2))
    assert len(s2.receipts) == 3 and len(s2.jobs) == 3
    conserved(m, accounts)
