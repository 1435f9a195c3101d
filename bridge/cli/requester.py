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
    _when,
    _withdraw,
    guarded,
)
from bridge.errors import ConfigError
from bridge.keys import same_address


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
                  escrow: Annotated[str, typer.Option("--escrow", help="Public escrow ≥ value.")],
                  size: Annotated[int | None, typer.Option(
                      "--size", help="Units (sealed); a circuit task's size is its circuit's."
                  )] = None,
                  task: Annotated[str | None, typer.Option(
                      "--task", help="Proof-of-work markets: 0x-32-byte task id, or text hashed."
                  )] = None,
                  circuit: Annotated[str | None, typer.Option(
                      "--circuit", help="Circuit markets: the circuit's id or name.")] = None,
                  inputs: Annotated[str | None, typer.Option(
                      "--input", help="Circuit markets: the public inputs, a JSON file or "
                                      "comma-separated numbers (public on chain).")] = None,
                  round: Annotated[int | None, typer.Option(
                      "--round", help="Must be the current round (default).")] = None,
                  top_up: Annotated[bool, typer.Option(
                      "--top-up", help="Deposit what the free balance lacks for the escrow in "
                                       "the same transaction.")] = False,
                  rpc: RpcOpt = "http://127.0.0.1:8545", market: MarketOpt = "",
                  keystore: KeystoreOpt = "", salts: SaltsOpt = "",
                  as_json: JsonOpt = False) -> None:
    """Seal and commit a bid for the current round (salt recorded locally first).

    In a proof-of-work market the task is an opaque word (--task); in a circuit market it names a
    registered circuit (--circuit) and its public inputs (--input): they are published on chain
    so provers can prove them, while the price stays sealed.

    On a fixedprice market the round's posted price is shown first; a value below price × size
    cannot trade and is refused before anything is sent.
    """
    def run() -> None:
        from bridge.client.requester import posted_price
        from bridge.client.tasks import read_inputs

        wei, locked = _amount(value, "--value"), _amount(escrow, "--escrow")
        values = read_inputs(inputs) if inputs is not None else []
        s = _session(rpc, market, keystore, salts)
        if circuit is None and task is None:
            raise ConfigError("name the task: --task (proof-of-work market) or --circuit with "
                              "--input (circuit market)")
        # the round the commit is for (another is refused by `bid`) and the bid's units (a
        # circuit task is one; a missing --size is refused by `bid`)
        current = s.market.current_round()
        r = current if round is None else round
        units = size if size is not None else 1 if s.market.circuit_tasks else None
        quote = (posted_price(s.market, r, value=wei, units=units)
                 if r == current and units is not None else None)
        rec = s.participant.bid(value=wei, size=size, escrow=locked,
                                task=_task_bytes(task) if task is not None else b"",
                                round=r, circuit=circuit, inputs=values, top_up=top_up)
        data = {**rec.__dict__, "task": rec.extra, "escrow": locked}
        if quote is not None:
            data["price"] = quote.price
        _emit(as_json, data,
              ([quote.verdict(wei)] if quote is not None else [])
              + [f"bid committed in round {rec.round}: value {_wei(rec.price)} for "
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
    from bridge.chain.logs import event_logs
    from bridge.client.settled import round_charges, settled_reveals

    def run() -> None:
        s = _session(rpc, market, keystore, salts, from_block=from_block)
        m = s.market
        me = s.participant.address
        f = {"requester": me}
        commits = event_logs(m, "BidCommitted", s.from_block, f)
        slashes = [e["args"] for e in event_logs(m, "JobSlashed", s.from_block)
                   if same_address(e["args"]["requester"], me)]
        now = m.chain_time()
        rows, lines = [], [f"requester {me}: free balance {_wei(m.balance_of(me))}"]
        charges_of: dict[int, list[int] | None] = {}
        reveals_of: dict[int, list[Any] | None] = {}
        jobs_of: dict[int, list[dict[str, Any]]] = {}
        for c in commits:
            a = c["args"]
            r, i = int(a["round"]), int(a["index"])
            if r not in charges_of:
                charges_of[r] = round_charges(m, r, s.from_block)
                reveals_of[r] = (settled_reveals(m, r, s.from_block)
                                 if charges_of[r] is not None else None)
                jobs_of[r] = _round_jobs(m, r, s.from_block) if charges_of[r] else []
            charges, reveals = charges_of[r], reveals_of[r]
            reveal = reveals[i] if reveals is not None else None
            status = m.round_info(r).status.name.lower()
            charge = charges[i] if charges is not None else None
            refund = a["escrow"] - charge if charge is not None else None
            mark = None
            if reveal is not None and not reveal.valid:
                mark = _mark_sentence(s, r, i, 0, bytes(a["commitment"]))
                # an invalid bid forfeits minEscrow to the keeper that settled it
                refund = a["escrow"] - m.params.min_escrow
            jobs = [j for j in jobs_of.get(r, []) if j["bid"] == i]
            why = None
            if status == "voided":
                stage, outcome = "voided", "voided, escrow returned"
            elif charge is None:
                stage, outcome = "sealed", _sealed_sentence(m, r, now)
            elif mark is not None:
                stage = "settled"
                outcome = (f"settled as invalid, {_wei(refund or 0)} of the escrow returned "
                           f"({_wei(m.params.min_escrow)} forfeited to the keeper): {mark[1]}")
            elif charge:
                stage = _bid_stage(jobs)
                outcome = (f"won, charged {_wei(charge)}, refunded {_wei(refund or 0)}"
                           + "".join(f"; {_job_sentence(m, r, i, j, now)}" for j in jobs))
            else:
                from bridge.client.requester import lost_reason

                stage = "settled"
                why = (lost_reason(m, r, i, s.from_block).replace(" (escrow returned)", "")
                       .replace(" (see `bridge requester status`)", ""))
                outcome = f"not allocated, escrow {_wei(a['escrow'])} returned: {why}"
            rows.append({"round": r, "index": i, "escrow": a["escrow"], "task": a["task"],
                         "commitment": a["commitment"], "charge": charge, "refund": refund,
                         "valid": None if reveal is None else bool(reveal.valid),
                         "value": reveal.value if reveal is not None and reveal.valid else None,
                         "keeper_right": None if mark is None else mark[0],
                         "stage": stage, "why": why, "jobs": jobs, "status": outcome})
            lines.append(f"round {r} bid {i}: escrow {_wei(a['escrow'])} — {outcome}")
        for sl in slashes:
            lines.append(f"round {sl['round']} job {sl['jobIndex']}: prover missed the deadline; "
                         f"refunded {_wei(sl['refund'])} + compensation "
                         f"{_wei(sl['compensation'])}")
        _emit(as_json, {"address": me, "free": m.balance_of(me), "bids": rows,
                        "slashes": [dict(x) for x in slashes]}, lines)

    guarded(run)


def _sealed_sentence(m: Any, r: int, now: int) -> str:
    """Where a bid of unsettled round ``r`` stands."""
    _opens, closes, settle_by, _prove_by = m.round_times(r)
    if now < closes:
        return f"sealed; the round takes bids until {_when(closes, now)}"
    return (f"sealed; awaiting settlement (the keeper must settle by {_when(settle_by, now)}, "
            "else anyone may void the round and every escrow returns)")


def _round_jobs(m: Any, r: int, from_block: int) -> list[dict[str, Any]]:
    """Round ``r``'s jobs with their state: open, proven (and by which transaction) or
    slashed (with the refund and compensation)."""
    from hexbytes import HexBytes

    from bridge.chain.logs import event_logs
    from bridge.client.settled import settled_jobs

    flt = {"round": r}
    proofs = {int(e["args"]["jobIndex"]): HexBytes(e["transactionHash"]).to_0x_hex()
              for e in event_logs(m, "ProofAccepted", from_block, flt)}
    slashes = {int(e["args"]["jobIndex"]): e["args"]
               for e in event_logs(m, "JobSlashed", from_block, flt)}
    out = []
    for v in settled_jobs(m, r, from_block):
        j = v.job
        row: dict[str, Any] = {"job": j.job_index, "bid": j.bid_index, "prover": j.prover,
                               "units": j.units, "deadline": j.proof_deadline,
                               "state": "open", "tx": None}
        if j.job_index in proofs:
            row.update(state="proven", tx=proofs[j.job_index])
        elif j.job_index in slashes:
            sl = slashes[j.job_index]
            row.update(state="slashed", refund=int(sl["refund"]),
                       compensation=int(sl["compensation"]))
        out.append(row)
    return out


def _bid_stage(jobs: list[dict[str, Any]]) -> str:
    """``proven`` when every job of the bid is, ``slashed`` when any is, else ``settled``."""
    states = {j["state"] for j in jobs}
    if "slashed" in states:
        return "slashed"
    return "proven" if states == {"proven"} else "settled"


def _job_sentence(m: Any, r: int, i: int, j: dict[str, Any], now: int) -> str:
    """One job of my bid: its proof and how to fetch it, its slashing, or its deadline."""
    if j["state"] == "proven":
        how = (f"`bridge requester proof {r} {i} --out DIR` writes proof.json, public.json and "
               f"vk.json; check them with `{SNARKJS_CHECK}` in DIR" if m.circuit_tasks else
               f"`bridge requester proof {r} {i} --out DIR` checks the nonce and writes it as "
               "DIR/proof.bin")
        j["fetch"] = f"bridge requester proof {r} {i} --out DIR"
        return f"proven: job {j['job']} by {j['prover']} (tx {j['tx']}): {how}"
    if j["state"] == "slashed":
        return (f"slashed: job {j['job']}'s prover missed its deadline; you got the charge "
                f"back ({_wei(j['refund'])}) plus {_wei(j['compensation'])} compensation "
                "from its collateral")
    late = now > j["deadline"]
    return (f"job {j['job']} by {j['prover']}: " +
            (f"the proof deadline passed ({_when(j['deadline'], now)}): the job can be slashed "
             "and your charge refunded with compensation" if late else
             f"proof due by {_when(j['deadline'], now)}"))


@requester_app.command("withdraw")
def requester_withdraw(amount: Annotated[str | None, typer.Argument()] = None,
                       rpc: RpcOpt = "http://127.0.0.1:8545", market: MarketOpt = "",
                       keystore: KeystoreOpt = "", as_json: JsonOpt = False) -> None:
    """Withdraw AMOUNT (default: all) of your free balance."""
    _withdraw(rpc, market, keystore, amount, as_json)


@requester_app.command("proof")
def requester_proof(round: Annotated[int, typer.Argument(help="The round of your bid.")],
                    bid: Annotated[int, typer.Argument(help="Your bid's index in the round.")],
                    out: Annotated[str | None, typer.Option(
                        "--out", help="Directory to write proof.json, public.json and "
                                      "vk.json to (one subdirectory per job if several).")
                                   ] = None,
                    rpc: RpcOpt = "http://127.0.0.1:8545", market: MarketOpt = "",
                    from_block: FromBlockOpt = -1, as_json: JsonOpt = False) -> None:
    """Fetch the proof of bid BID of round ROUND from the chain and verify it locally.

    Circuit markets: writes snarkjs's files (`snarkjs groth16 verify vk.json public.json
    proof.json` accepts them) and checks them against the circuit's verification key.
    Proof-of-work markets: the accepted nonce, checked against the work rule; --out writes it as
    proof.bin, as `request --out` does. Exit 1 if a proof does not verify.
    """
    import json
    from pathlib import Path

    from bridge.client.tasks import delivered_proofs

    def run() -> bool:
        s = _session(rpc, market, needs_key=False, from_block=from_block)
        if not s.market.circuit_tasks:
            return _work_proofs(s, round, bid, out, as_json)
        proofs = delivered_proofs(s.market, round, bid, s.from_block)
        if not proofs:
            raise ConfigError(f"no proof of bid {bid} in round {round} yet: the prover has until "
                              "the proof deadline (see `bridge round show`), after which the job "
                              "can be slashed and your charge refunded")
        lines, data = [], []
        for p in proofs:
            where = None
            if out is not None:
                d = Path(out) if len(proofs) == 1 else Path(out) / f"job-{p.job_index}"
                d.mkdir(parents=True, exist_ok=True)
                (d / "proof.json").write_text(json.dumps(p.proof, indent=1))
                (d / "public.json").write_text(json.dumps(p.public, indent=1))
                (d / "vk.json").write_text(json.dumps(p.circuit.verification_key(), indent=1))
                where = str(d)
            outputs = p.public[:p.circuit.outputs]
            data.append({"job": p.job_index, "circuit": p.circuit.name, "verified": p.verified,
                         "outputs": outputs, "public": p.public, "proof": p.proof, "tx": p.tx,
                         "dir": where})
            lines.append(f"job {p.job_index} ({p.circuit.name}): proof "
                         f"{'verifies' if p.verified else 'DOES NOT VERIFY'} against the "
                         f"circuit's key; outputs {', '.join(outputs)}"
                         + (f"; files in {where}; check them yourself: {SNARKJS_CHECK} "
                            f"(in {where})" if where else
                            "; --out DIR writes proof.json, public.json and vk.json"))
        _emit(as_json, {"round": round, "bid": bid, "proofs": data}, lines)
        return all(p.verified for p in proofs)

    if not guarded(run):
        raise typer.Exit(1)


SNARKJS_CHECK = "npx snarkjs groth16 verify vk.json public.json proof.json"


def _work_proofs(s: Any, round: int, bid: int, out: str | None, as_json: bool) -> bool:
    """``requester proof`` on a proof-of-work market: the accepted nonce of each job, checked
    against the work rule here; ``--out`` writes it as ``proof.bin`` (what ``request --out``
    writes)."""
    from pathlib import Path

    from bridge.client.tasks import delivered_work

    works = delivered_work(s.market, round, bid, s.from_block)
    if not works:
        raise ConfigError(f"no proof of bid {bid} in round {round} yet: the prover has until "
                          "the proof deadline (see `bridge round show`), after which the job "
                          "can be slashed and your charge refunded")
    lines, data = [], []
    for w in works:
        where = None
        if out is not None:
            d = Path(out) if len(works) == 1 else Path(out) / f"job-{w.job_index}"
            d.mkdir(parents=True, exist_ok=True)
            (d / "proof.bin").write_bytes(w.nonce)
            where = str(d / "proof.bin")
        data.append({"job": w.job_index, "kind": "pow", "nonce": "0x" + w.nonce.hex(),
                     "difficulty_bits": w.difficulty_bits, "verified": w.verified,
                     "prover": w.prover, "task": "0x" + w.task.hex(), "tx": w.tx,
                     "file": where})
        lines.append(f"job {w.job_index} (proof of work): nonce 0x{w.nonce.hex()} "
                     f"{'meets' if w.verified else 'DOES NOT MEET'} the {w.difficulty_bits}-bit "
                     f"work rule for prover {w.prover}"
                     + (f"; written to {where}" if where else "; --out DIR writes it as proof.bin"))
    _emit(as_json, {"round": round, "bid": bid, "proofs": data}, lines)
    return all(w.verified for w in works)
