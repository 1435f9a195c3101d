"""The fixed-price mechanism: allocation, threshold payments, truthfulness, audit, price rule.

Reference answers come from a literal re-implementation (``ref_allocation``) and brute-force
searches over integer reports, never from the library's own helpers.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Sequence
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bridge.errors import AuditError, InvalidInput
from bridge.mechanisms import (
    DEFAULT_RULE,
    MECHANISMS,
    Ask,
    Bid,
    Outcome,
    PriceRule,
    ask_rank_key,
    audit,
    bid_rank_key,
    charge_shares,
    clear,
    clear_fixedprice,
    history_window,
    learn_price,
    price_for_round,
    step_bounds,
    welfare_steps,
)
from bridge.mechanisms.audit import CHECKS

# --------------------------------------------------------------------------------------------
# References
# --------------------------------------------------------------------------------------------


def ref_allocation(
    bids: Sequence[Bid], asks: Sequence[Ask], price: int
) -> tuple[list[int], dict[int, int]]:
    """Winners in bid rank order and ask id -> units sold, straight from the definition."""
    eligible = [b for b in sorted(bids, key=bid_rank_key) if b.value >= price * b.size]
    sellers = [a for a in sorted(asks, key=ask_rank_key) if a.cost <= price]
    left = sum(a.capacity for a in sellers)
    winners = []
    for b in eligible:
        if b.size <= left:
            winners.append(b.id)
            left -= b.size
    units = sum(b.size for b in bids if b.id in winners)
    sold: dict[int, int] = {}
    for a in sellers:
        take = min(units, a.capacity)
        if take:
            sold[a.id] = take
            units -= take
    return winners, sold


def with_value(bids: Sequence[Bid], who: Bid, value: int) -> list[Bid]:
    return [dataclasses.replace(b, value=value) if b.id == who.id else b for b in bids]


def with_cost(asks: Sequence[Ask], who: Ask, cost: int) -> list[Ask]:
    return [dataclasses.replace(a, cost=cost) if a.id == who.id else a for a in asks]


def welfare(bids: Sequence[Bid], asks: Sequence[Ask], out: Outcome) -> int:
    value = {b.id: b.value for b in bids}
    cost = {a.id: a.cost for a in asks}
    return sum(value[i] for i in out.charges) - sum(
        cost[a] * u for a, u in out.units_sold().items()
    )


def bid_utility(out: Outcome, bid: Bid) -> int:
    return bid.value - out.charges[bid.id] if bid.id in out.charges else 0


def ask_utility(out: Outcome, ask: Ask) -> int:
    return sum(p - ask.cost for p in out.unit_payments.get(ask.id, ()))


@st.composite
def markets(draw: Any, max_bids: int = 6, max_asks: int = 4) -> tuple[list[Bid], list[Ask], int]:
    """Small random markets with colliding per-unit values, costs and shuffled ids."""
    price = draw(st.integers(1, 10))
    n = draw(st.integers(0, max_bids))
    m = draw(st.integers(0, max_asks))
    bid_ids = draw(st.permutations(range(n)))
    ask_ids = draw(st.permutations(range(100, 100 + m)))
    bids = []
    for i in bid_ids:
        size = draw(st.integers(1, 4))
        bids.append(Bid(i, draw(st.integers(0, 20 * size)), size))
    asks = [Ask(j, draw(st.integers(0, 12)), draw(st.integers(1, 4))) for j in ask_ids]
    return bids, asks, price


# --------------------------------------------------------------------------------------------
# Allocation
# --------------------------------------------------------------------------------------------


def test_bid_is_eligible_exactly_at_price_times_size() -> None:
    asks = [Ask(10, 1, 5)]
    out = clear("fixedprice", [Bid(1, 21, 3)], asks, price=7)
    assert out.charges == {1: 21} and out.assignment == {1: {10: 3}}
    assert out.unit_payments == {10: (7, 7, 7)} and out.price == 7
    none = clear("fixedprice", [Bid(1, 20, 3)], asks, price=7)
    assert not none.traded and none == Outcome(mechanism="fixedprice", price=7)


def test_ask_is_eligible_exactly_at_cost_equal_to_price() -> None:
    bids = [Bid(1, 50, 2)]
    out = clear("fixedprice", bids, [Ask(10, 7, 2)], price=7)
    assert out.payouts == {10: 14} and out.charges == {1: 14}
    assert not clear("fixedprice", bids, [Ask(10, 8, 2)], price=7).traded


def test_short_supply_is_rationed_by_rank_with_ties_by_size_then_id() -> None:
    # per-unit value 5 for all; bid 4 has the larger size, so it ranks last; bids 2 and 3 tie on
    # everything but the id
    bids = [Bid(3, 10, 2), Bid(2, 10, 2), Bid(4, 15, 3)]
    out = clear("fixedprice", bids, [Ask(10, 1, 2), Ask(11, 2, 1)], price=4)
    assert out.order == (2,)
    # bid 2 must stay ahead of bid 3 (tie, smaller id wins): value 10 exactly
    assert out.charges == {2: 10}
    assert out.assignment == {2: {10: 2}}
    # ask 10 sells its 1st unit at any cost up to the price, its 2nd only while it ranks ahead
    # of ask 11 (cost 2, id 11 > 10: cost 2 still ranks first)
    assert out.unit_payments == {10: (4, 2)}
    # the same bid with a larger id than its twin would need one more wei
    swapped = clear("fixedprice", [Bid(3, 10, 2), Bid(5, 11, 2)], [Ask(10, 1, 2)], price=4)
    assert swapped.charges == {5: 11}


def test_a_bid_that_does_not_fit_is_skipped_and_the_walk_goes_on() -> None:
    # supply 3: bid 1 (ratio 10) takes 2, bid 2 (ratio 9, size 2) does not fit, bid 3 (ratio 8)
    bids = [Bid(1, 20, 2), Bid(2, 18, 2), Bid(3, 8, 1)]
    asks = [Ask(10, 1, 1), Ask(11, 2, 2)]
    out = clear("fixedprice", bids, asks, price=5)
    assert out.order == (1, 3)
    assert out.assignment == {1: {10: 1, 11: 1}, 3: {11: 1}}
    # bid 1 must stay ahead of bid 2 (ratio 9, size 2, id 2 > 1): 18 exactly
    assert out.charges[1] == 18
    # bid 3 wins as long as it ranks ahead of no one it would block: only the price binds
    assert out.charges[3] == 5
    assert out.unit_payments == {10: (5,), 11: (5, 5)}


def test_when_demand_fits_every_eligible_bid_pays_price_times_size() -> None:
    bids = [Bid(1, 100, 2), Bid(2, 30, 3), Bid(3, 9, 1)]
    out = clear("fixedprice", bids, [Ask(10, 4, 3), Ask(11, 8, 5)], price=9)
    assert set(out.order) == {1, 2, 3}
    assert out.charges == {1: 18, 2: 27, 3: 9}
    # 6 units sold: ask 10's three, then three of ask 11. Behind ask 11 (cost above 8) ask 10
    # would sell 1 unit; ask 11 sells its 3 units ahead of or behind ask 10: the price
    assert out.unit_payments == {10: (9, 8, 8), 11: (9, 9, 9)}
    assert out.margin() == 54 - 52


def test_seller_units_are_paid_up_to_the_cost_that_would_lose_them() -> None:
    # 3 units demanded; ask 10 (cost 2, cap 2) then ask 11 (cost 5, cap 2), price 9
    out = clear("fixedprice", [Bid(1, 90, 3)], [Ask(10, 2, 2), Ask(11, 5, 2)], price=9)
    # behind ask 11 ask 10 would still sell 1 unit: unit 1 is paid the price; unit 2 is lost once
    # ask 10 ranks behind ask 11 (cost 5, id 11 > 10: cost 5 still ranks first)
    assert out.unit_payments[10] == (9, 5)
    # ask 11 sells 1 unit ahead of or behind ask 10 (2 + 2 > 3): the price
    assert out.unit_payments[11] == (9,)


@settings(max_examples=500, deadline=None)
@given(markets())
def test_allocation_matches_the_definition(market: tuple[list[Bid], list[Ask], int]) -> None:
    bids, asks, price = market
    out = clear_fixedprice(bids, asks, price=price)
    winners, sold = ref_allocation(bids, asks, price)
    assert list(out.order) == winners
    assert out.units_sold() == sold
    assert out.mechanism == "fixedprice" and out.price == price


# --------------------------------------------------------------------------------------------
# Payments
# --------------------------------------------------------------------------------------------


@settings(max_examples=800, deadline=None)
@given(markets())
def test_thresholds_equal_brute_force(market: tuple[list[Bid], list[Ask], int]) -> None:
    bids, asks, price = market
    out = clear_fixedprice(bids, asks, price=price)
    for b in bids:
        if b.id not in out.charges:
            continue
        wins = [
            v
            for v in range(b.value + 1)
            if b.id in ref_allocation(with_value(bids, b, v), asks, price)[0]
        ]
        assert out.charges[b.id] == max(price * b.size, min(wins))
    for a in asks:
        sold = out.units_sold().get(a.id, 0)
        expected = []
        for u in range(1, sold + 1):
            keeps = [
                c
                for c in range(price + 3)
                if ref_allocation(bids, with_cost(asks, a, c), price)[1].get(a.id, 0) >= u
            ]
            expected.append(min(price, max(keeps)))
        assert out.unit_payments.get(a.id, ()) == tuple(expected)


def _bid_deviations(bids: Sequence[Bid], me: Bid, price: int, charge: int) -> set[int]:
    """Every relevant breakpoint of a bid's report, plus far over- and under-reports."""
    k = me.size
    devs = {0, 1, me.value - 1, me.value + 1, 2 * me.value + 1, 10**6}
    devs |= {price * k + d for d in (-1, 0, 1)} | {charge + d for d in (-1, 0, 1)}
    for o in bids:
        base = o.value * k // o.size
        devs |= {base + d for d in (-1, 0, 1, 2)}
    return {v for v in devs if v >= 0}


