"""Value types of the clearing engine, the shared ranking rules (docs/mechanisms.md), validation.

Everything is an exact Python ``int`` (wei for amounts, units for sizes and capacities). The ranking
functions here are the single source of truth for the order of bids and asks; the Solidity contract
and the keeper must reproduce them exactly:

- bids by ``value/size`` descending (exact rational comparison by cross-multiplication), then
  ``size`` ascending, then ``id`` ascending;
- asks by ``cost`` ascending, then ``id`` ascending;
- units are assigned to winning bids consecutively in bid rank order, cheapest ask units first.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from functools import cmp_to_key
from operator import attrgetter
from typing import Any

from bridge.errors import InvalidBidError

__all__ = [
    "Ask",
    "Bid",
    "Outcome",
    "ask_rank_key",
    "bid_before",
    "bid_rank_key",
    "charge_shares",
    "compare_bids",
    "sort_asks",
    "sort_bids",
    "validate",
]


@dataclass(frozen=True, slots=True)
class Bid:
    """A requester's sealed bid, once opened: ``value`` (wei, total) for a job of ``size`` units."""

    id: int
    value: int
    size: int
    bidder: str = ""


@dataclass(frozen=True, slots=True)
class Ask:
    """A prover's sealed ask, once opened: ``cost`` (wei per unit) for up to ``capacity`` units."""

    id: int
    cost: int
    capacity: int
    prover: str = ""


@dataclass(frozen=True)
class Outcome:
    """The result of clearing one round.

    ``charges``: winning bid id -> amount charged (winners only).
    ``payouts``: selling ask id -> total paid (asks that sell at least one unit only).
    ``assignment``: winning bid id -> {ask id: units}; a winner's units sum to its size. The inner
    dicts list asks in ask rank order.
    ``unit_payments``: selling ask id -> payment of its 1st, 2nd, … sold unit; sums to the payout.
    ``order``: winning bid ids in bid rank order, the order in which units were handed out.
    ``mechanism``: ``"proofphi"``, ``"dara"`` or ``"fixedprice"``.
    ``bid_price`` / ``ask_price``: Prooφ's uniform per-task charge and per-unit payment (``None``
    when nothing trades, or for DARA and fixedprice, whose payments are individual thresholds).
    ``j_star``: DARA's welfare-maximizing unit count before trade reduction (0: no trade);
    ``ell``: Prooφ's number of allocated asks ℓ.
    ``price``: the fixed-price mechanism's posted per-unit price for the round (set whether or
    not anything trades; ``None`` for Prooφ and DARA).
    """

    mechanism: str
    charges: dict[int, int] = field(default_factory=dict)
    payouts: dict[int, int] = field(default_factory=dict)
    assignment: dict[int, dict[int, int]] = field(default_factory=dict)
    unit_payments: dict[int, tuple[int, ...]] = field(default_factory=dict)
    order: tuple[int, ...] = ()
    bid_price: int | None = None
    ask_price: int | None = None
    j_star: int | None = None
    ell: int | None = None
    price: int | None = None

    @property
    def traded(self) -> bool:
        """Whether at least one bid won."""
        return bool(self.charges)

    def units_sold(self) -> dict[int, int]:
        """Selling ask id -> units sold."""
        sold: dict[int, int] = {}
        for per_ask in self.assignment.values():
            for ask_id, units in per_ask.items():
                sold[ask_id] = sold.get(ask_id, 0) + units
        return sold

    def job_payments(self) -> dict[tuple[int, int], int]:
        """(bid id, ask id) -> sum of the unit payments of exactly the ask units given to that bid.

        Units of an ask go to bids consecutively in bid rank order (``order``), so the first bid
        taking units from an ask receives its first units and the payments for them.
        """
        cursor: dict[int, int] = {}
        jobs: dict[tuple[int, int], int] = {}
        for bid_id in self.order:
            for ask_id, units in self.assignment[bid_id].items():
                start = cursor.get(ask_id, 0)
                pays = self.unit_payments.get(ask_id, ())
                jobs[(bid_id, ask_id)] = sum(pays[start : start + units])
                cursor[ask_id] = start + units
        return jobs

    def margin(self) -> int:
        """Charges minus payouts: what the market keeps (never negative for a valid outcome)."""
        return sum(self.charges.values()) - sum(self.payouts.values())


