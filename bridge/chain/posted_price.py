"""Bindings of ``PostedPriceMarket`` (the on-chain posted-price mode, docs/design/mechanisms.md).

Converts between the library's :class:`~bridge.mechanisms.posted_price.Proposal` and the
contract's ``Proposal`` tuple, reads a round's public market (registrations, as the library's
:class:`~bridge.mechanisms.posted_price.Market`) and its proposals in on-chain order (from
``ProposalSubmitted``: the contract keeps only their hashes), and builds the transactions every
role sends. Sending is the caller's: a :class:`~bridge.chain.sender.TxSender` takes the dicts
:meth:`PostedPriceMarket.tx` returns.

Registering costs a deposit of ``bond`` wei (:attr:`PostedPriceMarket.deposit`): back on
acceptance or once the participant can no longer be asked (:meth:`PostedPriceMarket.deposit_fate`
says when; ``releaseDeposit``), burned if a booked participant rejects or never answers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from web3 import Web3
from web3.contract import Contract

from bridge.chain.artifacts import load_artifact
from bridge.chain.deploy import deploy
from bridge.chain.market import answers
from bridge.chain.revert import decode_revert
from bridge.errors import BridgeError, ChainError, InvalidInput
from bridge.mechanisms.posted_price import Book, Market, Node, Proposal, Request

__all__ = [
    "ARTIFACT",
    "BOOK_RULES",
    "PROPOSAL_RULES",
    "ChainProposal",
    "Deadlines",
    "DepositState",
    "JobState",
    "Outcome",
    "PostedPriceConfig",
    "PostedPriceMarket",
    "Response",
    "Submitted",
    "book_entries",
    "deploy_posted_price_market",
    "proposal_from_chain",
    "proposal_to_chain",
    "tag_name",
    "tags_mask",
]

ARTIFACT = "PostedPriceMarket"

ChainProposal = tuple[list[int], list[int], list[int], list[int], list[int], list[int], list[int]]
"""``(requests, prices, maxPrices, assignment, nodes, rewards, minRewards)``."""

PROPOSAL_RULES: Mapping[int, str] = {
    1: "empty: allocate at least one request",
    2: "array lengths: one price and max price per request, one reward and min reward per node",
    3: "unknown request, or requests not in strictly increasing order",
    4: "max price below price (π̄ ≥ π)",
    5: "max price above the requester's registered maximum",
    6: "unknown node, or nodes not in strictly increasing order",
    7: "min reward above reward (ϕ̲ ≤ ϕ)",
    8: "min reward below the node's registered minimum",
    9: "assignment: each request needs exactly its replicas, distinct and increasing node ids",
    10: "an assigned node is missing from the node list",
    11: "a node does not support the request's tag",
    12: "a node's load exceeds its capacity",
    13: "a listed node runs nothing",
    14: "negative margin: rewards exceed prices",
}
"""``ProposalInvalid.code`` -> the rule (the contract checks them in this order)."""

BOOK_RULES: Mapping[int, str] = {
    1: "parts out of order (1, then each entry the same part or the next)",
    2: "a proposal appears twice",
    3: "posted terms do not match the proposal's requests and nodes",
    4: "a posted price exceeds the proposal's max price",
    5: "a posted reward is below the proposal's min reward",
    6: "a request is in two proposals of the book",
    7: "a node is in two proposals of the book",
    8: "a part's posted margin differs from its proposals' margins",
}
"""``BookInvalid.code`` -> the rule."""


class Response(IntEnum):
    """``IPostedPriceMarketTypes.Response``."""

    NONE = 0
    ACCEPTED = 1
    REJECTED = 2


class DepositState(IntEnum):
    """``IPostedPriceMarketTypes.DepositState``: where a registration deposit is."""

    NONE = 0
    HELD = 1
    RETURNED = 2
    FORFEITED = 3


class Outcome(IntEnum):
    """``IPostedPriceMarketTypes.Outcome``: how ``closeProposal`` ended a proposal."""

    NOT_BOOKED = 0
    TRADED = 1
    VOIDED = 2
    REJECTED = 3  # bond back too: the rejecter's deposit paid for the failure


class JobState(IntEnum):
    """``IPostedPriceMarketTypes.JobState``."""

    NONE = 0
    ASSIGNED = 1
    PROVEN = 2
    SLASHED = 3


def tag_name(tag: int) -> str:
    """The library's tag string for on-chain tag number ``tag`` (0–255)."""
    return str(tag)


