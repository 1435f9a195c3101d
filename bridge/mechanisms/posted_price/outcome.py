"""Welfare, margin and surplus; the valid allocations; acceptance by participants and the penalty.

- ``welfare(α) = Σ_{t served} v_t − Σ_{n used} c_n`` (what trade under ``α`` is worth);
- ``margin(π, ϕ) = Σ π − Σ ϕ`` (what the market makers keep);
- ``surplus = welfare − margin`` (what the participants keep: the sum of their utilities).

:func:`settle` posts a book to the participants: a requester accepts iff its price is at most
its value, a node iff its reward is at least its cost. A part trades only if every participant
of it accepts; otherwise the whole part is void. Who pays ``γ`` for a void part is the
:class:`Penalty` rule:

- ``Penalty.MAKER`` (the seed): the maker of each proposal in it with a rejecting participant
  pays ``γ`` once, shared by that proposal's rejecting participants. Rounding rule (the only
  division in the package): each gets ``γ // k`` and the first in order (requests by id, then
  nodes by id) also gets the remainder ``γ % k``.
- ``Penalty.REJECTER`` (the on-chain mode, ``PostedPriceMarket``): every participant registers
  with a deposit ``γ`` and its registered terms bind (no proposal outside them is accepted), so a
  rejection is the participant failing its own offer: the rejecter forfeits its deposit and
  nobody receives it (it is burned), and makers pay nothing. A part is rejected once: the first
  rejecting participant in answer order (requests by id, then nodes by id) voids it, and the
  others find it void and keep their deposits. Paying the forfeit to anyone would let a fake
  participant's creator collect it through another account (as the maker's bond paid to a
  rejecter under ``MAKER`` does).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from enum import Enum
from itertools import combinations

from bridge.errors import InvalidInput
from bridge.mechanisms.posted_price.improvement import Book, Part
from bridge.mechanisms.posted_price.types import Market, Private, Proposal, is_int

__all__ = [
    "Penalty",
    "Settlement",
    "margin",
    "monopoly",
    "optimum",
    "settle",
    "surplus",
    "valid_allocations",
    "welfare",
]

Allocation = Mapping[int, frozenset[int]]


def welfare(private: Private, allocation: Allocation) -> int:
    """``Σ v`` of the served requests minus ``Σ c`` of the nodes that run something."""
    nodes = {n for ns in allocation.values() for n in ns}
    return sum(private.values[t] for t in allocation) - sum(private.costs[n] for n in nodes)


def margin(prices: Mapping[int, int], rewards: Mapping[int, int]) -> int:
    """``Σ π − Σ ϕ``."""
    return sum(prices.values()) - sum(rewards.values())


def surplus(
    private: Private, allocation: Allocation, prices: Mapping[int, int], rewards: Mapping[int, int]
) -> int:
    """Welfare minus margin: the sum of the participants' utilities."""
    return welfare(private, allocation) - margin(prices, rewards)


def valid_allocations(market: Market) -> Iterator[dict[int, frozenset[int]]]:
    """Every valid allocation (the set ``V``), the empty one first; exponential, for small markets.

    Requests are decided in market order: unserved, or served by each set of ``replicas`` nodes
    (ascending ids) that support its tag and still have room for its size.
    """
    requests = market.requests
    room = {n.id: n.capacity for n in market.nodes}
    chosen: dict[int, frozenset[int]] = {}

    def rec(k: int) -> Iterator[dict[int, frozenset[int]]]:
        if k == len(requests):
            yield dict(chosen)
            return
        yield from rec(k + 1)
        r = requests[k]
        fits = sorted(n.id for n in market.nodes if r.tag in n.tags and room[n.id] >= r.size)
        for ns in combinations(fits, r.replicas):
            for n in ns:
                room[n] -= r.size
            chosen[r.id] = frozenset(ns)
            yield from rec(k + 1)
            del chosen[r.id]
            for n in ns:
                room[n] += r.size

    return rec(0)


def optimum(market: Market, private: Private) -> tuple[int, dict[int, frozenset[int]]]:
    """The maximum welfare over ``V`` by enumeration, and the first allocation reaching it."""
    best_w, best = 0, {}
    for alloc in valid_allocations(market):
        w = welfare(private, alloc)
        if w > best_w:
            best_w, best = w, alloc
    return best_w, best


def monopoly(market: Market, private: Private, maker: str = "") -> Proposal:
    """What a perfectly informed monopolist posts (the seed's Attempt 1): a welfare-maximizing
    allocation, each request charged its value, each node paid its cost — margin = welfare.
    Tolerances are the values and costs themselves (no slack)."""
    _, alloc = optimum(market, private)
    nodes = {n for ns in alloc.values() for n in ns}
    return Proposal.make(
        alloc,
        {t: private.values[t] for t in alloc},
        {n: private.costs[n] for n in nodes},
        maker=maker,
    )


