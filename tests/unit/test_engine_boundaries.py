"""Boundary cases of the clearing engine: a value exactly 0, a bid against itself, a DP exactly at
its cell limit, an ask part-sold when the next bid comes, a zero-unit entry in an outcome.

Each test pins the exact result at the boundary where a comparison flips (``<`` against ``<=``,
``==`` against ``!=``); they were written against surviving mutants of ``bench/mutate.py``.
"""

from __future__ import annotations

import dataclasses
import importlib
from typing import Any

import pytest

from bridge.errors import AuditError, InvalidBidError
from bridge.mechanisms import (
    Ask,
    Bid,
    Optimum,
    audit,
    bid_before,
    clear,
    clear_fixedprice,
    optimum,
    optimum_dp,
    validate,
)

# the submodule (the package's ``optimum`` attribute is the function of the same name)
optimum_module = importlib.import_module("bridge.mechanisms.optimum")

# The DARA market of tests/unit/test_audit.py: three winners, bid 2 served by two asks.
BIDS = [Bid(0, 65, 2), Bid(1, 39, 3), Bid(2, 76, 4), Bid(3, 65, 4), Bid(4, 76, 1)]
ASKS = [Ask(100, 7, 2), Ask(101, 6, 3), Ask(102, 2, 3), Ask(103, 8, 4)]


def audit_check(outcome: Any, mechanism: str = "dara") -> AuditError:
    with pytest.raises(AuditError) as info:
        audit(mechanism, BIDS, ASKS, outcome)
    return info.value


# --------------------------------------------------------------------------------------------
# validate: value 0 and cost 0 are valid (the slow path, reached through a later offender)
# --------------------------------------------------------------------------------------------


def test_zero_value_bid_is_valid_so_the_error_names_the_later_negative_bid() -> None:
    with pytest.raises(InvalidBidError, match=r"^bid 2: value=-1 is invalid; the value must be"):
        validate([Bid(1, 0, 1), Bid(2, -1, 1)], [])


def test_zero_value_bid_is_valid_so_the_error_names_the_bad_ask() -> None:
    with pytest.raises(InvalidBidError, match=r"^ask 5: capacity=0 is invalid"):
        validate([Bid(1, 0, 1)], [Ask(5, 1, 0)])


def test_zero_cost_ask_is_valid_so_the_error_names_the_later_zero_capacity_ask() -> None:
    with pytest.raises(InvalidBidError, match=r"^ask 2: capacity=0 is invalid"):
        validate([Bid(1, 4, 1)], [Ask(1, 0, 1), Ask(2, 1, 0)])


def test_zero_value_and_zero_cost_orders_pass_validation_unchanged() -> None:
    bids = [Bid(1, 0, 1), Bid(2, 0, 3)]
    asks = [Ask(7, 0, 2), Ask(8, 0, 1)]
    assert validate(bids, asks) == (bids, asks)


# --------------------------------------------------------------------------------------------
# bid_before is strict
# --------------------------------------------------------------------------------------------


def test_bid_before_is_strict_for_a_bid_and_its_equal() -> None:
    bid = Bid(3, 12, 4, "alice")
    assert not bid_before(bid, bid)
    # same ranking fields, another bidder: still not strictly before, either way round
    twin = Bid(3, 12, 4, "bob")
    assert not bid_before(bid, twin)
    assert not bid_before(twin, bid)
    # one id apart, the lower id is strictly before
    assert bid_before(bid, Bid(4, 12, 4))
    assert not bid_before(Bid(4, 12, 4), bid)


# --------------------------------------------------------------------------------------------
# audit
# --------------------------------------------------------------------------------------------


def test_audit_rejects_a_zero_unit_entry_under_feasibility() -> None:
    good = clear("dara", BIDS, ASKS)
    assert good.assignment[4] == {102: 1}
    # bid 4 also "gets" 0 units of ask 103, and every other field is made consistent with that
    # (a zero payout, no unit payments), so only the positive-units rule can catch it
    bad = dataclasses.replace(
        good,
        assignment={**good.assignment, 4: {102: 1, 103: 0}},
        payouts={**good.payouts, 103: 0},
        unit_payments={**good.unit_payments, 103: ()},
    )
    err = audit_check(bad)
    assert err.check == "feasibility"
    assert "bid 4 gets 0 units of ask 103" in str(err)


