"""DARA (seed 003, Definitions 34–36; docs/mechanisms.md) against brute force on small instances.

``clear_dara`` (candidate structure, int64 fast path) is checked against the literal O(m·n)
definition, its threshold payments against an exhaustive scan over integer values and costs, and
the mechanism's promises (individual rationality, weak budget balance per job, truthfulness) on
random instances.
"""

from __future__ import annotations

import itertools
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from bridge.mechanisms import Ask, Bid, Outcome, audit, clear, clear_dara, clear_dara_reference
from bridge.mechanisms.dara import (
    _Alloc,
    _ask_thresholds,
    _bid_threshold,
    _clear,
    _Demand,
    _Market,
    _pieces,
    _supply,
    _winning_units,
)

bids_st = st.lists(st.tuples(st.integers(0, 40), st.integers(1, 5)), min_size=0, max_size=7)
asks_st = st.lists(st.tuples(st.integers(0, 10), st.integers(1, 5)), min_size=0, max_size=4)


def build(bids: list[tuple[int, int]], asks: list[tuple[int, int]]) -> tuple[list[Bid], list[Ask]]:
    return (
        [Bid(i, v, k) for i, (v, k) in enumerate(bids)],
        [Ask(100 + i, c, u) for i, (c, u) in enumerate(asks)],
    )


def with_value(bids: list[Bid], me: Bid, value: int) -> list[Bid]:
    return [b if b.id != me.id else Bid(me.id, value, me.size) for b in bids]


def with_cost(asks: list[Ask], me: Ask, cost: int) -> list[Ask]:
    return [a if a.id != me.id else Ask(me.id, cost, me.capacity) for a in asks]


def seller_utility(out: Outcome, me: Ask) -> int:
    return out.payouts.get(me.id, 0) - me.cost * out.units_sold().get(me.id, 0)


def test_worked_example() -> None:
    # Units r̂ = 1,1,1 (ask 100), 4,4 (ask 101), 9,9 (ask 102). Bid ratios 10, 6, 5, 2.
    bids = [Bid(0, 20, 2), Bid(1, 12, 2), Bid(2, 5, 1), Bid(3, 4, 2)]
    asks = [Ask(100, 1, 3), Ask(101, 4, 2), Ask(102, 9, 2)]
    out = clear("dara", bids, asks)
    # w_5 = 20 + 12 + 5 − (3 + 8) = 26 is the maximum; unit 5 belongs to ask 101, so ask 101
    # and bid 1 (units 3–4, one of them on ask 101) and bid 2 (unit 5) are trade-reduced.
    assert out.j_star == 5
    assert out.assignment == {0: {100: 2}}
    # Bid 0 pays 12 = 2 × 6, the per-unit price of the highest trade-reduced bid; ask 100 is paid
    # 4 per unit, the cost of the trade-reduced ask (the paper's WBB argument, Theorem 52).
    assert out.charges == {0: 12}
    assert out.unit_payments == {100: (4, 4)}
    # Thresholds: the smallest value with which bid 0 still wins, the largest cost with which
    # ask 100 still sells each unit (found here by exhaustive scan).
    brute_min = min(
        v for v in range(21) if 0 in clear("dara", with_value(bids, bids[0], v), asks).charges
    )
    assert out.charges == {0: brute_min}
    brute_max = [
        max(
            c
            for c in range(30)
            if clear("dara", bids, with_cost(asks, asks[0], c)).units_sold().get(100, 0) >= u
        )
        for u in (1, 2)
    ]
    assert out.unit_payments == {100: tuple(brute_max)}
    audit("dara", bids, asks, out)


def test_no_trade_cases() -> None:
    assert clear("dara", [], [Ask(1, 0, 3)]) == Outcome(mechanism="dara", j_star=0)
    assert not clear("dara", [Bid(1, 5, 1)], []).traded
    assert not clear("dara", [Bid(1, 5, 2)], [Ask(1, 3, 5)]).traded  # ratio 2.5 < cost 3
    # a single ask is always the trade-reduced one
    assert not clear("dara", [Bid(1, 50, 1), Bid(2, 50, 1)], [Ask(1, 0, 10)]).traded


