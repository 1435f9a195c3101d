"""The public API of bridge.mechanisms: dispatch, validation, ranking rules, settlement helpers."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bridge.errors import ClearingError, InvalidBidError, InvalidInput
from bridge.mechanisms import (
    Ask,
    Bid,
    Outcome,
    ask_rank_key,
    bid_before,
    bid_rank_key,
    charge_shares,
    clear,
    compare_bids,
    sort_asks,
    sort_bids,
)


def test_unknown_mechanism_names_the_valid_choices() -> None:
    with pytest.raises(InvalidInput, match="dara, proofphi"):
        clear("vcg", [], [])


@pytest.mark.parametrize(
    ("bid", "fieldname"),
    [
        (Bid(7, 10, 0), "size"),
        (Bid(7, 10, -2), "size"),
        (Bid(7, -1, 1), "value"),
        (Bid(7, 1.5, 1), "value"),  # type: ignore[arg-type]
        (Bid(7, True, 1), "value"),  # type: ignore[arg-type]
        (Bid(7, 10, 2.0), "size"),  # type: ignore[arg-type]
        (Bid(7, "10", 1), "value"),  # type: ignore[arg-type]
    ],
)
@pytest.mark.parametrize("mechanism", ["dara", "proofphi"])
def test_invalid_bid_is_named_with_field_and_fix(bid: Bid, fieldname: str, mechanism: str) -> None:
    with pytest.raises(InvalidBidError, match=rf"bid 7: {fieldname}=.*; ") as info:
        clear(mechanism, [Bid(1, 5, 1), bid], [Ask(1, 1, 1)])
    assert isinstance(info.value, InvalidInput) and isinstance(info.value, ClearingError)


@pytest.mark.parametrize(
    ("ask", "fieldname"),
    [
        (Ask(9, 1, 0), "capacity"),
        (Ask(9, -3, 2), "cost"),
        (Ask(9, 2.5, 2), "cost"),  # type: ignore[arg-type]
        (Ask(9, 2, False), "capacity"),  # type: ignore[arg-type]
    ],
)
@pytest.mark.parametrize("mechanism", ["dara", "proofphi"])
def test_invalid_ask_is_named_with_field_and_fix(ask: Ask, fieldname: str, mechanism: str) -> None:
    with pytest.raises(InvalidBidError, match=rf"ask 9: {fieldname}=.*; "):
        clear(mechanism, [Bid(1, 5, 1)], [Ask(1, 1, 1), ask])


def test_duplicate_ids_are_rejected() -> None:
    with pytest.raises(InvalidBidError, match=r"bid 3: id=3.*unique"):
        clear("dara", [Bid(3, 5, 1), Bid(3, 6, 1)], [])
    with pytest.raises(InvalidBidError, match=r"ask 4: id=4.*unique"):
        clear("dara", [], [Ask(4, 1, 1), Ask(4, 1, 1)])


def test_proofphi_rejects_multi_unit_bids() -> None:
    with pytest.raises(InvalidBidError, match=r"bid 2: size=3.*size=1"):
        clear("proofphi", [Bid(2, 9, 3)], [Ask(1, 1, 5)])


def test_non_bid_objects_are_rejected() -> None:
    bogus: Any = [(1, 2, 3)]
    with pytest.raises(InvalidBidError, match="expected a Bid"):
        clear("dara", bogus, [])


def test_zero_value_and_zero_cost_are_valid() -> None:
    clear("dara", [Bid(1, 0, 1)], [Ask(1, 0, 1)])
    clear("proofphi", [Bid(1, 0, 1)], [Ask(1, 0, 1)])


def test_bid_ranking_rules() -> None:
    # value/size descending (exact), then size ascending, then id ascending
    bids = [Bid(5, 10, 4), Bid(1, 5, 2), Bid(2, 5, 2), Bid(3, 3, 1), Bid(4, 7, 2)]
    assert [b.id for b in sort_bids(bids)] == [4, 3, 1, 2, 5]
    assert bid_before(Bid(1, 5, 2), Bid(0, 10, 4))  # same ratio, smaller size first
    assert compare_bids(Bid(1, 1, 3), Bid(1, 1, 3)) == 0


def test_ask_ranking_rules() -> None:
    asks = [Ask(3, 5, 1), Ask(1, 5, 9), Ask(2, 4, 1)]
    assert [a.id for a in sort_asks(asks)] == [2, 1, 3]
    assert ask_rank_key(Ask(1, 5, 9)) == (5, 1)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 10**30), st.integers(1, 10**6)),
        min_size=0,
        max_size=25,
        unique_by=lambda t: t,
    ),
)
def test_fast_bid_sort_equals_exact_fraction_order(pairs: list[tuple[int, int]]) -> None:
    bids = [Bid(i, v, k) for i, (v, k) in enumerate(pairs)]
    assert sort_bids(bids) == sorted(bids, key=bid_rank_key)
    assert bid_rank_key(Bid(0, 3, 2))[0] == Fraction(-3, 2)


def test_bid_sort_falls_back_for_pathological_sizes() -> None:
    primes = [p for p in range(2, 4000) if all(p % d for d in range(2, int(p**0.5) + 1))]
    bids = [Bid(i, 7 * p + i, p) for i, p in enumerate(primes)]
    assert sort_bids(bids) == sorted(bids, key=bid_rank_key)


def test_charge_shares_floor_with_remainder_on_last_ask() -> None:
    bid = Bid(1, 100, 7)
    shares = charge_shares(bid, 50, {10: 3, 11: 2, 12: 2})
    assert shares == {10: 21, 11: 14, 12: 15}
    assert sum(shares.values()) == 50
    # order recomputed from the asks when given: ask 12 is the cheapest, ask 10 the last
    asks = [Ask(10, 9, 5), Ask(11, 5, 5), Ask(12, 1, 5)]
    assert charge_shares(bid, 50, {10: 3, 11: 2, 12: 2}, asks) == {12: 14, 11: 14, 10: 22}
    assert charge_shares(Bid(2, 5, 1), 5, {3: 1}) == {3: 5}


def test_job_payments_follow_bid_rank_order() -> None:
    out = Outcome(
        mechanism="dara",
        charges={1: 40, 2: 30},
        payouts={10: 18, 11: 9},
        assignment={1: {10: 2}, 2: {10: 1, 11: 1}},
        unit_payments={10: (7, 6, 5), 11: (9,)},
        order=(1, 2),
    )
    assert out.job_payments() == {(1, 10): 13, (2, 10): 5, (2, 11): 9}
    assert out.units_sold() == {10: 3, 11: 1}
    assert out.margin() == 43
