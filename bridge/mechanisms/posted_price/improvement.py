"""Sequential improvement: proposals are taken in submission order against the current best.

The current best (:class:`Book`) is a set of :class:`Part` s whose participants are disjoint. A
valid challenger ``i`` *conflicts* with the parts that share an allocated request or node with
it; together those parts play the incumbent ``b`` (their union). With ``CT``/``CN`` the requests
and nodes allocated under both ``i`` and ``b``, ``T_b``/``N_b`` those of ``b``, ``π_b``/``ϕ_b``
``b``'s terms as currently posted and ``π̄_b``/``ϕ̲_b`` its tolerances:

- ``Δ = Σ_{t∈CT} (π_b(t) − π_i(t)) + Σ_{n∈CN} (ϕ_i(n) − ϕ_b(n))``, what ``i`` offers the
  conflicting participants over ``b``;
- ``∇ = Σ_{t∈T_b∖CT} (π̄_b(t) − π_b(t)) + Σ_{n∈N_b∖CN} (ϕ_b(n) − ϕ̲_b(n))``, the slack of ``b``'s
  other participants.

Modes (:class:`Mode`):

- ``TOLERANCES`` (the mechanism): unless ``i`` is strictly better for every conflicting
  participant (``π_i(t) < π_b(t)``, ``ϕ_i(n) > ϕ_b(n)``) ``b`` stays as it is (``KEPT``). Else if
  ``∇ ≥ Δ`` (ties favour the incumbent) ``b`` stays and is re-priced (``KEPT_REPRICED``): every
  conflicting participant gets ``i``'s terms, and the ``Δ`` this costs is taken from the slack —
  requests in ascending id order, each raised up to ``π̄``, then nodes in ascending id order,
  each lowered down to ``ϕ̲`` — so ``b``'s margin is unchanged and nothing is rounded. If ``b``
  spans several parts they become one part (their money is now linked). Else ``i`` replaces
  every conflicting part (``REPLACED``).
- ``PARETO``: the same without tolerances (``∇ = 0``): strictly better for every conflicting
  participant replaces.
- ``MIN_MARGIN``: the whole book is one proposal; a strictly lower margin replaces it.

A challenger that conflicts with nothing is merged into the book as a new part (``MERGED``,
specialization) or, with ``merge=False``, dropped (``DISCARDED``). An invalid proposal is
refused with its first violation (``INVALID``) and changes nothing. The first valid proposal
starts the book (``FIRST``). Every step is followed by :func:`check_book`, an independent check
that raises :class:`~bridge.errors.ClearingError` (never ``assert``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import Enum
from functools import cached_property
from types import MappingProxyType

from bridge.errors import ClearingError
from bridge.mechanisms.posted_price.types import Market, Proposal
from bridge.mechanisms.posted_price.validation import Violation, violations

__all__ = ["Book", "Mode", "Part", "Step", "Verdict", "check_book", "improve", "run"]


class Mode(Enum):
    """Which improvement test the sequential mechanism uses."""

    TOLERANCES = "tolerances"
    PARETO = "pareto"
    MIN_MARGIN = "min_margin"


class Verdict(Enum):
    """What happened to a proposal."""

    INVALID = "invalid"
    FIRST = "first"
    MERGED = "merged"
    DISCARDED = "discarded"
    KEPT = "kept"
    KEPT_REPRICED = "kept_repriced"
    REPLACED = "replaced"


@dataclass(frozen=True)
class Part:
    """A piece of the current best: its proposals (one, or several linked by a joint re-pricing)
    and the terms now posted to their participants. Each participant belongs to exactly one of
    the proposals, whose tolerances bound its terms; the part's margin is the sum of the
    proposals' own margins, and each maker is paid its own."""

    proposals: tuple[Proposal, ...]
    prices: Mapping[int, int]
    rewards: Mapping[int, int]

    @classmethod
    def of(cls, p: Proposal) -> Part:
        """A part holding one proposal at its own terms."""
        return cls((p,), p.prices, p.rewards)

    @cached_property
    def allocation(self) -> Mapping[int, frozenset[int]]:
        """Request id -> its nodes, over all the part's proposals."""
        return MappingProxyType({t: ns for p in self.proposals for t, ns in p.allocation.items()})

    @cached_property
    def requests(self) -> frozenset[int]:
        """The part's allocated requests."""
        return frozenset(self.prices)

    @cached_property
    def nodes(self) -> frozenset[int]:
        """The part's nodes."""
        return frozenset(self.rewards)

    @cached_property
    def max_prices(self) -> Mapping[int, int]:
        """π̄ of each request, from the proposal it belongs to."""
        return MappingProxyType({t: x for p in self.proposals for t, x in p.max_prices.items()})

    @cached_property
    def min_rewards(self) -> Mapping[int, int]:
        """ϕ̲ of each node, from the proposal it belongs to."""
        return MappingProxyType({n: x for p in self.proposals for n, x in p.min_rewards.items()})

    @property
    def margin(self) -> int:
        """``Σ π − Σ ϕ`` at the posted terms."""
        return sum(self.prices.values()) - sum(self.rewards.values())