def _ask_deviations(asks: Sequence[Ask], me: Ask, price: int, pays: Sequence[int]) -> set[int]:
    devs = {0, me.cost - 1, me.cost + 1, price - 1, price, price + 1, 2 * price + 3, 10**6}
    devs |= {p + d for p in pays for d in (-1, 0, 1)}
    devs |= {o.cost + d for o in asks for d in (-1, 0, 1)}
    return {c for c in devs if c >= 0}


@settings(max_examples=1000, deadline=None)
@given(markets())
def test_no_misreport_is_profitable(market: tuple[list[Bid], list[Ask], int]) -> None:
    bids, asks, price = market
    out = clear_fixedprice(bids, asks, price=price)
    for b in bids:
        honest = bid_utility(out, b)
        assert honest >= 0
        for v in _bid_deviations(bids, b, price, out.charges.get(b.id, 0)):
            lied = clear_fixedprice(with_value(bids, b, v), asks, price=price)
            assert bid_utility(lied, b) <= honest, (b, v)
    for a in asks:
        honest = ask_utility(out, a)
        assert honest >= 0
        for c in _ask_deviations(asks, a, price, out.unit_payments.get(a.id, ())):
            lied = clear_fixedprice(bids, with_cost(asks, a, c), price=price)
            assert ask_utility(lied, a) <= honest, (a, c)