def tags_mask(tags: Sequence[int]) -> int:
    """The bitmask a node registers for tag numbers ``tags``."""
    mask = 0
    for t in tags:
        if not 0 <= t <= 255:
            raise InvalidInput(f"tag {t}: tags are numbers 0-255")
        mask |= 1 << t
    return mask


@dataclass(frozen=True)
class PostedPriceConfig:
    """``IPostedPriceMarketTypes.Config`` (periods in seconds, amounts in wei)."""

    keeper: str
    verifier: str
    register_period: int = 60
    propose_period: int = 60
    settle_period: int = 60
    accept_period: int = 60
    proof_period: int = 60
    bond: int = 10**15  # γ: each proposal's bond and each registration's deposit
    collateral_per_unit: int = 10**15
    max_requests: int = 64
    max_nodes: int = 64
    max_proposals: int = 256

    def as_tuple(self) -> tuple[Any, ...]:
        """ABI tuple in struct field order."""
        return (self.keeper, self.verifier, self.register_period, self.propose_period,
                self.settle_period, self.accept_period, self.proof_period, self.bond,
                self.collateral_per_unit, self.max_requests, self.max_nodes, self.max_proposals)


def deploy_posted_price_market(w3: Web3, cfg: PostedPriceConfig, sender: str) -> Contract:
    """Deploy ``PostedPriceMarket`` with ``cfg`` from the unlocked ``sender``."""
    return deploy(w3, ARTIFACT, cfg.as_tuple(), sender=sender)


def proposal_to_chain(market: Market, p: Proposal) -> ChainProposal:
    """The contract's ``Proposal`` for ``p`` (ids are the round's request and node indices)."""
    requests = sorted(p.allocation)
    nodes = sorted(p.nodes)
    assignment: list[int] = []
    for t in requests:
        assignment.extend(sorted(p.allocation[t]))
    return (requests, [p.prices[t] for t in requests], [p.max_prices[t] for t in requests],
            assignment, nodes, [p.rewards[n] for n in nodes], [p.min_rewards[n] for n in nodes])


def _field(data: Any, name: str, position: int) -> list[int]:
    if isinstance(data, Mapping):
        return [int(x) for x in data[name]]
    return [int(x) for x in data[position]]


def proposal_from_chain(market: Market, data: Any, maker: str) -> Proposal:
    """The library's proposal for the contract's ``data`` (a tuple or a decoded event dict);
    replicas are read from ``market``'s requests."""
    requests = _field(data, "requests", 0)
    prices = _field(data, "prices", 1)
    max_prices = _field(data, "maxPrices", 2)
    assignment = _field(data, "assignment", 3)
    nodes = _field(data, "nodes", 4)
    rewards = _field(data, "rewards", 5)
    min_rewards = _field(data, "minRewards", 6)
    allocation: dict[int, list[int]] = {}
    k = 0
    for t in requests:
        replicas = market.request_by_id[t].replicas
        allocation[t] = assignment[k:k + replicas]
        k += replicas
    return Proposal.make(allocation, dict(zip(requests, prices, strict=True)),
                         dict(zip(nodes, rewards, strict=True)),
                         max_prices=dict(zip(requests, max_prices, strict=True)),
                         min_rewards=dict(zip(nodes, min_rewards, strict=True)), maker=maker)


@dataclass(frozen=True)
class Submitted:
    """A proposal as submitted on chain: its index (on-chain order), maker, the library's view
    and the exact tuple the contract hashed."""

    index: int
    maker: str
    proposal: Proposal
    data: ChainProposal


