"""Request a proof and wait for it: :meth:`Requester.request` (and ``bridge requester request``).

One call commits the sealed bid (depositing what its escrow lacks in the same transaction),
waits through the round, re-bids in the next round when it lost (up to ``retries`` times), and
once it won waits for the proof, checks it locally and returns it — or, when the prover missed
its deadline, returns the refund and compensation the market paid instead::

    from bridge.client.requester import Requester
    result = Requester(participant).request(value=100 * 10**9, circuit="poseidon-chain-16",
                                            inputs=[1, 2], retries=3)
    if result.status == "proven":
        use(result.proof)          # verified here (snarkjs for circuits, the hash rule for PoW)
    else:
        print(result.reason)       # lost every round, or refunded + compensated

Timing follows the chain: it polls every ``poll_interval`` seconds and gives up after
``timeout`` seconds of wall time (the escrow is then still the market's to settle or return).

On a fixedprice market every bid is first held against the posted price of the round it is
committed to (:func:`posted_price`): a value below price × units cannot trade, so it is refused
(:class:`BelowPostedPrice`) before anything is sent; otherwise the price is said and kept in the
result (``RequestResult.price``).
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bridge.chain.logs import event_logs
from bridge.chain.market import Market, RoundStatus
from bridge.client.participant import Participant, Refused
from bridge.client.settled import read_settlement, round_charges, settled_jobs
from bridge.client.tasks import delivered_proofs, delivered_work
from bridge.errors import BridgeError, ChainError, InvalidInput
from bridge.evidence import decode_evidence
from bridge.units import format_time, format_wei

log = logging.getLogger(__name__)


class BelowPostedPrice(Refused):
    """A fixedprice bid whose value is below the posted price × its units: it cannot trade, so
    it is refused before anything is sent. ``price`` is wei per unit, ``minimum`` the least value
    that can trade."""

    def __init__(self, message: str, *, round: int, price: int, units: int, value: int) -> None:
        super().__init__(message)
        self.round = round
        self.price = price
        self.units = units
        self.value = value

    @property
    def minimum(self) -> int:
        """The least value that can trade: price × units."""
        return self.price * self.units


@dataclass(frozen=True)
class PostedPrice:
    """A fixedprice round's posted price as it applies to one bid of ``units`` units."""

    round: int
    price: int
    """Wei per unit (``roundPrice(round)``: fixed once the round opens)."""
    units: int

    @property
    def minimum(self) -> int:
        """The least value that can trade: price × units."""
        return self.price * self.units

    def describe(self) -> str:
        """``35 gwei``, or ``35 gwei × 2 units = 70 gwei`` for a bid of several units."""
        if self.units == 1:
            return format_wei(self.price)
        return f"{format_wei(self.price)} × {self.units} units = {format_wei(self.minimum)}"

    def verdict(self, value: int) -> str:
        """The line a requester reads before a bid of ``value`` that clears the price."""
        return (f"round {self.round}: your {format_wei(value)} ≥ the posted {self.describe()}: "
                "you trade if supply allows")


def posted_price(market: Market, round: int, *, value: int, units: int) -> PostedPrice | None:
    """The posted price of ``round`` for a bid of ``value`` wei for ``units`` units (None on
    other mechanisms). A value below price × units is refused (:class:`BelowPostedPrice`): such
    a bid is never eligible, so sending it would only lock the escrow for a round."""
    if market.params.mechanism != "fixedprice":
        return None
    quote = PostedPrice(round, market.round_price(round), units)
    if value < quote.minimum:
        raise BelowPostedPrice(
            f"round {round}: your {format_wei(value)} is below the posted price "
            f"{quote.describe()}: this bid cannot trade; raise it to ≥ "
            f"{format_wei(quote.minimum)}", round=round, price=quote.price, units=units,
            value=value)
    return quote