@settings(max_examples=500, deadline=None)
@given(markets(max_bids=8, max_asks=5))
def test_money_is_conserved_and_every_job_is_funded(
    market: tuple[list[Bid], list[Ask], int],
) -> None:
    bids, asks, price = market
    out = clear_fixedprice(bids, asks, price=price)
    by_id = {b.id: b for b in bids}
    cost = {a.id: a.cost for a in asks}
    assert sum(out.charges.values()) == sum(out.payouts.values()) + out.margin()
    assert out.margin() >= 0
    for bid_id, charge in out.charges.items():
        assert price * by_id[bid_id].size <= charge <= by_id[bid_id].value
    for ask_id, pays in out.unit_payments.items():
        assert all(cost[ask_id] <= p <= price for p in pays)
    jobs = out.job_payments()
    for bid_id, per_ask in out.assignment.items():
        shares = charge_shares(by_id[bid_id], out.charges[bid_id], per_ask, asks)
        for ask_id, units in per_ask.items():
            assert jobs[(bid_id, ask_id)] <= price * units <= shares[ask_id]
    audit("fixedprice", bids, asks, out, price=price)


# --------------------------------------------------------------------------------------------
# The clear() API
# --------------------------------------------------------------------------------------------


def test_fixedprice_without_a_price_names_the_fix() -> None:
    with pytest.raises(InvalidInput, match=r"needs the round's posted price.*price=P"):
        clear("fixedprice", [], [])