def test_huge_amounts_take_the_big_integer_path_and_agree_with_it() -> None:
    scale = 10**30
    bids = [Bid(i, v * scale + i, k) for i, (v, k) in enumerate([(30, 2), (24, 3), (9, 1), (8, 2)])]
    asks = [Ask(10, 1 * scale, 3), Ask(11, 2 * scale, 2), Ask(12, 5 * scale, 4)]
    out = clear_dara(bids, asks)
    assert out == _clear(bids, asks, "python") == clear_dara_reference(bids, asks)
    assert out.traded
    audit("dara", bids, asks, out)


@settings(max_examples=400, deadline=None)
@given(bids_st, asks_st)
def test_fast_paths_equal_the_literal_definition(
    bids: list[tuple[int, int]], asks: list[tuple[int, int]]
) -> None:
    bid_list, ask_list = build(bids, asks)
    literal = clear_dara_reference(bid_list, ask_list)
    assert clear_dara(bid_list, ask_list) == literal
    assert _clear(bid_list, ask_list, "python") == literal


@settings(max_examples=250, deadline=None)
@given(bids_st, asks_st)
def test_outcome_passes_audit(bids: list[tuple[int, int]], asks: list[tuple[int, int]]) -> None:
    """Feasibility, IR, weak budget balance overall and per job, equality with a fresh clearing."""
    bid_list, ask_list = build(bids, asks)
    audit("dara", bid_list, ask_list, clear("dara", bid_list, ask_list))


@settings(max_examples=120, deadline=None)
@given(bids_st, asks_st)
def test_bid_thresholds_equal_brute_force_minimum_winning_value(
    bids: list[tuple[int, int]], asks: list[tuple[int, int]]
) -> None:
    bid_list, ask_list = build(bids, asks)
    out = clear_dara(bid_list, ask_list)
    for me in bid_list:
        if me.id not in out.charges:
            continue
        wins = [
            v
            for v in range(me.value + 1)
            if me.id in clear_dara_reference(with_value(bid_list, me, v), ask_list).charges
        ]
        assert out.charges[me.id] == wins[0]
        assert wins == list(range(wins[0], me.value + 1))  # the allocation is monotone


@settings(max_examples=120, deadline=None)
@given(bids_st, asks_st)
def test_ask_unit_thresholds_equal_brute_force_maximum_selling_cost(
    bids: list[tuple[int, int]], asks: list[tuple[int, int]]
) -> None:
    bid_list, ask_list = build(bids, asks)
    out = clear_dara(bid_list, ask_list)
    top = max([b.value for b in bid_list] + [a.cost for a in ask_list], default=0) + 2
    for me in ask_list:
        sold = [
            clear_dara_reference(bid_list, with_cost(ask_list, me, c)).units_sold().get(me.id, 0)
            for c in range(top)
        ]
        assert all(x >= y for x, y in itertools.pairwise(sold))  # monotone in cost
        expected = tuple(
            max(c for c in range(top) if sold[c] >= u) for u in range(1, sold[me.cost] + 1)
        )
        assert out.unit_payments.get(me.id, ()) == expected


@settings(max_examples=100, deadline=None)
@given(bids_st, asks_st, st.data())
def test_no_value_deviation_helps_a_bidder(
    bids: list[tuple[int, int]], asks: list[tuple[int, int]], data: st.DataObject
) -> None:
    bid_list, ask_list = build(bids, asks)
    if not bid_list:
        return
    me = data.draw(st.sampled_from(bid_list))
    out = clear_dara(bid_list, ask_list)
    honest = me.value - out.charges[me.id] if me.id in out.charges else 0
    assert honest >= 0
    for lie in range(0, 45):
        dev = clear_dara(with_value(bid_list, me, lie), ask_list)
        gained = me.value - dev.charges[me.id] if me.id in dev.charges else 0
        assert gained <= honest, (me, lie)


