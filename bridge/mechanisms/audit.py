"""Independent re-check of an outcome before settlement (docs/design/mechanisms.md).

``audit(mechanism, bids, asks, outcome, *, price=None)`` returns ``None`` or raises
:class:`~bridge.errors.AuditError` whose ``check`` names the first violated property, in this order
(``price`` is the round's posted price, required for ``"fixedprice"`` and refused otherwise):

``input``                  the bids and asks are valid for the mechanism (and the price is given
                           exactly when the mechanism takes one, as an int ≥ 1)
``mechanism``              the outcome says it was produced by this mechanism
``feasibility``            assignment only to known bids and asks, positive integer units, no ask
                           over capacity, charges exactly for winners, payouts exactly for sellers,
                           ``order`` lists the winners in bid rank order
``assignment_sums``        each winner's units sum to its size
``unit_payments``          one integer payment per sold unit, summing to the payout
``individual_rationality`` ``0 ≤ charge ≤ value``; every unit payment ≥ the ask's cost
``price_bounds``           fixedprice only: the outcome carries the posted price, every winner
                           has ``value ≥ price·size`` and every seller ``cost ≤ price``
                           (eligibility), ``charge ≥ price·size``, every unit payment ≤ price
``budget_balance``         Σ charges ≥ Σ payouts
``job_budget_balance``     per (bid, ask) job: the unit payments of its units ≤ the bid's
                           charge share for that ask (``charge_shares``), the rule the
                           contract uses to fund each job from its requester's charge
``equality``               the outcome equals a fresh clearing of the same input (at ``price``)

Everything is checked with explicit comparisons that raise; nothing relies on ``assert``.
"""

from __future__ import annotations

from collections.abc import Iterable

from bridge.errors import AuditError, InvalidInput
from bridge.mechanisms.clearing import MECHANISMS, PRICED, clear
from bridge.mechanisms.types import (
    Ask,
    Bid,
    Outcome,
    ask_rank_key,
    charge_shares,
    sort_bids,
    validate,
)

__all__ = ["CHECKS", "audit"]

CHECKS = (
    "input",
    "mechanism",
    "feasibility",
    "assignment_sums",
    "unit_payments",
    "individual_rationality",
    "price_bounds",
    "budget_balance",
    "job_budget_balance",
    "equality",
)