@pytest.mark.parametrize("mechanism", ["dara", "proofphi"])
def test_a_price_for_a_sealed_bid_mechanism_is_refused(mechanism: str) -> None:
    with pytest.raises(InvalidInput, match=rf"'{mechanism}' takes no price.*drop price="):
        clear(mechanism, [Bid(1, 5, 1)], [Ask(1, 1, 1)], price=3)


@pytest.mark.parametrize("bad", [0, -5, True, 2.5, "7"])
def test_a_price_below_one_or_not_an_int_is_refused(bad: Any) -> None:
    with pytest.raises(InvalidInput, match=r"price=.* is invalid; .*int >= 1"):
        clear("fixedprice", [Bid(1, 5, 1)], [Ask(1, 1, 1)], price=bad)
    with pytest.raises(InvalidInput, match=r"price=.* is invalid"):
        clear_fixedprice([Bid(1, 5, 1)], [Ask(1, 1, 1)], price=bad)


def test_unknown_mechanism_lists_fixedprice_with_its_price() -> None:
    with pytest.raises(InvalidInput, match=r"dara, proofphi, fixedprice \(with price=P\)"):
        clear("vcg", [], [])


def test_mechanisms_registry_keeps_the_old_call_shape() -> None:
    bids, asks = [Bid(1, 9, 1), Bid(2, 8, 1), Bid(3, 1, 1)], [Ask(1, 1, 1), Ask(2, 2, 1)]
    assert MECHANISMS["dara"](bids, asks) == clear("dara", bids, asks)
    assert MECHANISMS["proofphi"](bids, asks) == clear("proofphi", bids, asks)
    assert MECHANISMS["fixedprice"](bids, asks, price=4) == clear("fixedprice", bids, asks, price=4)
    assert clear("dara", bids, asks).price is None


# --------------------------------------------------------------------------------------------
# Audit
# --------------------------------------------------------------------------------------------

# Two winners (bid 1 on two asks), two ineligible bids and an ineligible ask.
A_BIDS = [Bid(1, 40, 3), Bid(2, 20, 2), Bid(3, 9, 2), Bid(4, 6, 1)]  # bid 4: 1 wei short
A_ASKS = [Ask(10, 3, 2), Ask(11, 6, 3), Ask(12, 8, 4)]  # ask 12: 1 wei too dear
A_PRICE = 7


@pytest.fixture
def fp() -> Outcome:
    out = clear("fixedprice", A_BIDS, A_ASKS, price=A_PRICE)
    assert out.order == (1, 2)
    assert out.assignment == {1: {10: 2, 11: 1}, 2: {11: 2}}
    return out


def fp_check(out: Outcome, price: int | None = A_PRICE, mechanism: str = "fixedprice") -> str:
    with pytest.raises(AuditError) as info:
        audit(mechanism, A_BIDS, A_ASKS, out, price=price)
    assert info.value.check in CHECKS
    return info.value.check