def test_audit_accepts_a_genuine_zero_charge() -> None:
    # Prooφ with zero-cost asks and a zero-value bid: the winners are charged exactly 0
    bids = [Bid(1, 5, 1), Bid(2, 3, 1), Bid(3, 0, 1)]
    asks = [Ask(10, 0, 1), Ask(11, 0, 1), Ask(12, 0, 1)]
    out = clear("proofphi", bids, asks)
    assert out.charges == {1: 0, 2: 0}
    assert out.payouts == {10: 0, 11: 0}
    audit("proofphi", bids, asks, out)  # 0 <= charge <= value: individually rational


def test_audit_still_rejects_a_negative_charge() -> None:
    good = clear("dara", BIDS, ASKS)
    err = audit_check(dataclasses.replace(good, charges={**good.charges, 4: -1}))
    assert err.check == "individual_rationality"


def test_audit_equality_names_metadata_when_only_metadata_differs() -> None:
    good = clear("dara", BIDS, ASKS)
    assert good.j_star == 11
    err = audit_check(dataclasses.replace(good, j_star=10))
    assert err.check == "equality"
    assert "outcome metadata differs from a fresh clearing" in str(err)


# --------------------------------------------------------------------------------------------
# fixedprice: an ask is left for the next one only once it is sold out
# --------------------------------------------------------------------------------------------


def test_fixedprice_fills_the_cheapest_ask_to_capacity_before_the_next() -> None:
    # ask 10 (cost 1, capacity 2) must serve both unit bids; ask 11 sells nothing. Ask 10 is only
    # part-sold after bid 1, so leaving it too early shows as a wrong assignment, not a hang.
    bids = [Bid(1, 10, 1), Bid(2, 8, 1)]
    asks = [Ask(10, 1, 2), Ask(11, 2, 2)]
    out = clear_fixedprice(bids, asks, price=3)
    assert out.assignment == {1: {10: 1}, 2: {10: 1}}
    assert out.unit_payments == {10: (2, 2)}
    assert out.payouts == {10: 4}
    assert out.charges == {1: 3, 2: 3}
    assert out.order == (1, 2)


# --------------------------------------------------------------------------------------------
# optimum: the DP runs up to and including DP_CELL_LIMIT cells
# --------------------------------------------------------------------------------------------

# 3 bids, supply 4 < demand 5: 3 * 4 = 12 DP cells
OPT_BIDS = [Bid(0, 9, 2), Bid(1, 7, 1), Bid(2, 4, 2)]
OPT_ASKS = [Ask(10, 1, 2), Ask(11, 3, 2)]
OPT_CELLS = 12


@pytest.mark.parametrize(("limit", "milp_calls"), [(OPT_CELLS, 0), (OPT_CELLS - 1, 1)],
                         ids=["at-the-limit-the-dp", "one-cell-over-highs"])
def test_optimum_uses_the_dp_up_to_exactly_the_cell_limit_then_highs(
        monkeypatch: pytest.MonkeyPatch, limit: int, milp_calls: int) -> None:
    """Both solvers find the optimum, so the route shows only in which one ran: HiGHS is
    watched (and still solves) rather than replaced."""
    calls: list[int] = []
    real_milp = optimum_module.optimum_milp

    def watched_milp(bids: Any, asks: Any, **kwargs: Any) -> Optimum:
        calls.append(len(bids))
        return real_milp(bids, asks, **kwargs)

    monkeypatch.setattr(optimum_module, "DP_CELL_LIMIT", limit)
    monkeypatch.setattr(optimum_module, "optimum_milp", watched_milp)
    got = optimum(OPT_BIDS, OPT_ASKS)
    assert calls == [3] * milp_calls
    assert got == Optimum(11, frozenset({0, 1}), {10: 2, 11: 1}) == optimum_dp(OPT_BIDS, OPT_ASKS)
