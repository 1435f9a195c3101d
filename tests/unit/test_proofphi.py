"""Prooφ's core auction against the paper (seed 001, Section 1.2 and Examples 1–4).

All numbers below are stated in the paper's text; none had to be reconstructed. The examples use
task ids 0…n−1 in the paper's fee order and ask ids 1…N for provers 1…N.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from bridge.mechanisms import Ask, Bid, Outcome, audit, clear


def tasks(*fees: int, first_id: int = 0) -> list[Bid]:
    return [Bid(first_id + i, f, 1) for i, f in enumerate(fees)]


def prover_utility(out: Outcome, ask: Ask) -> int:
    sold = out.units_sold().get(ask.id, 0)
    return out.payouts.get(ask.id, 0) - ask.cost * sold


def test_example_1_honest_market() -> None:
    bids = tasks(10, 10, 10, 10, 9, 9, 1, 1)
    asks = [Ask(1, 0, 4), Ask(2, 1, 2), Ask(3, 10, 2)]
    out = clear("proofphi", bids, asks)
    assert out.ell == 1
    assert out.order == (0, 1, 2, 3)  # the first S̄_ℓ = 4 tasks
    assert out.charges == dict.fromkeys(range(4), 9)  # f_{S̄_ℓ+1} = 9
    assert out.unit_payments == {1: (1, 1, 1, 1)}  # p_{ℓ+1} = 1 per task
    assert prover_utility(out, asks[0]) == 4  # (1 − 0) × 4
    audit("proofphi", bids, asks, out)


def test_example_2_capacity_misreport_raises_prover_1_utility_from_4_to_10() -> None:
    bids = tasks(10, 10, 10, 10, 9, 9, 1, 1)
    honest = [Ask(1, 0, 4), Ask(2, 1, 2), Ask(3, 10, 2)]
    misreport = [Ask(1, 0, 1), Ask(2, 1, 2), Ask(3, 10, 2)]
    assert prover_utility(clear("proofphi", bids, honest), honest[0]) == 4
    out = clear("proofphi", bids, misreport)
    assert out.ell == 2
    assert out.ask_price == 10
    assert prover_utility(out, misreport[0]) == 10  # (10 − 0) × 1
    assert len(out.charges) == 3  # fewer tasks allocated …
    assert out.bid_price == 10  # … and they pay more


def test_example_3_sybil_tasks_raise_prover_1_utility_from_8_to_9() -> None:
    asks = [Ask(1, 0, 4), Ask(2, 2, 2), Ask(3, 9, 2)]
    honest_bids = tasks(10, 10, 10, 2, 2, 2, 2, 2)
    honest = clear("proofphi", honest_bids, asks)
    assert honest.ell == 1
    assert prover_utility(honest, asks[0]) == 8  # (2 − 0) × 4

    sybils = tasks(9, 9, 9, 9, first_id=100)
    out = clear("proofphi", honest_bids + sybils, asks)
    assert out.ell == 2
    assert out.bid_price == 9 and out.ask_price == 9
    sybil_charges = sum(c for b, c in out.charges.items() if b >= 100)
    assert sybil_charges == 27  # three of the four Sybil tasks win, at 9 each
    assert prover_utility(out, asks[0]) - sybil_charges == 9  # (9 − 0) × 4 − 9 × 3


def test_example_4_prover_split_raises_prover_2_utility_from_0_to_1() -> None:
    bids = tasks(10, 10, 10, 3, 3, 3, 3, 3)
    honest_asks = [Ask(1, 0, 4), Ask(2, 2, 2), Ask(3, 9, 2)]
    honest = clear("proofphi", bids, honest_asks)
    assert honest.ell == 1
    assert prover_utility(honest, honest_asks[1]) == 0

    split = [Ask(1, 0, 4), Ask(21, 2, 1), Ask(22, 3, 1), Ask(3, 9, 2)]
    out = clear("proofphi", bids, split)
    assert out.ell == 2
    assert out.unit_payments[21] == (3,)
    assert prover_utility(out, split[1]) + prover_utility(out, split[2]) == 1
    assert 22 not in out.payouts


def test_no_trade_when_cheapest_ask_exceeds_highest_fee() -> None:
    out = clear("proofphi", tasks(5, 4), [Ask(1, 6, 3), Ask(2, 7, 1)])
    assert out == Outcome(mechanism="proofphi", ell=0)


def test_single_ask_never_trades_because_it_sets_the_price() -> None:
    assert not clear("proofphi", tasks(100, 100), [Ask(1, 0, 5)]).traded


def test_no_trade_without_bids_or_asks() -> None:
    assert not clear("proofphi", [], [Ask(1, 0, 5)]).traded
    assert not clear("proofphi", tasks(3), []).traded


def test_equal_fees_break_ties_by_id() -> None:
    bids = [Bid(7, 5, 1), Bid(3, 5, 1), Bid(5, 5, 1), Bid(1, 1, 1)]
    out = clear("proofphi", bids, [Ask(1, 0, 2), Ask(2, 1, 5)])
    assert out.order == (3, 5)
    assert out.charges == {3: 5, 5: 5}


unit_bids = st.lists(st.integers(0, 20), min_size=0, max_size=8)
asks_st = st.lists(st.tuples(st.integers(0, 12), st.integers(1, 4)), min_size=0, max_size=4)


def build(fees: list[int], asks: list[tuple[int, int]]) -> tuple[list[Bid], list[Ask]]:
    return tasks(*fees), [Ask(100 + i, c, s) for i, (c, s) in enumerate(asks)]


@settings(max_examples=200, deadline=None)
@given(unit_bids, asks_st)
def test_outcome_passes_audit(fees: list[int], asks: list[tuple[int, int]]) -> None:
    bid_list, ask_list = build(fees, asks)
    audit("proofphi", bid_list, ask_list, clear("proofphi", bid_list, ask_list))


@settings(max_examples=120, deadline=None)
@given(unit_bids, asks_st, st.data())
def test_no_fee_deviation_helps_a_task(
    fees: list[int], asks: list[tuple[int, int]], data: st.DataObject
) -> None:
    bid_list, ask_list = build(fees, asks)
    if not bid_list:
        return
    me = data.draw(st.sampled_from(bid_list))
    out = clear("proofphi", bid_list, ask_list)
    honest = me.value - out.charges[me.id] if me.id in out.charges else 0
    for lie in range(0, 24):
        lied = [b if b.id != me.id else Bid(me.id, lie, 1) for b in bid_list]
        dev = clear("proofphi", lied, ask_list)
        gained = me.value - dev.charges[me.id] if me.id in dev.charges else 0
        assert gained <= honest, (me, lie)


@settings(max_examples=120, deadline=None)
@given(unit_bids, asks_st, st.data())
def test_no_cost_deviation_helps_a_prover(
    fees: list[int], asks: list[tuple[int, int]], data: st.DataObject
) -> None:
    bid_list, ask_list = build(fees, asks)
    if not ask_list:
        return
    me = data.draw(st.sampled_from(ask_list))
    honest = prover_utility(clear("proofphi", bid_list, ask_list), me)
    for lie in range(0, 24):
        lied = [a if a.id != me.id else Ask(me.id, lie, me.capacity) for a in ask_list]
        dev = clear("proofphi", bid_list, lied)
        gained = dev.payouts.get(me.id, 0) - me.cost * dev.units_sold().get(me.id, 0)
        assert gained <= honest, (me, lie)


def literal_proofphi(
    bids: list[Bid], asks: list[Ask]
) -> tuple[int, dict[int, int], dict[int, int]]:
    """Section 1.2 word for word: ℓ = max{j ∈ [0, N−1] : S_j < n, p_{j+1} ≤ f_{S_j+1}}."""
    ranked = sorted(bids, key=lambda b: (-b.value, b.id))
    ranked_asks = sorted(asks, key=lambda a: (a.cost, a.id))
    fees = [b.value for b in ranked]
    caps = [a.capacity for a in ranked_asks]
    ok = [
        j
        for j in range(len(ranked_asks))
        if sum(caps[:j]) < len(fees) and ranked_asks[j].cost <= fees[sum(caps[:j])]
    ]
    ell = max(ok, default=0)
    if ell == 0:
        return 0, {}, {}
    s_ell = sum(caps[:ell])
    charges = {b.id: fees[s_ell] for b in ranked[:s_ell]}
    payouts = {a.id: a.capacity * ranked_asks[ell].cost for a in ranked_asks[:ell]}
    return ell, charges, payouts


@settings(max_examples=300, deadline=None)
@given(unit_bids, asks_st)
def test_matches_the_literal_definition(fees: list[int], asks: list[tuple[int, int]]) -> None:
    bid_list, ask_list = build(fees, asks)
    out = clear("proofphi", bid_list, ask_list)
    assert (out.ell, out.charges, out.payouts) == literal_proofphi(bid_list, ask_list)
