"""DARA: trade-reduced asymmetric composition, threshold payments (seed 003; docs/mechanisms.md).

Allocation (Definitions 34–36 with the linear ``v/k`` ranking and the cost ranking): ask units
``r̂_1 ≤ … ≤ r̂_m`` in ask rank order; for each ``j`` walk the bids in rank order and accept bid
``i`` if ``v_i ≥ k_i·r̂_j`` and it still fits in ``j`` units (skip it otherwise and keep walking);
``w_j = Σ accepted v − Σ_{u≤j} r̂_u`` and ``w_0 = 0``; ``j*`` is the smallest maximizer; then the
ask owning unit ``j*`` and every accepted bid with a unit on it are removed (trade reduction).

Payments are thresholds: a winning bid pays the smallest integer value with which it would still
win, everything else fixed; a selling ask is paid for its ``u``-th sold unit the largest integer
cost with which it would still sell at least ``u`` units.

Speed. Evaluating every ``j`` literally is O(m·n). With bids ranked and prefix sums ``K_q`` (units)
and ``V_q`` (value) of the first ``q`` bids, write ``p(j)`` for the number of bids passing the
0-threshold at ``r̂_j`` (a prefix, because ``v ≥ k·c`` is ``v/k ≥ c``) and ``q(j)`` for the number
of them that fit before the first skip. Every ``j`` is one of, or dominated by one of:

- *regular* ``j = K_q`` where bid ``q`` passes at ``r̂_{K_q}``: then ``I_j`` is exactly the first
  ``q`` bids. Regularity is monotone in ``q`` (ratios fall, unit costs rise), so the regular ``q``
  form a prefix ``1..q0``. A ``j`` whose first non-fitting bid ``q+1`` is regular satisfies
  ``w_j ≤ w_{K_{q+1}}`` (the skipped-in bids have ratio ≤ ``v_{q+1}/k_{q+1}`` and the extra units
  cost at most that);
- *saturated* ``j`` where every passing bid fits (``q(j) = p(j)``): ``w_j = V_p − C(j)`` is largest
  at the smallest such ``j`` of each ask, ``max(first unit of the ask, K_p)``;
- the single *segment* ``K_{q0} ≤ j < K_{q0+1}`` in which bid ``q0+1`` passes but is not regular;
  it has fewer than ``k_{q0+1}`` units and is evaluated literally.

Ties (the smallest maximizer) need no more: a dominated ``j`` with ``K_q < j < K_{q+1}`` has
``w_{K_{q+1}} − w_j ≥ (k_{q+1} − e)(v_{q+1}/k_{q+1} − r̂_{K_{q+1}}) + (j − K_q − e)·r̂`` where ``e``
counts the skipped-in units, and a skipped-in bid of ratio ``v_{q+1}/k_{q+1}`` ranks after bid
``q+1`` only by a size ≥ ``k_{q+1}`` (so it cannot fit); equality thus needs ``e = 0``, and
then ``w_j = V_q − C(j) ≤ w_{K_q}`` with ``K_q < j``: a tie is first attained at a candidate, and
every candidate scan keeps the smallest ``j`` of a tie. One
evaluation is thus O(n + T·log n + segment), vectorized over int64 arrays when the amounts are
small enough to rule out overflow (else the same on Python ints).

Thresholds use that the allocation is monotone (tested against brute force). A bid first tries
the value at which it would drop behind the first trade-reduced bid, an ask the cost at which it
would drop behind the trade-reduced ask; a guess ``t`` is accepted only if the participant wins
at ``t`` and loses at ``t − 1`` (sells all at ``t``, none at ``t + 1``), which proves it. Failing
that, a binary search over the breakpoints where the participant's rank or a 0-threshold test
changes finds the interval of fixed structure holding the threshold, and inside it every ``w_j``
is linear in the participant's amount, so the switch point is the crossing of two lines read
off two evaluations (with a plain integer binary search as the last resort).
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from itertools import accumulate
from typing import Any

import numpy as np

from bridge.mechanisms.types import (
    Ask,
    Bid,
    Outcome,
    _size_multiplier,
    sort_asks,
    sort_bids,
    validate,
)

__all__ = ["clear_dara", "clear_dara_reference"]


# --------------------------------------------------------------------------------------------
# Asks, prepared once per evaluation
# --------------------------------------------------------------------------------------------


class _Supply:
    """Ranked asks as unit intervals: ask ``a`` holds units ``start[a]+1 … end[a]`` (1-based)."""

    __slots__ = ("_arrays", "cost_before", "costs", "end", "ids", "start")

    def __init__(
        self,
        ids: tuple[int, ...],
        costs: tuple[int, ...],
        start: tuple[int, ...],
        end: tuple[int, ...],
        cost_before: tuple[int, ...],
    ) -> None:
        self.ids = ids
        self.costs = costs
        self.start = start
        self.end = end
        self.cost_before = cost_before  # total cost of all units before ask a's first unit
        self._arrays: tuple[Any, Any, Any, Any] | None = None

    @property
    def m(self) -> int:
        return self.end[-1] if self.end else 0

    def arrays(self) -> tuple[Any, Any, Any, Any]:
        """int64 arrays (end, costs, start, cost_before) for the fast path."""
        arrays = self._arrays
        if arrays is None:
            arrays = self._arrays = (
                np.asarray(self.end, dtype=np.int64),
                np.asarray(self.costs, dtype=np.int64),
                np.asarray(self.start, dtype=np.int64),
                np.asarray(self.cost_before, dtype=np.int64),
            )
        return arrays

    def ask_of(self, j: int) -> int:
        """Index of the ask owning unit ``j`` (1-based)."""
        return bisect.bisect_left(self.end, j)


def _supply(ranked: Sequence[Ask]) -> _Supply:
    ends = tuple(accumulate(a.capacity for a in ranked))
    starts = tuple(e - a.capacity for e, a in zip(ends, ranked, strict=True))
    before = tuple(accumulate((a.cost * a.capacity for a in ranked[:-1]), initial=0))
    return _Supply(
        ids=tuple(a.id for a in ranked),
        costs=tuple(a.cost for a in ranked),
        start=starts,
        end=ends,
        cost_before=before if ranked else (),
    )


# --------------------------------------------------------------------------------------------
# The allocation (before trade reduction), fast and literal
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Alloc:
    """``j*`` and ``I_{j*}``: the first ``q`` ranked bids plus ``extra`` (skipped-in later ones)."""

    j_star: int
    q: int
    extra: tuple[int, ...]
    best: int  # w_{j*}

    @property
    def accepted(self) -> tuple[int, ...]:
        return (*range(self.q), *self.extra)


_NO_TRADE = _Alloc(0, 0, (), 0)
_BIG = 1 << 62  # int64 fast path only while every intermediate stays below this
_ZERO = np.zeros(1, dtype=np.int64)
_HUGE = np.full(1, _BIG, dtype=np.int64)


class _Demand:
    """Ranked bids as parallel sequences with prefix sums ``K`` (units) and ``V`` (value).

    On the fast path the sequences are int64 numpy arrays (the caller has checked that no sum or
    product can reach 2**62); otherwise Python lists of ints.
    """

    __slots__ = ("K", "V", "_lists", "_sufmin", "fast", "n", "sizes", "vals")

    def __init__(
        self,
        vals: Any,
        sizes: Any,
        *,
        fast: bool = False,
        lists: tuple[list[int], list[int]] | None = None,
    ) -> None:
        self.vals = vals
        self.sizes = sizes
        self.n = len(vals)
        self.fast = fast
        self._sufmin: Any = None
        self._lists = lists
        self.K: Any
        self.V: Any
        if fast:
            self.K = np.concatenate((_ZERO, np.cumsum(sizes)))
            self.V = np.concatenate((_ZERO, np.cumsum(vals)))
        else:
            self.K = list(accumulate(sizes, initial=0))
            self.V = list(accumulate(vals, initial=0))

    @property
    def sufmin(self) -> Any:
        """``sufmin[i]``: smallest size among bids ``i…`` (``sufmin[n]`` is huge)."""
        if self._sufmin is None:
            if self.fast:
                tail = np.minimum.accumulate(self.sizes[::-1])[::-1]
                self._sufmin = np.concatenate((tail, _HUGE)).tolist()
            else:
                self._sufmin = [*reversed(list(accumulate(reversed(self.sizes), min))), _BIG]
        return self._sufmin

    def lists(self) -> tuple[list[int], list[int]]:
        """(sizes, values) as Python lists, for scalar-heavy scans."""
        if self._lists is None:
            if self.fast:
                self._lists = (self.sizes.tolist(), self.vals.tolist())
            else:
                self._lists = (self.sizes, self.vals)
        return self._lists

    def passing(self, cost: int) -> int:
        """Number of leading bids with ``v ≥ k·cost`` (a prefix: the ranking is by ``v/k``)."""
        vals, sizes = self.vals, self.sizes
        lo, hi = 0, self.n
        while lo < hi:
            mid = (lo + hi) // 2
            if vals[mid] >= sizes[mid] * cost:
                lo = mid + 1
            else:
                hi = mid
        return lo

    def fill(self, j: int, p: int) -> tuple[int, int, list[int]]:
        """Greedy with skips over the first ``p`` bids, capacity ``j``: (value, q, extras)."""
        if self.fast:
            q = int(np.searchsorted(self.K[: p + 1], j, side="right")) - 1
        else:
            q = bisect.bisect_right(self.K, j, 0, p + 1) - 1
        value = int(self.V[q])
        extra: list[int] = []
        rem = j - int(self.K[q])
        if rem > 0 and q + 1 < p:
            sizes, vals = self.lists()
            i, steps = q + 1, 0
            while rem > 0 and i < p:
                steps += 1
                if steps > 16 and self.sufmin[i] > rem:  # nothing further fits
                    break
                k = sizes[i]
                if k <= rem:
                    rem -= k
                    value += vals[i]
                    extra.append(i)
                i += 1
        return value, q, extra


def _passing_all(demand: _Demand, supply: _Supply) -> list[int]:
    """Passing count for every ask (by index)."""
    if demand.fast:
        negfloor = -(demand.vals // demand.sizes)  # v ≥ k·c  ⇔  ⌊v/k⌋ ≥ c for integer c
        costs = np.asarray(supply.costs, dtype=np.int64)
        out: list[int] = np.searchsorted(negfloor, -costs, side="right").tolist()
        return out
    cache: dict[int, int] = {}
    res = []
    for c in supply.costs:
        p = cache.get(c)
        if p is None:
            p = cache[c] = demand.passing(c)
        res.append(p)
    return res


def _candidates_py(demand: _Demand, supply: _Supply, passing: list[int]) -> tuple[int, int, int]:
    """(q0, best w, its smallest j) over the regular and saturated candidates; pure Python."""
    K, V, vals, sizes = demand.K, demand.V, demand.vals, demand.sizes
    costs, start, end, before = supply.costs, supply.start, supply.end, supply.cost_before
    m = supply.m
    best_w, best_j = 0, 0
    a = 0
    q0 = 0
    for q in range(1, demand.n + 1):
        kq = K[q]
        if kq > m:
            break
        while end[a] < kq:
            a += 1
        if vals[q - 1] < sizes[q - 1] * costs[a]:
            break
        w = V[q] - (before[a] + costs[a] * (kq - start[a]))
        q0 = q
        if w > best_w:
            best_w, best_j = w, kq
    for a, p in enumerate(passing):
        j = max(start[a] + 1, K[p])
        if j <= end[a]:
            w = V[p] - (before[a] + costs[a] * (j - start[a]))
            if w > best_w or (w == best_w and j < best_j):
                best_w, best_j = w, j
    return q0, best_w, best_j


def _candidates_np(demand: _Demand, supply: _Supply, passing: list[int]) -> tuple[int, int, int]:
    """Same as :func:`_candidates_py`, vectorized over int64 arrays."""
    arr = supply.arrays()
    end, costs, start, before = arr
    K, V = demand.K, demand.V
    kq = K[1:]
    a_idx = np.minimum(np.searchsorted(end, kq, side="left"), len(end) - 1)
    rhat = costs[a_idx]
    regular = (kq <= supply.m) & (demand.vals >= demand.sizes * rhat)
    q0 = demand.n if bool(regular.all()) else int(np.argmin(regular))
    best_w, best_j = 0, 0
    if q0:
        ai = a_idx[:q0]
        w = V[1 : q0 + 1] - (before[ai] + rhat[:q0] * (kq[:q0] - start[ai]))
        i = int(np.argmax(w))
        if int(w[i]) > 0:
            best_w, best_j = int(w[i]), int(kq[i])
    p = np.asarray(passing, dtype=np.int64)
    j0 = np.maximum(start + 1, K[p])
    ok = j0 <= end
    if bool(ok.any()):
        ws = (V[p] - (before + costs * (j0 - start)))[ok]
        js = j0[ok]
        top = int(ws.max())
        j_top = int(js[ws == top].min())
        if top > best_w or (top == best_w and j_top < best_j):
            best_w, best_j = top, j_top
    return q0, best_w, best_j


def _allocate(demand: _Demand, supply: _Supply) -> _Alloc:
    """``j*`` and ``I_{j*}`` via the candidate structure described in the module docstring."""
    m = supply.m
    n = demand.n
    if m == 0 or n == 0:
        return _NO_TRADE
    K, V = demand.K, demand.V
    costs, start, before = supply.costs, supply.start, supply.cost_before
    passing = _passing_all(demand, supply)
    if demand.fast:
        q0, best_w, best_j = _candidates_np(demand, supply, passing)
    else:
        q0, best_w, best_j = _candidates_py(demand, supply, passing)

    # The segment K_{q0} ≤ j < K_{q0+1} where bid q0+1 passes but is not regular: here
    # q(j) = q0, so each I_j is the first q0 bids plus a greedy scan from bid q0+2 on.
    if q0 < n:
        k0, v0 = int(K[q0]), int(V[q0])
        lo = max(k0, 1)
        hi = min(int(K[q0 + 1]) - 1, m)
        sizes_l, vals_l = demand.lists()
        v_next, k_next = vals_l[q0], sizes_l[q0]
        end = supply.end
        a = supply.ask_of(lo) if lo <= m else 0
        for j in range(lo, hi + 1):
            while end[a] < j:
                a += 1
            c = costs[a]
            if v_next < k_next * c:
                break
            p = passing[a]
            rem, value, i, steps = j - k0, v0, q0 + 1, 0
            while rem > 0 and i < p:
                steps += 1
                if steps > 16 and demand.sufmin[i] > rem:  # nothing further fits
                    break
                k = sizes_l[i]
                if k <= rem:
                    rem -= k
                    value += vals_l[i]
                i += 1
            w = value - (before[a] + c * (j - start[a]))
            if w > best_w or (w == best_w and j < best_j):
                best_w, best_j = w, j

    if best_j == 0:
        return _NO_TRADE
    _, q, extra = demand.fill(best_j, passing[supply.ask_of(best_j)])
    return _Alloc(best_j, q, tuple(extra), best_w)


def _allocate_literal(demand: _Demand, supply: _Supply) -> _Alloc:
    """Definitions 34–36 word for word: O(m·n). The reference the fast path is tested against."""
    best_w, best_j = 0, 0
    best_set: tuple[int, ...] = ()
    total_cost = 0
    vals = [int(x) for x in demand.vals]
    sizes = [int(x) for x in demand.sizes]
    for j in range(1, supply.m + 1):
        c = supply.costs[supply.ask_of(j)]
        total_cost += c
        used = 0
        value = 0
        chosen: list[int] = []
        for i in range(demand.n):
            k = sizes[i]
            if vals[i] >= k * c and used + k <= j:
                used += k
                value += vals[i]
                chosen.append(i)
        w = value - total_cost
        if w > best_w:
            best_w, best_j, best_set = w, j, tuple(chosen)
    if best_j == 0:
        return _NO_TRADE
    q = 0
    while q < len(best_set) and best_set[q] == q:
        q += 1
    return _Alloc(best_j, q, best_set[q:], best_w)


# --------------------------------------------------------------------------------------------
# Trade reduction and unit assignment
# --------------------------------------------------------------------------------------------


def _winning_units(alloc: _Alloc, demand: _Demand, supply: _Supply) -> tuple[int, int]:
    """(number of winners, units they hold): winners are a prefix of the accepted list.

    Accepted bids take units consecutively, cheapest first; the ask owning unit ``j*`` and every
    accepted bid with a unit on it are removed, which leaves the accepted bids whose last unit lies
    before that ask's first unit.
    """
    if alloc.j_star == 0:
        return 0, 0
    limit = supply.start[supply.ask_of(alloc.j_star)]
    K = demand.K
    if int(K[alloc.q]) > limit:
        q = bisect.bisect_right(K, limit, 0, alloc.q + 1) - 1
        return q, int(K[q])
    units = int(K[alloc.q])
    count = alloc.q
    for i in alloc.extra:
        k = int(demand.sizes[i])
        if units + k > limit:
            break
        units += k
        count += 1
    return count, units


def _pieces(
    winners: Sequence[int], sizes: Sequence[int], supply: _Supply
) -> list[list[tuple[int, int]]]:
    """Per winner ``[(ask index, units)]`` in ask rank order, handing out units consecutively."""
    pieces: list[list[tuple[int, int]]] = []
    pos = 0
    a = 0
    for i in winners:
        need = sizes[i]
        parts: list[tuple[int, int]] = []
        while need:
            while supply.end[a] <= pos:
                a += 1
            take = min(need, supply.end[a] - pos)
            parts.append((a, take))
            need -= take
            pos += take
        pieces.append(parts)
    return pieces


# --------------------------------------------------------------------------------------------
# One instance, re-evaluated with one bid's value or one ask's cost changed
# --------------------------------------------------------------------------------------------

_Allocator = Callable[[_Demand, _Supply], _Alloc]


class _Market:
    """A ranked instance; evaluates the allocation with one bid's value or one ask's cost changed.

    ``mode``: ``"fast"`` (int64 arrays when the amounts allow it, else pure Python),
    ``"python"`` (candidate structure on Python ints) or ``"literal"`` (the O(m·n) definition).
    """

    def __init__(self, bids: Sequence[Bid], asks: Sequence[Ask], mode: str = "fast") -> None:
        self.bids = sort_bids(bids)
        self.asks = sort_asks(asks)
        self.allocate: _Allocator = _allocate_literal if mode == "literal" else _allocate
        # rank keys: value·(L/size) is an exact integer stand-in for value/size while the lcm L
        # of the sizes stays small; otherwise exact fractions (slower, same order)
        self._lcm = _size_multiplier(b.size for b in self.bids)
        self.keys = [self._key(b.value, b.size, b.id) for b in self.bids]
        self.vals = [b.value for b in self.bids]
        self.sizes = [b.size for b in self.bids]
        self.supply = _supply(self.asks)
        top_value = max(self.vals, default=0)
        top_cost = max(max((a.cost for a in self.asks), default=0), top_value + 1)
        units = self.supply.m + 1
        top_size = max(self.sizes, default=0)
        bound = sum(self.vals) + (units + top_size) * top_cost + top_size * top_value
        ids_fit = all(-_BIG < b.id < _BIG for b in self.bids)
        self.fast = mode == "fast" and bound < _BIG and ids_fit
        if self.fast:
            self.np_vals = np.asarray(self.vals, dtype=np.int64)
            self.np_sizes = np.asarray(self.sizes, dtype=np.int64)
            self.np_ids = np.asarray([b.id for b in self.bids], dtype=np.int64)
            self.demand = _Demand(
                self.np_vals, self.np_sizes, fast=True, lists=(self.sizes, self.vals)
            )
        else:
            self.demand = _Demand(self.vals, self.sizes)
        self._others: tuple[int, Any, Any] | None = None
        self._others_lists: tuple[list[int], list[int]] = ([], [])
        self._floor_points: list[int] | None = None

    def _key(self, value: int, size: int, ident: int) -> tuple[Any, int, int]:
        if self._lcm is None:
            return (Fraction(-value, size), size, ident)
        return (-value * (self._lcm // size), size, ident)

    def base(self) -> tuple[_Alloc, list[int]]:
        """The allocation and the winners (ranked indices) of the instance as given."""
        alloc = self.allocate(self.demand, self.supply)
        count, _ = _winning_units(alloc, self.demand, self.supply)
        return alloc, list(alloc.accepted[:count])

    # -- a bid with another value ----------------------------------------------------------
    def _without(self, idx: int) -> tuple[Any, Any]:
        """The other bids' values and sizes (arrays or lists), cached for the current ``idx``."""
        if self._others is None or self._others[0] != idx:
            if self.fast:
                ov: Any = np.delete(self.np_vals, idx)
                ok: Any = np.delete(self.np_sizes, idx)
            else:
                ov = self.vals[:idx] + self.vals[idx + 1 :]
                ok = self.sizes[:idx] + self.sizes[idx + 1 :]
            self._others = (idx, ov, ok)
            self._others_lists = (
                self.sizes[:idx] + self.sizes[idx + 1 :],
                self.vals[:idx] + self.vals[idx + 1 :],
            )
        return self._others[1], self._others[2]

    def bid_eval(self, idx: int, value: int) -> tuple[bool, int, bool]:
        """Ranked bid ``idx`` bidding ``value`` instead: (wins, w_{j*}, in ``I_{j*}``)."""
        b = self.bids[idx]
        ov, ok = self._without(idx)
        key = self._key(value, b.size, b.id)
        # position among the others: keys before it, not counting the bid's own original key
        pos = bisect.bisect_left(self.keys, key) - (1 if self.keys[idx] < key else 0)
        lk, lv = self._others_lists
        sizes_l = [*lk[:pos], b.size, *lk[pos:]]
        vals_l = [*lv[:pos], value, *lv[pos:]]
        if self.fast and value < _BIG:
            vals: Any = np.concatenate((ov[:pos], np.asarray([value], dtype=np.int64), ov[pos:]))
            sizes: Any = np.concatenate((ok[:pos], np.asarray([b.size], dtype=np.int64), ok[pos:]))
            demand = _Demand(vals, sizes, fast=True, lists=(sizes_l, vals_l))
        else:
            demand = _Demand(vals_l, sizes_l)
        alloc = self.allocate(demand, self.supply)
        count, _ = _winning_units(alloc, demand, self.supply)
        if pos < alloc.q:
            return pos < count, alloc.best, True
        if pos in alloc.extra:
            return pos in alloc.extra[: max(count - alloc.q, 0)], alloc.best, True
        return False, alloc.best, False

    def bid_wins_with(self, idx: int, value: int) -> bool:
        """Whether ranked bid ``idx`` wins when it bids ``value`` instead (others fixed)."""
        return self.bid_eval(idx, value)[0]

    def bid_breakpoints(self, idx: int) -> list[int]:
        """Values in ``[1, v]`` at which ranked bid ``idx``'s rank or 0-threshold passes change.

        Between consecutive points every ``I_j`` is fixed, so each ``w_j`` is a constant plus
        the bid's value if the bid is in ``I_j``.
        """
        b = self.bids[idx]
        k, key = b.size, (b.size, b.id)
        if self.fast:
            nums: Any = self.np_vals[idx + 1 :] * k
            sizes: Any = self.np_sizes[idx + 1 :]
            ids: Any = self.np_ids[idx + 1 :]
            ahead = (k < sizes) | ((k == sizes) & (b.id < ids))
            ranks = np.where(ahead, -(-nums // sizes), nums // sizes + 1)
            both = np.concatenate((ranks, np.asarray(self.supply.costs, dtype=np.int64) * k))
            both = np.unique(both[(both > 0) & (both <= b.value)])
            out: list[int] = both.tolist()
            return out
        pts = {k * c for c in self.supply.costs}
        for other in self.bids[idx + 1 :]:  # i stays ahead of ``other`` while value ≥ point
            num = other.value * k
            if key < (other.size, other.id):
                pts.add(-(-num // other.size))
            else:
                pts.add(num // other.size + 1)
        return sorted(p for p in pts if 0 < p <= b.value)

    # -- an ask with another cost ----------------------------------------------------------
    def ask_eval(self, idx: int, cost: int) -> tuple[int, int, int]:
        """Ranked ask ``idx`` asking ``cost`` instead: (units sold, w_{j*}, its units ≤ j*)."""
        a = self.asks[idx]
        others = self.asks[:idx] + self.asks[idx + 1 :]
        pos = bisect.bisect_left([(o.cost, o.id) for o in others], (cost, a.id))
        ranked = [*others[:pos], Ask(a.id, cost, a.capacity, a.prover), *others[pos:]]
        supply = _supply(ranked)
        demand = self.demand
        if self.fast and cost >= _BIG // max(supply.m + 1, 1):
            demand = _Demand(self.vals, self.sizes)  # such a cost could overflow int64
        alloc = self.allocate(demand, supply)
        _, units = _winning_units(alloc, demand, supply)
        first = supply.start[pos]
        sold = max(0, min(units - first, a.capacity))
        return sold, alloc.best, max(0, min(alloc.j_star - first, a.capacity))

    def ask_sells_with(self, idx: int, cost: int) -> int:
        """Units ranked ask ``idx`` sells when it asks ``cost`` instead (others fixed)."""
        return self.ask_eval(idx, cost)[0]

    @property
    def top_floor(self) -> int:
        """The largest ``⌊v/k⌋`` over the bids (0 without bids)."""
        pts = self.floor_points
        return pts[-1] - 1 if pts else 0

    @property
    def floor_points(self) -> list[int]:
        """Sorted distinct ``⌊v/k⌋ + 1``: the costs at which some bid stops passing."""
        if self._floor_points is None:
            self._floor_points = sorted(
                {v // k + 1 for v, k in zip(self.vals, self.sizes, strict=True)}
            )
        return self._floor_points

    def ask_breakpoints(self, idx: int, top: int) -> list[int]:
        """Costs in ``(own, top)`` at which ranked ask ``idx``'s rank or the passing sets change."""
        a = self.asks[idx]
        fp = self.floor_points
        pts = set(fp[bisect.bisect_right(fp, a.cost) : bisect.bisect_left(fp, top)])
        for o in self.asks[idx + 1 :]:  # a stays ahead of ``o`` while cost < point
            pts.add(o.cost + 1 if a.id < o.id else o.cost)
        return sorted(p for p in pts if a.cost < p < top)


def _rank_boundary(bid: Bid, other: Bid) -> int:
    """Smallest integer value with which ``bid`` ranks before ``other``."""
    num = other.value * bid.size
    if (bid.size, bid.id) < (other.size, other.id):
        return -(-num // other.size)
    return num // other.size + 1


def _bid_threshold(market: _Market, idx: int, hints: Sequence[int] = ()) -> int:
    """Smallest integer value with which ranked bid ``idx`` still wins (it wins at its own).

    ``hints`` are ranked bids whose rank boundary is a likely threshold (in practice the first
    trade-reduced bid: a winner usually wins exactly while it ranks ahead of it); a guess ``t``
    is accepted only when the bid wins at ``t`` and loses at ``t − 1``, which by monotonicity
    proves it.

    Winning is monotone in the value. Binary search over the breakpoints finds the interval
    ``[L, R]`` of fixed structure in which winning starts; there ``w_j = const_j + [i ∈ I_j]·v``,
    so the best ``w`` is ``max(A + v, B)`` and the switch is at ``v = B − A``, read off one
    losing evaluation (``B``) and one winning one (``A``). Anything unexpected falls back to a
    plain binary search over the integers of the interval.
    """
    value = market.vals[idx]
    seen: dict[int, tuple[bool, int, bool]] = {value: (True, 0, True)}

    def ev(v: int) -> tuple[bool, int, bool]:
        r = seen.get(v)
        if r is None:
            r = seen[v] = market.bid_eval(idx, v)
        return r

    me = market.bids[idx]
    for h in hints:
        guess = _rank_boundary(me, market.bids[h])
        if 0 < guess <= value and ev(guess)[0] and not ev(guess - 1)[0]:
            return guess

    grid = [0, *market.bid_breakpoints(idx)]
    if grid[-1] != value:
        grid.append(value)  # win(value) is known: the bid wins

    lo, hi = -1, len(grid) - 1  # win(grid[hi]) true; lo: virtual false
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if ev(grid[mid])[0]:
            hi = mid
        else:
            lo = mid
    if lo < 0:
        return grid[0]
    left, right = grid[lo], grid[hi] - 1  # fixed structure on [left, right]; win(right + 1)
    if left == right:
        return right + 1
    _, best_left, in_left = ev(left)
    if in_left:
        # j* holds the bid but trade-reduces it; raising the value lifts every w_j holding the
        # bid alike, so that j* stays the maximizer on the whole interval and the bid keeps losing
        return right + 1
    won, best_right, _ = ev(right)
    if not won:
        return right + 1
    switch = best_left - (best_right - right)  # B − A
    if left < switch < right:
        if ev(switch)[0]:
            return switch
        if ev(switch + 1)[0]:
            return switch + 1
    elif switch == right:
        return right
    # fallback: plain binary search over (left, right + 1]
    a, b = left, right + 1
    while b - a > 1:
        mid = (a + b) // 2
        if ev(mid)[0]:
            b = mid
        else:
            a = mid
    return b


def _ask_thresholds(
    market: _Market, idx: int, sold: int, hint: int | None = None
) -> tuple[int, ...]:
    """For u = 1 … sold: the largest integer cost with which ranked ask ``idx`` sells ≥ u units.

    Units sold fall with the cost. Between breakpoints (fixed structure) the ask sells a fixed
    number of units while ``j*`` lies beyond its units (``w_j = const − cost·capacity``) and none
    once another ``j`` overtakes; that switch is found by intersecting lines (each evaluation
    gives the best ``w`` and its slope), with a binary-search fallback.
    """
    own = market.asks[idx].cost
    cap = market.asks[idx].capacity
    # Above every bid's per-unit value no bid passes on this ask's units, so nothing sells.
    top = max(market.top_floor + 1, own + 1)
    out = [own] * (sold + 1)  # out[u] for u ≥ 1
    seen: dict[int, tuple[int, int, int]] = {}

    def ev(c: int) -> tuple[int, int, int]:
        r = seen.get(c)
        if r is None:
            r = seen[c] = market.ask_eval(idx, c)
        return r

    def last_selling(left: int, right: int) -> int:
        """Largest cost in [left, right] that still sells (sells at left, not at right + 1)."""
        _, best_left, _ = ev(left)
        line = best_left + cap * left  # w = line − cap·cost while j* lies beyond the ask
        c = right
        for _ in range(8):
            s_c, best_c, slope = ev(c)
            if s_c:
                if c == right or not ev(c + 1)[0]:
                    return c
                break
            if slope >= cap:
                break
            # the overtaking j: w = best_c + slope·(c − cost); meets the line at x
            x = (line - best_c - slope * c) // (cap - slope)
            if not left <= x < c:
                break
            c = x
        a, b = left, right + 1
        while b - a > 1:
            mid = (a + b) // 2
            if ev(mid)[0]:
                a = mid
            else:
                b = mid
        return a

    def split(i_lo: int, s_lo: int, i_hi: int, s_hi: int) -> None:
        # sold(grid[i_lo]) = s_lo ≥ s_hi = sold(grid[i_hi])
        if s_lo == s_hi:
            return
        if i_hi - i_lo == 1:
            left, right = grid[i_lo], grid[i_hi] - 1
            t = right if s_hi > 0 else last_selling(left, right)
            for u in range(s_hi + 1, s_lo + 1):
                out[u] = t
            return
        mid = (i_lo + i_hi) // 2
        s_mid = ev(grid[mid])[0]
        split(i_lo, s_lo, mid, s_mid)
        split(mid, s_mid, i_hi, s_hi)

    upper, s_upper = top, -1
    if hint is not None:
        # The trade-reduced ask: a seller usually sells while it ranks ahead of it. If it sells
        # s ≥ 1 units there and none one wei higher, units 1…s have that threshold, and only
        # the rest remain to be found below it.
        other = market.asks[hint]
        guess = other.cost if market.asks[idx].id < other.id else other.cost - 1
        if own <= guess < top:
            s_guess = ev(guess)[0]
            if s_guess and ev(guess + 1)[0] == 0:
                for u in range(1, s_guess + 1):
                    out[u] = guess
                if s_guess >= sold:
                    return tuple(out[1:])
                upper, s_upper = guess, s_guess
    grid = [own, *market.ask_breakpoints(idx, upper), upper]
    seen.setdefault(own, (sold, *market.ask_eval(idx, own)[1:]))
    split(0, sold, len(grid) - 1, ev(upper)[0] if s_upper < 0 else s_upper)
    return tuple(out[1:])


def _clear(bids: Iterable[Bid], asks: Iterable[Ask], mode: str) -> Outcome:
    bid_list, ask_list = validate(bids, asks)
    market = _Market(bid_list, ask_list, mode)
    alloc, winners = market.base()
    if not winners:
        return Outcome(mechanism="dara", j_star=alloc.j_star)
    supply = market.supply
    charges: dict[int, int] = {}
    assignment: dict[int, dict[int, int]] = {}
    sold: dict[int, int] = {}
    accepted = alloc.accepted
    hints = [accepted[len(winners)]] if len(accepted) > len(winners) else []
    hints += [i for i in range(winners[-1] + 1, len(market.bids)) if i not in accepted][:1]
    for i, parts in zip(winners, _pieces(winners, market.sizes, supply), strict=True):
        bid = market.bids[i]
        charges[bid.id] = _bid_threshold(market, i, hints)
        assignment[bid.id] = {supply.ids[a]: units for a, units in parts}
        for a, units in parts:
            sold[a] = sold.get(a, 0) + units
    unit_payments: dict[int, tuple[int, ...]] = {}
    payouts: dict[int, int] = {}
    reduced = supply.ask_of(alloc.j_star)
    for a in sorted(sold):
        pays = _ask_thresholds(market, a, sold[a], reduced)
        unit_payments[supply.ids[a]] = pays
        payouts[supply.ids[a]] = sum(pays)
    return Outcome(
        mechanism="dara",
        charges=charges,
        payouts=payouts,
        assignment=assignment,
        unit_payments=unit_payments,
        order=tuple(market.bids[i].id for i in winners),
        j_star=alloc.j_star,
    )


def clear_dara(bids: Iterable[Bid], asks: Iterable[Ask]) -> Outcome:
    """Clear one DARA round with exact integer threshold payments (docs/mechanisms.md)."""
    return _clear(bids, asks, "fast")


def clear_dara_reference(bids: Iterable[Bid], asks: Iterable[Ask]) -> Outcome:
    """The same mechanism with the literal O(m·n) allocation; slow, for tests and audits."""
    return _clear(bids, asks, "literal")