# --------------------------------------------------------------------------------------------
# Ranking
# --------------------------------------------------------------------------------------------


def bid_rank_key(bid: Bid) -> tuple[Fraction, int, int]:
    """Sort key putting bids in rank order: ``value/size`` descending, ``size``, ``id`` ascending.

    Exact (``Fraction``); :func:`sort_bids` gives the same order faster.
    """
    return (Fraction(-bid.value, bid.size), bid.size, bid.id)


def ask_rank_key(ask: Ask) -> tuple[int, int]:
    """Sort key putting asks in rank order: ``cost`` ascending, then ``id`` ascending."""
    return (ask.cost, ask.id)


def compare_bids(a: Bid, b: Bid) -> int:
    """Three-way comparison in rank order by cross-multiplication (negative: ``a`` ranks first).

    This is the comparison the contract performs: ``a.value * b.size`` vs ``b.value * a.size``.
    """
    lhs = a.value * b.size
    rhs = b.value * a.size
    if lhs != rhs:
        return -1 if lhs > rhs else 1
    if a.size != b.size:
        return -1 if a.size < b.size else 1
    if a.id != b.id:
        return -1 if a.id < b.id else 1
    return 0


def bid_before(a: Bid, b: Bid) -> bool:
    """Whether bid ``a`` ranks strictly before bid ``b``."""
    return compare_bids(a, b) < 0


# Above this many bits for the common multiple of sizes, sort_bids falls back to comparisons.
_MAX_LCM_BITS = 4096


def _size_multiplier(sizes: Iterable[int]) -> int | None:
    """The lcm of the distinct sizes if it is small enough to scale ratios to exact integers."""
    lcm = 1
    for size in set(sizes):
        lcm = math.lcm(lcm, size)
        if lcm.bit_length() > _MAX_LCM_BITS:
            return None
    return lcm


