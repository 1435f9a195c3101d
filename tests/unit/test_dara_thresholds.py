"""DARA's threshold search (bridge/mechanisms/dara.py) piece by piece, against brute force.

The clearing tests in test_dara.py check whole outcomes; here the internals the search is built
from are held to their documented contracts on small instances full of ties (equal value-per-unit
ratios, equal sizes, ids in shuffled order, values and costs exactly at breakpoints):

- ``_Market.bid_breakpoints``: exactly the values in ``[1, v]`` at which the bid's rank or one of
  its 0-threshold tests (``v ≥ k·c`` for an ask cost ``c``) changes;
- ``_Market.ask_breakpoints``: exactly the costs in ``(own, top)`` at which the ask's rank or a
  bid's passing test (``v ≥ k·c``) changes;
- ``_bid_threshold`` (with no hint, and with any single hint) and ``_ask_thresholds`` (with no
  hint, and with any other ask as the hint) equal the textbook searches over ``bid_wins_with`` /
  ``ask_sells_with``.

The searches run under a deadline: a search that stops making progress fails the test instead of
hanging it.
"""

from __future__ import annotations

import random
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

from bridge.mechanisms import Ask, Bid
from bridge.mechanisms.dara import _ask_thresholds, _bid_threshold, _Market, _pieces
from bridge.mechanisms.types import ask_rank_key, bid_rank_key

MODES = ("fast", "python")


class SearchTooSlow(Exception):
    """A threshold search ran past its deadline (it normally takes milliseconds)."""


@contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Raise :class:`SearchTooSlow` in the block after ``seconds``; restores any outer timer."""

    def _raise(signum: int, frame: FrameType | None) -> None:
        raise SearchTooSlow(f"threshold search still running after {seconds:.0f}s")

    old_handler = signal.signal(signal.SIGALRM, _raise)
    old_delay, old_interval = signal.setitimer(signal.ITIMER_REAL, seconds)
    started = time.monotonic()
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old_handler)
        if old_delay:
            left = max(old_delay - (time.monotonic() - started), 0.001)
            signal.setitimer(signal.ITIMER_REAL, left, old_interval)


def build(
    bids: list[tuple[int, int]], asks: list[tuple[int, int]], rng: random.Random | None = None
) -> tuple[list[Bid], list[Ask]]:
    """Bids ``(value, size)`` and asks ``(cost, capacity)``; ids shuffled when ``rng`` is given,
    so that rank ties are broken by ids in every order."""
    bid_ids, ask_ids = list(range(len(bids))), list(range(len(asks)))
    if rng is not None:
        rng.shuffle(bid_ids)
        rng.shuffle(ask_ids)
    return (
        [Bid(bid_ids[i], v, k) for i, (v, k) in enumerate(bids)],
        [Ask(100 + ask_ids[i], c, u) for i, (c, u) in enumerate(asks)],
    )


def tied_instance(rng: random.Random) -> tuple[list[Bid], list[Ask]]:
    """A small instance on narrow ranges: few distinct ratios, so ties are everywhere."""
    if rng.random() < 0.5:
        bids = [(rng.randint(0, 12), rng.randint(1, 4)) for _ in range(rng.randint(1, 8))]
        asks = [(rng.randint(0, 4), rng.randint(1, 4)) for _ in range(rng.randint(1, 4))]
        return build(bids, asks, rng)
    ratios = [rng.randint(0, 6) for _ in range(3)]
    bids = []
    for _ in range(rng.randint(2, 8)):
        k = rng.randint(1, 4)
        bids.append((max(rng.choice(ratios) * k + rng.choice([0, 0, 0, 1, -1]), 0), k))
    asks = [(rng.choice([*ratios, 0, 1]), rng.randint(1, 4)) for _ in range(rng.randint(2, 4))]
    return build(bids, asks, rng)


# --------------------------------------------------------------------------------------------
# Breakpoints
# --------------------------------------------------------------------------------------------


def bid_state(market: _Market, idx: int, value: int) -> tuple[int, tuple[bool, ...]]:
    """(number of other bids ranked ahead, passes at each ask cost) for bid ``idx`` at ``value``."""
    me = market.bids[idx]
    key = bid_rank_key(Bid(me.id, value, me.size))
    ahead = sum(1 for j, o in enumerate(market.bids) if j != idx and bid_rank_key(o) < key)
    return ahead, tuple(value >= me.size * c for c in market.supply.costs)


def ask_state(market: _Market, idx: int, cost: int) -> tuple[int, tuple[bool, ...]]:
    """(number of other asks ranked ahead, which bids pass) for ask ``idx`` asking ``cost``."""
    me = market.asks[idx]
    key = ask_rank_key(Ask(me.id, cost, me.capacity))
    ahead = sum(1 for j, o in enumerate(market.asks) if j != idx and ask_rank_key(o) < key)
    return ahead, tuple(v >= k * cost for v, k in zip(market.vals, market.sizes, strict=True))


def test_bid_breakpoints_are_exactly_the_values_where_rank_or_a_passing_test_changes() -> None:
    rng = random.Random(20260301)
    for _ in range(500):
        bids, asks = tied_instance(rng)
        for mode in MODES:
            market = _Market(bids, asks, mode)
            for idx, me in enumerate(market.bids):
                expected = [
                    x
                    for x in range(1, me.value + 1)
                    if bid_state(market, idx, x) != bid_state(market, idx, x - 1)
                ]
                assert market.bid_breakpoints(idx) == expected, (mode, bids, asks, me)


def test_bid_breakpoints_at_an_equal_size_tie_at_zero_and_at_the_bid_own_value() -> None:
    # Bid 1 (value 6) and bid 0 (value 4) have size 1: at value 4 bid 1 ties bid 0's ratio and
    # size and ranks behind it (larger id), so it passes bid 0 at 5, not 4. It passes the cost-2
    # and cost-6 asks' tests at 2 and at 6, its own value; the cost-0 test passes at every value
    # (no point: the points lie in [1, v]).
    bids = [Bid(1, 6, 1), Bid(0, 4, 1)]
    asks = [Ask(100, 0, 2), Ask(101, 2, 2), Ask(102, 6, 1)]
    for mode in MODES:
        market = _Market(bids, asks, mode)
        assert [b.id for b in market.bids] == [1, 0]
        assert market.bid_breakpoints(0) == [2, 5, 6], mode
        assert market.bid_breakpoints(1) == [2], mode


def test_ask_breakpoints_are_exactly_the_costs_where_rank_or_a_passing_test_changes() -> None:
    rng = random.Random(20260302)
    for _ in range(300):
        bids, asks = tied_instance(rng)
        market = _Market(bids, asks, "fast")
        high = max([a.cost for a in asks] + [market.top_floor]) + 3
        for idx, me in enumerate(market.asks):
            for top in range(me.cost + 1, high):
                expected = [
                    c
                    for c in range(me.cost + 1, top)
                    if ask_state(market, idx, c) != ask_state(market, idx, c - 1)
                ]
                assert market.ask_breakpoints(idx, top) == expected, (bids, asks, me, top)


def test_ask_breakpoints_exclude_top_even_when_an_ask_costs_exactly_top() -> None:
    bids, asks = build([(9, 1), (4, 1), (7, 4)], [(3, 2), (0, 4), (0, 4), (3, 1)])
    market = _Market(bids, asks, "fast")
    # ranked asks: 101 (cost 0), 102 (0), 100 (3), 103 (3). Ask 101 drops behind ask 102 at
    # cost 1, behind ask 100 at 3 (equal cost, larger id), behind ask 103 at 4; bids stop
    # passing at 2 (7 for 4 units), 5 (4 for 1) and 10 (9 for 1). Points lie in (own, top).
    assert [a.id for a in market.asks] == [101, 102, 100, 103]
    assert market.ask_breakpoints(0, 20) == [1, 2, 3, 4, 5, 10]
    assert market.ask_breakpoints(0, 4) == [1, 2, 3]
    assert market.ask_breakpoints(0, 3) == [1, 2]
    assert market.ask_breakpoints(0, 1) == []


# --------------------------------------------------------------------------------------------
# Thresholds
# --------------------------------------------------------------------------------------------


def least_winning_value(market: _Market, idx: int) -> int:
    """The smallest value with which ranked bid ``idx`` wins, by scanning every value."""
    return next(v for v in range(market.vals[idx] + 1) if market.bid_wins_with(idx, v))


def largest_selling_costs(market: _Market, idx: int, sold: int) -> tuple[int, ...]:
    """Per unit u ≤ sold, the largest cost with which ranked ask ``idx`` sells ≥ u units."""
    own = market.asks[idx].cost
    top = max(market.top_floor + 1, own + 1)  # nothing sells here: no bid passes
    sales = {c: market.ask_sells_with(idx, c) for c in range(own, top + 1)}
    return tuple(max(c for c, s in sales.items() if s >= u) for u in range(1, sold + 1))


def sold_per_ask(market: _Market, winners: list[int]) -> dict[int, int]:
    sold: dict[int, int] = {}
    for parts in _pieces(winners, market.sizes, market.supply):
        for a, units in parts:
            sold[a] = sold.get(a, 0) + units
    return sold


# Instances found by differential search against mutants of the threshold search.
FIXED: list[tuple[list[tuple[int, int]], list[tuple[int, int]]]] = [
    ([(9, 1), (4, 1), (7, 4)], [(3, 2), (0, 4), (0, 4), (3, 1)]),
    ([(9, 2), (1, 4), (1, 4), (8, 2), (1, 3), (8, 4), (9, 2), (8, 1)],
     [(1, 1), (0, 4), (2, 3), (0, 3)]),
    ([(16, 2), (4, 2), (16, 2), (12, 2), (2, 2), (0, 2), (12, 2), (10, 2)],
     [(0, 2), (1, 2), (0, 3)]),
]  # fmt: skip


def instances(seed: int, count: int) -> Iterator[tuple[list[Bid], list[Ask]]]:
    for bids, asks in FIXED:
        yield build(bids, asks)
    rng = random.Random(seed)
    for _ in range(count):
        yield tied_instance(rng)


def test_bid_thresholds_with_and_without_hints_are_the_least_winning_values() -> None:
    """With no hint the breakpoint search alone finds the threshold; a hint (any losing bid)
    only adds a guess, used only once verified."""
    with deadline(10):
        for bids, asks in instances(20260303, 300):
            for mode in MODES:
                market = _Market(bids, asks, mode)
                _, winners = market.base()
                for i in winners:
                    expected = least_winning_value(market, i)
                    assert _bid_threshold(market, i) == expected, (mode, bids, asks, i)
                    for h in range(len(market.bids)):
                        if h not in winners:
                            assert _bid_threshold(market, i, [h]) == expected, (bids, asks, i, h)


def test_ask_thresholds_with_any_hint_are_the_largest_selling_costs() -> None:
    """The hint's guess (the cost at which the ask drops behind the hinted ask) is used only
    when the ask sells there and sells nothing one wei higher."""
    with deadline(10):
        for bids, asks in instances(20260304, 300):
            for mode in MODES:
                market = _Market(bids, asks, mode)
                _, winners = market.base()
                for a, units in sorted(sold_per_ask(market, winners).items()):
                    expected = largest_selling_costs(market, a, units)
                    assert _ask_thresholds(market, a, units) == expected, (mode, bids, asks, a)
                    for h in range(len(market.asks)):
                        if h != a:
                            got = _ask_thresholds(market, a, units, h)
                            assert got == expected, (mode, bids, asks, a, h)


class _Lines:
    """A stand-in for ``_Market`` in ``_bid_threshold``'s interval stage: one bid of value
    ``value`` whose breakpoints are ``points``; on the interval holding its threshold the best
    ``w`` is ``max(A + v, B)`` (a line holding the bid against one that does not), and the bid
    wins exactly from ``threshold`` on.

    No clearing here has produced a threshold strictly inside an interval (about 270,000 winners
    checked: every one was 0 or a breakpoint), but the search claims to find it there by the
    line crossing, or by its fallback when the reported ``w`` do not fit two lines (``bent``).
    A real market cannot be steered into that case, so the search is held to its contract on
    this oracle."""

    def __init__(self, value: int, points: list[int], threshold: int, a: int, b: int,
                 bent: bool = False) -> None:
        self.vals = [value]
        self.bids = [Bid(0, value, 1)]
        self.points, self.threshold, self.a, self.b, self.bent = points, threshold, a, b, bent
        self.calls: list[int] = []

    def bid_breakpoints(self, idx: int) -> list[int]:
        return list(self.points)

    def bid_eval(self, idx: int, v: int) -> tuple[bool, int, bool]:
        self.calls.append(v)
        wins = v >= self.threshold
        best = -v if self.bent else max(self.a + v, self.b)
        return wins, best, wins


def test_a_threshold_strictly_inside_an_interval_is_found_by_the_crossing_or_the_fallback() -> None:
    # grid 0, 10, 20, 30 (the value); the bid wins from 25 on: w = max(v, 24), the switch at 24
    for points in ([10, 20], [10, 20, 30]):
        market = _Lines(30, points, threshold=25, a=0, b=24)
        with deadline(10):
            assert _bid_threshold(market, 0) == 25, points  # type: ignore[arg-type]
        assert 24 in market.calls and 25 in market.calls  # the crossing, checked both sides
    # the switch exactly at the interval's right end: it wins there and loses one below
    market = _Lines(30, [10, 20], threshold=29, a=0, b=29)
    with deadline(10):
        assert _bid_threshold(market, 0) == 29  # type: ignore[arg-type]
    # w that fit no two lines (the switch lands outside the interval): the fallback bisects
    for threshold in (21, 27, 29):
        market = _Lines(30, [10, 20], threshold=threshold, a=0, b=0, bent=True)
        with deadline(10):
            assert _bid_threshold(market, 0) == threshold  # type: ignore[arg-type]
    # one value apart: the interval [20, 20] needs no evaluation inside it
    market = _Lines(21, [10, 20], threshold=21, a=0, b=20)
    with deadline(10):
        assert _bid_threshold(market, 0) == 21  # type: ignore[arg-type]
