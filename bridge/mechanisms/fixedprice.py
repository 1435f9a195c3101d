"""Fixed price: a per-unit price posted before the round opens (docs/mechanisms.md).

Clearing (``clear_fixedprice``). With the round's posted price ``p``, a bid is *eligible* if
``value ≥ p·size`` and an ask if ``cost ≤ p``. ``S`` is the eligible supply (the eligible asks'
capacities). The eligible bids are walked in bid rank order and each is accepted if its size
still fits in what is left of ``S`` (all or nothing; a bid that does not fit is skipped and the
walk goes on), so when the eligible demand fits every eligible bid wins. The accepted units are
served by the eligible ask units cheapest first, consecutively in bid rank order (the rules of
:class:`~bridge.mechanisms.types.Outcome`).

Eligibility is a prefix of each rank order (``value/size ≥ p`` for bids, ``cost ≤ p`` for asks),
and the allocation is monotone in each participant's report, so payments are thresholds:

- a winning bid pays ``max(p·size, t)``, ``t`` the smallest value with which it still ranks ahead
  of the first other bid after which it would no longer fit (0 if there is none). Removing the
  bid, the greedy over the others leaves ``rem_i`` units after the first ``i`` of them;
  ``rem_i`` never rises, the bid wins exactly when inserted where ``rem_i ≥ size``, and the
  "blocker" is the first other bid after which ``rem_i < size``;
- the ``u``-th sold unit of an ask is paid ``min(p, t_u)``, ``t_u`` the largest cost with which
  the ask still sells ``u`` units. The accepted units ``U`` do not depend on an eligible ask's
  cost, and an ask at rank position ``j`` (after ``P_j`` units of the others) sells
  ``min(capacity, U − P_j)``, so ``t_u`` is the largest cost that keeps the ask ahead of the first
  other ask that would leave it fewer than ``u`` units.

Both thresholds follow the exact tie rules of the ranking (cross-multiplication, then size, then
id for bids; cost, then id for asks). Then ``charge ≥ p·size ≥ p·units ≥`` the units' payments,
which is why the per-job budget balance of ``charge_shares`` holds.

Learning the price (``learn_price``). The price of round ``r`` depends only on the opened orders of
earlier, settled rounds (``history_window``), never on round ``r``'s own orders. In a round, the
fixed-price welfare ``W(p)`` (values of the accepted bids minus the costs of the sold ask units)
depends on ``p`` only through which bids and asks are eligible, so it is a step function whose
steps start at ``1``, at each ask's ``cost`` (it becomes eligible) and at each bid's
``⌊value/size⌋ + 1`` (it stops being eligible). ``welfare_steps`` evaluates each step once (the
greedy over a prefix, with prefix sums and a short tail walk), the steps of all rounds are summed,
and the price is the integer ``p ≥ 1`` with the largest summed welfare, among those the one
closest to ``previous``, then the lower — exactly, over every integer, with no thinning. It is
then clamped into ``step_bounds(previous, step_bps)``, the contract's integer rounding.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import accumulate

from bridge.errors import InvalidInput
from bridge.mechanisms.types import Ask, Bid, Outcome, sort_asks, sort_bids, validate

__all__ = [
    "DEFAULT_RULE",
    "PriceRule",
    "best_price",
    "check_price",
    "clear_fixedprice",
    "history_window",
    "learn_price",
    "price_for_round",
    "step_bounds",
    "welfare_steps",
]

BPS = 10_000

History = Sequence[tuple[Sequence[Bid], Sequence[Ask]]]


def _is_int(x: object) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def check_price(price: object, name: str = "price") -> int:
    """``price`` as an ``int ≥ 1``; ``InvalidInput`` naming the fix otherwise."""
    if not _is_int(price) or price < 1:  # type: ignore[operator]
        raise InvalidInput(
            f"{name}={price!r} is invalid; the posted price must be an int >= 1 (wei per unit)"
        )
    return price  # type: ignore[return-value]


# --------------------------------------------------------------------------------------------
# Clearing
# --------------------------------------------------------------------------------------------


def _rank_before_value(bid: Bid, other: Bid) -> int:
    """The smallest value with which ``bid`` (same size and id) ranks strictly before ``other``.

    Before means ``v·k_o > v_o·k``, or equality and ``(k, id) < (k_o, id_o)`` (``compare_bids``).
    """
    q, r = divmod(other.value * bid.size, other.size)
    if r == 0 and (bid.size, bid.id) < (other.size, other.id):
        return q
    return q + 1


def _rank_before_cost(ask: Ask, other: Ask) -> int:
    """The largest cost with which ``ask`` (same id) ranks strictly before ``other``."""
    return other.cost if ask.id < other.id else other.cost - 1


def clear_fixedprice(bids: Iterable[Bid], asks: Iterable[Ask], *, price: int) -> Outcome:
    """Clear one round at the posted per-unit ``price`` (threshold payments, exact integers).

    ``InvalidInput`` for a price that is not an ``int ≥ 1``; ``InvalidBidError`` for bad orders.
    """
    p = check_price(price)
    bid_list, ask_list = validate(bids, asks)
    eligible = [b for b in sort_bids(bid_list) if b.value >= p * b.size]  # a rank-order prefix
    sellers = [a for a in sort_asks(ask_list) if a.cost <= p]  # a rank-order prefix
    supply = sum(a.capacity for a in sellers)

    # the greedy: rem_before[i] is what is left when eligible bid i is considered
    rem = supply
    rem_before: list[int] = []
    accepted: list[int] = []
    for i, b in enumerate(eligible):
        rem_before.append(rem)
        if b.size <= rem:
            accepted.append(i)
            rem -= b.size
    if not accepted:
        return Outcome(mechanism="fixedprice", price=p)
    units = supply - rem

    # assignment: accepted units to the cheapest eligible ask units, in bid rank order
    assignment: dict[int, dict[int, int]] = {}
    sold = [0] * len(sellers)
    a = 0
    for i in accepted:
        need = eligible[i].size
        parts: dict[int, int] = {}
        while need:
            take = min(need, sellers[a].capacity - sold[a])
            if take:
                parts[sellers[a].id] = take
                sold[a] += take
                need -= take
            if sold[a] == sellers[a].capacity:
                a += 1
        assignment[eligible[i].id] = parts

    # bid thresholds
    charges: dict[int, int] = {}
    for i in accepted:
        b = eligible[i]
        left = rem_before[i]  # the others' greedy matches the real one up to bid i
        threshold = 0
        for j in range(i + 1, len(eligible)):
            size = eligible[j].size
            if size <= left:
                left -= size
                if left < b.size:
                    threshold = _rank_before_value(b, eligible[j])
                    break
        charges[b.id] = max(p * b.size, threshold)

    # ask thresholds: the u-th unit of the ask at position s is paid min(p, t_u)
    unit_payments: dict[int, tuple[int, ...]] = {}
    payouts: dict[int, int] = {}
    for s, ask in enumerate(sellers):
        if not sold[s]:
            continue
        others = sellers[:s] + sellers[s + 1 :]
        before = list(accumulate((o.capacity for o in others), initial=0))
        pays = []
        for u in range(1, sold[s] + 1):
            j = bisect.bisect_right(before, units - u) - 1  # most others the ask can follow
            t = p if j == len(others) else min(p, _rank_before_cost(ask, others[j]))
            pays.append(t)
        unit_payments[ask.id] = tuple(pays)
        payouts[ask.id] = sum(pays)

    return Outcome(
        mechanism="fixedprice",
        charges=charges,
        payouts=payouts,
        assignment=assignment,
        unit_payments=unit_payments,
        order=tuple(eligible[i].id for i in accepted),
        price=p,
    )


# --------------------------------------------------------------------------------------------
# The price rule
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PriceRule:
    """How the posted price follows the market (docs/mechanisms.md, "Fixed price").

    ``window`` (H): learn from the opened orders of the last H settled rounds that had at least
    one valid order. ``every`` (E): re-fit in rounds with ``round % E == 0``; other rounds carry
    the previous price. ``step_bps``: a re-fit moves the price at most by the factor
    ``(10_000 + step_bps) / 10_000`` either way (``step_bounds``).
    """

    window: int
    every: int
    step_bps: int

    def __post_init__(self) -> None:
        for name, low in (("window", 1), ("every", 1), ("step_bps", 0)):
            value = getattr(self, name)
            if not _is_int(value) or value < low:
                raise InvalidInput(f"PriceRule {name}={value!r} is invalid; use an int >= {low}")


# Chosen by bench/welfare.py's rule sweep (docs/mechanisms.md, "Fixed price"): the best thin-market
# welfare within 0.005, then the largest window and smallest step (hardest for one round to move).
DEFAULT_RULE = PriceRule(window=64, every=1, step_bps=200)


def step_bounds(previous: int, step_bps: int) -> tuple[int, int]:
    """``(lo, hi)``: where a re-fit may move the price from ``previous``, as the contract rounds.

    ``hi = previous·(10_000 + step_bps) // 10_000`` and
    ``lo = max(1, ⌈previous·10_000 / (10_000 + step_bps)⌉)``.
    """
    check_price(previous, "previous")
    if not _is_int(step_bps) or step_bps < 0:
        raise InvalidInput(f"step_bps={step_bps!r} is invalid; use an int >= 0")
    grow = BPS + step_bps
    hi = previous * grow // BPS
    lo = max(1, -(-previous * BPS // grow))
    return lo, hi


def welfare_steps(bids: Iterable[Bid], asks: Iterable[Ask]) -> tuple[tuple[int, int], ...]:
    """One round's fixed-price welfare as steps ``((p_0 = 1, w_0), (p_1, w_1), …)``.

    ``W(p) = w_i`` for ``p_i ≤ p < p_{i+1}`` (the last step runs to infinity); ``W(p)`` is what
    :func:`clear_fixedprice` at price ``p`` would give: values of the accepted bids minus costs of
    the sold ask units. Consecutive steps have different welfare.
    """
    bid_list, ask_list = validate(bids, asks)
    if not bid_list or not ask_list:
        return ((1, 0),)
    ranked = sort_bids(bid_list)
    sizes = [b.size for b in ranked]
    floors = [b.value // b.size for b in ranked]  # eligible at p iff p <= floor; non-increasing
    k_pre = list(accumulate(sizes, initial=0))
    v_pre = list(accumulate((b.value for b in ranked), initial=0))
    tail_min = sizes[:]  # smallest size from each position on (ends a hopeless tail walk early)
    for i in range(len(tail_min) - 2, -1, -1):
        tail_min[i] = min(tail_min[i], tail_min[i + 1])
    asks_ranked = sort_asks(ask_list)
    costs = [a.cost for a in asks_ranked]
    cap_pre = list(accumulate((a.capacity for a in asks_ranked), initial=0))
    cost_pre = list(accumulate((a.cost * a.capacity for a in asks_ranked), initial=0))
    neg_floors = [-f for f in floors]  # ascending, for bisect

    def cheapest(units: int) -> int:
        a = bisect.bisect_left(cap_pre, units)  # asks 0 … a−1 hold ≥ units in total
        if cap_pre[a] == units:
            return cost_pre[a]
        return cost_pre[a - 1] + (units - cap_pre[a - 1]) * costs[a - 1]

    def welfare(e: int, supply: int) -> int:
        if k_pre[e] <= supply:
            return v_pre[e] - cheapest(k_pre[e])
        q = bisect.bisect_right(k_pre, supply) - 1  # the first q bids fit, bid q does not
        value = v_pre[q]
        left = supply - k_pre[q]
        j = q + 1
        while j < e and left >= tail_min[j]:
            if sizes[j] <= left:
                left -= sizes[j]
                value += ranked[j].value
            j += 1
        return value - cheapest(supply - left)

    points = sorted({1} | {c for c in costs if c > 1} | {f + 1 for f in floors if f + 1 > 1})
    steps: list[tuple[int, int]] = []
    for x in points:
        e = bisect.bisect_right(neg_floors, -x)  # bids with floor >= x
        supply = cap_pre[bisect.bisect_right(costs, x)]  # asks with cost <= x
        w = welfare(e, supply) if e and supply else 0
        if not steps or steps[-1][1] != w:
            steps.append((x, w))
    return tuple(steps)


def best_price(steps_per_round: Iterable[Sequence[tuple[int, int]]], previous: int) -> int:
    """The integer ``p ≥ 1`` maximizing the summed welfare; ties: closest to ``previous``, lower.

    ``steps_per_round`` are :func:`welfare_steps` of the rounds; this is ``learn_price`` before
    the clamp (callers that keep each round's steps can skip recomputing them).
    """
    delta: dict[int, int] = {}
    for steps in steps_per_round:
        last = 0
        for x, w in steps:
            delta[x] = delta.get(x, 0) + w - last
            last = w
    best = (0, 0, previous)  # (-welfare, distance to previous, price); W = 0 below every step
    total = 0
    starts = sorted(delta)
    for n, start in enumerate(starts):
        total += delta[start]
        p = max(start, previous)
        if n + 1 < len(starts):
            p = min(p, starts[n + 1] - 1)
        best = min(best, (-total, abs(p - previous), p))
    return best[2]


def learn_price(history: History, previous: int, *, rule: PriceRule = DEFAULT_RULE) -> int:
    """The next posted price from the opened orders of earlier rounds (oldest first).

    The empirical-welfare-maximizing price over every integer ``p ≥ 1`` (ties: closest to
    ``previous``, then lower), clamped into ``step_bounds(previous, rule.step_bps)``. Only the
    last ``rule.window`` rounds of ``history`` are used; an empty history keeps ``previous``.
    """
    check_price(previous, "previous")
    rounds = list(history)[-rule.window :]
    if not rounds:
        return previous
    target = best_price((welfare_steps(b, a) for b, a in rounds), previous)
    lo, hi = step_bounds(previous, rule.step_bps)
    return min(max(target, lo), hi)


def price_for_round(
    round: int, previous: int, history: History, rule: PriceRule = DEFAULT_RULE
) -> int:
    """Round ``round``'s price: ``previous`` unless ``round % rule.every == 0``, then a re-fit."""
    if round % rule.every:
        return check_price(previous, "previous")
    return learn_price(history, previous, rule=rule)


def history_window(
    round: int,
    settled: Mapping[int, tuple[Sequence[Bid], Sequence[Ask]]],
    *,
    lag: int,
    rule: PriceRule = DEFAULT_RULE,
) -> list[tuple[list[Bid], list[Ask]]]:
    """The history that sets round ``round``'s price, oldest first.

    Rounds ``k ≤ round − lag`` present in ``settled`` with at least one bid or ask, the last
    ``rule.window`` of them. ``lag ≥ 1``: a round's price never depends on its own orders.
    """
    if not _is_int(lag) or lag < 1:
        raise InvalidInput(f"lag={lag!r} is invalid; use an int >= 1 (rounds back)")
    chosen: list[int] = []
    for k in sorted((k for k in settled if k <= round - lag), reverse=True):
        bids, asks = settled[k]
        if bids or asks:
            chosen.append(k)
            if len(chosen) == rule.window:
                break
    return [(list(settled[k][0]), list(settled[k][1])) for k in reversed(chosen)]
