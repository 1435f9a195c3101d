"""The exact optimum (docs/mechanisms.md): DP and HiGHS against brute force and each other."""

from __future__ import annotations

import random
from itertools import combinations

from hypothesis import given, settings
from hypothesis import strategies as st

from bridge.mechanisms import Ask, Bid, clear, optimum, optimum_dp, optimum_milp
from bridge.mechanisms.types import sort_asks

bids_st = st.lists(st.tuples(st.integers(0, 60), st.integers(1, 5)), min_size=0, max_size=8)
asks_st = st.lists(st.tuples(st.integers(0, 12), st.integers(1, 6)), min_size=0, max_size=4)


def build(bids: list[tuple[int, int]], asks: list[tuple[int, int]]) -> tuple[list[Bid], list[Ask]]:
    return (
        [Bid(i, v, k) for i, (v, k) in enumerate(bids)],
        [Ask(100 + i, c, u) for i, (c, u) in enumerate(asks)],
    )


def brute_force(bids: list[Bid], asks: list[Ask]) -> int:
    unit_costs = [a.cost for a in sort_asks(asks) for _ in range(a.capacity)]
    best = 0
    for r in range(1, len(bids) + 1):
        for chosen in combinations(bids, r):
            units = sum(b.size for b in chosen)
            if units <= len(unit_costs):
                best = max(best, sum(b.value for b in chosen) - sum(unit_costs[:units]))
    return best


def welfare(bids: list[Bid], asks: list[Ask], mechanism: str) -> int:
    out = clear(mechanism, bids, asks)
    by_bid = {b.id: b for b in bids}
    by_ask = {a.id: a for a in asks}
    return sum(by_bid[i].value for i in out.charges) - sum(
        by_ask[a].cost * u for a, u in out.units_sold().items()
    )


@settings(max_examples=200, deadline=None)
@given(bids_st, asks_st)
def test_dp_equals_brute_force(bids: list[tuple[int, int]], asks: list[tuple[int, int]]) -> None:
    bid_list, ask_list = build(bids, asks)
    opt = optimum_dp(bid_list, ask_list)
    assert opt.welfare == brute_force(bid_list, ask_list)
    # the returned sets realise the welfare
    chosen = [b for b in bid_list if b.id in opt.bids]
    assert sum(b.size for b in chosen) == sum(opt.ask_units.values())
    cost = sum(next(a.cost for a in ask_list if a.id == i) * u for i, u in opt.ask_units.items())
    assert sum(b.value for b in chosen) - cost == opt.welfare


@settings(max_examples=60, deadline=None)
@given(bids_st, asks_st)
def test_milp_equals_dp(bids: list[tuple[int, int]], asks: list[tuple[int, int]]) -> None:
    bid_list, ask_list = build(bids, asks)
    assert optimum_milp(bid_list, ask_list).welfare == optimum_dp(bid_list, ask_list).welfare


def test_milp_equals_dp_on_a_medium_market() -> None:
    rng = random.Random(4)
    for _ in range(3):
        bids = [Bid(i, rng.randint(0, 5000), rng.randint(1, 20)) for i in range(120)]
        asks = [Ask(1000 + i, rng.randint(0, 300), rng.randint(5, 60)) for i in range(12)]
        assert optimum_milp(bids, asks).welfare == optimum_dp(bids, asks).welfare


@settings(max_examples=100, deadline=None)
@given(bids_st, asks_st)
def test_mechanisms_never_beat_the_optimum(
    bids: list[tuple[int, int]], asks: list[tuple[int, int]]
) -> None:
    bid_list, ask_list = build(bids, asks)
    opt = optimum(bid_list, ask_list).welfare
    assert 0 <= welfare(bid_list, ask_list, "dara") <= opt
    unit = [Bid(b.id, b.value, 1) for b in bid_list]
    assert 0 <= welfare(unit, ask_list, "proofphi") <= optimum(unit, ask_list).welfare


def test_empty_market_has_zero_welfare() -> None:
    assert optimum([], []).welfare == 0
    assert optimum_milp([], [Ask(1, 0, 1)]).welfare == 0
