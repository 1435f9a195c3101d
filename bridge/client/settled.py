"""A settled round as anyone reads it from the chain: its jobs (with Merkle proofs), charges and,
on request, the reveals from the settlement transactions' inputs.

Below :mod:`bridge.client.participant` and :mod:`bridge.client.tasks`, which both read settled
rounds (the participant re-exports these names).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hexbytes import HexBytes

from bridge.chain.logs import event_logs
from bridge.chain.market import Market, RoundStatus
from bridge.chain.settlement import (
    AskReveal,
    BidReveal,
    Job,
    JobEntry,
    JobTree2,
    SettledPage,
    decode_settlement,
    jobs_from_logs,
    unpack_job,
)
from bridge.errors import BridgeError


@dataclass(frozen=True)
class JobView:
    """A settled job as a participant sees it, with its Merkle proof and resolution."""

    round: int
    job: Job
    proof: list[bytes]
    resolved: bool


@dataclass(frozen=True)
class SettlementRecord:
    """A settled round as its logs (and, on request, its transactions' inputs) tell it."""

    pages: list[SettledPage]
    charges: list[int]
    jobs: list[Job]
    tree: JobTree2
    entries: list[JobEntry]
    bids: list[BidReveal]
    asks: list[AskReveal]


def read_settlement(market: Market, round: int, from_block: int, decode: bool = False
                    ) -> SettlementRecord | None:
    """``round``'s settlement rebuilt from ``BidsSettled``/``RoundSettled`` and the commit logs
    (``decode``: also the reveals, from the settlement transactions' inputs); None if unsettled.

    ``from_block``: a block at or before the round's commitments (bounds the log search).
    """
    settled = event_logs(market, "RoundSettled", from_block, {"round": round})
    if not settled:
        return None
    found = {int(e["args"]["page"]): e for e in event_logs(market, "BidsSettled", from_block,
                                                              {"round": round})}
    pages_total = int(settled[-1]["args"]["pages"])
    if len(found) != pages_total:
        raise BridgeError(f"round {round}: {len(found)} of {pages_total} BidsSettled logs found "
                          f"from block {from_block}: pass an earlier block")
    pages = [SettledPage(p, int(e["args"]["firstBid"]), int(e["args"]["firstJob"]),
                         tuple(int(c) for c in e["args"]["charges"]),
                         tuple(int(j) for j in e["args"]["jobs"]))
             for p, e in sorted(found.items())]
    commits = sorted(event_logs(market, "BidCommitted", from_block, {"round": round}),
                     key=lambda e: int(e["args"]["index"]))
    provers = [e["args"]["prover"] for e in sorted(
        event_logs(market, "AskCommitted", from_block, {"round": round}),
        key=lambda e: int(e["args"]["index"]))]
    bid_commits = [(e["args"]["requester"], int(e["args"]["escrow"]), bytes(e["args"]["task"]))
                   for e in commits]
    jobs, tree, charges = jobs_from_logs(round, bid_commits, provers, pages,
                                         market.params.proof_deadline(round))
    if tree.root != bytes(settled[-1]["args"]["jobRoot"]):
        raise BridgeError(f"round {round}: jobs rebuilt from the logs do not match the job root")
    entries = [unpack_job(j) for p in pages for j in p.jobs]
    bids: list[BidReveal] = []
    asks: list[AskReveal] = []
    if decode:
        begun = event_logs(market, "SettlementBegun", from_block, {"round": round})
        data = decode_settlement(
            market.abi, market.params.mechanism,
            market.direct_call_input(HexBytes(begun[-1]["transactionHash"]).to_0x_hex(),
                                    "beginSettlement", round),
            [market.direct_call_input(HexBytes(found[p]["transactionHash"]).to_0x_hex(),
                                     "settleBids", round)
             for p in sorted(found)], charges)
        bids, asks = data["bids"], data["asks"]
    return SettlementRecord(pages, charges, jobs, tree, entries, bids, asks)


def settled_jobs(market: Market, round: int, from_block: int) -> list[JobView]:
    """Every job of a settled ``round``, rebuilt from its logs.

    ``from_block``: a block at or before the round's commitments (bounds the log search).
    """
    info = market.round_info(round)
    if info.status is not RoundStatus.SETTLED:
        return []
    record = read_settlement(market, round, from_block)
    if record is None:
        raise BridgeError(f"round {round} is settled but its RoundSettled log is not at or "
                          f"after block {from_block}: pass an earlier block")
    return [JobView(round, j, record.tree.proof(j.job_index),
                    market.is_resolved(round, j.job_index)) for j in record.jobs]


def settled_reveals(market: Market, round: int, from_block: int) -> list[Any] | None:
    """The bid reveals (``BidReveal``, commit order, with charges) of a settled ``round``."""
    record = read_settlement(market, round, from_block, decode=True)
    return None if record is None else list(record.bids)


def round_charges(market: Market, round: int, from_block: int) -> list[int] | None:
    """Charges of a settled round's bids in commit order (from ``BidsSettled``), else None."""
    record = read_settlement(market, round, from_block)
    return None if record is None else record.charges