@settings(max_examples=100, deadline=None)
@given(bids_st, asks_st, st.data())
def test_no_cost_deviation_helps_a_seller(
    bids: list[tuple[int, int]], asks: list[tuple[int, int]], data: st.DataObject
) -> None:
    bid_list, ask_list = build(bids, asks)
    if not ask_list:
        return
    me = data.draw(st.sampled_from(ask_list))
    honest = seller_utility(clear_dara(bid_list, ask_list), me)
    assert honest >= 0
    for lie in range(0, 45):
        dev = clear_dara(bid_list, with_cost(ask_list, me, lie))
        gained = dev.payouts.get(me.id, 0) - me.cost * dev.units_sold().get(me.id, 0)
        assert gained <= honest, (me, lie)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 400), st.integers(1, 12)), min_size=10, max_size=40),
    st.lists(st.tuples(st.integers(0, 30), st.integers(1, 20)), min_size=2, max_size=8),
)
def test_medium_instances_match_the_literal_definition(
    bids: list[tuple[int, int]], asks: list[tuple[int, int]]
) -> None:
    bid_list, ask_list = build(bids, asks)
    assert clear_dara(bid_list, ask_list) == clear_dara_reference(bid_list, ask_list)


def plain_bid_threshold(market: _Market, idx: int) -> int:
    lo, hi = -1, market.vals[idx]
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if market.bid_wins_with(idx, mid):
            hi = mid
        else:
            lo = mid
    return hi


def plain_ask_thresholds(market: _Market, idx: int, sold: int) -> tuple[int, ...]:
    top = max(max(v // k for v, k in zip(market.vals, market.sizes, strict=True)) + 1, 1)
    out = []
    for u in range(1, sold + 1):
        lo, hi = market.asks[idx].cost, top + 1  # sells ≥ u at lo, not at hi
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if market.ask_sells_with(idx, mid) >= u:
                lo = mid
            else:
                hi = mid
        out.append(lo)
    return tuple(out)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 10**6), st.integers(1, 12)), min_size=5, max_size=40),
    st.lists(st.tuples(st.integers(0, 10**5), st.integers(1, 25)), min_size=2, max_size=8),
    st.sampled_from(["fast", "python"]),
)
def test_threshold_search_equals_plain_binary_search_on_large_amounts(
    bids: list[tuple[int, int]], asks: list[tuple[int, int]], mode: str
) -> None:
    """The breakpoint search, line crossings and verified guesses against the textbook search."""
    bid_list, ask_list = build(bids, asks)
    market = _Market(bid_list, ask_list, mode)
    alloc, winners = market.base()
    for i in winners:
        expected = plain_bid_threshold(market, i)
        assert _bid_threshold(market, i) == expected  # no hints: breakpoints and crossing
        hints = [h for h in alloc.accepted if h not in winners][:1]
        assert _bid_threshold(market, i, hints) == expected
    sold: dict[int, int] = {}
    for parts in _pieces(winners, market.sizes, market.supply):
        for a, units in parts:
            sold[a] = sold.get(a, 0) + units
    reduced = market.supply.ask_of(alloc.j_star) if alloc.j_star else None
    for a, units in sold.items():
        expected_asks = plain_ask_thresholds(market, a, units)
        assert _ask_thresholds(market, a, units) == expected_asks
        assert _ask_thresholds(market, a, units, reduced) == expected_asks


def test_dense_small_instances_match_the_literal_definition_in_both_paths() -> None:
    """Many small instances on narrow ranges, so ties and boundaries are everywhere: equal
    value-per-unit bids, a bid exactly at an ask's cost, supply ending exactly at a bid's size, a
    candidate equal to the best so far. The int64 path and the pure-Python path each equal the
    literal O(m·n) definition (allocation, payments and thresholds: the whole outcome)."""
    rng = random.Random(20261204)
    for _ in range(3000):
        bids = [(rng.randint(0, 12), rng.randint(1, 4)) for _ in range(rng.randint(1, 8))]
        asks = [(rng.randint(0, 4), rng.randint(1, 4)) for _ in range(rng.randint(1, 4))]
        bid_list, ask_list = build(bids, asks)
        literal = _clear(bid_list, ask_list, "literal")
        assert _clear(bid_list, ask_list, "fast") == literal, (bids, asks)
        assert _clear(bid_list, ask_list, "python") == literal, (bids, asks)


