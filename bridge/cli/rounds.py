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
from bridge.units import plural


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
                             f"escrow of {plural(out['bids_returned'], 'bid')} returned"
                             + (f", {plural(out['unwound_pages'], 'settled page')} unwound"
                                if out["unwound_pages"] else "")])
    guarded(run)


@round_app.command("show")
def round_show(round: Annotated[int | None, typer.Argument()] = None,
               rpc: RpcOpt = "http://127.0.0.1:8545", market: MarketOpt = "",
               from_block: FromBlockOpt = -1, as_json: JsonOpt = False) -> None:
    """Phase, deadlines and commitments of round R (default: current); outcome once settled.
    On a fixedprice market also its posted price, the prices of the rounds before it and the next
    round's once posted."""
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
                 f"commits {_when(opens, now)} to {_when(closes, now)}, settle by "
                 f"{_when(settle_by, now)}"
                 + (f", prove by {_when(prove_by, now)}" if prove_by else ""),
                 f"{plural(info.bid_count, 'sealed bid')}, "
                 f"{plural(info.ask_count, 'sealed ask')}"]
        if m.params.mechanism == "fixedprice":
            price = _prices(m, r, s.from_block)
            data.update(price)
            lines += _price_lines(r, price)
        if info.status.name == "SETTLED":
            from bridge.chain.logs import event_logs
            from bridge.client.settled import round_charges, settled_jobs

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
                lines.append(f"{plural(len(winners), 'winning bid')}, charged "
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


PRICE_HISTORY = 5
"""Rounds before the shown one whose prices ``round show`` lists."""


def _prices(m: Any, r: int, from_block: int) -> dict[str, Any]:
    """fixedprice: round ``r``'s price, the prices of the ``PRICE_HISTORY`` rounds before it and
    the next round's once it is known, each with its source: ``posted`` for that round
    (``PricePosted``), ``carried`` from an earlier post, or the market's ``initial`` price. The
    next round's price is known once it opens, once the keeper posted it, or when no post is due
    for it (``priceEvery``); else ``next_price`` is None."""
    from bridge.chain.logs import event_logs

    posted = {int(e["args"]["round"]) for e in event_logs(m, "PricePosted", from_block)}

    def entry(k: int) -> dict[str, Any]:
        source = ("posted" if k in posted else
                  "carried" if any(j < k for j in posted) else "initial")
        return {"round": k, "price": m.round_price(k), "source": source}

    nxt = r + 1
    known = nxt in posted or nxt <= m.current_round() or nxt % m.params.price_every != 0
    here = entry(r)
    return {"price": here["price"], "price_source": here["source"],
            "price_history": [entry(k) for k in range(max(0, r - PRICE_HISTORY), r)],
            "next_price": entry(nxt) if known else None}


def _price_lines(r: int, prices: dict[str, Any]) -> list[str]:
    nxt = prices["next_price"]
    return [f"price {_wei(prices['price'])} per unit ({prices['price_source']}); "
            + (f"next round {nxt['round']}: {_wei(nxt['price'])} ({nxt['source']})"
               if nxt is not None else
               f"next round {r + 1}: not posted yet (the keeper posts it during round {r} "
               f"if the price moves; else {_wei(prices['price'])} carries)"),
            *(["price history: " + ", ".join(f"round {e['round']} {_wei(e['price'])}"
                                             for e in prices["price_history"])]
              if prices["price_history"] else [])]
