"""Value types of the posted-price market: what is public, what is private, what a maker proposes.

Amounts are exact Python ``int`` (wei-like units); no floats anywhere. Public: requests and nodes
(:class:`Market`). Private: what each requester would pay at most and what each node needs at
least (:class:`Private`); the mechanism never sees it, makers in the model know it. A
:class:`Proposal` lists only allocated participants: a request that is not served pays nothing
and a node that serves nothing is paid nothing, so they have no entry.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from bridge.errors import InvalidInput

__all__ = ["Market", "Node", "Private", "Proposal", "Request", "is_int"]


def is_int(x: Any) -> bool:
    """An exact integer amount (``bool`` is not one)."""
    return isinstance(x, int) and not isinstance(x, bool)


@dataclass(frozen=True, slots=True)
class Request:
    """A public compute request: ``replicas`` distinct nodes supporting ``tag`` must each run it,
    each spending ``size`` units of its capacity. All or nothing: served by exactly ``replicas``
    nodes, or not at all."""

    id: int
    size: int
    tag: str
    replicas: int = 1


@dataclass(frozen=True, slots=True)
class Node:
    """A public node: ``capacity`` units in all, for requests whose tag is in ``tags``."""

    id: int
    capacity: int
    tags: frozenset[str]


def _require(ok: bool, what: str, fix: str) -> None:
    if not ok:
        raise InvalidInput(f"{what}; {fix}")


@dataclass(frozen=True)
class Market:
    """The public instance: requests and nodes, validated once (unique ids, integer sizes)."""

    requests: tuple[Request, ...]
    nodes: tuple[Node, ...]
    request_by_id: Mapping[int, Request] = field(init=False, repr=False, compare=False)
    node_by_id: Mapping[int, Node] = field(init=False, repr=False, compare=False)

    def __init__(self, requests: Iterable[Request], nodes: Iterable[Node]) -> None:
        reqs, nods = tuple(requests), tuple(nodes)
        for r in reqs:
            _require(
                isinstance(r, Request), f"expected a Request, got {r!r}", "build it with Request"
            )
            _require(is_int(r.id), f"request {r.id!r}: id is not an int", "use an int id")
            _require(
                is_int(r.size) and r.size >= 1,
                f"request {r.id}: size={r.size!r}",
                "the size must be an int >= 1",
            )
            _require(
                is_int(r.replicas) and r.replicas >= 1,
                f"request {r.id}: replicas={r.replicas!r}",
                "replicas must be an int >= 1",
            )
            _require(isinstance(r.tag, str), f"request {r.id}: tag={r.tag!r}", "use a str tag")
        for n in nods:
            _require(isinstance(n, Node), f"expected a Node, got {n!r}", "build it with Node")
            _require(is_int(n.id), f"node {n.id!r}: id is not an int", "use an int id")
            _require(
                is_int(n.capacity) and n.capacity >= 0,
                f"node {n.id}: capacity={n.capacity!r}",
                "the capacity must be an int >= 0",
            )
            _require(
                isinstance(n.tags, frozenset),
                f"node {n.id}: tags={n.tags!r}",
                "give the supported tags as a frozenset of str",
            )
        _require(
            len({r.id for r in reqs}) == len(reqs),
            "duplicate request id",
            "request ids must be unique",
        )
        _require(
            len({n.id for n in nods}) == len(nods), "duplicate node id", "node ids must be unique"
        )
        object.__setattr__(self, "requests", reqs)
        object.__setattr__(self, "nodes", nods)
        object.__setattr__(self, "request_by_id", MappingProxyType({r.id: r for r in reqs}))
        object.__setattr__(self, "node_by_id", MappingProxyType({n.id: n for n in nods}))


@dataclass(frozen=True)
class Private:
    """Private information: ``values[t]``, the most request ``t``'s requester pays for being served;
    ``costs[n]``, the least node ``n`` accepts for serving any non-empty bundle within its capacity.

    A node's cost does not depend on its bundle (the seed's model). This is what makes the
    improvement test sound: a higher reward is then better for the node whatever it is asked to
    run. A node whose cost depends on the work is modelled as several nodes of which an
    allocation uses at most one.
    """

    values: Mapping[int, int]
    costs: Mapping[int, int]

    def __post_init__(self) -> None:
        for kind, amounts in (("value", self.values), ("cost", self.costs)):
            for ident, x in amounts.items():
                _require(
                    is_int(x) and x >= 0,
                    f"{kind} of {ident}: {x!r}",
                    f"a {kind} must be an int >= 0 (wei)",
                )


def _frozen(m: Mapping[int, int]) -> Mapping[int, int]:
    return MappingProxyType(dict(m))


@dataclass(frozen=True)
class Proposal:
    """A maker's proposal ``(α, π, ϕ, π̄, ϕ̲)``, allocated participants only.

    ``allocation``: request id -> the node ids that run it. ``prices`` (π): request id -> what it
    pays. ``rewards`` (ϕ): node id -> what it is paid for its whole bundle. ``max_prices`` (π̄ ≥ π)
    and ``min_rewards`` (ϕ̲ ≤ ϕ): how far the mechanism may move a participant's terms against it
    to defend this proposal (the tolerances). ``maker`` identifies who is paid the margin and who
    pays the penalty under the seed's rule (``Penalty.MAKER``).
    """

    allocation: Mapping[int, frozenset[int]]
    prices: Mapping[int, int]
    rewards: Mapping[int, int]
    max_prices: Mapping[int, int]
    min_rewards: Mapping[int, int]
    maker: str = ""

    @classmethod
    def make(
        cls,
        allocation: Mapping[int, Iterable[int]],
        prices: Mapping[int, int],
        rewards: Mapping[int, int],
        *,
        max_prices: Mapping[int, int] | None = None,
        min_rewards: Mapping[int, int] | None = None,
        maker: str = "",
    ) -> Proposal:
        """Build a proposal; tolerances left out equal the terms themselves (no slack)."""
        return cls(
            MappingProxyType({t: frozenset(ns) for t, ns in allocation.items()}),
            _frozen(prices),
            _frozen(rewards),
            _frozen(prices if max_prices is None else max_prices),
            _frozen(rewards if min_rewards is None else min_rewards),
            maker,
        )

    @property
    def requests(self) -> frozenset[int]:
        """The allocated requests."""
        return frozenset(self.allocation)

    @property
    def nodes(self) -> frozenset[int]:
        """The nodes that run at least one request."""
        return frozenset(n for ns in self.allocation.values() for n in ns)

    @property
    def margin(self) -> int:
        """``Σ π − Σ ϕ``: what the maker keeps if the proposal trades as posted."""
        return sum(self.prices.values()) - sum(self.rewards.values())
