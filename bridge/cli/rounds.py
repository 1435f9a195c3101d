"""Round commands: show, void."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from bridge.cli.apps import round_app
from bridge.cli.common import (
    FromBlockOpt,
    JsonOpt,
    KeystoreOpt,
    MarketOpt,
    RpcOpt,
    _emit,
    _session,
    _units,
    _wei,
    _when,
    guarded,
)


# ------------------------------------------------------------------------------------- round
@round_app.command("void")
def round_void(round: Annotated[int, typer.Argument(help="The round to void.")],
               rpc: RpcOpt = "http://127.0.0.1:8545", market: MarketOpt = "",
               keystore: KeystoreOpt = "", from_block: FromBlockOpt = -1,
               as_json: JsonOpt = False) -> None:
    """Void round R after its settlement deadline if the keeper did not settle it: every escrow
    returns (pages of it that did settle are unwound). Anyone may; it costs only gas."""
    def run() -> None:
        s = _session(rpc, market, keystore, from_block=from_block)
        out = s.participant.void_round(round, s.from_block)
        _emit(as_json, out, [f"round {round} voided in {out['transactions']} transaction"
                             f"{'s' if out['transactions'] != 1 else ''}: "
                             f"{out['bids_returned']} bids' escrow returned"
                             + (f", {out['unwound_pages']} settled pages unwound"
                                if out["unwound_pages"] else "")])
    guarded(run)


@round_app.command("show")
def round_show(round: Annotated[int | None, typer.Argument()] = None,
               rpc: RpcOpt = "http://127.0.0.1:8545", market: MarketOpt = "",
               from_block: FromBlockOpt = -1, as_json: JsonOpt = False) -> None:
    """Phase, deadlines and commitments of round R (default: current); outcome once settled."""
    def run() -> None:
        s = _session(rpc, market, needs_key=False, from_block=from_block)
        m = s.market
        r = m.current_round() if round is None else round
        info = m.round_info(r)
        opens, closes, settle_by, prove_by = m.round_times(r)
        now = m.chain_time()
        empty = info.bid_count == 0 and info.ask_count == 0
        phase = (info.status.name.lower() if info.status.name != "OPEN" else
                 "not open yet" if now < opens else
                 "accepting commitments" if now < closes else
                 "closed empty (no commitments: nothing to settle)" if empty else
                 "awaiting settlement" if now <= settle_by else "voidable (keeper missed it)")
        data: dict[str, Any] = {"round": r, "phase": phase, "opens_at": opens,
                                "closes_at": closes, "settle_deadline": settle_by,
                                "proof_deadline": prove_by, "bids": info.bid_count,
                                "asks": info.ask_count, "mechanism": m.params.mechanism}
        lines = [f"round {r} ({m.params.mechanism}): {phase}",
                 f"commits {_when(opens)} to {_when(closes)}, settle by {_when(settle_by)}"
                 + (f", prove by {_when(prove_by)}" if prove_by else ""),
                 f"{info.bid_count} sealed bids, {info.ask_count} sealed asks"]
        if info.status.name == "SETTLED":
            from bridge.client.participant import event_logs, round_charges, settled_jobs

            flt = {"round": r}
            settled = event_logs(m, "RoundSettled", s.from_block, flt)
            summary = settled[-1]["args"] if settled else {}
            charges = round_charges(m, r, s.from_block) or []
            winners = [{"index": i, "charge": c} for i, c in enumerate(charges) if c > 0]
            proofs = {int(e["args"]["jobIndex"]): e["args"]
                      for e in event_logs(m, "ProofAccepted", s.from_block, flt)}
            slashes = {int(e["args"]["jobIndex"]): e["args"]
                       for e in event_logs(m, "JobSlashed", s.from_block, flt)}

            def state(job: int) -> str:
                if job in proofs:
                    return "proven"
                if job in slashes:
                    return "slashed"
                return "open" if now <= prove_by else "missed (slashable)"

            jobs: list[dict[str, Any]] = []
            for v in settled_jobs(m, r, s.from_block):
                j = v.job
                row: dict[str, Any] = {"job": j.job_index, "bid": j.bid_index,
                                       "prover": j.prover, "units": j.units,
                                       "payment": j.payment, "state": state(j.job_index)}
                if j.job_index in slashes:
                    row["refund"] = int(slashes[j.job_index]["refund"])
                    row["compensation"] = int(slashes[j.job_index]["compensation"])
                jobs.append(row)
            total_charged = int(summary.get("totalCharged", 0))
            total_paid = int(summary.get("totalPaid", 0))
            data.update({"winners": winners, "jobs": jobs, "total_charged": total_charged,
                         "total_paid": total_paid})
            unit_pay = sorted({row["payment"] // row["units"] for row in jobs if row["units"]})
            data["unit_payments"] = unit_pay
            if winners:
                prices = sorted({w["charge"] for w in winners})
                lines.append(f"{len(winners)} winning bids, charged "
                             + ", ".join(_wei(c) for c in prices)
                             + "; provers paid " + ", ".join(_wei(c) for c in unit_pay)
                             + " per unit")
                lines.append(f"{_wei(total_charged)} charged, {_wei(total_paid)} paid to "
                             f"provers, {_wei(total_charged - total_paid)} margin")
            else:
                lines.append("no trade")
            for row in jobs:
                lines.append(f"  job {row['job']}: bid {row['bid']} → {row['prover']} "
                             f"{_units(row['units'])}, pays {_wei(row['payment'])} — {row['state']}"
                             + (f" (requester refunded {_wei(row['refund'])} + "
                                f"{_wei(row['compensation'])} compensation)"
                                if "refund" in row else ""))
        _emit(as_json, data, lines)

    guarded(run)
