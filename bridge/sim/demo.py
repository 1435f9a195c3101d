"""``bridge demo``: several rounds end to end on an in-process eth-tester chain, printed as tables.

Deploys from the committed artifacts, funds simulated provers and requesters (see
:mod:`bridge.sim.world` for their private values and costs), and runs the real keeper: sealed
commitments, decryption, clearing, audit, settlement, proofs of work, and one prover that misses
its proofs and is slashed. Ends with a check that every wei is accounted for.
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bridge.chain.local import LocalChain
from bridge.chain.tester import make_tester_chain
from bridge.errors import BridgeError
from bridge.sim.world import RoundReport, SimConfig, World
from bridge.units import format_duration, format_wei, plural

Printer = Callable[[str], None]


def _short(address: str) -> str:
    return address[:6] + "…" + address[-4:]


def _table(headers: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h)
              for i, h in enumerate(headers)]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
    out = ["    " + line, "    " + "  ".join("-" * w for w in widths)]
    out += ["    " + "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return out


def render_round(report: RoundReport, mechanism: str) -> list[str]:
    """The demo's tables for one round."""
    lines = [f"Round {report.round} ({mechanism}) — {report.phase}"]
    if report.posted_price is not None:
        lines.append(f"  posted price: {format_wei(report.posted_price)} per unit (public before "
                     "the round opened; bids at or above it and asks at or below it trade)")
    if report.bid_price is not None:
        lines.append(f"  clearing prices: each winning task pays {format_wei(report.bid_price)}; "
                     f"each sold unit earns {format_wei(report.ask_price or 0)}")
    tasks = [b for b in report.bids if b.get("circuit")]
    if tasks:
        lines.append("  tasks (circuit and public inputs, as published on chain):")
        lines += _table(["#", "circuit", "inputs"],
                        [[str(b["index"]), str(b["circuit"]),
                          ", ".join(str(v) for v in b["inputs"][:3])
                          + (f", … ({len(b['inputs'])} in all)" if len(b["inputs"]) > 3 else "")]
                         for b in tasks])
    rows = []
    for b in report.bids:
        won = b["charge"] > 0
        rows.append([str(b["index"]), _short(b["requester"]),
                     format_wei(b["value"]) if b["value"] is not None else "—",
                     str(b["size"] or "—"), format_wei(b["charge"]) if won else "—",
                     "won" if won else ("invalid: " + b["reason"] if not b["valid"] else "lost")])
    lines += ["  requests (sealed bids, opened by the keeper):"]
    lines += _table(["#", "requester", "value", "size", "charged", "result"], rows)
    rows = []
    slashed = {j["prover"] for j in report.jobs if j["status"] != "proven"}
    for a in report.asks:
        sold = ("sold; SLASHED: missed its proof, the payout was never received"
                if a["prover"] in slashed else "sells")
        rows.append([str(a["index"]), _short(a["prover"]),
                     format_wei(a["cost"]) if a["cost"] is not None else "—",
                     str(a["units"] or "—"),
                     format_wei(a["payout"]) if a["payout"] else "—",
                     sold if a["payout"] else ("invalid: " + a["reason"] if not a["valid"]
                                               else "no sale")])
    lines += ["  provers (sealed asks, cost per unit):"]
    lines += _table(["#", "prover", "cost", "units", "payout", "result"], rows)
    rows = []
    for j in report.jobs:
        if j["status"] == "proven":
            gas = f"; submitProof {j['gas']:,} gas" if j.get("gas") else ""
            rows.append([str(j["job"]), _short(j["prover"]), "proven",
                         f"paid {format_wei(j['payment'])}, treasury +{format_wei(j['margin'])}"
                         + gas])
        else:
            rows.append([str(j["job"]), _short(j["prover"]), "SLASHED",
                         f"requester refunded {format_wei(j['refund'])} + compensated "
                         f"{format_wei(j['compensation'])} from collateral"])
    if rows:
        lines += ["  jobs:"]
        lines += _table(["job", "prover", "status", "money"], rows)
    else:
        lines.append("  no trade this round")
    return lines


def run_demo(cfg: SimConfig, out: Printer = print, workdir: Path | None = None,
             chain: str = "eth-tester") -> World:
    """Run the demo on ``chain`` (``eth-tester`` in process, or ``anvil``, started and stopped
    here); raises :class:`BridgeError` if the closing ledger check fails."""
    workdir = workdir or Path(tempfile.mkdtemp(prefix="bridge-demo-"))
    if chain == "anvil":
        from bridge.chain.anvil import Anvil

        node = Anvil(workdir, block_time=None).start()
        try:
            return _run(cfg, out, workdir, LocalChain.of_anvil(node), f"anvil at {node.url}")
        finally:
            node.stop()
    if chain != "eth-tester":
        raise BridgeError(f"chain {chain!r}: use eth-tester or anvil")
    return _run(cfg, out, workdir, LocalChain.of_tester(make_tester_chain(accounts=2)),
                "embedded chain")


def _run(cfg: SimConfig, out: Printer, workdir: Path, chain: LocalChain, where: str) -> World:
    started = time.perf_counter()
    logging.getLogger("bridge").setLevel(logging.WARNING)
    w3 = chain.w3
    world = World(chain, cfg, workdir)
    out(f"{where} (chain {w3.eth.chain_id}): market {world.market.address} "
        f"({cfg.mechanism}), keeper {_short(world.keeper_account.address)}, "
        f"{plural(cfg.provers, 'prover')}, {plural(cfg.requesters, 'requester')}, "
        f"{plural(cfg.rounds, 'round')}")
    out(f"Private values {format_wei(cfg.value_per_unit[0])}–{format_wei(cfg.value_per_unit[1])}"
        f" per unit, costs {format_wei(cfg.cost_per_unit[0])}–"
        f"{format_wei(cfg.cost_per_unit[1])} per unit (uniform); refund cap "
        f"{format_wei(cfg.refund_cap)} per unit (the collateral a prover locks per unit it "
        "offers: a requester whose proof is missed gets its charge back plus compensation from "
        f"it); keeper state in {workdir}")
    period = world.market.params.commit_period
    out(f"Rounds are numbered by time, one every {format_duration(period)} since the market "
        f"opened; each of the {plural(cfg.rounds, 'round')} below starts after the previous one "
        "is settled and past its proof deadline, so the numbers skip (the rounds in between "
        "had no orders)")
    world.setup_participants()
    for _ in range(cfg.rounds):
        report = world.run_round()
        out("")
        for line in render_round(report, cfg.mechanism):
            out(line)
    problems = world.check_ledger()
    non_free, treasury = world.market.liabilities()
    balance = int(w3.eth.get_balance(world.market.address))
    free = sum(world.expected_free.values())
    out("")
    out(f"Every wei accounted for: the contract holds {balance} wei = free balances {free} + "
        f"collateral {non_free - treasury} + treasury {treasury}")
    slashed = sum(1 for r in world.reports for j in r.jobs if j["status"] == "slashed")
    proven = sum(1 for r in world.reports for j in r.jobs if j["status"] == "proven")
    out(f"{len(world.expected_free)} participant balances and {len(world.expected_collateral)} "
        f"collaterals equal what the outcomes imply; {plural(proven, 'job')} proven, {slashed} "
        "slashed "
        f"({time.perf_counter() - started:.1f}s)")
    if problems:
        for p in problems:
            out("MISMATCH: " + p)
        raise BridgeError(f"ledger check failed: {len(problems)} mismatches")
    return world