def test_audit_accepts_the_fixedprice_outcome(fp: Outcome) -> None:
    audit("fixedprice", A_BIDS, A_ASKS, fp, price=A_PRICE)
    assert CHECKS.index("individual_rationality") < CHECKS.index("price_bounds")
    assert CHECKS.index("price_bounds") < CHECKS.index("budget_balance")


def test_audit_needs_the_price_for_fixedprice_and_refuses_it_otherwise(fp: Outcome) -> None:
    assert fp_check(fp, price=None) == "input"
    assert fp_check(fp, price=0) == "input"
    assert fp_check(dataclasses.replace(fp, mechanism="dara"), mechanism="dara") == "input"


def test_price_bounds_outcome_at_another_price(fp: Outcome) -> None:
    with pytest.raises(AuditError, match="outcome carries price 7, the posted price is 6"):
        audit("fixedprice", A_BIDS, A_ASKS, fp, price=A_PRICE - 1)


def test_price_bounds_ineligible_winner(fp: Outcome) -> None:
    # bid 4 (value 6 < 7) wins one unit of ask 12 at a charge it can afford
    bad = dataclasses.replace(
        fp,
        charges={**fp.charges, 4: 6},
        payouts={**fp.payouts, 12: 6},
        assignment={**fp.assignment, 4: {12: 1}},
        unit_payments={**fp.unit_payments, 12: (6,)},
        order=(1, 2, 4),
    )
    with pytest.raises(AuditError, match="bid 4 wins but is not eligible: value 6 < price 7"):
        audit("fixedprice", A_BIDS, [*A_ASKS[:2], Ask(12, 5, 4)], bad, price=A_PRICE)
    assert fp_check(bad) == "individual_rationality"  # ask 12's real cost 8 > 6


def test_price_bounds_ineligible_seller(fp: Outcome) -> None:
    # ask 12 (cost 8 > 7) sells bid 2's units, paid its cost
    bad = dataclasses.replace(
        fp,
        payouts={10: fp.payouts[10], 11: fp.unit_payments[11][0], 12: 16},
        assignment={1: fp.assignment[1], 2: {12: 2}},
        unit_payments={10: fp.unit_payments[10], 11: fp.unit_payments[11][:1], 12: (8, 8)},
    )
    with pytest.raises(AuditError, match="ask 12 sells but is not eligible: cost 8 > price 7"):
        audit("fixedprice", A_BIDS, A_ASKS, bad, price=A_PRICE)


def test_price_bounds_charge_below_price_times_size(fp: Outcome) -> None:
    bad = dataclasses.replace(fp, charges={**fp.charges, 2: 13})  # 7 × 2 = 14
    with pytest.raises(AuditError, match=r"bid 2 is charged 13 < price × size = 14"):
        audit("fixedprice", A_BIDS, A_ASKS, bad, price=A_PRICE)


def test_price_bounds_unit_payment_above_price(fp: Outcome) -> None:
    pays = (8, *fp.unit_payments[10][1:])
    bad = dataclasses.replace(
        fp,
        unit_payments={**fp.unit_payments, 10: pays},
        payouts={**fp.payouts, 10: sum(pays)},
    )
    with pytest.raises(AuditError, match=r"ask 10 is paid 8 > price 7"):
        audit("fixedprice", A_BIDS, A_ASKS, bad, price=A_PRICE)


def test_equality_at_the_posted_price(fp: Outcome) -> None:
    # a higher, still rational and in-bounds charge is not what the mechanism computes
    assert fp.charges[2] < 20
    bad = dataclasses.replace(fp, charges={**fp.charges, 2: fp.charges[2] + 1})
    assert fp_check(bad) == "equality"


# --------------------------------------------------------------------------------------------
# The price rule
# --------------------------------------------------------------------------------------------

WIDE = PriceRule(window=1000, every=1, step_bps=10**9)  # no clamp in practice