def sort_bids(bids: Iterable[Bid]) -> list[Bid]:
    """Bids in rank order (docs/mechanisms.md), exactly.

    With ``L`` the lcm of the sizes, ``value/size`` orders like the integer ``value * (L // size)``,
    so the sort runs on plain integer tuples; for pathological size sets it compares by
    cross-multiplication instead. Same order as ``sorted(bids, key=bid_rank_key)``.
    """
    items = list(bids)
    if not items:
        return items
    lcm = _size_multiplier(b.size for b in items)
    if lcm is None:
        return sorted(items, key=cmp_to_key(compare_bids))
    if lcm == 1:
        return sorted(items, key=lambda b: (-b.value, b.id))
    return sorted(items, key=lambda b: (-b.value * (lcm // b.size), b.size, b.id))


def sort_asks(asks: Iterable[Ask]) -> list[Ask]:
    """Asks in rank order (docs/mechanisms.md): ``cost`` ascending, then ``id``."""
    return sorted(asks, key=ask_rank_key)


# --------------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------------


def _is_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _bad(kind: str, ident: Any, fieldname: str, value: Any, fix: str) -> InvalidBidError:
    return InvalidBidError(f"{kind} {ident!r}: {fieldname}={value!r} is invalid; {fix}")


def _looks_valid(bids: list[Bid], asks: list[Ask], unit_bids: bool) -> bool:
    """Bulk checks (C-level ``map``/``min``) that accept every valid input; ``False`` on doubt."""
    if bids:
        if set(map(type, bids)) != {Bid}:
            return False
        ids = list(map(_ID, bids))
        values = list(map(_VALUE, bids))
        sizes = list(map(_SIZE, bids))
        if set(map(type, ids)) | set(map(type, values)) | set(map(type, sizes)) != {int}:
            return False
        if len(set(ids)) != len(ids) or min(values) < 0 or min(sizes) <= 0:
            return False
        if unit_bids and max(sizes) != 1:
            return False
    if asks:
        if set(map(type, asks)) != {Ask}:
            return False
        ids = list(map(_ID, asks))
        costs = list(map(_COST, asks))
        caps = list(map(_CAPACITY, asks))
        if set(map(type, ids)) | set(map(type, costs)) | set(map(type, caps)) != {int}:
            return False
        if len(set(ids)) != len(ids) or min(costs) < 0 or min(caps) <= 0:
            return False
    return True


_ID = attrgetter("id")
_VALUE = attrgetter("value")
_SIZE = attrgetter("size")
_COST = attrgetter("cost")
_CAPACITY = attrgetter("capacity")


def validate(
    bids: Iterable[Bid], asks: Iterable[Ask], *, unit_bids: bool = False
) -> tuple[list[Bid], list[Ask]]:
    """Check the inputs of a clearing and return them as lists.

    Raises :class:`~bridge.errors.InvalidBidError` naming the first offending bid or ask, the
    field, and the fix: non-``int`` amounts (``bool`` and ``float`` included), non-positive size or
    capacity, negative value or cost, duplicate ids, and (``unit_bids``: Prooφ) size other than 1.
    """
    bid_list = list(bids)
    ask_list = list(asks)
    if _looks_valid(bid_list, ask_list, unit_bids):
        return bid_list, ask_list
    # something is wrong: walk the inputs in order to name the first offender
    seen: set[int] = set()
    for b in bid_list:
        if not isinstance(b, Bid):
            raise InvalidBidError(f"expected a Bid, got {type(b).__name__}: {b!r}")
        if not _is_int(b.id):
            raise _bad("bid", b.id, "id", b.id, "use an int id")
        if b.id in seen:
            raise _bad("bid", b.id, "id", b.id, "bid ids must be unique within a round")
        seen.add(b.id)
        if not _is_int(b.value):
            raise _bad("bid", b.id, "value", b.value, "give the value as an int (wei)")
        if not _is_int(b.size):
            raise _bad("bid", b.id, "size", b.size, "give the size as an int (units)")
        if b.value < 0:
            raise _bad("bid", b.id, "value", b.value, "the value must be >= 0")
        if b.size <= 0:
            raise _bad("bid", b.id, "size", b.size, "the size must be >= 1")
        if unit_bids and b.size != 1:
            raise _bad("bid", b.id, "size", b.size, "Prooφ bids are single tasks: use size=1")
    seen.clear()
    for a in ask_list:
        if not isinstance(a, Ask):
            raise InvalidBidError(f"expected an Ask, got {type(a).__name__}: {a!r}")
        if not _is_int(a.id):
            raise _bad("ask", a.id, "id", a.id, "use an int id")
        if a.id in seen:
            raise _bad("ask", a.id, "id", a.id, "ask ids must be unique within a round")
        seen.add(a.id)
        if not _is_int(a.cost):
            raise _bad("ask", a.id, "cost", a.cost, "give the cost as an int (wei per unit)")
        if not _is_int(a.capacity):
            raise _bad("ask", a.id, "capacity", a.capacity, "give the capacity as an int (units)")
        if a.cost < 0:
            raise _bad("ask", a.id, "cost", a.cost, "the cost must be >= 0")
        if a.capacity <= 0:
            raise _bad("ask", a.id, "capacity", a.capacity, "the capacity must be >= 1")
    return bid_list, ask_list


# --------------------------------------------------------------------------------------------
# Settlement helpers shared with the contract
# --------------------------------------------------------------------------------------------


def charge_shares(
    bid: Bid,
    charge: int,
    assignment_of_bid: Mapping[int, int],
    asks: Sequence[Ask] | None = None,
) -> dict[int, int]:
    """Split a winner's ``charge`` over the asks serving it, as the contract does.

    Each ask gets ``floor(charge * units / size)``; the bid's last ask in ask rank order gets the
    remainder, so the shares sum to ``charge`` exactly. The order is ``assignment_of_bid``'s own
    (``clear`` lists asks in rank order) unless ``asks`` is given, in which case it is recomputed
    from their costs and ids.
    """
    ask_ids = list(assignment_of_bid)
    if asks is not None:
        by_id = {a.id: a for a in asks}
        ask_ids.sort(key=lambda i: ask_rank_key(by_id[i]))
    shares: dict[int, int] = {}
    given = 0
    for n, ask_id in enumerate(ask_ids):
        if n == len(ask_ids) - 1:
            shares[ask_id] = charge - given
        else:
            share = charge * assignment_of_bid[ask_id] // bid.size
            shares[ask_id] = share
            given += share
    return shares
