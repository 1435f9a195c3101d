"""What a prover or requester does with their own key: stake, bid, prove, withdraw, look.

The CLI (``bridge prover …`` / ``bridge requester …``) and the simulated participants of the demo
both use :class:`Participant`. Before sending, each action checks what the contract would refuse
and raises :class:`Refused` with one line naming the problem and the fix; a revert that still
happens surfaces as the contract's decoded custom error
(:class:`~bridge.errors.SettlementRejected`).

Sealed bids are recorded locally (:class:`~bridge.client.salts.SaltStore`) *before* the commit
transaction is sent, so closing the terminal loses nothing.

What anyone reads of a settled round (:func:`settled_jobs`, :func:`read_settlement`, …) lives in
:mod:`bridge.client.settled` and is re-exported here; the proof-of-work rule in
:mod:`bridge.proving`.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Sequence
from typing import Any

from eth_account.signers.local import LocalAccount
from hexbytes import HexBytes
from web3 import Web3

from bridge import sealed
from bridge.chain.groth16 import registry_at
from bridge.chain.logs import event_logs
from bridge.chain.market import Market, RoundStatus
from bridge.chain.sender import TxSender
from bridge.chain.settlement import SettledPage, void_transactions
from bridge.client.salts import SaltStore, SealedRecord
from bridge.client.settled import JobView, settled_jobs

# the readers of settled rounds live below this module (tasks uses them too); re-exported here
from bridge.client.settled import SettlementRecord as SettlementRecord
from bridge.client.settled import read_settlement as read_settlement
from bridge.client.settled import round_charges as round_charges
from bridge.client.settled import settled_reveals as settled_reveals
from bridge.client.tasks import backend_for, resolve, task_inputs
from bridge.errors import BridgeError, InvalidInput
from bridge.keys import same_address
from bridge.proving import check_inputs, task_word
from bridge.units import format_wei

MAX_CAPACITY = 2**32 - 1
"""Capacities are stored in 32 bits by the market."""


class Refused(InvalidInput):
    """The contract would refuse this action; the message says why and how to fix it."""


class Participant:
    """One account acting on one market."""

    def __init__(self, market: Market, account: LocalAccount, *,
                 salts: SaltStore | None = None, sender: TxSender | None = None) -> None:
        self.market = market
        self.w3: Web3 = market.w3
        self.account = account
        self.address = account.address
        self.salts = salts or SaltStore()
        self.sender = sender or TxSender(self.w3, account, decode_revert=market.decode_revert,
                                         poll_interval=0.05)

    # -- helpers -------------------------------------------------------------------------------
    def _send(self, fn: str, *args: Any, value: int = 0) -> dict[str, Any]:
        """Send ``fn(*args)``; a revert surfaces as the contract's decoded custom error."""
        return self.sender.send(self.market.tx(fn, *args, value=value))

    def _open_round(self, round: int | None) -> int:
        current = self.market.current_round()
        if round is None:
            return current
        if round != current:
            raise Refused(f"round {round} is not accepting commitments (the current round is "
                          f"{current}): pass --round {current} or omit --round")
        return round

    def _check_not_paused(self) -> None:
        if self.market.contract.functions.commitsPaused().call():
            raise Refused("the market owner paused new commitments: try again later "
                          "(withdrawals still work)")

    # -- money -------------------------------------------------------------------------------
    def deposit(self, amount: int) -> dict[str, Any]:
        """Add ``amount`` wei to this account's free balance in the market."""
        if amount <= 0:
            raise Refused("deposit amount must be positive")
        return self._send("deposit", value=amount)

    def withdraw(self, amount: int | None = None) -> int:
        """Withdraw ``amount`` (default: all) of the free balance; returns the amount."""
        free = self.market.balance_of(self.address)
        amount = free if amount is None else amount
        if amount <= 0:
            raise Refused(f"nothing to withdraw: free balance is {format_wei(free)}")
        if amount > free:
            raise Refused(f"free balance is {format_wei(free)}, cannot withdraw "
                          f"{format_wei(amount)}: withdraw at most the free balance (escrow of "
                          "open bids is locked until settlement)")
        self._send("withdraw", amount)
        return amount

    def stake(self, amount: int) -> dict[str, Any]:
        """Add ``amount`` wei of collateral."""
        if amount <= 0:
            raise Refused("stake amount must be positive")
        return self._send("stake", value=amount)

    def set_capacity(self, units: int) -> dict[str, Any]:
        """Declare ``units`` of capacity (collateral must cover ``refundCap`` per unit)."""
        if units < 0:
            raise Refused("capacity cannot be negative")
        pending = self.ask_lock()
        if pending is not None:
            raise Refused(f"your ask in round {pending} may still be settled: capacity cannot "
                          "change until it is (or its settle deadline passes)")
        if units > MAX_CAPACITY:
            raise Refused(f"capacity {units} is above the market's limit {MAX_CAPACITY}")
        info = self.market.prover_info(self.address)
        params = self.market.params
        need = params.refund_cap * units
        if info["collateral"] < need:
            raise Refused(f"capacity {units} needs {format_wei(need)} of collateral (the "
                          f"refund cap {format_wei(params.refund_cap)} per unit: what a "
                          "requester is refunded from it if a proof is missed), you have "
                          f"{format_wei(info['collateral'])}: run `bridge prover stake "
                          f"{need - info['collateral']}wei` first")
        if units != 0 and info["capacity_round_plus_one"] != 0:
            # the contract's pacing rule (docs/protocol.md): every capacityInterval rounds, at most
            # capacityFactor-fold from the last non-zero capacity; 0 (exit) is always allowed
            current = self.market.current_round()
            allowed = info["capacity_round_plus_one"] - 1 + params.capacity_interval
            if current < allowed:
                raise Refused(f"capacity changed in round {info['capacity_round_plus_one'] - 1}:"
                              f" it may change again from round {allowed} (now {current}); "
                              "0 to exit is always allowed")
            ref, factor = info["ref_capacity"], params.capacity_factor
            if units > ref * factor or units * factor < ref:
                raise Refused(f"capacity may change at most {factor}-fold per step: from {ref} "
                              f"choose {-(-ref // factor)} to {ref * factor} (or 0 to exit)")
        return self._send("setCapacity", units)

    def ask_lock(self) -> int | None:
        """The round of this prover's last ask while an ask of it may still be settled (that
        round is neither final nor past its settle deadline, or an earlier round's deadline is
        ahead), else None. Meanwhile the contract refuses withdrawals and capacity changes."""
        last = self.market.prover_info(self.address)["last_ask_round_plus_one"]
        if last == 0:
            return None
        r = last - 1
        params = self.market.params
        deadline = params.settle_deadline(r)
        now = self.market.chain_time()
        final = self.market.round_info(r).status in (RoundStatus.SETTLED, RoundStatus.VOIDED)
        if (not final and now < deadline) or now + params.commit_period < deadline:
            return r
        return None

    def asks_may_settle(self) -> int:
        """Rounds before now in which this prover may have an ask still to be settled (the
        contract's bound: each needs its own collateral reservation when a new ask commits)."""
        last = self.market.prover_info(self.address)["last_ask_round_plus_one"]
        if last == 0:
            return 0
        end = last - 1
        if self.market.round_info(end).status in (RoundStatus.SETTLED, RoundStatus.VOIDED):
            if end == 0:
                return 0
            end -= 1
        params = self.market.params
        elapsed = self.market.chain_time() - params.genesis
        first = (elapsed - params.settle_period) // params.commit_period \
            if elapsed > params.settle_period else 0
        return 0 if end < first else end - first + 1

    def free_collateral(self) -> int:
        """Collateral (stake plus proof payments) backing neither capacity nor open jobs, nor
        locked by a pending ask."""
        if self.ask_lock() is not None:
            return 0
        info = self.market.prover_info(self.address)
        locked = self.market.params.refund_cap * (info["capacity"]
                                                  + self.market.outstanding_units(self.address))
        return max(info["collateral"] - locked, 0)

    def withdraw_collateral(self, amount: int | None = None) -> int:
        """Withdraw ``amount`` (default: all that is free) of collateral; returns the amount.

        Proof payments are credited to collateral, so this is also how provers take earnings.
        """
        pending = self.ask_lock()
        if pending is not None:
            deadline = self.market.params.settle_deadline(pending)
            at = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(deadline))
            raise Refused(f"your ask in round {pending} awaits settlement, which locks your "
                          f"collateral: withdraw once the keeper settles it (at the latest "
                          f"{at})")
        info = self.market.prover_info(self.address)
        locked = self.market.params.refund_cap * (info["capacity"]
                                                  + self.market.outstanding_units(self.address))
        free = max(info["collateral"] - locked, 0)
        amount = free if amount is None else amount
        if amount <= 0:
            raise Refused("no free collateral: it all backs your capacity and open jobs; lower "
                          "capacity (`bridge prover capacity 0`) and wait for your jobs")
        if amount > free:
            raise Refused(f"only {format_wei(free)} of collateral is free ({format_wei(locked)} "
                          "backs capacity and open jobs): lower capacity to 0 and wait for "
                          "your jobs to finish, or leave in one call with `bridge prover exit`")
        self._send("withdrawCollateral", amount)
        return amount

    def exit(self) -> int:
        """Leave in one transaction: capacity 0 and all collateral not backing open jobs
        withdrawn (``exit``); returns the amount sent."""
        pending = self.ask_lock()
        if pending is not None:
            deadline = self.market.params.settle_deadline(pending)
            at = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(deadline))
            raise Refused(f"your ask in round {pending} may still be settled: exit once the "
                          f"keeper settles it (at the latest {at})")
        info = self.market.prover_info(self.address)
        backing = self.market.params.refund_cap * self.market.outstanding_units(self.address)
        amount = max(info["collateral"] - backing, 0)
        self._send("exit")
        return amount

    @staticmethod
    def _check_room(r: int, side: str, count: int, cap: int) -> None:
        if count >= cap:
            raise Refused(f"round {r} is full: it holds the maximum {cap} {side}s; commit in "
                          "the next round")

    def ask_collateral(self, round: int, capacity: int) -> tuple[int, int, int, int]:
        """What an ask in ``round`` at ``capacity`` needs in collateral, as ``commitAsk``
        checks it: the backing of outstanding units, then per ask that may still settle (this
        one and earlier ones) its capacity's backing plus the invalid-order deposit
        ``minEscrow``, plus the congestion fee budget. Returns (need, fee, earlier asks,
        outstanding units)."""
        params = self.market.params
        earlier = self.asks_may_settle()
        outstanding = self.market.outstanding_units(self.address)
        fee = self.congestion_fee(1, self.market.round_info(round).ask_count,
                                  params.max_asks_per_round)
        need = (params.refund_cap * outstanding
                + (params.refund_cap * capacity + params.min_escrow) * (1 + earlier) + fee)
        return need, fee, earlier, outstanding

    FEE_HEADROOM = 16
    """Orders that may land before ours: the congestion fee budgeted is the one at ``count +
    FEE_HEADROOM`` (fees only rise with the count); what is not burned stays in the free balance
    (a bid) or the collateral (an ask)."""

    def congestion_fee(self, side: int, count: int, cap: int) -> int:
        """The congestion fee to budget for an order committed when ``count`` orders are on the
        side: the fee at ``count + FEE_HEADROOM`` (at most the last place)."""
        if self.market.params.fill_cost == 0:
            return 0
        return self.market.congestion_fee(side, min(count + self.FEE_HEADROOM, cap - 1))

    # -- sealed orders -------------------------------------------------------------------------
    def _seal(self, round: int, side: sealed.Side, price: int, quantity: int,
              extra: str) -> tuple[bytes, bytes, SealedRecord]:
        salt = sealed.new_salt()
        params = self.market.params
        commitment = sealed.commitment(chain_id=params.chain_id, market=self.market.address,
                                       round=round, participant=self.address, side=side,
                                       price=price, quantity=quantity, salt=salt)
        ciphertext = sealed.seal(self.market.keeper_for(round)[1], price=price,
                                 quantity=quantity, salt=salt)
        record = SealedRecord(chain_id=params.chain_id, market=self.market.address, round=round,
                              participant=self.address, side=int(side), price=price,
                              quantity=quantity, salt="0x" + salt.hex(),
                              commitment="0x" + commitment.hex(), extra=extra)
        self.salts.add(record)
        return commitment, ciphertext, record

    def bid(self, *, value: int, size: int | None, escrow: int, task: bytes = b"",
            round: int | None = None, circuit: str | int | None = None,
            inputs: Sequence[int] = (), top_up: bool = False) -> SealedRecord:
        """Seal and commit a bid: ``value`` wei in total for ``size`` units, ``escrow`` locked.

        ``top_up``: deposit what the free balance lacks for the escrow in the same transaction
        (the commit carries it as ``msg.value``); otherwise a short balance is refused.

        A circuit market (``market.circuit_tasks``) takes ``circuit`` (id or name) and its public
        ``inputs`` instead of ``task``; the size is the circuit's units (``size`` may be omitted).
        """
        self._check_not_paused()
        registered = None
        if self.market.circuit_tasks:
            if circuit is None:
                raise Refused("this market trades circuit tasks: name one with --circuit and "
                              "its public inputs with --input")
            registered = resolve(self.market, circuit)
            if len(inputs) != registered.inputs:
                raise Refused(f"circuit {registered.name} takes {registered.inputs} public "
                              f"inputs, got {len(inputs)}")
            check_inputs(inputs)
            if registered.units != 1:
                raise Refused(f"circuit {registered.name} tasks are {registered.units} units; "
                              "markets trade one-unit circuit tasks only")
            if size is not None and size != 1:
                raise Refused(f"circuit {registered.name} tasks are 1 unit: omit --size or "
                              "pass 1")
            size = 1
        elif circuit is not None:
            raise Refused("this market's tasks are opaque (proof of work): bid with --task, not "
                          "--circuit")
        if size is None and self.market.params.mechanism == "proofphi":
            size = 1  # every Prooφ task is one unit
        if size is None:
            raise Refused(f"give the bid's size in units (--size N): a "
                          f"{self.market.params.mechanism} market trades tasks of any size")
        if value <= 0 or size <= 0:
            raise Refused("value and size must be positive")
        if escrow < value:
            raise Refused(f"escrow {format_wei(escrow)} is below the sealed value "
                          f"{format_wei(value)}: the keeper would "
                          "exclude the bid; lock an escrow of at least the value")
        if self.market.params.mechanism == "proofphi" and size != 1:
            raise Refused(f"this is a Prooφ market: every task has size 1 (got {size}); split "
                          "the job into tasks")
        if registered is None and len(task) != 32:
            raise Refused("task must be 32 bytes (a task id or hash)")
        minimum = self.market.params.min_escrow
        if escrow < minimum:
            raise Refused(f"escrow {format_wei(escrow)} is below this market's minimum "
                          f"{format_wei(minimum)}: lock at least {format_wei(minimum, exact=True)}")
        r = self._open_round(round)
        count = self.market.round_info(r).bid_count
        cap = self.market.params.max_bids_per_round
        self._check_room(r, "bid", count, cap)
        fee = self.congestion_fee(0, count, cap)
        free = self.market.balance_of(self.address)
        missing = max(escrow + fee - free, 0)
        if missing and not top_up:
            what = (f"escrow {format_wei(escrow)} plus a congestion fee of up to "
                    f"{format_wei(fee)} (round {r} is past a quarter full)" if fee
                    else f"escrow {format_wei(escrow)}")
            raise Refused(f"{what} exceeds your free balance {format_wei(free)}: pass "
                          f"--top-up to deposit the missing {format_wei(missing)} with the bid, "
                          f"or run `bridge requester deposit {missing}wei` first")
        if registered is not None:
            task = task_word(registered.id, registered.units, inputs)
        commitment, ciphertext, record = self._seal(r, sealed.Side.BID, value, size,
                                                    extra="0x" + task.hex())
        if registered is not None:
            receipt = self._send("commitTask", r, commitment, ciphertext, escrow, registered.id,
                                 list(inputs), value=missing)
        else:
            receipt = self._send("commitBid", r, commitment, ciphertext, escrow, task,
                                 value=missing)
        record = SealedRecord(**{**record.__dict__,
                                 "tx_hash": HexBytes(receipt["transactionHash"]).to_0x_hex()})
        self.salts.add(record)
        return record

    def ask(self, *, cost: int, units: int | None = None,
            round: int | None = None) -> SealedRecord:
        """Seal and commit an ask: ``cost`` wei per unit for ``units`` (default: capacity)."""
        self._check_not_paused()
        info = self.market.prover_info(self.address)
        capacity = info["capacity"]
        if capacity == 0:
            raise Refused("you have no declared capacity: run `bridge prover stake AMOUNT` and "
                          "`bridge prover capacity UNITS` first")
        units = capacity if units is None else units
        if units <= 0:
            raise Refused("units must be positive")
        if units > capacity:
            raise Refused(f"{units} units exceed your declared capacity {capacity}: ask for at "
                          "most your capacity or raise it with `bridge prover capacity`")
        if self.market.params.mechanism == "proofphi" and units != capacity:
            raise Refused(f"this is a Prooφ market: an ask offers its whole capacity "
                          f"({capacity}); omit --units")
        r = self._open_round(round)
        if info["last_ask_round_plus_one"] == r + 1:
            raise Refused(f"you already committed an ask in round {r}: one ask per round")
        self._check_room(r, "ask", self.market.round_info(r).ask_count,
                         self.market.params.max_asks_per_round)
        params = self.market.params
        need, fee, earlier, outstanding = self.ask_collateral(r, capacity)
        if info["collateral"] < need:
            why = (f" and {earlier} earlier ask{'s' if earlier > 1 else ''} that may still be "
                   "settled" if earlier else "")
            extra = f", a congestion fee of up to {format_wei(fee)}" if fee else ""
            raise Refused(f"this ask needs {format_wei(need)} of collateral (capacity {capacity}"
                          f"{why}, {outstanding} outstanding units, the invalid-order deposit "
                          f"{format_wei(params.min_escrow)} per ask{extra}), you have "
                          f"{format_wei(info['collateral'])}: run `bridge prover stake "
                          f"{need - info['collateral']}wei`"
                          + (" or wait for the earlier round to settle" if earlier else ""))
        commitment, ciphertext, record = self._seal(r, sealed.Side.ASK, cost, units, extra="")
        receipt = self._send("commitAsk", r, commitment, ciphertext)
        record = SealedRecord(**{**record.__dict__,
                                 "tx_hash": HexBytes(receipt["transactionHash"]).to_0x_hex()})
        self.salts.add(record)
        return record

    # -- liveness ----------------------------------------------------------------------------
    def void_round(self, round: int, from_block: int) -> dict[str, int]:
        """Void a round its keeper did not settle by the deadline: unwind the pages that did land
        and return every remaining escrow, page by page (anyone may; costs only gas)."""
        m = self.market
        info = m.round_info(round)
        if info.status in (RoundStatus.SETTLED, RoundStatus.VOIDED):
            raise Refused(f"round {round} is already {info.status.name.lower()}: nothing to void")
        deadline = m.params.settle_deadline(round)
        if m.chain_time() < deadline:
            at = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(deadline))
            raise Refused(f"round {round} may still be settled by the keeper until {at}: void it "
                          "after that")
        logs = sorted(event_logs(m, "BidCommitted", from_block, {"round": round}),
                      key=lambda e: int(e["args"]["index"]))
        if len(logs) != info.bid_count:
            raise BridgeError(f"found {len(logs)} of round {round}'s {info.bid_count} commitments "
                              f"from block {from_block}: pass an earlier --from-block")
        commits = [(bytes(e["args"]["commitment"]), e["args"]["requester"],
                    int(e["args"]["escrow"]), bytes(e["args"]["task"])) for e in logs]
        progress = m.settlement_progress(round)
        pages = [SettledPage(int(e["args"]["page"]), int(e["args"]["firstBid"]),
                             int(e["args"]["firstJob"]),
                             tuple(int(c) for c in e["args"]["charges"]),
                             tuple(int(j) for j in e["args"]["jobs"]))
                 for e in event_logs(m, "BidsSettled", from_block, {"round": round})]
        txs = void_transactions(progress.bids_done, progress.pages, progress.unwound, commits,
                                pages, interval=m.params.checkpoint_interval)
        for fn, args, gas in txs:
            self.sender.send({**m.tx(fn, round, *args), "gas": gas})
        return {"round": round, "transactions": len(txs),
                "unwound_pages": sum(1 for fn, _, _ in txs if fn == "unwindPage"),
                "bids_returned": info.bid_count - progress.bids_done,
                "escrow_returned": sum(c[2] for c in commits[progress.bids_done:])}

    # -- jobs and proofs -----------------------------------------------------------------------
    def settled_jobs(self, round: int, from_block: int) -> list[JobView]:
        """Every job of a settled ``round`` (see :func:`settled_jobs`)."""
        return settled_jobs(self.market, round, from_block)

    def my_jobs(self, round: int, from_block: int) -> list[JobView]:
        """Jobs of ``round`` assigned to this prover."""
        return [v for v in self.settled_jobs(round, from_block)
                if same_address(v.job.prover, self.address)]

    def prove(self, view: JobView, proof: bytes | None = None,
              from_block: int = 0) -> dict[str, Any]:
        """Submit the proof of a job, computed here with the market's backend when ``proof`` is
        None (proof of work, or the task's circuit with snarkjs; ``from_block`` bounds the search
        for the task's inputs)."""
        if not same_address(view.job.prover, self.address):
            raise Refused(f"job {view.job.job_index} of round {view.round} is assigned to "
                          f"{view.job.prover}, not to you")
        if view.resolved or self.market.is_resolved(view.round, view.job.job_index):
            raise Refused(f"job {view.job.job_index} of round {view.round} is already proven or "
                          "slashed: nothing to do (see `bridge prover jobs --all`)")
        if self.market.chain_time() > view.job.proof_deadline:
            at = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(view.job.proof_deadline))
            raise Refused(f"the proof deadline of job {view.job.job_index} of round "
                          f"{view.round} passed ({at}): it can only be slashed now")
        if proof is None:
            backend, registered = backend_for(self.market, view.job.task)
            inputs = (task_inputs(self.market, view.round, view.job.bid_index, from_block)
                      if registered is not None else [])
            if registered is not None and task_word(registered.id, registered.units,
                                                    inputs) != view.job.task:
                raise Refused(f"the inputs logged for bid {view.job.bid_index} of round "
                              f"{view.round} do not hash to the job's task: pass an earlier "
                              "--from-block")
            proof = backend.prove(view.job.task, self.address, inputs)
        return self._send("submitProof", view.round, view.job.as_tuple(), view.proof, proof)

    def prove_batch(self, views: Sequence[JobView], proofs: Sequence[bytes]) -> dict[str, Any]:
        """Submit many jobs' proofs of one round in one ``submitProofs`` transaction to the
        market's ``Groth16Registry`` verifier, which checks them with one randomised pairing
        product per circuit, then credits each job. A bad proof fails the whole call with
        ``ProofInvalid(i)`` (a :class:`~bridge.errors.SettlementRejected` naming the index)."""
        if not views or len(views) != len(proofs):
            raise Refused(f"a batch needs one proof per job: {len(views)} jobs, {len(proofs)} "
                          "proofs")
        rounds = {v.round for v in views}
        if len(rounds) != 1:
            raise Refused(f"a batch holds the jobs of one round, not of rounds {sorted(rounds)}")
        for v in views:
            if not same_address(v.job.prover, self.address):
                raise Refused(f"job {v.job.job_index} of round {v.round} is assigned to "
                              f"{v.job.prover}, not to you")
        reg = registry_at(self.w3, self.market.params.verifier)
        data = reg.encode_abi("submitProofs", args=[
            self.market.address, views[0].round, [v.job.as_tuple() for v in views],
            [list(v.proof) for v in views], b"".join(proofs)])
        return self.sender.send({"to": reg.address, "data": data, "value": 0})


def new_task() -> bytes:
    """A random 32-byte task id."""
    return secrets.token_bytes(32)
