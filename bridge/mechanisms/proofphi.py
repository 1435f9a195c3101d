"""Prooφ's core auction (seed 001, Section 1.2; docs/design/mechanisms.md).

Bids are single tasks (``size == 1``) with fees ``f_1 ≥ … ≥ f_n`` in bid rank order; asks are
ranked ``p_1 ≤ … ≤ p_N`` with capacities ``s_j`` and ``S_j = s_1 + … + s_j``. ``ℓ`` is the largest
``j ∈ [0, N−1]`` with ``S_j < n`` and ``p_{j+1} ≤ f_{S_j+1}``; the condition is monotone in ``j``
(``S_j`` grows, so ``f_{S_j+1}`` falls while ``p_{j+1}`` rises), so the scan stops at the first
failure. The first ``ℓ`` asks sell their full capacity to the top ``S_ℓ`` tasks; every winning task
is charged ``f_{S_ℓ+1}`` and every sold unit is paid ``p_{ℓ+1}``. ``ℓ = 0`` means no trade.

Which winning task goes to which selling prover changes no payment (every task pays the same fee,
every unit earns the same price). We fill the asks in rank order with the winners in *id* (commit)
order, so that a paged settlement can check each winner's assignment from a running count alone
(see docs/design/contract.md, "Paged settlement").

Clearing is one sort of the bids and asks plus a scan over the asks: O(n log n + N).
"""

from __future__ import annotations

from collections.abc import Iterable
from operator import attrgetter

from bridge.mechanisms.types import Ask, Bid, Outcome, sort_asks, validate

__all__ = ["clear_proofphi"]


def clear_proofphi(bids: Iterable[Bid], asks: Iterable[Ask]) -> Outcome:
    """Clear one Prooφ round; ``InvalidBidError`` on invalid input (any size ≠ 1 included)."""
    bid_list, ask_list = validate(bids, asks, unit_bids=True)
    # fee descending, then id (docs/design/mechanisms.md; sizes are all 1): two stable C-keyed sorts
    ranked_bids = sorted(
        sorted(bid_list, key=attrgetter("id")), key=attrgetter("value"), reverse=True
    )
    ranked_asks = sort_asks(ask_list)
    n = len(ranked_bids)
    fees = [b.value for b in ranked_bids]

    ell = 0
    filled = 0  # S_j for the current j
    for j in range(len(ranked_asks)):  # candidate j = 0 … N−1 tests ask j+1 (0-based index j)
        if filled >= n or ranked_asks[j].cost > fees[filled]:
            break
        ell = j
        filled += ranked_asks[j].capacity
    # ``ell`` is now the last j whose condition held; the loop re-counted S up to S_{ell+1}.
    if ell == 0:
        return Outcome(mechanism="proofphi", ell=0)

    sold = sum(a.capacity for a in ranked_asks[:ell])  # S_ℓ < n by the condition at j = ℓ
    charge = fees[sold]  # f_{S_ℓ+1}
    price = ranked_asks[ell].cost  # p_{ℓ+1}

    charges: dict[int, int] = {}
    assignment: dict[int, dict[int, int]] = {}
    unit_payments: dict[int, tuple[int, ...]] = {}
    payouts: dict[int, int] = {}
    winners = sorted(ranked_bids[:sold], key=attrgetter("id"))
    pos = 0
    for ask in ranked_asks[:ell]:
        for bid in winners[pos : pos + ask.capacity]:
            assignment[bid.id] = {ask.id: 1}
        pos += ask.capacity
        unit_payments[ask.id] = (price,) * ask.capacity
        payouts[ask.id] = price * ask.capacity
    order = tuple(b.id for b in ranked_bids[:sold])
    charges = dict.fromkeys(order, charge)
    return Outcome(
        mechanism="proofphi",
        charges=charges,
        payouts=payouts,
        assignment=assignment,
        unit_payments=unit_payments,
        order=order,
        bid_price=charge,
        ask_price=price,
        ell=ell,
    )
