"""Check everything the keeper decided in a round, from public chain data alone.

Once a round settles, its sealed values are public: the keeper revealed them in the settlement
transactions (``beginSettlement``, ``settleBids``), and for every order it settled as invalid it
published evidence (:mod:`bridge.evidence`) that opens that one envelope. This module checks:

- each invalid mark: the DLEQ proof against the round's keeper key, the decryption, the stated
  reason (``insufficient_collateral`` against the prover's collateral just before
  ``beginSettlement``);
- each valid reveal against its posted commitment;
- the outcome against a fresh clearing with the market's mechanism and the independent auditor:
  every charge, every job (prover, units, payment);
- fixedprice: the round's posted price against the public price rule (:func:`check_price`).

:func:`check_pages` runs the per-order checks on whatever pages have landed (the watchtower calls it
while a round settles); :func:`audit_round` runs everything on a settled round (``bridge audit``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from eth_abi import decode as abi_decode
from hexbytes import HexBytes

from bridge import sealed
from bridge.chain.groth16 import ProvabilityChecker, generic_registry
from bridge.chain.logs import event_logs
from bridge.chain.market import Market, RoundStatus
from bridge.chain.price_history import PriceHistory, locate_from_node
from bridge.chain.settlement import (
    AskReveal,
    BidReveal,
    decode_asks,
    decode_page,
    entries_from_outcome,
)
from bridge.client.settled import read_settlement
from bridge.errors import AuditError, BridgeError
from bridge.evidence import MarkCheck, MarkReason, OrderContext, check_mark, decode_evidence
from bridge.keys import same_address
from bridge.mechanisms import Ask, Bid, audit, clear
from bridge.proving import task_units
from bridge.units import format_wei

KINDS = ("invalid_mark", "reveal", "charge", "jobs", "outcome", "unauditable", "missed",
         "same_owner_and_keeper", "price")
"""Discrepancy kinds (the watchtower's metric label)."""


@dataclass(frozen=True)
class Discrepancy:
    """One thing the keeper posted that the public data contradicts."""

    round: int
    kind: str
    subject: str
    """``"bid 3"``, ``"ask 0"`` or ``"round"``."""
    detail: str

    def line(self) -> str:
        """One line for a terminal or a log."""
        return f"round {self.round} {self.subject}: {self.kind}: {self.detail}"


@dataclass(frozen=True)
class MarkVerdict:
    """The check of one order the keeper settled as invalid."""

    side: sealed.Side
    index: int
    participant: str
    reason: str
    check: MarkCheck

    @property
    def subject(self) -> str:
        """``"bid 3"`` or ``"ask 0"``."""
        return f"{'bid' if self.side is sealed.Side.BID else 'ask'} {self.index}"


@dataclass
class RoundAudit:
    """The result of re-checking one round."""

    round: int
    mechanism: str
    valid_bids: int = 0
    valid_asks: int = 0
    marks: list[MarkVerdict] = field(default_factory=list)
    differences: list[Discrepancy] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when nothing the keeper posted is contradicted."""
        return not self.differences


@dataclass
class _Commits:
    bids: list[dict[str, Any]]
    asks: list[dict[str, Any]]


def _commits(market: Market, round: int, from_block: int,
             to_block: int | None = None) -> _Commits:
    """Every commitment of ``round`` in commit order; all of them, or :class:`BridgeError`."""
    info = market.round_info(round, "latest" if to_block is None else to_block)

    def args(name: str, count: int) -> list[dict[str, Any]]:
        logs = event_logs(market, name, from_block, {"round": round}, to_block=to_block)
        by_index = {int(e["args"]["index"]): dict(e["args"]) for e in logs}
        if sorted(by_index) != list(range(count)):
            raise BridgeError(f"round {round} has {count} {name} logs, {len(by_index)} found from "
                              f"block {from_block}: pass an earlier --from-block (at or before "
                              "the round's first commitment)")
        return [by_index[i] for i in range(count)]

    return _Commits(args("BidCommitted", info.bid_count), args("AskCommitted", info.ask_count))


def _free_units(market: Market, prover: str, block: int) -> int:
    info = market.prover_info(prover, block)
    return info["collateral"] // market.params.refund_cap - market.outstanding_units(prover, block)


_CHECKERS: dict[tuple[int, str], ProvabilityChecker | None] = {}


def _provability(market: Market) -> ProvabilityChecker | None:
    """One checker per market whose verifier is a ``Groth16Registry`` (re-runs circuits the way
    the keeper does; outcomes are kept across rounds and polls)."""
    key = (market.params.chain_id, market.params.verifier)
    if key not in _CHECKERS:
        reg = generic_registry(market.w3, market.params.verifier)
        _CHECKERS[key] = None if reg is None else ProvabilityChecker(reg)
    return _CHECKERS[key]


def _check_mark(market: Market, key: bytes, round: int, side: sealed.Side, index: int,
                commit: dict[str, Any], evidence: bytes, state_block: int | None) -> MarkVerdict:
    participant = str(commit["requester" if side is sealed.Side.BID else "prover"])
    try:
        reason = decode_evidence(evidence).reason
    except Exception:
        reason = None
    free = None
    if side is sealed.Side.ASK and reason is MarkReason.INSUFFICIENT_COLLATERAL \
            and state_block is not None:
        free = _free_units(market, participant, state_block)
    provable, provable_detail = None, ""
    if side is sealed.Side.BID and reason is MarkReason.UNPROVABLE and market.circuit_tasks:
        checker = _provability(market)
        if checker is not None:
            verdict = checker.check(bytes(commit["task"]), [int(v) for v in commit["inputs"]])
            provable, provable_detail = verdict.provable, verdict.detail
    ctx = OrderContext(
        chain_id=market.params.chain_id, market=market.address, round=round,
        participant=participant, side=side, commitment=bytes(commit["commitment"]),
        ciphertext=bytes(commit["ciphertext"]), mechanism=market.params.mechanism,
        escrow=int(commit["escrow"]) if side is sealed.Side.BID else None,
        capacity=int(commit["capacity"]) if side is sealed.Side.ASK else None,
        task_units=(task_units(bytes(commit["task"]))
                    if side is sealed.Side.BID and market.circuit_tasks else None),
        free_units=free, provable=provable, provable_detail=provable_detail)
    return MarkVerdict(side, index, participant, reason.label if reason else "malformed",
                       check_mark(key, ctx, evidence))


def _check_reveal(market: Market, round: int, side: sealed.Side, index: int,
                  commit: dict[str, Any], reveal: BidReveal | AskReveal) -> Discrepancy | None:
    if isinstance(reveal, BidReveal):
        price, quantity, who = reveal.value, reveal.size, reveal.requester
    else:
        price, quantity, who = reveal.cost, reveal.quantity, reveal.prover
    computed = sealed.commitment(chain_id=market.params.chain_id, market=market.address,
                                 round=round, participant=who, side=side, price=price,
                                 quantity=quantity, salt=reveal.salt)
    if computed != bytes(commit["commitment"]):
        name = "bid" if side is sealed.Side.BID else "ask"
        return Discrepancy(round, "reveal", f"{name} {index}",
                           "the revealed values do not hash to the posted commitment")
    return None


@dataclass
class PagesSoFar:
    """What has landed of a round's settlement: the asks (once begun) and each landed page's bids
    (commit index → reveal), and the block of ``beginSettlement``."""

    asks: list[AskReveal] | None = None
    begin_block: int | None = None
    begin_tx: str | None = None
    """The ``beginSettlement`` in force (a settlement may begin again until its first page)."""
    bids: dict[int, BidReveal] = field(default_factory=dict)
    pages: set[int] = field(default_factory=set)


def pages_so_far(market: Market, round: int, from_block: int, mechanism: str,
                 to_block: int | None = None) -> PagesSoFar:
    """Decode the settlement transactions of ``round`` that have landed so far (up to
    ``to_block``, default the head)."""
    out = PagesSoFar()
    begun = event_logs(market, "SettlementBegun", from_block, {"round": round},
                       to_block=to_block)
    if not begun:
        return out
    last = begun[-1]
    data = market.direct_call_input(HexBytes(last["transactionHash"]).to_0x_hex(),
                                   "beginSettlement", round)
    _r, asks_bytes, _order, _claim = abi_decode(
        ["uint256", "bytes", "uint256[]", "(uint256,bool,uint256,uint256,bool,uint256,uint256)"],
        data[4:])
    out.asks = decode_asks(asks_bytes)
    out.begin_block = int(last["blockNumber"])
    out.begin_tx = HexBytes(last["transactionHash"]).to_0x_hex()
    for e in event_logs(market, "BidsSettled", from_block, {"round": round}, to_block=to_block):
        page_input = market.direct_call_input(HexBytes(e["transactionHash"]).to_0x_hex(),
                                             "settleBids", round)
        _r2, _table, page = abi_decode(["uint256", "bytes", "bytes"], page_input[4:])
        first = int.from_bytes(page[:4], "big")
        for k, b in enumerate(decode_page(mechanism, page)[0]):
            out.bids[first + k] = b
        out.pages.add(int(e["args"]["page"]))
    return out


def check_pages(market: Market, round: int, from_block: int, *, pages: PagesSoFar | None = None,
                done: set[tuple[int, int]] | None = None,
                to_block: int | None = None) -> RoundAudit:
    """Check every invalid mark and valid reveal that has landed for ``round`` so far (up to
    ``to_block``, default the head).

    ``done``: ``(side, index)`` pairs already checked (skipped, then added to): the watchtower's
    memory between polls.
    """
    mech = market.params.mechanism
    result = RoundAudit(round, mech)
    landed = (pages if pages is not None
              else pages_so_far(market, round, from_block, mech, to_block))
    if landed.asks is None:
        return result
    commits = _commits(market, round, from_block, to_block)
    key = market.keeper_for(round)[1]
    state_block = landed.begin_block - 1 if landed.begin_block else None
    seen = done if done is not None else set()
    orders: list[tuple[sealed.Side, int, dict[str, Any], BidReveal | AskReveal]] = [
        (sealed.Side.ASK, i, c, a) for i, (c, a) in enumerate(zip(commits.asks, landed.asks,
                                                                  strict=False))]
    orders += [(sealed.Side.BID, i, commits.bids[i], b) for i, b in sorted(landed.bids.items())
               if i < len(commits.bids)]
    for side, index, commit, reveal in orders:
        if (int(side), index) in seen:
            continue
        seen.add((int(side), index))
        if reveal.valid:
            diff = _check_reveal(market, round, side, index, commit, reveal)
            if diff is not None:
                result.differences.append(diff)
            continue
        verdict = _check_mark(market, key, round, side, index, commit, reveal.evidence,
                              state_block)
        result.marks.append(verdict)
        if not verdict.check.ok:
            result.differences.append(Discrepancy(round, "invalid_mark", verdict.subject,
                                                  f"marked {verdict.reason}: "
                                                  f"{verdict.check.explanation}"))
    return result


def audit_round(market: Market, round: int, from_block: int) -> RoundAudit:
    """Check everything the keeper decided in settled ``round``; see the module docstring."""
    status = market.round_info(round).status
    if status is not RoundStatus.SETTLED:
        raise BridgeError(f"round {round} is {status.name.lower()}, not settled: nothing to audit "
                          "yet (a voided round released every escrow untouched)")
    result = check_pages(market, round, from_block)
    check_outcome(market, round, from_block, result)
    found = check_price(PriceHistory(market, locate_from_node(market, from_block)), round)
    if found is not None:
        result.differences.append(found)
    return result


def check_price(history: PriceHistory, round: int) -> Discrepancy | None:
    """fixedprice: the discrepancy if ``round``'s price on chain is not what the public price rule
    gives it (from the chain's price of ``round − 1`` and the opened orders of the settled rounds
    the rule reads); None if it is, or for another mechanism."""
    market = history.market
    if market.params.mechanism != "fixedprice" or round < 1:
        return None
    previous = market.round_price(round - 1)
    posted = market.round_price(round)
    want = history.expected(round, previous)
    if posted == want:
        return None
    how = "posted" if posted != previous else "carried (no post)"
    return Discrepancy(round, "price", "round",
                       f"{how} {format_wei(posted)} per unit; the price rule gives "
                       f"{format_wei(want)} (from {format_wei(previous)} and "
                       f"{len(history.history(round))} settled rounds of orders)")


def check_outcome(market: Market, round: int, from_block: int, result: RoundAudit) -> None:
    """Recompute settled ``round``'s outcome from its reveals; add what differs to ``result``."""
    record = read_settlement(market, round, from_block, decode=True)
    if record is None:
        raise BridgeError(f"no RoundSettled log for round {round} from block {from_block}: "
                          "pass an earlier --from-block")
    reveals, ask_reveals = record.bids, record.asks
    mech = market.params.mechanism
    bids = [Bid(i, b.value, b.size, b.requester) for i, b in enumerate(reveals) if b.valid]
    asks = [Ask(i, a.cost, a.quantity, a.prover) for i, a in enumerate(ask_reveals) if a.valid]
    result.valid_bids, result.valid_asks = len(bids), len(asks)
    price = market.round_price(round) if mech == "fixedprice" else None
    outcome = clear(mech, bids, asks, price=price)
    try:
        audit(mech, bids, asks, outcome, price=price)
    except AuditError as exc:
        result.differences.append(Discrepancy(round, "outcome", "round",
                                              f"the recomputed outcome fails the audit: {exc}"))
    for i, b in enumerate(reveals):
        expected = outcome.charges.get(i, 0)
        if b.charge != expected:
            result.differences.append(Discrepancy(
                round, "charge", f"bid {i}",
                f"charged {b.charge} wei, the {mech} mechanism charges {expected}"))
    expected_entries = {(e.bid_index, e.ask_index): e for e in entries_from_outcome(
        ask_reveals, outcome.assignment, outcome.job_payments())}
    settled_entries = {(e.bid_index, e.ask_index): e for e in record.entries}
    for k in sorted(set(expected_entries) | set(settled_entries)):
        got, want = settled_entries.get(k), expected_entries.get(k)
        if got == want:
            continue
        what = (f"settled {got.units} units paying {got.payment} wei" if got else "not settled")
        should = (f"{want.units} units paying {want.payment} wei" if want else "no job")
        result.differences.append(Discrepancy(round, "jobs", f"bid {k[0]}",
                                              f"job with ask {k[1]}: {what}; the mechanism "
                                              f"says {should}"))


def own_marks(market: Market, round: int, from_block: int, participant: str,
              side: sealed.Side) -> list[MarkVerdict]:
    """The checks of ``participant``'s own orders on ``side`` that ``round`` settled as invalid
    (pages landed so far)."""
    result = check_pages(market, round, from_block)
    return [v for v in result.marks if v.side is side and same_address(v.participant, participant)]


def explain_own_mark(verdict: MarkVerdict, record: Any | None) -> tuple[bool, str]:
    """``(keeper_right, sentence)`` for a participant about its own order marked invalid.

    ``record``: the participant's local salt record (:class:`bridge.client.salts.SealedRecord`)
    of that order, when it has one: the evidence's decryption is compared with it.
    """
    name = "bid" if verdict.side is sealed.Side.BID else "ask"
    check = verdict.check
    opened = check.opened
    mine = (record is not None and opened is not None and opened.price == record.price
            and opened.quantity == record.quantity
            and "0x" + opened.salt.hex() == str(record.salt).lower())
    if check.ok:
        extra = (" (the evidence decrypts to exactly what you sealed)" if mine else "")
        return True, f"your {name} was invalid: {verdict.reason} — the keeper's evidence " \
                     f"confirms it{extra}"
    if check.held:
        return False, (f"the keeper's stated reason ({verdict.reason}) is wrong, but your {name} "
                       f"was invalid anyway: {', '.join(r.label for r in check.held)}")
    if "DLEQ" in check.explanation:
        return False, (f"the keeper's mark ({verdict.reason}) is provably wrong: its evidence "
                       f"is false ({check.explanation}); keep your salt file and report it")
    if "provably wrong" in check.explanation or mine:
        return False, (f"your {name} was valid; the keeper's mark is provably wrong: "
                       f"{check.explanation}")
    return False, f"the keeper's mark ({verdict.reason}) does not hold: {check.explanation}"
