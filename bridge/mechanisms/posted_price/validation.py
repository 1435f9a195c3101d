"""Validation of a proposal against the public market: every rule, with a typed reason.

:func:`violations` lists every broken rule (after the first structural one nothing else can be
judged, so the list then stops); :func:`check_proposal` raises
:class:`~bridge.mechanisms.posted_price.errors.InvalidProposal` for the first. Rules, in the
order they are checked:

1. amounts are ``int`` (``NOT_AN_INT``) and ``>= 0`` (``NEGATIVE_AMOUNT``);
2. the allocation names known requests and nodes (``UNKNOWN_REQUEST``, ``UNKNOWN_NODE``);
3. prices and maximum prices are given for exactly the allocated requests (``PRICE_KEYS``),
   rewards and minimum rewards for exactly the nodes that run something (``REWARD_KEYS``);
4. each allocated request runs on exactly ``replicas`` distinct nodes (``REPLICAS``), each
   supporting its tag (``TAG``); no node's load exceeds its capacity (``CAPACITY``);
5. tolerances on the right side: ``π̄ ≥ π`` (``MAX_PRICE_BELOW_PRICE``), ``ϕ̲ ≤ ϕ``
   (``MIN_REWARD_ABOVE_REWARD``);
6. margin ``Σ π − Σ ϕ >= 0`` (``NEGATIVE_MARGIN``; exactly zero is allowed).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from bridge.mechanisms.posted_price.errors import InvalidProposal, ProposalFault
from bridge.mechanisms.posted_price.types import Market, Proposal, is_int

__all__ = ["FIXES", "ProposalFault", "Violation", "check_proposal", "violations"]


FIXES: Mapping[ProposalFault, str] = {
    ProposalFault.NOT_AN_INT: "give every amount as an int (wei)",
    ProposalFault.NEGATIVE_AMOUNT: "prices, rewards and tolerances must be >= 0",
    ProposalFault.UNKNOWN_REQUEST: "allocate only requests of this market",
    ProposalFault.UNKNOWN_NODE: "allocate only nodes of this market",
    ProposalFault.PRICE_KEYS: "give a price and a maximum price for each allocated request, none "
    "for others (an unserved request pays nothing)",
    ProposalFault.REWARD_KEYS: "give a reward and a minimum reward for each node that runs "
    "something, none for others",
    ProposalFault.REPLICAS: "allocate each request to exactly its number of replicas",
    ProposalFault.TAG: "allocate a request only to nodes that support its tag",
    ProposalFault.CAPACITY: "give the node fewer units of work, or use another node",
    ProposalFault.MAX_PRICE_BELOW_PRICE: "the maximum price must be >= the price",
    ProposalFault.MIN_REWARD_ABOVE_REWARD: "the minimum reward must be <= the reward",
    ProposalFault.NEGATIVE_MARGIN: "charge at least what you pay out (margin >= 0)",
}


@dataclass(frozen=True)
class Violation:
    """One broken rule: ``fault`` and what exactly is wrong (``detail``)."""

    fault: ProposalFault
    detail: str

    @property
    def fix(self) -> str:
        """How to repair it."""
        return FIXES[self.fault]

    def error(self) -> InvalidProposal:
        """The exception for this violation."""
        return InvalidProposal(self.fault, self.detail, self.fix)


def _amounts(p: Proposal) -> list[Violation]:
    out: list[Violation] = []
    groups: tuple[tuple[str, str, Mapping[int, int]], ...] = (
        ("price", "request", p.prices),
        ("max price", "request", p.max_prices),
        ("reward", "node", p.rewards),
        ("min reward", "node", p.min_rewards),
    )
    for what, kind, amounts in groups:
        for ident, x in sorted(amounts.items(), key=lambda kv: repr(kv[0])):
            if not is_int(x):
                out.append(
                    Violation(ProposalFault.NOT_AN_INT, f"{what} of {kind} {ident} is {x!r}")
                )
            elif x < 0:
                out.append(
                    Violation(ProposalFault.NEGATIVE_AMOUNT, f"{what} of {kind} {ident} is {x}")
                )
    return out


def violations(market: Market, p: Proposal) -> tuple[Violation, ...]:
    """Every rule ``p`` breaks in ``market``, in the module docstring's order (empty: valid)."""
    found = _amounts(p)
    if found:
        return tuple(found)
    for t in sorted(p.allocation, key=repr):
        if t not in market.request_by_id:
            found.append(Violation(ProposalFault.UNKNOWN_REQUEST, f"request {t!r} does not exist"))
        for n in sorted(p.allocation[t], key=repr):
            if n not in market.node_by_id:
                found.append(Violation(ProposalFault.UNKNOWN_NODE, f"node {n!r} does not exist"))
    if found:
        return tuple(found)
    requests, nodes = p.requests, p.nodes
    for name, keys in (("prices", p.prices.keys()), ("max_prices", p.max_prices.keys())):
        if set(keys) != requests:
            found.append(Violation(ProposalFault.PRICE_KEYS, _keys(name, set(keys), requests)))
    for name, keys in (("rewards", p.rewards.keys()), ("min_rewards", p.min_rewards.keys())):
        if set(keys) != nodes:
            found.append(Violation(ProposalFault.REWARD_KEYS, _keys(name, set(keys), nodes)))
    if found:
        return tuple(found)
    load: dict[int, int] = {}
    for t in sorted(p.allocation):
        r, ns = market.request_by_id[t], p.allocation[t]
        if len(ns) != r.replicas:
            found.append(
                Violation(
                    ProposalFault.REPLICAS, f"request {t} needs {r.replicas} nodes, got {len(ns)}"
                )
            )
        for n in sorted(ns):
            if r.tag not in market.node_by_id[n].tags:
                found.append(
                    Violation(
                        ProposalFault.TAG, f"node {n} does not support tag {r.tag!r} of request {t}"
                    )
                )
            load[n] = load.get(n, 0) + r.size
    for n in sorted(load):
        if load[n] > market.node_by_id[n].capacity:
            found.append(
                Violation(
                    ProposalFault.CAPACITY,
                    f"node {n} gets {load[n]} units, capacity {market.node_by_id[n].capacity}",
                )
            )
    for t in sorted(requests):
        if p.max_prices[t] < p.prices[t]:
            found.append(
                Violation(
                    ProposalFault.MAX_PRICE_BELOW_PRICE,
                    f"request {t}: max price {p.max_prices[t]} < price {p.prices[t]}",
                )
            )
    for n in sorted(nodes):
        if p.min_rewards[n] > p.rewards[n]:
            found.append(
                Violation(
                    ProposalFault.MIN_REWARD_ABOVE_REWARD,
                    f"node {n}: min reward {p.min_rewards[n]} > reward {p.rewards[n]}",
                )
            )
    if p.margin < 0:
        found.append(Violation(ProposalFault.NEGATIVE_MARGIN, f"margin is {p.margin}"))
    return tuple(found)


def _keys(name: str, given: set[int], wanted: frozenset[int]) -> str:
    extra, missing = sorted(given - wanted, key=repr), sorted(wanted - given, key=repr)
    return f"{name}: extra {extra}, missing {missing}"


def check_proposal(market: Market, p: Proposal) -> None:
    """Raise :class:`~.errors.InvalidProposal` for the first rule ``p`` breaks."""
    found = violations(market, p)
    if found:
        raise found[0].error()