def test_step_bounds_use_the_contracts_rounding() -> None:
    assert step_bounds(100, 500) == (96, 105)  # ⌈95.24⌉, ⌊105⌋
    assert step_bounds(21, 500) == (20, 22)  # ⌈20.0⌉ exactly, ⌊22.05⌋
    assert step_bounds(10_500, 500) == (10_000, 11_025)  # exact both ways
    assert step_bounds(10_501, 500) == (10_001, 11_026)  # ⌈10_000.95⌉, ⌊11_026.05⌋
    assert step_bounds(1, 500) == (1, 1)  # never below 1; too small to move up
    assert step_bounds(77, 0) == (77, 77)
    for prev in range(1, 3000, 7):
        lo, hi = step_bounds(prev, 333)
        assert lo * 10_333 >= prev * 10_000 > (lo - 1) * 10_333 or lo == 1
        assert hi * 10_000 <= prev * 10_333 < (hi + 1) * 10_000


def test_learn_price_keeps_the_price_without_history() -> None:
    assert learn_price([], 1234) == 1234
    assert learn_price([([], [Ask(1, 5, 1)])], 1234) == 1234  # nothing could trade: all ties


def test_learn_price_picks_the_welfare_maximizing_price() -> None:
    # round A: bid 10/unit, asks 3 and 8; round B: bid 6/unit, ask 4.
    # W(p): p < 3: 0; p = 3: A 10−3 = 7; 4 ≤ p ≤ 6: A 7 + B 6−4 = 9; 7 ≤ p ≤ 10: A 7; then 0
    history = [([Bid(1, 10, 1)], [Ask(1, 3, 1), Ask(2, 8, 1)]), ([Bid(1, 6, 1)], [Ask(1, 4, 1)])]
    assert learn_price(history, 100, rule=WIDE) == 6  # closest to 100 among 4 … 6
    assert learn_price(history, 1, rule=WIDE) == 4  # closest to 1
    assert learn_price(history, 5, rule=WIDE) == 5  # already a maximizer
    # W = 2 on [1, 3] and on [7, 9]
    tie = [([Bid(1, 9, 1)], [Ask(2, 7, 1)]), ([Bid(2, 3, 1)], [Ask(3, 1, 1)])]
    assert learn_price(tie, 5, rule=WIDE) == 3  # distance 2 each: the lower
    assert learn_price(tie, 6, rule=WIDE) == 7
    assert learn_price(tie, 50, rule=WIDE) == 9


def test_learn_price_clamps_at_both_bounds_exactly() -> None:
    high = [([Bid(1, 1000, 1)], [Ask(1, 900, 1)])]  # maximizers 900 … 1000
    low = [([Bid(1, 50, 1)], [Ask(1, 40, 1)])]  # maximizers 40 … 50
    rule = PriceRule(window=8, every=1, step_bps=500)
    assert learn_price(high, 100, rule=rule) == 105
    assert learn_price(high, 10_501, rule=rule) == 10_001
    assert learn_price(low, 100, rule=rule) == 96
    assert learn_price(low, 21, rule=rule) == 22
    assert learn_price(low, 50, rule=rule) == 50


def test_learn_price_is_deterministic_and_ignores_order_within_a_round() -> None:
    rng = random.Random(7)
    history = []
    for _ in range(12):
        bids = [Bid(i, rng.randint(0, 400), rng.randint(1, 4)) for i in range(rng.randint(0, 6))]
        asks = [Ask(i, rng.randint(0, 100), rng.randint(1, 4)) for i in range(rng.randint(0, 4))]
        history.append((bids, asks))
    first = learn_price(history, 60, rule=WIDE)
    assert learn_price(history, 60, rule=WIDE) == first
    shuffled = [(b[::-1], a[::-1]) for b, a in history]
    assert learn_price(shuffled, 60, rule=WIDE) == first


