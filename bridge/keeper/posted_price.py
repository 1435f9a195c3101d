"""The posted-price keeper: evaluate a round's proposals with the library, settle, and tidy up.

Per round, once its proposal window has closed: read the registrations (the library's
:class:`~bridge.mechanisms.posted_price.Market`) and the proposals in on-chain order, run
sequential improvement with tolerances (:func:`~bridge.mechanisms.posted_price.run`, merging
non-conflicting proposals), check the book independently
(:func:`~bridge.mechanisms.posted_price.check_book`) and settle it. After the proof window it
slashes unproven jobs, closes every proposal (bonds, margins, refunds, and the deposits of booked
participants in void parts) and releases every other registration deposit still held
(participants not in the book, or the whole round if it was never settled). Anyone may do all
three; the keeper does so that no money waits on a participant.

:func:`audit` recomputes a settled round from the logs and compares it with what was booked: the
part of the outcome the contract cannot check (that the book is sequential improvement's result).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any

from bridge.chain.posted_price import (
    JobState,
    PostedPriceMarket,
    Submitted,
    book_entries,
)
from bridge.chain.sender import TxSender
from bridge.errors import ClearingError
from bridge.mechanisms.posted_price import Book, Market, Step, Verdict, check_book, run
from bridge.units import format_wei

log = logging.getLogger(__name__)

__all__ = ["Evaluation", "PostedPriceKeeper", "audit", "evaluate"]


@dataclass(frozen=True)
class Evaluation:
    """A round evaluated by the library: its market, proposals, book, steps and ``settle``
    argument."""

    round: int
    market: Market
    submitted: list[Submitted]
    book: Book
    steps: tuple[Step, ...]
    entries: list[tuple[Any, ...]]


def evaluate(market: PostedPriceMarket, round: int, from_block: int = 0) -> Evaluation:
    """Sequential improvement with tolerances over ``round``'s proposals in on-chain order."""
    lib_market = market.market(round)
    submitted = market.submitted(round, lib_market, from_block)
    book, steps = run(lib_market, [s.proposal for s in submitted])
    for s, step in zip(submitted, steps, strict=True):
        if step.verdict is Verdict.INVALID:  # the contract refuses these at submission
            raise ClearingError(f"round {round}: proposal {s.index} is on chain but the library "
                                f"finds it invalid ({step.violation})")
    check_book(book)
    return Evaluation(round, lib_market, submitted, book, steps, book_entries(book, submitted))


def audit(market: PostedPriceMarket, round: int, from_block: int = 0) -> list[str]:
    """Differences between the booked outcome (``ProposalBooked``) and the library's; empty when
    the keeper settled what sequential improvement gives."""
    expected = {e[0]: (e[1], list(e[3]), list(e[4]))
                for e in evaluate(market, round, from_block).entries}
    booked = {int(x["args"]["index"]): (int(x["args"]["part"]), list(x["args"]["prices"]),
                                        list(x["args"]["rewards"]))
              for x in market.logs("ProposalBooked", from_block, round)}
    problems = []
    for index in sorted(set(expected) | set(booked)):
        if expected.get(index) != booked.get(index):
            problems.append(f"proposal {index}: booked {booked.get(index)}, the library gives "
                            f"{expected.get(index)} (part, prices, rewards)")
    return problems


class PostedPriceKeeper:
    """Settles, closes and slashes the rounds of one market (see the module docstring)."""

    def __init__(self, market: PostedPriceMarket, sender: TxSender, from_block: int = 0) -> None:
        self.market = market
        self.sender = sender
        self.from_block = from_block
        self._finished: set[int] = set()

    def _send(self, fn: str, *args: Any) -> dict[str, Any]:
        return self.sender.send(self.market.tx(fn, *args))

    def settle(self, round: int) -> Evaluation:
        """Evaluate and settle ``round`` (in its settlement window)."""
        ev = evaluate(self.market, round, self.from_block)
        self._send("settle", round, ev.entries)
        log.info("round %s settled: %s proposals, %s parts, margin %s", round,
                 len(ev.submitted), len(ev.book.parts), format_wei(ev.book.margin))
        return ev

    def close_all(self, round: int) -> int:
        """Close every open proposal of ``round`` whose fate is known; returns how many."""
        closed = 0
        for s in self.market.submitted(round, from_block=self.from_block):
            info = self.market.contract.functions.proposalInfo(round, s.index).call()
            if info[3]:  # closed
                continue
            self._send("closeProposal", round, s.index, s.data)
            closed += 1
        return closed

    def release_all(self, round: int, now: int) -> int:
        """``releaseDeposit`` every held deposit of ``round`` whose fate is known at ``now``;
        returns how many."""
        released = 0
        for side, who in ((0, self.market.requests(round)), (1, self.market.nodes(round))):
            for x in who:
                if self.market.deposit_fate(round, x, now) in ("return", "forfeit"):
                    self._send("releaseDeposit", round, side, x["index"])
                    released += 1
        return released

    def slash_all(self, round: int) -> int:
        """Slash every unproven job of ``round``'s traded parts; returns how many."""
        slashed = 0
        for q in self.market.requests(round):
            if q["part"] == 0:
                continue
            part = self.market.contract.functions.partInfo(round, q["part"]).call()
            if part[1] != part[0]:  # not traded
                continue
            for n in self.market.nodes(round):
                if self.market.job_state(round, q["index"], n["index"]) is JobState.ASSIGNED:
                    self._send("slash", round, q["index"], n["index"])
                    slashed += 1
        return slashed

    def tick(self, now: int | None = None) -> list[str]:
        """Do whatever each unfinished round needs at ``now`` (default: the latest block)."""
        now = int(self.market.w3.eth.get_block("latest")["timestamp"]) if now is None else now
        done = []
        for r in range(self.market.round_count()):
            if r in self._finished:
                continue
            d = self.market.deadlines(r)
            info = self.market.round_info(r)
            if not info["settled"]:
                if d.propose_end <= now < d.settle_end:
                    self.settle(r)
                    done.append(f"settled {r}")
                elif now >= d.settle_end:
                    closed = self.close_all(r)
                    released = self.release_all(r, now)
                    done.append(f"closed {closed} of unsettled {r}, released {released} "
                                "deposits")
                    self._finished.add(r)
                continue
            if now >= d.proof_end:
                slashed = self.slash_all(r)
                closed = self.close_all(r)
                released = self.release_all(r, now)
                done.append(f"round {r}: slashed {slashed}, closed {closed}, released "
                            f"{released} deposits")
                self._finished.add(r)
        return done

    def run(self, stop: threading.Event, interval: float = 2.0) -> None:
        """Tick every ``interval`` seconds until ``stop`` is set; a failed tick is logged."""
        while not stop.is_set():
            try:
                for line in self.tick():
                    log.info("%s", line)
            except Exception:
                log.exception("posted-price tick failed")
            stop.wait(interval)