class Penalty(Enum):
    """Who pays ``γ`` when a part is void (module docstring)."""

    MAKER = "maker"
    """The seed: the maker, to its proposal's rejecting participants."""
    REJECTER = "rejecter"
    """On chain: the (first) rejecting participant of the part forfeits its deposit; burned."""


@dataclass(frozen=True)
class Settlement:
    """The result of posting a book.

    ``traded``/``voided``: the parts whose participants all accepted / not. ``charges``,
    ``payouts``: what served requests pay and used nodes receive (traded parts). ``maker_margins``:
    maker -> the margins of its proposals in traded parts. ``penalties``: maker -> ``γ`` times its
    proposals with a rejecting participant. ``request_compensation``/``node_compensation``: the
    penalties, as received by the rejecting participants (both empty under
    ``Penalty.REJECTER``). ``request_forfeits``/``node_forfeits``: the deposits forfeited (burned)
    by rejecting participants under ``Penalty.REJECTER`` (empty under ``MAKER``).
    ``rejected_requests``/``rejected_nodes``: who would say no (under ``REJECTER`` only the first
    of a part actually rejects). ``welfare``: of the traded parts, at the private values and
    costs.
    """

    traded: tuple[Part, ...]
    voided: tuple[Part, ...]
    charges: dict[int, int] = field(default_factory=dict)
    payouts: dict[int, int] = field(default_factory=dict)
    maker_margins: dict[str, int] = field(default_factory=dict)
    penalties: dict[str, int] = field(default_factory=dict)
    request_compensation: dict[int, int] = field(default_factory=dict)
    node_compensation: dict[int, int] = field(default_factory=dict)
    rejected_requests: frozenset[int] = frozenset()
    rejected_nodes: frozenset[int] = frozenset()
    welfare: int = 0
    request_forfeits: dict[int, int] = field(default_factory=dict)
    node_forfeits: dict[int, int] = field(default_factory=dict)

    @property
    def margin(self) -> int:
        """Charges minus payouts of what traded."""
        return sum(self.charges.values()) - sum(self.payouts.values())


def _split(gamma: int, receivers: list[int]) -> list[int]:
    share, rest = divmod(gamma, len(receivers))
    return [share + (rest if i == 0 else 0) for i in range(len(receivers))]


def settle(private: Private, book: Book, gamma: int, *,
           penalty: Penalty = Penalty.MAKER) -> Settlement:
    """Post ``book`` to participants with these private values and costs; ``penalty`` says who
    pays ``γ`` for a void part (module docstring)."""
    if not is_int(gamma) or gamma < 0:
        raise InvalidInput(f"gamma={gamma!r}; the penalty must be an int >= 0 (wei)")
    if not isinstance(penalty, Penalty):
        raise InvalidInput(f"penalty={penalty!r}; give a Penalty (MAKER or REJECTER)")
    rej_t = frozenset(t for t, x in book.prices.items() if x > private.values[t])
    rej_n = frozenset(n for n, x in book.rewards.items() if x < private.costs[n])
    traded: list[Part] = []
    voided: list[Part] = []
    charges: dict[int, int] = {}
    payouts: dict[int, int] = {}
    margins: dict[str, int] = {}
    penalties: dict[str, int] = {}
    comp_t: dict[int, int] = {}
    comp_n: dict[int, int] = {}
    lost_t: dict[int, int] = {}
    lost_n: dict[int, int] = {}
    for part in book.parts:
        if part.requests.isdisjoint(rej_t) and part.nodes.isdisjoint(rej_n):
            traded.append(part)
            charges.update(part.prices)
            payouts.update(part.rewards)
            for p in part.proposals:
                margins[p.maker] = margins.get(p.maker, 0) + p.margin
            continue
        voided.append(part)
        if penalty is Penalty.REJECTER:
            first_t = sorted(part.requests & rej_t)
            if first_t:
                lost_t[first_t[0]] = gamma
            else:
                lost_n[min(part.nodes & rej_n)] = gamma
            continue
        for p in part.proposals:
            who_t = sorted(p.requests & rej_t)
            who_n = sorted(p.nodes & rej_n)
            if not who_t and not who_n:
                continue
            penalties[p.maker] = penalties.get(p.maker, 0) + gamma
            shares = _split(gamma, who_t + who_n)
            for t, x in zip(who_t, shares, strict=False):
                comp_t[t] = comp_t.get(t, 0) + x
            for n, x in zip(who_n, shares[len(who_t) :], strict=True):
                comp_n[n] = comp_n.get(n, 0) + x
    alloc = {t: ns for part in traded for t, ns in part.allocation.items()}
    return Settlement(
        tuple(traded),
        tuple(voided),
        charges,
        payouts,
        margins,
        penalties,
        comp_t,
        comp_n,
        rej_t,
        rej_n,
        welfare(private, alloc),
        lost_t,
        lost_n,
    )