def test_learn_price_uses_only_the_last_window_rounds() -> None:
    old = [([Bid(1, 1000, 1)], [Ask(1, 900, 1)])] * 3
    recent = [([Bid(1, 50, 1)], [Ask(1, 40, 1)])]
    rule = PriceRule(window=1, every=1, step_bps=10**9)
    assert learn_price(old + recent, 45, rule=rule) == 45
    assert learn_price(old + recent, 45, rule=dataclasses.replace(rule, window=4)) == 900


def _ref_best(history: Sequence[tuple[list[Bid], list[Ask]]], previous: int) -> int:
    top = 2 + max(
        [b.value for h in history for b in h[0]] + [a.cost for h in history for a in h[1]] + [0]
    )
    scores = {
        p: sum(welfare(b, a, clear_fixedprice(b, a, price=p)) for b, a in history)
        for p in range(1, max(top, previous) + 2)
    }
    best = max(scores.values())
    return min((abs(p - previous), p) for p, w in scores.items() if w == best)[1]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(markets(max_bids=4, max_asks=3), min_size=1, max_size=4),
    st.integers(1, 70),
)
def test_learn_price_equals_brute_force_over_every_price(
    rounds: list[tuple[list[Bid], list[Ask], int]], previous: int
) -> None:
    history = [(b, a) for b, a, _ in rounds]
    assert learn_price(history, previous, rule=WIDE) == _ref_best(history, previous)
    for bids, asks, _ in rounds:
        steps = welfare_steps(bids, asks)
        assert steps[0][0] == 1
        for n, (start, w) in enumerate(steps):
            end = steps[n + 1][0] if n + 1 < len(steps) else start + 3
            for p in range(start, end):
                assert welfare(bids, asks, clear_fixedprice(bids, asks, price=p)) == w


def test_price_for_round_refits_only_every_e_rounds() -> None:
    history = [([Bid(1, 1000, 1)], [Ask(1, 900, 1)])]
    rule = PriceRule(window=8, every=4, step_bps=500)
    assert [price_for_round(r, 100, history, rule) for r in (5, 6, 7, 9)] == [100] * 4
    assert price_for_round(8, 100, history, rule) == 105
    assert price_for_round(0, 100, history, rule) == 105
    assert price_for_round(0, 100, history) == learn_price(history, 100)  # DEFAULT_RULE


def test_history_window_selection() -> None:
    def rnd(tag: int) -> tuple[list[Bid], list[Ask]]:
        return [Bid(tag, tag, 1)], []

    settled: dict[int, tuple[list[Bid], list[Ask]]] = {k: rnd(k) for k in range(1, 11)}
    settled[7] = ([], [])  # nothing valid: skipped
    settled[4] = ([], [Ask(4, 4, 1)])  # asks only: kept
    rule = PriceRule(window=3, every=1, step_bps=500)
    got = history_window(12, settled, lag=3, rule=rule)  # rounds ≤ 9
    assert got == [rnd(6), rnd(8), rnd(9)]
    got = history_window(12, settled, lag=2, rule=rule)  # round 10 = 12 − 2 is included
    assert got == [rnd(8), rnd(9), rnd(10)]
    got = history_window(6, settled, lag=1, rule=PriceRule(window=50, every=1, step_bps=0))
    assert got == [rnd(1), rnd(2), rnd(3), ([], [Ask(4, 4, 1)]), rnd(5)]
    assert history_window(1, settled, lag=1, rule=rule) == []
    assert len(history_window(100, settled, lag=2, rule=DEFAULT_RULE)) == 9
    with pytest.raises(InvalidInput, match="lag=0"):
        history_window(5, settled, lag=0, rule=rule)


@pytest.mark.parametrize(
    ("field", "value"), [("window", 0), ("every", 0), ("step_bps", -1), ("window", 2.0)]
)
def test_price_rule_rejects_bad_fields(field: str, value: Any) -> None:
    args: dict[str, Any] = {"window": 8, "every": 1, "step_bps": 500, field: value}
    with pytest.raises(InvalidInput, match=rf"PriceRule {field}="):
        PriceRule(**args)
