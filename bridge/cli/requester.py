"""Requester commands: deposit, bid, status, withdraw."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from bridge.cli.apps import requester_app
from bridge.cli.common import (
    FromBlockOpt,
    JsonOpt,
    KeystoreOpt,
    MarketOpt,
    RpcOpt,
    SaltsOpt,
    _amount,
    _emit,
    _mark_sentence,
    _session,
    _units,
    _wei,
    _withdraw,
    guarded,
)


# --------------------------------------------------------------------------------- requester
@requester_app.command("deposit")
def requester_deposit(amount: str, rpc: RpcOpt = "http://127.0.0.1:8545",
                      market: MarketOpt = "", keystore: KeystoreOpt = "",
                      as_json: JsonOpt = False) -> None:
    """Deposit AMOUNT into your market balance (escrow for bids comes from it)."""
    def run() -> None:
        wei = _amount(amount, "AMOUNT")
        s = _session(rpc, market, keystore)
        s.participant.deposit(wei)
        free = s.market.balance_of(s.participant.address)
        _emit(as_json, {"deposited": wei, "free": free},
              [f"deposited {_wei(wei)}; free balance {_wei(free)}"])

    guarded(run)


def _task_bytes(task: str) -> bytes:
    from eth_utils import keccak

    if task.startswith("0x") and len(task) == 66:
        try:
            return bytes.fromhex(task[2:])
        except ValueError:
            pass
    return keccak(text=task)


@requester_app.command("bid")
def requester_bid(value: Annotated[str, typer.Option("--value", help="Total value (sealed).")],
                  size: Annotated[int, typer.Option("--size", help="Units (sealed).")],
                  escrow: Annotated[str, typer.Option("--escrow", help="Public escrow ≥ value.")],
                  task: Annotated[str, typer.Option("--task",
                                                    help="0x-32-byte task id, or text hashed.")],
                  round: Annotated[int | None, typer.Option(
                      "--round", help="Must be the current round (default).")] = None,
                  rpc: RpcOpt = "http://127.0.0.1:8545", market: MarketOpt = "",
                  keystore: KeystoreOpt = "", salts: SaltsOpt = "",
                  as_json: JsonOpt = False) -> None:
    """Seal and commit a bid for the current round (salt recorded locally first)."""
    def run() -> None:
        wei, locked = _amount(value, "--value"), _amount(escrow, "--escrow")
        s = _session(rpc, market, keystore, salts)
        rec = s.participant.bid(value=wei, size=size, escrow=locked, task=_task_bytes(task),
                                round=round)
        _emit(as_json, {**rec.__dict__, "task": rec.extra, "escrow": locked},
              [f"bid committed in round {rec.round}: value {_wei(rec.price)} for "
               f"{_units(rec.quantity)}, escrow {_wei(locked)} locked",
               f"commitment {rec.commitment} (salt kept in {s.participant.salts.path})"])

    guarded(run)


@requester_app.command("status")
def requester_status(rpc: RpcOpt = "http://127.0.0.1:8545", market: MarketOpt = "",
                     keystore: KeystoreOpt = "", salts: SaltsOpt = "",
                     from_block: FromBlockOpt = -1, as_json: JsonOpt = False) -> None:
    """Your bids, their outcomes, charges and refunds, and your free balance.

    A bid the keeper settled as invalid is checked against its published evidence and your salt
    record: the output says plainly whether the keeper was right.
    """
    from bridge.client.participant import event_logs, round_charges, settled_reveals

    def run() -> None:
        s = _session(rpc, market, keystore, salts, from_block=from_block)
        me = s.participant.address
        f = {"requester": me}
        commits = event_logs(s.market, "BidCommitted", s.from_block, f)
        slashes = [e["args"] for e in event_logs(s.market, "JobSlashed", s.from_block)
                   if e["args"]["requester"] == me]
        rows, lines = [], [f"requester {me}: free balance {_wei(s.market.balance_of(me))}"]
        charges_of: dict[int, list[int] | None] = {}
        reveals_of: dict[int, list[Any] | None] = {}
        for c in commits:
            a = c["args"]
            r, i = int(a["round"]), int(a["index"])
            if r not in charges_of:
                charges_of[r] = round_charges(s.market, r, s.from_block)
                reveals_of[r] = (settled_reveals(s.market, r, s.from_block)
                                 if charges_of[r] is not None else None)
            charges, reveals = charges_of[r], reveals_of[r]
            reveal = reveals[i] if reveals is not None else None
            status = s.market.round_info(r).status.name.lower()
            charge = charges[i] if charges is not None else None
            refund = a["escrow"] - charge if charge is not None else None
            mark = None
            if reveal is not None and not reveal.valid:
                mark = _mark_sentence(s, r, i, me, 0, bytes(a["commitment"]))
            outcome = ("voided, escrow returned" if status == "voided" else
                       "pending" if charge is None else
                       f"settled as invalid, escrow {_wei(a['escrow'])} returned: {mark[1]}"
                       if mark is not None else
                       f"won, charged {_wei(charge)}, refunded {_wei(refund or 0)}" if charge
                       else f"not allocated, escrow {_wei(a['escrow'])} returned")
            rows.append({"round": r, "index": i, "escrow": a["escrow"], "task": a["task"],
                         "commitment": a["commitment"], "charge": charge, "refund": refund,
                         "valid": None if reveal is None else bool(reveal.valid),
                         "value": reveal.value if reveal is not None and reveal.valid else None,
                         "keeper_right": None if mark is None else mark[0],
                         "status": outcome})
            lines.append(f"round {r} bid {i}: escrow {_wei(a['escrow'])} — {outcome}")
        for sl in slashes:
            lines.append(f"round {sl['round']} job {sl['jobIndex']}: prover missed the deadline; "
                         f"refunded {_wei(sl['refund'])} + compensation "
                         f"{_wei(sl['compensation'])}")
        _emit(as_json, {"address": me, "free": s.market.balance_of(me), "bids": rows,
                        "slashes": [dict(x) for x in slashes]}, lines)

    guarded(run)


@requester_app.command("withdraw")
def requester_withdraw(amount: Annotated[str | None, typer.Argument()] = None,
                       rpc: RpcOpt = "http://127.0.0.1:8545", market: MarketOpt = "",
                       keystore: KeystoreOpt = "", as_json: JsonOpt = False) -> None:
    """Withdraw AMOUNT (default: all) of your free balance."""
    _withdraw(rpc, market, keystore, amount, as_json)