def book_entries(book: Book, submitted: Sequence[Submitted]) -> list[tuple[Any, ...]]:
    """The ``settle`` argument for ``book``: each part's proposals (by object identity, so two
    equal proposals stay distinct) with their posted terms, parts numbered from 1."""
    entries: list[tuple[Any, ...]] = []
    for number, part in enumerate(book.parts, start=1):
        for q in part.proposals:
            match = [s for s in submitted if s.proposal is q]
            if len(match) != 1:
                raise ChainError("a booked proposal is not one of the submitted ones")
            s = match[0]
            requests, nodes = s.data[0], s.data[4]
            entries.append((s.index, number, s.data, [part.prices[t] for t in requests],
                            [part.rewards[n] for n in nodes]))
    return entries


@dataclass(frozen=True)
class Deadlines:
    """A round's deadlines (each window closes at its deadline; 0 until settled)."""

    register_end: int
    propose_end: int
    settle_end: int
    accept_end: int
    proof_end: int


class PostedPriceMarket:
    """A deployed ``PostedPriceMarket`` at ``address`` on ``w3``."""

    def __init__(self, w3: Web3, address: str) -> None:
        self.w3 = w3
        self.address = Web3.to_checksum_address(address)
        self.abi = load_artifact(ARTIFACT).abi
        self.contract: Contract = w3.eth.contract(address=self.address, abi=self.abi)

    def decode_revert(self, data: bytes) -> BridgeError | None:
        """The market's custom error for revert ``data``."""
        return decode_revert(self.abi, data)

    def check_code(self) -> None:
        """Raise :class:`ChainError` if no contract code is at the address."""
        if len(self.w3.eth.get_code(self.address)) == 0:
            raise ChainError(f"no contract code at {self.address}: wrong --market or chain")
        if not answers(self.w3, self.address, "bond()"):
            kind = ("a sealed-bid market: use `bridge requester …` / `bridge prover …` with it"
                    if answers(self.w3, self.address, "mechanism()") else "another contract")
            raise ChainError(f"the contract at {self.address} is not a posted-price market, it "
                             f"is {kind}; pass the PostedPriceMarket's address as --market")

    def tx(self, fn: str, *args: Any, value: int = 0) -> dict[str, Any]:
        """A transaction dict (to, data, value) for :class:`~bridge.chain.sender.TxSender`."""
        data = str(self.contract.encode_abi(fn, args=list(args)))
        return {"to": self.address, "data": data, "value": value}

    def _call(self, fn: str, *args: Any) -> Any:
        return getattr(self.contract.functions, fn)(*args).call()

    # -- parameters and rounds -----------------------------------------------------------------
    @property
    def bond(self) -> int:
        """``γ``, the bond posted with each proposal."""
        return int(self._call("bond"))

    @property
    def deposit(self) -> int:
        """What every registration carries (``bond``, the same ``γ``)."""
        return self.bond

    @property
    def collateral_per_unit(self) -> int:
        """Collateral a node locks per unit of accepted work."""
        return int(self._call("collateralPerUnit"))

    @property
    def keeper(self) -> str:
        """The keeper's address."""
        return str(self._call("keeper"))

    def round_count(self) -> int:
        """Rounds opened so far."""
        return int(self._call("roundCount"))

    def round_info(self, round: int) -> dict[str, Any]:
        """``roundInfo(round)`` as a dict."""
        start, accept_end, requests, nodes, proposals, parts, settled = self._call(
            "roundInfo", round)
        return {"start": start, "accept_end": accept_end, "requests": requests, "nodes": nodes,
                "proposals": proposals, "parts": parts, "settled": settled}

    def deadlines(self, round: int) -> Deadlines:
        """The round's deadlines."""
        return Deadlines(*(int(x) for x in self._call("deadlines", round)))

    def request(self, round: int, index: int) -> dict[str, Any]:
        """``requestInfo`` as a dict."""
        (requester, size, tag, replicas, part, response, proposal, max_price, price,
         task, deposit) = self._call("requestInfo", round, index)
        return {"index": index, "requester": requester, "size": size, "tag": tag,
                "replicas": replicas, "part": part, "response": Response(response),
                "proposal": proposal, "max_price": max_price, "price": price, "task": task,
                "deposit": DepositState(deposit)}

    def node(self, round: int, index: int) -> dict[str, Any]:
        """``nodeInfo`` as a dict."""
        (account, capacity, part, response, forfeited, proposal, load, jobs, proven, tags,
         min_reward, reward, deposit) = self._call("nodeInfo", round, index)
        return {"index": index, "account": account, "capacity": capacity, "part": part,
                "response": Response(response), "forfeited": forfeited, "proposal": proposal,
                "load": load, "jobs": jobs, "proven": proven, "tags": tags,
                "min_reward": min_reward, "reward": reward, "deposit": DepositState(deposit)}

    def requests(self, round: int) -> list[dict[str, Any]]:
        """Every request of the round."""
        return [self.request(round, i) for i in range(self.round_info(round)["requests"])]

    def nodes(self, round: int) -> list[dict[str, Any]]:
        """Every node of the round."""
        return [self.node(round, i) for i in range(self.round_info(round)["nodes"])]

    def market(self, round: int) -> Market:
        """The round's public market as the library sees it (tags as :func:`tag_name`)."""
        return Market(
            [Request(q["index"], q["size"], tag_name(q["tag"]), q["replicas"])
             for q in self.requests(round)],
            [Node(n["index"], n["capacity"],
                  frozenset(tag_name(k) for k in range(256) if (n["tags"] >> k) & 1))
             for n in self.nodes(round)])

    def job_state(self, round: int, request: int, node: int) -> JobState:
        """The state of job (``request``, ``node``)."""
        return JobState(int(self._call("jobState", round, request, node)))

    def balance_of(self, account: str) -> int:
        """``account``'s free balance."""
        return int(self._call("balanceOf", Web3.to_checksum_address(account)))

    def total_locked(self) -> int:
        """Wei held for bonds, deposits, paid prices and collateral."""
        return int(self._call("totalLocked"))

    def burned(self) -> int:
        """Wei of forfeited deposits (the contract keeps them; nobody may withdraw them)."""
        return int(self._call("burned"))

    def deposit_fate(self, round: int, participant: Mapping[str, Any], now: int) -> str:
        """What ``releaseDeposit`` does at time ``now`` for ``participant`` (a :meth:`request`
        or :meth:`node` dict): ``"return"``, ``"forfeit"``, ``"wait"`` (it may still be asked)
        or ``"none"`` (no deposit held). Mirrors the contract's rule."""
        if participant["deposit"] is not DepositState.HELD:
            return "none"
        info = self.round_info(round)
        d = self.deadlines(round)
        if not info["settled"]:
            return "return" if now >= d.settle_end else "wait"
        if participant["part"] == 0:
            return "return"
        if self.contract.functions.partInfo(round, participant["part"]).call()[2]:  # voided
            return "return"
        return "forfeit" if now >= d.accept_end else "wait"

    # -- logs -----------------------------------------------------------------------------------
    def logs(self, event: str, from_block: int = 0, round: int | None = None) -> list[Any]:
        """Decoded ``event`` logs (of ``round`` when given), in chain order."""
        filters = None if round is None else {"round": round}
        return list(getattr(self.contract.events, event)().get_logs(
            from_block=from_block, argument_filters=filters))

    def submitted(self, round: int, market: Market | None = None,
                  from_block: int = 0) -> list[Submitted]:
        """The round's proposals in on-chain order (index order), from ``ProposalSubmitted``."""
        market = market or self.market(round)
        out = []
        for log in self.logs("ProposalSubmitted", from_block, round):
            args = log["args"]
            raw = args["proposal"]
            data: ChainProposal = tuple(_field(raw, name, i) for i, name in enumerate(  # type: ignore[assignment]
                ("requests", "prices", "maxPrices", "assignment", "nodes", "rewards",
                 "minRewards")))
            out.append(Submitted(int(args["index"]), str(args["maker"]),
                                 proposal_from_chain(market, data, str(args["maker"])), data))
        out.sort(key=lambda s: s.index)
        if [s.index for s in out] != list(range(len(out))):
            raise ChainError(f"round {round}: proposal logs are incomplete (search from an "
                             "earlier block)")
        return out
