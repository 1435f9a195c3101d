"""Prover commands: stake, capacity, ask, jobs, prove, withdraw, status."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from bridge.cli.apps import prover_app
from bridge.cli.common import (
    FromBlockOpt,
    JsonOpt,
    KeystoreOpt,
    MarketOpt,
    RpcOpt,
    SaltsOpt,
    Session,
    _amount,
    _emit,
    _mark_sentence,
    _own_marks,
    _session,
    _units,
    _wei,
    _when,
    guarded,
)


# ------------------------------------------------------------------------------------ prover
@prover_app.command("stake")
def prover_stake(amount: str, rpc: RpcOpt = "http://127.0.0.1:8545", market: MarketOpt = "",
                 keystore: KeystoreOpt = "", as_json: JsonOpt = False) -> None:
    """Add AMOUNT of collateral."""
    def run() -> None:
        wei = _amount(amount, "AMOUNT")  # input first: a typo needs no node
        s = _session(rpc, market, keystore)
        s.participant.stake(wei)
        info = s.market.prover_info(s.participant.address)
        _emit(as_json, {"staked": wei, **info},
              [f"staked {_wei(wei)}; collateral now {_wei(info['collateral'])}"])

    guarded(run)


@prover_app.command("capacity")
def prover_capacity(units: int, rpc: RpcOpt = "http://127.0.0.1:8545", market: MarketOpt = "",
                    keystore: KeystoreOpt = "", as_json: JsonOpt = False) -> None:
    """Declare UNITS of proving capacity per round (0 to exit)."""
    def run() -> None:
        s = _session(rpc, market, keystore)
        s.participant.set_capacity(units)
        _emit(as_json, {"capacity": units}, [f"capacity set to {_units(units)}"])

    guarded(run)


@prover_app.command("ask")
def prover_ask(cost: Annotated[str, typer.Option("--cost", help="Cost per unit.")],
               units: Annotated[int | None, typer.Option(
                   "--units", help="Units offered (default: your capacity; Prooφ: all of it).")
               ] = None,
               round: Annotated[int | None, typer.Option(
                   "--round", help="Must be the current round (default).")] = None,
               rpc: RpcOpt = "http://127.0.0.1:8545", market: MarketOpt = "",
               keystore: KeystoreOpt = "", salts: SaltsOpt = "",
               as_json: JsonOpt = False) -> None:
    """Seal and commit an ask for the current round (salt recorded locally first)."""
    def run() -> None:
        wei = _amount(cost, "--cost")
        s = _session(rpc, market, keystore, salts)
        rec = s.participant.ask(cost=wei, units=units, round=round)
        _emit(as_json, rec.__dict__,
              [f"ask committed in round {rec.round}: {_units(rec.quantity)} at "
               f"{_wei(rec.price)} each",
               f"commitment {rec.commitment} (salt kept in {s.participant.salts.path})"])

    guarded(run)


def _job_rows(views: list[Any], market: Any,
              proven: set[tuple[int, int]]) -> tuple[list[dict[str, Any]], list[str]]:
    data, lines = [], []
    now = market.chain_time()
    for v in views:
        j = v.job
        state = (("proven" if (v.round, j.job_index) in proven else "slashed") if v.resolved
                 else "open" if now <= j.proof_deadline else "missed (slashable)")
        data.append({"round": v.round, "job": j.job_index, "bid": j.bid_index,
                     "requester": j.requester, "task": j.task, "units": j.units,
                     "payment": j.payment, "deadline": j.proof_deadline, "state": state})
        lines.append(f"round {v.round} bid {j.bid_index} (job {j.job_index}): {_units(j.units)}, "
                     f"pays {_wei(j.payment)}, prove by {_when(j.proof_deadline, now)} — {state}")
    return data, lines


def _rounds_with_my_jobs(s: Session, prover: str) -> list[int]:
    """Settled rounds that assigned a job to ``prover`` (its asks, matched to the packed jobs)."""
    from bridge.chain.logs import event_logs

    my_asks = {(int(e["args"]["round"]), int(e["args"]["index"]))
               for e in event_logs(s.market, "AskCommitted", s.from_block, {"prover": prover})}
    if not my_asks:
        return []
    rounds = set()
    for e in event_logs(s.market, "BidsSettled", s.from_block):
        r = int(e["args"]["round"])
        if any((r, (int(packed) >> 192) & 0xFFFFFFFF) in my_asks for packed in e["args"]["jobs"]):
            rounds.add(r)
    return sorted(rounds)


@prover_app.command("jobs")
def prover_jobs(rpc: RpcOpt = "http://127.0.0.1:8545", market: MarketOpt = "",
                keystore: KeystoreOpt = "", from_block: FromBlockOpt = -1,
                all_jobs: Annotated[bool, typer.Option("--all", help="Include resolved.")] = False,
                as_json: JsonOpt = False) -> None:
    """Jobs assigned to you that await a proof, with deadlines."""
    def run() -> None:
        from bridge.chain.logs import event_logs

        s = _session(rpc, market, keystore, from_block=from_block)
        me = s.participant.address
        views = [v for r in _rounds_with_my_jobs(s, me)
                 for v in s.participant.my_jobs(r, s.from_block) if all_jobs or not v.resolved]
        proven = {(int(e["args"]["round"]), int(e["args"]["jobIndex"]))
                  for e in event_logs(s.market, "ProofAccepted", s.from_block, {"prover": me})
                  } if any(v.resolved for v in views) else set()
        data, lines = _job_rows(views, s.market, proven)
        _emit(as_json, {"jobs": data}, lines or ["no jobs awaiting proof"])

    guarded(run)


@prover_app.command("prove")
def prover_prove(round: int, bid: int,
                 proof: Annotated[str | None, typer.Option(
                     "--proof", help="Proof bytes (0x…) for a verifier other than proof of "
                                     "work (default: computed here).")] = None,
                 rpc: RpcOpt = "http://127.0.0.1:8545",
                 market: MarketOpt = "", keystore: KeystoreOpt = "",
                 from_block: FromBlockOpt = -1, as_json: JsonOpt = False) -> None:
    """Compute and submit the proof(s) for bid BID of round ROUND."""
    from bridge.client.participant import Refused

    def run() -> None:
        given = None
        if proof is not None:
            try:
                given = bytes.fromhex(proof.removeprefix("0x"))
            except ValueError:
                raise Refused(f"--proof {proof!r} is not hex bytes: write 0x followed by an "
                              "even number of hex digits") from None
        s = _session(rpc, market, keystore, from_block=from_block)
        status = s.market.round_info(round).status.name.lower()
        if status != "settled":
            raise Refused(f"round {round} is {'voided' if status == 'voided' else 'not settled'}"
                          f": it has no jobs{'' if status == 'voided' else ' yet'} "
                          f"(see `bridge round show {round}`)")
        mine = [v for v in s.participant.my_jobs(round, s.from_block) if v.job.bid_index == bid]
        if not mine:
            raise Refused(f"no job of bid {bid} in round {round} is assigned to "
                          f"{s.participant.address}: see `bridge prover jobs`")
        done = []
        for v in mine:
            receipt = s.participant.prove(v, given, from_block=s.from_block)
            done.append({"job": v.job.job_index, "tx": receipt["transactionHash"],
                         "payment": v.job.payment})
        _emit(as_json, {"proved": done},
              [f"proved job {d['job']} of round {round}: {_wei(d['payment'])} now withdrawable"
               for d in done])

    guarded(run)


@prover_app.command("withdraw")
def prover_withdraw(amount: Annotated[str | None, typer.Argument()] = None,
                    rpc: RpcOpt = "http://127.0.0.1:8545", market: MarketOpt = "",
                    keystore: KeystoreOpt = "", as_json: JsonOpt = False) -> None:
    """Withdraw AMOUNT (default: all that is free) of collateral: stake and proof payments.

    Payments for proven jobs are credited to collateral; what backs neither your capacity nor
    your open jobs can be withdrawn. Any market balance (e.g. from a deposit) is sent too.
    """
    def run() -> None:
        wanted = None if amount is None else _amount(amount, "AMOUNT")
        s = _session(rpc, market, keystore)
        p = s.participant
        if wanted is not None:
            wei = p.withdraw_collateral(wanted)
            extra = 0
        else:
            extra = s.market.balance_of(p.address)
            # all that is free: collateral (refuses with the reason when none is and there is
            # no market balance either), then any market balance
            wei = p.withdraw_collateral() if p.free_collateral() or not extra else 0
            if extra:
                p.withdraw(extra)
        _emit(as_json, {"withdrawn": wei + extra, "collateral": wei, "balance": extra},
              [f"withdrew {_wei(wei + extra)}"
               + (f" ({_wei(wei)} collateral, {_wei(extra)} market balance)"
                  if wei and extra else "")])

    guarded(run)


@prover_app.command("exit")
def prover_exit(rpc: RpcOpt = "http://127.0.0.1:8545", market: MarketOpt = "",
                keystore: KeystoreOpt = "", as_json: JsonOpt = False) -> None:
    """Leave in one transaction: capacity 0 and all collateral not backing open jobs withdrawn.

    Refused while your latest ask may still be settled (the message says until when). Collateral
    that backs jobs awaiting proof stays until they are proven (payments added) or slashed.
    """
    def run() -> None:
        s = _session(rpc, market, keystore)
        wei = s.participant.exit()
        left = s.market.prover_info(s.participant.address)["collateral"]
        _emit(as_json, {"withdrawn": wei, "collateral": left},
              [f"capacity 0, withdrew {_wei(wei)}"
               + (f"; {_wei(left)} stays for jobs awaiting proof" if left else "")])

    guarded(run)


@prover_app.command("status")
def prover_status(rpc: RpcOpt = "http://127.0.0.1:8545", market: MarketOpt = "",
                  keystore: KeystoreOpt = "", salts: SaltsOpt = "",
                  from_block: FromBlockOpt = -1, as_json: JsonOpt = False) -> None:
    """Collateral, capacity, open jobs and withdrawable balance; asks settled as invalid.

    An ask the keeper settled as invalid is checked against its published evidence and your salt
    record: the output says plainly whether the keeper was right.
    """
    def run() -> None:
        from bridge.chain.logs import event_logs
        from bridge.chain.market import RoundStatus

        s = _session(rpc, market, keystore, salts, from_block=from_block)
        me = s.participant.address
        info = s.market.prover_info(me)
        free = s.participant.free_collateral() + s.market.balance_of(me)
        outstanding = s.market.outstanding_units(me)
        lines = [f"prover {me}",
                 f"collateral {_wei(info['collateral'])}, capacity {_units(info['capacity'])}, "
                 f"{_units(outstanding)} awaiting proof",
                 f"withdrawable {_wei(free)}"]
        invalid = []
        for e in event_logs(s.market, "AskCommitted", s.from_block, {"prover": me}):
            r, i = int(e["args"]["round"]), int(e["args"]["index"])
            if s.market.round_info(r).status not in (RoundStatus.SETTLING, RoundStatus.SETTLED):
                continue
            if any(v.index == i for v in _own_marks(s, r, 1)):
                right, sentence = _mark_sentence(s, r, i, 1, bytes(e["args"]["commitment"]))
                invalid.append({"round": r, "index": i, "keeper_right": right,
                                "explanation": sentence})
                lines.append(f"round {r} ask {i}: settled as invalid: {sentence}")
        data = {"address": me, **info, "outstanding_units": outstanding, "withdrawable": free,
                "invalid_asks": invalid}
        _emit(as_json, data, lines)

    guarded(run)
