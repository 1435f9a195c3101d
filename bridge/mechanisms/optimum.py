"""The welfare-maximizing allocation (docs/design/mechanisms.md), the yardstick of the benchmarks.

Bids are all-or-nothing: bid ``i`` either gets ``k_i`` units or none. Ask units are bought at their
cost, cheapest first, so with ``C(d)`` the cost of the ``d`` cheapest units,

    OPT = max over bid sets B with Σ_{i∈B} k_i ≤ m of  Σ_{i∈B} v_i − C(Σ_{i∈B} k_i).

Two exact solvers: a dynamic program over total units (``optimum_dp``, O(n·D) with D the total
demand capped at the supply; pure Python integers) and a mixed-integer program solved by HiGHS
(``optimum_milp``; the chosen set is re-scored in exact integers, and optimality holds up to
HiGHS' tolerances, which the tests check against the DP). ``optimum`` picks the DP when
``n·D`` is moderate and HiGHS otherwise.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import accumulate

import numpy as np

from bridge.errors import ClearingError
from bridge.mechanisms.types import Ask, Bid, sort_asks, validate

__all__ = ["Optimum", "optimum", "optimum_dp", "optimum_milp"]

# Above this many DP cells ``optimum`` switches to HiGHS.
DP_CELL_LIMIT = 3_000_000


@dataclass(frozen=True)
class Optimum:
    """Maximum welfare, the chosen bid ids, and ask id -> units used (the cheapest units)."""

    welfare: int
    bids: frozenset[int] = frozenset()
    ask_units: dict[int, int] = field(default_factory=dict)


def _cheapest_units(asks: list[Ask], units: int) -> tuple[int, dict[int, int]]:
    """Cost of the ``units`` cheapest ask units and how many come from each ask."""
    cost = 0
    used: dict[int, int] = {}
    left = units
    for a in sort_asks(asks):
        if left == 0:
            break
        take = min(left, a.capacity)
        used[a.id] = take
        cost += take * a.cost
        left -= take
    if left:
        raise ClearingError(f"{units} units requested but only {units - left} are offered")
    return cost, used


def _result(bids: list[Bid], asks: list[Ask], chosen: Iterable[int]) -> Optimum:
    ids = frozenset(chosen)
    by_id = {b.id: b for b in bids}
    units = sum(by_id[i].size for i in ids)
    cost, used = _cheapest_units(asks, units)
    return Optimum(sum(by_id[i].value for i in ids) - cost, ids, used)


def optimum_dp(bids: Iterable[Bid], asks: Iterable[Ask]) -> Optimum:
    """Exact optimum by a knapsack DP over the number of units (pure integers)."""
    bid_list, ask_list = validate(bids, asks)
    supply = sum(a.capacity for a in ask_list)
    cap = min(supply, sum(b.size for b in bid_list))
    neg = -(1 << 512) - sum(b.value for b in bid_list)  # below any reachable value
    row = [0] + [neg] * cap
    rows: list[list[int]] = []
    for b in bid_list:
        rows.append(row)
        k, v = b.size, b.value
        if k > cap:
            continue
        shifted = [y + v for y in row[: cap + 1 - k]]
        row = row[:k] + [x if x >= y else y for x, y in zip(row[k:], shifted, strict=True)]
    # cost of the d cheapest units, d = 0 … cap
    unit_costs = [a.cost for a in sort_asks(ask_list) for _ in range(a.capacity)][:cap]
    costs = list(accumulate(unit_costs, initial=0))
    best_d = max(range(cap + 1), key=lambda d: (row[d] - costs[d], -d))
    # walk back through the rows to recover the chosen bids
    chosen: list[int] = []
    d = best_d
    for b, prev in zip(reversed(bid_list), reversed(rows), strict=True):
        if row[d] != prev[d]:
            chosen.append(b.id)
            d -= b.size
        row = prev
    return _result(bid_list, ask_list, chosen)


def optimum_milp(
    bids: Iterable[Bid], asks: Iterable[Ask], *, time_limit: float | None = None
) -> Optimum:
    """Optimum by HiGHS: binary ``x_i`` per bid, ``0 ≤ y_a ≤ capacity`` units per ask.

    maximize Σ v_i x_i − Σ c_a y_a  subject to  Σ k_i x_i − Σ y_a = 0. The relative gap is set to
    0; the returned welfare is recomputed exactly from the chosen bids.
    """
    import highspy  # local: only benchmarks need it

    bid_list, ask_list = validate(bids, asks)
    if not bid_list or not ask_list:
        return Optimum(0)
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("mip_rel_gap", 0.0)
    h.setOptionValue("threads", 1)
    if time_limit is not None:
        h.setOptionValue("time_limit", float(time_limit))
    n = len(bid_list)
    for _ in bid_list:
        h.addVar(0.0, 1.0)
    for a in ask_list:
        h.addVar(0.0, float(a.capacity))
    h.changeColsCost(
        n + len(ask_list),
        list(range(n + len(ask_list))),
        [-float(b.value) for b in bid_list] + [float(a.cost) for a in ask_list],
    )
    integer = np.full(n, int(highspy.HighsVarType.kInteger), dtype=np.uint8)
    h.changeColsIntegrality(n, np.arange(n, dtype=np.int32), integer)
    idx = list(range(n + len(ask_list)))
    coef = [float(b.size) for b in bid_list] + [-1.0] * len(ask_list)
    h.addRow(0.0, 0.0, len(idx), idx, coef)
    h.run()
    status = h.getModelStatus()
    if status != highspy.HighsModelStatus.kOptimal:
        raise ClearingError(f"HiGHS did not reach optimality: {h.modelStatusToString(status)}")
    sol = h.getSolution().col_value
    chosen = [b.id for b, x in zip(bid_list, sol[:n], strict=True) if x > 0.5]
    return _result(bid_list, ask_list, chosen)


def optimum(bids: Iterable[Bid], asks: Iterable[Ask]) -> Optimum:
    """Exact optimum: the DP for moderate instances, HiGHS for large ones."""
    bid_list, ask_list = validate(bids, asks)
    supply = sum(a.capacity for a in ask_list)
    cells = len(bid_list) * min(supply, sum(b.size for b in bid_list))
    if cells <= DP_CELL_LIMIT:
        return optimum_dp(bid_list, ask_list)
    return optimum_milp(bid_list, ask_list)