@dataclass(frozen=True)
class Book:
    """The current best: disjoint parts, in the order they entered."""

    parts: tuple[Part, ...] = ()

    @property
    def proposals(self) -> tuple[Proposal, ...]:
        """Every proposal held, part by part."""
        return tuple(p for part in self.parts for p in part.proposals)

    @property
    def allocation(self) -> dict[int, frozenset[int]]:
        """Request id -> nodes, over the whole book."""
        return {t: ns for part in self.parts for t, ns in part.allocation.items()}

    @property
    def prices(self) -> dict[int, int]:
        """Posted price of every allocated request."""
        return {t: x for part in self.parts for t, x in part.prices.items()}

    @property
    def rewards(self) -> dict[int, int]:
        """Posted reward of every node that runs something."""
        return {n: x for part in self.parts for n, x in part.rewards.items()}

    @property
    def margin(self) -> int:
        """The book's margin: the sum of its parts'."""
        return sum(part.margin for part in self.parts)

    def margin_of(self, maker: str) -> int:
        """What ``maker`` is paid if everything trades: the margins of its proposals."""
        return sum(p.margin for p in self.proposals if p.maker == maker)

    def conflicts(self, p: Proposal) -> tuple[int, ...]:
        """Indices of the parts sharing an allocated request or node with ``p``."""
        requests, nodes = p.requests, p.nodes
        return tuple(
            i
            for i, part in enumerate(self.parts)
            if not (part.requests.isdisjoint(requests) and part.nodes.isdisjoint(nodes))
        )


@dataclass(frozen=True)
class Step:
    """One proposal's fate. ``delta``/``slack`` are ``Δ``/``∇`` when a strictly better challenger
    was weighed against tolerances (``slack`` is 0 in ``PARETO`` mode); ``displaced``: the
    proposals it replaced."""

    proposal: Proposal
    verdict: Verdict
    violation: Violation | None = None
    delta: int | None = None
    slack: int | None = None
    displaced: tuple[Proposal, ...] = ()


def _reprice(
    incumbent: list[Part], p: Proposal, ct: frozenset[int], cn: frozenset[int], delta: int
) -> Part:
    """The incumbent parts as one part: conflicting participants on ``p``'s terms, ``delta``
    taken from the other participants' slack (requests by id up to π̄, then nodes by id down
    to ϕ̲)."""
    prices = {t: x for part in incumbent for t, x in part.prices.items()}
    rewards = {n: x for part in incumbent for n, x in part.rewards.items()}
    max_prices = {t: x for part in incumbent for t, x in part.max_prices.items()}
    min_rewards = {n: x for part in incumbent for n, x in part.min_rewards.items()}
    for t in ct:
        prices[t] = p.prices[t]
    for n in cn:
        rewards[n] = p.rewards[n]
    left = delta
    for t in sorted(set(prices) - ct):
        take = min(left, max_prices[t] - prices[t])
        prices[t] += take
        left -= take
    for n in sorted(set(rewards) - cn):
        take = min(left, rewards[n] - min_rewards[n])
        rewards[n] -= take
        left -= take
    if left != 0:
        raise ClearingError(f"re-pricing left {left} of Δ={delta} uncovered: slack was short")
    proposals = tuple(q for part in incumbent for q in part.proposals)
    return Part(proposals, MappingProxyType(prices), MappingProxyType(rewards))