def _is_int(x: object) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def audit(
    mechanism: str,
    bids: Iterable[Bid],
    asks: Iterable[Ask],
    outcome: Outcome,
    *,
    price: int | None = None,
) -> None:
    """Re-check ``outcome`` against ``bids``, ``asks`` (and the posted ``price`` for fixedprice).

    Raises ``AuditError`` on the first violation.
    """
    try:
        bid_list, ask_list = validate(bids, asks, unit_bids=mechanism == "proofphi")
    except InvalidInput as exc:
        raise AuditError("input", str(exc)) from exc
    if not isinstance(mechanism, str) or mechanism not in MECHANISMS:
        raise AuditError("input", f"unknown mechanism {mechanism!r}")
    if mechanism in PRICED:
        if not _is_int(price) or price < 1:  # type: ignore[operator]
            raise AuditError(
                "input", f"{mechanism} is audited at the round's posted price: pass price=P >= 1"
            )
    elif price is not None:
        raise AuditError("input", f"{mechanism} takes no price (got price={price!r})")
    if outcome.mechanism != mechanism:
        raise AuditError(
            "mechanism", f"outcome is from {outcome.mechanism!r}, audited as {mechanism!r}"
        )
    bid_by = {b.id: b for b in bid_list}
    ask_by = {a.id: a for a in ask_list}

    # feasibility -------------------------------------------------------------------------
    sold: dict[int, int] = {}
    for bid_id, per_ask in outcome.assignment.items():
        if bid_id not in bid_by:
            raise AuditError("feasibility", f"assignment names unknown bid {bid_id!r}")
        if not per_ask:
            raise AuditError("feasibility", f"bid {bid_id} is assigned no units")
        for ask_id, units in per_ask.items():
            if ask_id not in ask_by:
                raise AuditError("feasibility", f"bid {bid_id} assigned to unknown ask {ask_id!r}")
            if not _is_int(units) or units <= 0:
                raise AuditError(
                    "feasibility", f"bid {bid_id} gets {units!r} units of ask {ask_id}"
                )
            sold[ask_id] = sold.get(ask_id, 0) + units
    for ask_id, units in sold.items():
        if units > ask_by[ask_id].capacity:
            raise AuditError(
                "feasibility",
                f"ask {ask_id} sells {units} units, capacity {ask_by[ask_id].capacity}",
            )
    if set(outcome.charges) != set(outcome.assignment):
        extra = set(outcome.charges) ^ set(outcome.assignment)
        raise AuditError("feasibility", f"charges and winners differ on bids {sorted(extra)}")
    if set(outcome.payouts) != set(sold):
        extra = set(outcome.payouts) ^ set(sold)
        raise AuditError("feasibility", f"payouts and selling asks differ on asks {sorted(extra)}")
    ranked_winners = tuple(b.id for b in sort_bids(bid_by[i] for i in outcome.assignment))
    if tuple(outcome.order) != ranked_winners:
        raise AuditError("feasibility", "order is not the winners in bid rank order")
    for bid_id, per_ask in outcome.assignment.items():
        keys = [ask_rank_key(ask_by[a]) for a in per_ask]
        if keys != sorted(keys):
            raise AuditError("feasibility", f"bid {bid_id}'s asks are not in ask rank order")

    # assignment sums ---------------------------------------------------------------------
    for bid_id, per_ask in outcome.assignment.items():
        total = sum(per_ask.values())
        if total != bid_by[bid_id].size:
            raise AuditError(
                "assignment_sums",
                f"bid {bid_id} is assigned {total} units, its size is {bid_by[bid_id].size}",
            )

    # unit payments -----------------------------------------------------------------------
    if set(outcome.unit_payments) != set(outcome.payouts):
        extra = set(outcome.unit_payments) ^ set(outcome.payouts)
        raise AuditError("unit_payments", f"unit payments and payouts differ on {sorted(extra)}")
    for ask_id, pays in outcome.unit_payments.items():
        if len(pays) != sold[ask_id]:
            raise AuditError(
                "unit_payments", f"ask {ask_id}: {len(pays)} unit payments, {sold[ask_id]} units"
            )
        if not all(_is_int(p) for p in pays):
            raise AuditError("unit_payments", f"ask {ask_id} has a non-integer unit payment")
        if not _is_int(outcome.payouts[ask_id]) or sum(pays) != outcome.payouts[ask_id]:
            raise AuditError(
                "unit_payments",
                f"ask {ask_id}: unit payments sum to {sum(pays)}, payout {outcome.payouts[ask_id]}",
            )

    # individual rationality --------------------------------------------------------------
    for bid_id, charge in outcome.charges.items():
        if not _is_int(charge) or charge < 0 or charge > bid_by[bid_id].value:
            raise AuditError(
                "individual_rationality",
                f"bid {bid_id} is charged {charge!r}, its value is {bid_by[bid_id].value}",
            )
    for ask_id, pays in outcome.unit_payments.items():
        cost = ask_by[ask_id].cost
        if any(p < cost for p in pays) or outcome.payouts[ask_id] < cost * sold[ask_id]:
            raise AuditError(
                "individual_rationality", f"ask {ask_id} is paid below its cost {cost} per unit"
            )

    # price bounds (fixedprice) -----------------------------------------------------------
    if price is not None:
        _check_price_bounds(price, bid_by, ask_by, outcome)

    # budget balance ----------------------------------------------------------------------
    total_in = sum(outcome.charges.values())
    total_out = sum(outcome.payouts.values())
    if total_in < total_out:
        raise AuditError("budget_balance", f"charges {total_in} < payouts {total_out}")
    jobs = outcome.job_payments()
    for bid_id, per_ask in outcome.assignment.items():
        # per_ask is in ask rank order (checked under feasibility), as the contract receives it
        shares = charge_shares(bid_by[bid_id], outcome.charges[bid_id], per_ask)
        for ask_id in per_ask:
            if jobs[(bid_id, ask_id)] > shares[ask_id]:
                raise AuditError(
                    "job_budget_balance",
                    f"job (bid {bid_id}, ask {ask_id}) pays {jobs[(bid_id, ask_id)]} "
                    f"but the bid's charge share is {shares[ask_id]}",
                )

    # equality with a fresh clearing ------------------------------------------------------
    fresh = clear(mechanism, bid_list, ask_list, price=price)
    if fresh != outcome:
        raise AuditError("equality", _first_difference(fresh, outcome))


def _check_price_bounds(
    price: int, bid_by: dict[int, Bid], ask_by: dict[int, Ask], outcome: Outcome
) -> None:
    """The fixed-price bounds: eligibility at ``price`` first, then the payment bounds."""
    if outcome.price != price:
        raise AuditError(
            "price_bounds", f"outcome carries price {outcome.price!r}, the posted price is {price}"
        )
    for bid_id in outcome.order:
        bid = bid_by[bid_id]
        if bid.value < price * bid.size:
            raise AuditError(
                "price_bounds",
                f"bid {bid_id} wins but is not eligible: value {bid.value} < "
                f"price {price} × size {bid.size}",
            )
    for ask_id in outcome.unit_payments:
        if ask_by[ask_id].cost > price:
            raise AuditError(
                "price_bounds",
                f"ask {ask_id} sells but is not eligible: cost {ask_by[ask_id].cost} > "
                f"price {price}",
            )
    for bid_id in outcome.order:
        floor = price * bid_by[bid_id].size
        if outcome.charges[bid_id] < floor:
            raise AuditError(
                "price_bounds",
                f"bid {bid_id} is charged {outcome.charges[bid_id]} < price × size = {floor}",
            )
    for ask_id, pays in outcome.unit_payments.items():
        if any(p > price for p in pays):
            raise AuditError(
                "price_bounds", f"ask {ask_id} is paid {max(pays)} > price {price} for a unit"
            )


def _first_difference(fresh: Outcome, got: Outcome) -> str:
    for name in ("charges", "payouts", "assignment", "unit_payments", "order", "price"):
        if getattr(fresh, name) != getattr(got, name):
            return f"{name} differs from a fresh clearing"
    return "outcome metadata differs from a fresh clearing"