def test_thresholds_of_a_medium_instance_equal_the_least_winning_values() -> None:
    """An instance found by a search against a boundary mutant of ``_Market.bid_eval`` (a probed
    bid ranked exactly at the allocation's ``q``): every winner's charge is the least value with
    which it still wins a clearing by the literal definition (found by bisection: the allocation
    is monotone in a bid's value), independent of the threshold search under test."""
    bids = [(62, 5), (353, 10), (64, 2), (374, 1), (64, 4), (152, 9), (136, 3), (398, 8),
            (344, 11), (132, 2), (146, 2), (179, 2), (345, 8), (359, 12), (195, 7), (186, 6),
            (359, 2), (213, 1), (312, 6), (211, 7), (37, 4), (268, 9), (165, 12), (275, 12),
            (65, 2), (48, 1), (315, 12), (289, 12), (318, 1)]
    asks = [(26, 2), (7, 14), (13, 8)]
    bid_list, ask_list = build(bids, asks)
    out = clear_dara(bid_list, ask_list)
    assert out.charges
    for me in bid_list:
        if me.id not in out.charges:
            continue
        lo, hi = -1, me.value  # loses at lo (or lo is -1), wins at hi
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if me.id in clear_dara_reference(with_value(bid_list, me, mid), ask_list).charges:
                hi = mid
            else:
                lo = mid
        assert out.charges[me.id] == hi, me


def test_the_greedy_scan_keeps_looking_past_many_bids_that_do_not_fit() -> None:
    """After 16 skipped bids the scans stop early once no later bid can fit (the smallest later
    size exceeds the units left). A later bid exactly as large as the units left still fits: here
    bid A takes 5 of 8 units, seventeen 10-unit bids are skipped, and the last bid (3 units)
    fills the remaining 3. ``j* = 8`` holds A and that bid in every path."""
    bids = [(500, 5)] + [(500, 10)] * 17 + [(120, 3)]
    bid_list, ask_list = build(bids, [(1, 5), (1, 9)])
    for mode in ("fast", "python", "literal"):
        alloc, winners = _Market(bid_list, ask_list, mode).base()
        assert alloc == _Alloc(j_star=8, q=1, extra=(18,), best=500 + 120 - 8), mode
        assert winners == [0], mode  # the 3-unit bid sits on the reduced ask's units 6-8
    out = clear_dara(bid_list, ask_list)
    assert out == clear_dara_reference(bid_list, ask_list)
    assert (out.j_star, out.order, out.assignment) == (8, (0,), {0: {100: 5}})


def test_an_accepted_bid_ending_exactly_before_the_reduced_ask_wins() -> None:
    """Trade reduction removes the ask owning unit j* and every accepted bid with a unit on it:
    a bid whose last unit is the last one before that ask keeps its trade."""
    supply = _supply([Ask(100, 1, 3), Ask(101, 2, 4)])  # units 1-3 and 4-7
    demand = _Demand([9, 8, 5, 4], [1, 1, 2, 1])  # K = 0, 1, 2, 4, 5
    # accepted: bid 0 (unit 1) then, skipped in, bid 2 (units 2-3) and bid 3 (unit 4)
    assert _winning_units(_Alloc(j_star=4, q=1, extra=(2, 3), best=0), demand, supply) == (2, 3)
    # the first two bids (units 1-2) and then bid 3 (unit 3): it ends exactly at the boundary
    assert _winning_units(_Alloc(j_star=5, q=2, extra=(3,), best=0), demand, supply) == (3, 3)
    # a regular prefix reaching past the boundary keeps only the bids that end before it
    assert _winning_units(_Alloc(j_star=5, q=4, extra=(), best=0), demand, supply) == (2, 2)