def improve(
    market: Market,
    book: Book,
    p: Proposal,
    *,
    mode: Mode = Mode.TOLERANCES,
    merge: bool = True,
) -> tuple[Book, Step]:
    """Process one proposal against the current best (module docstring); the new book and why."""
    found = violations(market, p)
    if found:
        return book, Step(p, Verdict.INVALID, violation=found[0])
    if not book.parts:
        return _checked(Book((Part.of(p),))), Step(p, Verdict.FIRST)
    if mode is Mode.MIN_MARGIN:
        if p.margin < book.margin:
            return _checked(Book((Part.of(p),))), Step(
                p, Verdict.REPLACED, displaced=book.proposals
            )
        return book, Step(p, Verdict.KEPT)
    hit = book.conflicts(p)
    if not hit:
        if merge:
            return _checked(Book((*book.parts, Part.of(p)))), Step(p, Verdict.MERGED)
        return book, Step(p, Verdict.DISCARDED)
    incumbent = [book.parts[i] for i in hit]
    cur_price = {t: x for part in incumbent for t, x in part.prices.items()}
    cur_reward = {n: x for part in incumbent for n, x in part.rewards.items()}
    ct = p.requests & cur_price.keys()
    cn = p.nodes & cur_reward.keys()
    strictly_better = all(p.prices[t] < cur_price[t] for t in ct) and all(
        p.rewards[n] > cur_reward[n] for n in cn
    )
    if not strictly_better:
        return book, Step(p, Verdict.KEPT)
    delta = sum(cur_price[t] - p.prices[t] for t in ct) + sum(
        p.rewards[n] - cur_reward[n] for n in cn
    )
    slack = 0
    if mode is Mode.TOLERANCES:
        slack = sum(
            part.max_prices[t] - part.prices[t] for part in incumbent for t in part.requests - ct
        ) + sum(
            part.rewards[n] - part.min_rewards[n] for part in incumbent for n in part.nodes - cn
        )
        if slack >= delta:
            joint = _reprice(incumbent, p, ct, cn, delta)
            parts = [part for i, part in enumerate(book.parts) if i not in hit]
            parts.insert(hit[0], joint)
            return _checked(Book(tuple(parts))), Step(
                p, Verdict.KEPT_REPRICED, delta=delta, slack=slack
            )
    kept = tuple(part for i, part in enumerate(book.parts) if i not in hit)
    displaced = tuple(q for part in incumbent for q in part.proposals)
    return _checked(Book((*kept, Part.of(p)))), Step(
        p, Verdict.REPLACED, delta=delta, slack=slack, displaced=displaced
    )


def run(
    market: Market,
    proposals: Iterable[Proposal],
    *,
    mode: Mode = Mode.TOLERANCES,
    merge: bool = True,
    book: Book | None = None,
) -> tuple[Book, tuple[Step, ...]]:
    """Process ``proposals`` in order, from ``book`` (default: empty); the final book, the steps."""
    current = Book() if book is None else book
    steps = []
    for p in proposals:
        current, step = improve(market, current, p, mode=mode, merge=merge)
        steps.append(step)
    return current, tuple(steps)


def check_book(book: Book) -> None:
    """Independent check of a book; raises :class:`~bridge.errors.ClearingError` on the first flaw.

    Parts are disjoint in requests and nodes; each part's terms cover exactly its proposals'
    participants; every term is within its own proposal's tolerances and ``>= 0``; each part's
    margin equals the sum of its proposals' margins (re-pricing moves money between participants,
    never to or from a maker).
    """
    seen_t: set[int] = set()
    seen_n: set[int] = set()
    for k, part in enumerate(book.parts):
        req = {t for p in part.proposals for t in p.requests}
        nod = {n for p in part.proposals for n in p.nodes}
        if sum(len(p.requests) for p in part.proposals) != len(req) or sum(
            len(p.nodes) for p in part.proposals
        ) != len(nod):
            raise ClearingError(f"part {k}: its proposals overlap")
        if set(part.prices) != req or set(part.rewards) != nod:
            raise ClearingError(f"part {k}: terms do not cover exactly its participants")
        if not (seen_t.isdisjoint(req) and seen_n.isdisjoint(nod)):
            raise ClearingError(f"part {k}: shares a participant with an earlier part")
        seen_t |= req
        seen_n |= nod
        for t, x in part.prices.items():
            if not 0 <= x <= part.max_prices[t]:
                raise ClearingError(f"part {k}: price {x} of request {t} outside [0, π̄]")
        for n, x in part.rewards.items():
            if x < part.min_rewards[n]:
                raise ClearingError(f"part {k}: reward {x} of node {n} below ϕ̲")
        declared = sum(p.margin for p in part.proposals)
        if part.margin != declared:
            raise ClearingError(f"part {k}: margin {part.margin} != proposals' {declared}")


def _checked(book: Book) -> Book:
    check_book(book)
    return book
