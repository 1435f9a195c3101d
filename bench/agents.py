"""Agents on autopilot, measured: request → verified proof latency, rounds sustained, idle CPU.

For proof of work and then Groth16 (registered circuits, snarkjs), on anvil mining a block a
second with the real keeper: three prover agents (``bridge prover run``, capacity 2, costs 40/50/60
gwei) serve requesters that each ask for proofs in turn with :meth:`Requester.request` (bid, wait,
fetch, verify locally), next to background demand (three low bids a round, so every round trades:
in Prooφ the lowest bid of a round sets the price and does not trade). Rounds last 6 s (settle
6 s, proofs 15 s; 30 s for Groth16).

Figures: latency median and p95 per proof kind (wall time from the first bid to the checked proof),
rounds per minute sustained (rounds that traded and whose every job was proven, per minute of the
chain time the run spanned: at most 10 with 6 s rounds), slashes,
and one agent's CPU while idle (no jobs; it still asks every round), as a share of one core.
``--quick`` runs under 5 minutes. Writes ``bench/results/agents.json``.

``--thin`` runs only the thin scenario and updates its keys in that file: a fixedprice market
(50 gwei a unit to start, the keeper re-posting by the public rule) with ONE prover agent (cost 20
gwei, capacity 1) and ONE requester whose proof-of-work requests arrive one at a time (values
60–100 gwei, no retries), nobody else. Under Prooφ or DARA this market never trades (they give up
the only ask); the figure is ``thin_proven_fraction``, the share of requests proven in the round
they bid (goal ≥ 0.9), counted from the agent's first ask.

    .venv/bin/python bench/agents.py [--quick | --thin]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from bridge.client.requester import RequestResult
from bridge.testing import LocalMarket, MarketSettings, find_anvil
from bridge.testing.agents import AgentProcess, BackgroundDemand, live_market, requester

GWEI = 10**9
OUT = Path(__file__).parent / "results" / "agents.json"


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def run_kind(proofs: str, streams: int, per_stream: int, idle_s: float,
             workdir: Path) -> dict[str, Any]:
    """One market (``pow`` or ``groth16``): returns its figures."""
    settings = MarketSettings(proofs=proofs, commit_period=6, settle_period=6,
                              proof_period=30 if proofs == "groth16" else 15)
    with live_market(workdir, settings) as m:
        circuit = _circuit(m) if proofs == "groth16" else None
        agents = [AgentProcess(workdir, f"agent{i}", m, bytes(m.account().key), cost_gwei=c,
                               capacity=2).start() for i, c in enumerate((40, 50, 60))]
        results: list[RequestResult] = []
        errors: list[BaseException] = []

        def stream(name: str, values: list[int]) -> None:
            import random

            req = requester(m, workdir, name, timeout=600)
            try:
                for v in values:
                    name_, n = circuit or (None, 0)
                    results.append(req.request(
                        value=v * GWEI, retries=3, circuit=name_,
                        inputs=[random.randrange(1 << 64) for _ in range(n)]))
            except BaseException as exc:
                errors.append(exc)

        values = [[100 + 10 * ((i + j) % 5) for j in range(per_stream)] for i in range(streams)]
        threads = [threading.Thread(target=stream, args=(f"req{i}", v))
                   for i, v in enumerate(values)]
        filler = BackgroundDemand(m, workdir, (70, 65, 62), circuit=circuit)
        first, started = m.current_round(), time.monotonic()
        filler.start()
        try:
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            elapsed = time.monotonic() - started
            last = m.current_round()
            filler.stop()
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and any(
                    j.status == "pending" for r in range(first, last + 1)
                    for j in m.outcome(r).jobs):
                time.sleep(1)
            cpu0, t0 = agents[0].cpu_seconds(), time.monotonic()
            time.sleep(idle_s)
            idle_cpu = (agents[0].cpu_seconds() - cpu0) / (time.monotonic() - t0)
        finally:
            filler.stop()
            for a in agents:
                a.stop()
        if errors or filler.errors:
            raise SystemExit(f"{proofs}: {errors or filler.errors}")
        outcomes = [m.outcome(r) for r in range(first, last + 1)]
        jobs = [j for o in outcomes for j in o.jobs]
        sustained = sum(1 for o in outcomes if o.jobs and all(j.status == "proven"
                                                               for j in o.jobs))
        latencies = [r.latency_s for r in results if r.status == "proven"]
        problems = m.ledger_problems()
        if problems:
            raise SystemExit(f"{proofs}: ledger mismatch: {problems}")
        return {"requests": len(results),
                "proven": sum(r.status == "proven" for r in results),
                "refunded": sum(r.status == "refunded" for r in results),
                "lost": sum(r.status == "lost" for r in results),
                "slashed": sum(j.status == "slashed" for j in jobs),
                "jobs": len(jobs), "rounds": last - first + 1,
                "latency_median_s": round(statistics.median(latencies), 2) if latencies else None,
                "latency_p95_s": round(_p95(latencies), 2) if latencies else None,
                "rounds_fully_proven": sustained,
                # per minute of chain time spanned by those rounds (at most 60 / commit period)
                "rounds_per_minute": round(sustained / ((last - first + 1)
                                                        * settings.commit_period / 60), 2),
                "idle_agent_cpu_percent": round(100 * idle_cpu, 2),
                "elapsed_s": round(elapsed, 1)}


def run_thin(requests: int, workdir: Path) -> dict[str, Any]:
    """One agent, one requester, requests one at a time on a fixedprice market."""
    settings = MarketSettings(mechanism="fixedprice", initial_price=50 * GWEI, commit_period=6,
                              settle_period=6, proof_period=15)
    with live_market(workdir, settings) as m:
        agent = AgentProcess(workdir, "agent", m, bytes(m.account().key), cost_gwei=20).start()
        req = requester(m, workdir, "req", timeout=120)
        # requests start once the agent is in the market (its first ask on chain): before that
        # (stake, capacity, first ask: a round or two) nobody sells, whatever the mechanism
        deadline = time.monotonic() + 60
        while m.market.round_info(m.current_round()).ask_count == 0:
            if time.monotonic() > deadline:
                raise SystemExit(f"thin: the agent never asked: {agent.output()[-2000:]}")
            time.sleep(0.3)
        first, started = m.current_round(), time.monotonic()
        results: list[RequestResult] = []
        try:
            for i in range(requests):
                results.append(req.request(value=(60 + 10 * (i % 5)) * GWEI))
            elapsed = time.monotonic() - started
            last = m.current_round()
        finally:
            agent.stop()
        prices = [m.round_price(r) // GWEI for r in range(first, last + 1)]
        problems = m.ledger_problems()
        if problems:
            raise SystemExit(f"thin: ledger mismatch: {problems}")
    latencies = [r.latency_s for r in results if r.status == "proven"]
    proven = sum(r.status == "proven" for r in results)
    return {"thin_requests": len(results), "thin_proven": proven,
            "thin_proven_fraction": round(proven / len(results), 3),
            "thin_not_proven": [(r.status, r.round, r.reason) for r in results
                                if r.status != "proven"],
            "thin_latency_median_s": round(statistics.median(latencies), 2) if latencies
            else None,
            "thin_posted_prices_gwei": prices, "thin_elapsed_s": round(elapsed, 1)}


def _circuit(m: LocalMarket) -> tuple[str, int]:
    from bridge.client.tasks import registered

    c = sorted(registered(m.market).values(), key=lambda c: c.id)[0]
    return c.name, c.inputs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a run under 5 minutes")
    parser.add_argument("--thin", action="store_true",
                        help="only the thin fixedprice scenario (one agent, one requester)")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    if find_anvil() is None:
        print("anvil is not installed: run `npm ci`", file=sys.stderr)
        return 1
    if args.thin:
        with tempfile.TemporaryDirectory(prefix="bench-agents-thin-") as tmp:
            thin = run_thin(10, Path(tmp))
        print(f"thin     requests {thin['thin_requests']:3}  proven {thin['thin_proven']:3}  "
              f"proven fraction {thin['thin_proven_fraction']} (goal ≥ 0.9)  latency median "
              f"{thin['thin_latency_median_s']} s  posted prices {thin['thin_posted_prices_gwei']}"
              " gwei")
        kept = json.loads(args.out.read_text()) if args.out.exists() else {}
        kept.update(thin)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(kept, indent=2) + "\n")
        print(f"wrote {args.out}")
        return 0
    plan = {"pow": (3, 2, 15.0), "groth16": (2, 1, 10.0)} if args.quick else \
        {"pow": (3, 6, 30.0), "groth16": (3, 3, 30.0)}
    figures: dict[str, Any] = {}
    for kind, (streams, per_stream, idle) in plan.items():
        with tempfile.TemporaryDirectory(prefix=f"bench-agents-{kind}-") as tmp:
            figures[kind] = run_kind(kind, streams, per_stream, idle, Path(tmp))
        f = figures[kind]
        print(f"{kind:8} requests {f['requests']:3}  proven {f['proven']:3}  refunded "
              f"{f['refunded']:2}  slashed {f['slashed']:2}  latency median "
              f"{f['latency_median_s']} s p95 {f['latency_p95_s']} s  rounds/min "
              f"{f['rounds_per_minute']}  idle agent CPU {f['idle_agent_cpu_percent']} %")
    pw, g = figures["pow"], figures["groth16"]
    result = {
        "requests": pw["requests"] + g["requests"],
        "proven": pw["proven"] + g["proven"],
        "refunded": pw["refunded"] + g["refunded"],
        "slashed": pw["slashed"] + g["slashed"],
        "latency_pow_median_s": pw["latency_median_s"],
        "latency_pow_p95_s": pw["latency_p95_s"],
        "latency_groth16_median_s": g["latency_median_s"],
        "latency_groth16_p95_s": g["latency_p95_s"],
        "rounds_per_minute": pw["rounds_per_minute"],
        "idle_agent_cpu_percent": pw["idle_agent_cpu_percent"],
        "commit_period_s": 6, "quick": args.quick, "by_kind": figures,
    }
    if args.out.exists():  # keep the thin scenario's figures (--thin writes them)
        result.update({k: v for k, v in json.loads(args.out.read_text()).items()
                       if k.startswith("thin_")})
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