@dataclass
class RequestResult:
    """How a request ended."""

    status: str
    """``proven`` (``proof`` holds it), ``refunded`` (the prover missed: refund + compensation
    paid), or ``lost`` (no trade in any attempted round, or an invalid bid)."""
    round: int
    bid_index: int
    attempts: int
    charge: int = 0
    proof: bytes = b""
    prover: str = ""
    refund: int = 0
    compensation: int = 0
    reason: str = ""
    files: list[str] = field(default_factory=list)
    latency_s: float = 0.0
    """Wall time from the first bid to the outcome."""
    price: int | None = None
    """fixedprice: the posted price (wei per unit) of ``round``; None on other mechanisms."""

    def as_dict(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        out["proof"] = "0x" + self.proof.hex()
        if self.price is None:
            del out["price"]
        return out


class Requester:
    """Buys proofs as ``participant`` (module docstring)."""

    def __init__(self, participant: Participant, *, from_block: int = 0,
                 poll_interval: float = 1.0, timeout: float = 3600.0, commit_margin: int = 3,
                 say: Callable[[str], None] | None = None) -> None:
        """``commit_margin``: a bid is sent only while the round stays open this many more
        seconds (a transaction mined after the close is refused)."""
        self.commit_margin = commit_margin
        self.p = participant
        self.market = participant.market
        self.from_block = from_block
        self.poll_interval = poll_interval
        self.timeout = timeout
        self.say = say or (lambda msg: log.info("%s", msg))

    def request(self, *, value: int, escrow: int | None = None, circuit: str | int | None = None,
                inputs: Sequence[int] = (), task: bytes | None = None, size: int | None = None,
                retries: int = 0, out: Path | None = None) -> RequestResult:
        """Bid for one proof and wait for the outcome (module docstring)."""
        # the escrow defaults to the value, and at least the market's minimum (the excess comes
        # back at settlement)
        escrow = max(value, self.market.params.min_escrow) if escrow is None else escrow
        if retries < 0:
            raise InvalidInput("retries must be ≥ 0")
        started = time.monotonic()
        deadline = started + self.timeout
        attempt, r, index, failures = 0, -1, -1, 0
        price: int | None = None
        while attempt <= retries:
            attempt += 1
            r = self._open_round(r, deadline)
            try:
                r, index, quote = self._submit(value=value, escrow=escrow, circuit=circuit,
                                               inputs=inputs, task=task, size=size, round=r)
                price = quote.price if quote is not None else None
            except ChainError as exc:
                # a commit mined after the close, or refused by state that changed between the
                # check and the block: nothing was locked; bid again in the next round
                failures += 1
                now, closes = self.market.chain_time(), self.market.params.closes_at(r)
                if failures > 3:
                    raise ChainError(f"{exc} (round {r} closes at {closes}, chain time "
                                     f"{now}): giving up after {failures} failed commits") \
                        from exc
                self.say(f"round {r}: the bid was not accepted ({exc}; chain time {now}, close "
                         f"{closes}); bidding in the next round")
                attempt -= 1
                continue
            self.say(f"round {r}: sealed bid {index} committed (attempt {attempt} of "
                     f"{retries + 1})")
            status = self._wait(functools.partial(self._final, r), deadline,
                                f"round {r} to settle")
            if status is RoundStatus.SETTLED:
                job = next((v.job for v in settled_jobs(self.market, r, self.from_block)
                            if v.job.bid_index == index), None)
                if job is not None:
                    result = self._await_proof(r, index, job, attempt, started, deadline, out)
                    result.price = price
                    return result
                why = self._lost_reason(r, index)
            else:
                why = "the round was voided (escrow returned)"
            self.say(f"round {r}: bid {index} did not trade: {why}")
            if "invalid" in why:
                return RequestResult("lost", r, index, attempt, reason=why,
                                     latency_s=time.monotonic() - started, price=price)
        return RequestResult("lost", r, index, attempt,
                             reason=f"no trade in {attempt} round(s); raise the value or retry",
                             latency_s=time.monotonic() - started, price=price)

    def submit(self, *, value: int, escrow: int | None = None, circuit: str | int | None = None,
               inputs: Sequence[int] = (), task: bytes | None = None, size: int | None = None,
               round: int | None = None) -> tuple[int, int]:
        """Commit one sealed bid, depositing what the escrow lacks in the same transaction;
        returns (round, bid index).

        ``task``: a proof-of-work market's task word (random when None). ``round``: the current
        round (default). On a fixedprice market a value below the round's posted price × units
        is refused before anything is sent (:class:`BelowPostedPrice`); a value that clears it
        is said (``say``) with the price. ``escrow``: the value by default, at least the
        market's minimum."""
        escrow = max(value, self.market.params.min_escrow) if escrow is None else escrow
        r, index, _quote = self._submit(value=value, escrow=escrow, circuit=circuit,
                                        inputs=inputs, task=task, size=size, round=round)
        return r, index

    def posted_price(self, round: int) -> int | None:
        """fixedprice: the posted price of ``round`` (wei per unit, fixed once it opens); None on
        other mechanisms."""
        if self.market.params.mechanism != "fixedprice":
            return None
        return self.market.round_price(round)

    def _submit(self, *, value: int, escrow: int, circuit: str | int | None,
                inputs: Sequence[int], task: bytes | None, size: int | None,
                round: int | None) -> tuple[int, int, PostedPrice | None]:
        import os

        if not self.market.circuit_tasks and size is None:
            size = 1
        # the round the commit is for (the contract refuses any other): its price is the one the
        # bid must meet (a circuit task is one unit); another round is refused by ``bid`` below
        current = self.market.current_round()
        r = current if round is None else round
        quote = (posted_price(self.market, r, value=value, units=1 if size is None else size)
                 if r == current else None)
        if quote is not None:
            self.say(quote.verdict(value))
        record = self.p.bid(value=value, size=size, escrow=escrow, round=r,
                            task=task if task is not None else os.urandom(32),
                            circuit=circuit, inputs=inputs, top_up=True)
        receipt = self.market.w3.eth.get_transaction_receipt(record.tx_hash)  # type: ignore[arg-type]
        from web3.logs import DISCARD

        events = self.market.contract.events
        for d in events.Deposited().process_receipt(receipt, errors=DISCARD):
            self.say(f"deposited {format_wei(int(d['args']['amount']))} with the bid (escrow "
                     f"{format_wei(escrow)})")
        for b in events.CongestionFeeBurned().process_receipt(receipt, errors=DISCARD):
            self.say(f"round {record.round} is past a quarter full: the bid burned a congestion "
                     f"fee of {format_wei(int(b['args']['fee']))}")

        (ev,) = self.market.contract.events.BidCommitted().process_receipt(receipt,
                                                                           errors=DISCARD)
        return record.round, int(ev["args"]["index"]), quote

    # -- steps ---------------------------------------------------------------------------------
    def _final(self, r: int) -> RoundStatus | None:
        status = self.market.round_info(r).status
        return status if status in (RoundStatus.SETTLED, RoundStatus.VOIDED) else None

    def _open_round(self, previous: int, deadline: float) -> int:
        """The current round if its window is open and after ``previous``; else wait."""
        def ready() -> int | None:
            r = self.market.current_round()
            closes = self.market.params.closes_at(r)
            if r > previous and self.market.chain_time() < closes - self.commit_margin:
                return r
            return None
        return int(self._wait(ready, deadline, "a round open for bids"))

    def _wait(self, probe: Callable[[], Any], deadline: float, what: str) -> Any:
        while True:
            got = probe()
            if got is not None:
                return got
            if time.monotonic() > deadline:
                raise BridgeError(f"timed out waiting for {what}: the keeper may be down; "
                                  "`bridge requester status` shows where your bid stands")
            time.sleep(self.poll_interval)

    def _lost_reason(self, r: int, index: int) -> str:
        return lost_reason(self.market, r, index, self.from_block)

    def _await_proof(self, r: int, index: int, job: Any, attempt: int, started: float,
                     deadline: float, out: Path | None) -> RequestResult:
        charges = round_charges(self.market, r, self.from_block) or []
        charge = charges[index] if index < len(charges) else 0
        self.say(f"round {r}: bid {index} won job {job.job_index} (prover {job.prover}, charge "
                 f"{format_wei(charge)}); waiting for the proof (deadline "
                 f"{format_time(job.proof_deadline, self.market.chain_time())})")
        self._wait(lambda: True if self.market.is_resolved(r, job.job_index) else None,
                   deadline, f"the proof of job {job.job_index} or its slashing")
        for e in event_logs(self.market, "JobSlashed", self.from_block, {"round": r}):
            if int(e["args"]["jobIndex"]) == job.job_index:
                a = e["args"]
                self.say(f"round {r}: the prover missed its deadline: refund "
                         f"{format_wei(int(a['refund']))} + compensation "
                         f"{format_wei(int(a['compensation']))} credited to your balance")
                return RequestResult("refunded", r, index, attempt, charge=charge,
                                     prover=job.prover, refund=int(a["refund"]),
                                     compensation=int(a["compensation"]),
                                     reason="the prover missed its proof deadline",
                                     latency_s=time.monotonic() - started)
        proof, files = self._checked_proof(r, index, job, out)
        self.say(f"round {r}: proof of job {job.job_index} verified locally")
        return RequestResult("proven", r, index, attempt, charge=charge, proof=proof,
                             prover=job.prover, files=files,
                             latency_s=time.monotonic() - started)

    def _checked_proof(self, r: int, index: int, job: Any, out: Path | None
                       ) -> tuple[bytes, list[str]]:
        if self.market.circuit_tasks:
            import json

            (d,) = [p for p in delivered_proofs(self.market, r, index, self.from_block)
                    if p.job_index == job.job_index]
            if not d.verified:
                raise BridgeError(f"the proof of job {job.job_index} does not verify locally")
            files: list[str] = []
            if out is not None:
                out.mkdir(parents=True, exist_ok=True)
                (out / "proof.json").write_text(json.dumps(d.proof, indent=1))
                (out / "public.json").write_text(json.dumps(d.public, indent=1))
                (out / "vk.json").write_text(json.dumps(d.circuit.verification_key(), indent=1))
                files += [str(out / "proof.json"), str(out / "public.json"),
                          str(out / "vk.json")]
            return d.data, files
        for w in delivered_work(self.market, r, index, self.from_block):
            if w.job_index != job.job_index:
                continue
            if not w.verified:
                raise BridgeError(f"the proof of job {job.job_index} fails the work rule")
            files = []
            if out is not None:
                out.mkdir(parents=True, exist_ok=True)
                (out / "proof.bin").write_bytes(w.nonce)
                files.append(str(out / "proof.bin"))
            return w.nonce, files
        raise BridgeError(f"job {job.job_index} of round {r} is resolved but no ProofAccepted "
                          f"log is at or after block {self.from_block}")


def lost_reason(market: Market, r: int, index: int, from_block: int) -> str:
    """Why bid ``index`` of settled round ``r`` got no job, in one sentence."""
    record = read_settlement(market, r, from_block, decode=True)
    if record is not None and index < len(record.bids) and not record.bids[index].valid:
        reason = decode_evidence(record.bids[index].evidence).reason.label
        return f"the keeper marked it invalid ({reason}; see `bridge requester status`)"
    if market.params.mechanism == "fixedprice":
        price = format_wei(market.round_price(r))
        if record is not None and record.jobs:
            return (f"rationed: the units offered at or below the posted {price} per unit "
                    "went to bids ranked ahead of yours (escrow returned)")
        return (f"the round did not trade (escrow returned): no ask at or below the posted "
                f"{price} per unit had room for a bid")
    if record is not None and record.jobs:
        return "outbid: higher bids took the units sold this round (escrow returned)"
    if market.params.mechanism == "proofphi":
        return ("the round did not trade (escrow returned): Prooφ needs at least two valid "
                "asks and more valid bids than the cheapest ask's capacity")
    return ("the round did not trade (escrow returned): no bid and ask pair cleared after "
            "DARA's trade reduction")
