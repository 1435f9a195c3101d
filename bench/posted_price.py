"""Posted-price market makers: do best responses reach the welfare optimum at (near) zero margin?

    .venv/bin/python bench/posted_price.py            # full run (~1 minute)
    .venv/bin/python bench/posted_price.py --quick    # fewer instances
    .venv/bin/python bench/posted_price.py --seed 7   # another family of instances

Prints a table and writes ``bench/results/posted_price.json``. Two perfectly informed market
makers take turns best-responding (``bridge.mechanisms.posted_price.iterate_best_responses``)
under the mechanism with tolerances and, under ``without_tolerances``, under the same mechanism
without them (the seed's Attempt 3). Both start from the same book: maker A charging every value
and paying every cost on a random non-empty valid allocation of non-negative welfare (a
monopolist that did not find the optimum).

Instances (seeded ``random.Random``): 2–4 requests and 2–4 nodes; tags ``a``/``b``, each node
supporting one or both; capacity 1–3, size 1–2, replicas 1–2; values 0–100 and node costs 0–25
price ticks (one tick = one unit of money). Instances whose optimum is 0 are redrawn. The
optimum is exact (enumeration of every valid allocation).

Measures, per mechanism:
- ``reached_optimum_fraction``: runs that converge (every maker passes) on a welfare-maximizing
  allocation with a margin of at most one tick per participant of the final book — the smallest
  undercut is one tick for every shared participant, so that is "zero" on this grid;
- ``median_steps_to_converge``: moves (accepted best responses) until convergence, over
  converged runs (``null`` if none);
- ``mean_final_margin_ticks``: final margin over converged runs; ``cycled_fraction`` and
  ``mean_cycle_margin_ticks``: runs that repeat a state, and the mean book margin around the cycle.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bridge.mechanisms.posted_price import (  # noqa: E402
    Dynamics,
    Market,
    Mode,
    Node,
    Private,
    Proposal,
    Request,
    iterate_best_responses,
    optimum,
    valid_allocations,
    welfare,
)

RESULTS = ROOT / "bench" / "results" / "posted_price.json"
TAGS = ("a", "b")
MAX_STEPS = 2000


def instance(rng: random.Random) -> tuple[Market, Private, Proposal]:
    """A random small market with a positive optimum, and maker A's starting proposal."""
    while True:
        nodes = [
            Node(10 + j, rng.randint(1, 3), frozenset(rng.sample(TAGS, rng.randint(1, 2))))
            for j in range(rng.randint(2, 4))
        ]
        requests = [
            Request(i, rng.randint(1, 2), rng.choice(TAGS), rng.randint(1, 2))
            for i in range(rng.randint(2, 4))
        ]
        market = Market(requests, nodes)
        private = Private(
            {r.id: rng.randint(0, 100) for r in requests}, {n.id: rng.randint(0, 25) for n in nodes}
        )
        if optimum(market, private)[0] == 0:
            continue
        allocs = [a for a in valid_allocations(market) if a and welfare(private, a) >= 0]
        alloc = rng.choice(allocs)
        used = {n for ns in alloc.values() for n in ns}
        start = Proposal.make(
            alloc,
            {t: private.values[t] for t in alloc},
            {n: private.costs[n] for n in used},
            maker="A",
        )
        return market, private, start


def summarize(runs: list[Dynamics], seconds: float) -> dict[str, Any]:
    conv = [d for d in runs if d.converged]
    cyc = [d for d in runs if d.cycled]
    cycle_margins = [statistics.fmean(d.margins[-d.cycle_length :]) for d in cyc]
    return {
        "instances": len(runs),
        "reached_optimum_fraction": round(sum(d.reached_optimum for d in runs) / len(runs), 4),
        "median_steps_to_converge": statistics.median(d.steps for d in conv) if conv else None,
        "mean_final_margin_ticks": round(statistics.fmean(d.margin for d in conv), 3)
        if conv
        else None,
        "converged_fraction": round(len(conv) / len(runs), 4),
        "optimal_allocation_fraction": round(
            sum(d.welfare == d.optimum for d in conv) / len(runs), 4
        ),
        "mean_final_margin_per_participant_ticks": round(
            statistics.fmean(d.margin / max(1, d.participants) for d in conv), 3
        )
        if conv
        else None,
        "cycled_fraction": round(len(cyc) / len(runs), 4),
        "mean_cycle_margin_ticks": round(statistics.fmean(cycle_margins), 2) if cyc else None,
        "median_cycle_length": statistics.median(d.cycle_length for d in cyc) if cyc else None,
        "step_limit_hit": sum(not d.converged and not d.cycled for d in runs),
        "seconds": round(seconds, 1),
    }


def measure(mode: Mode, instances: list[tuple[Market, Private, Proposal]]) -> dict[str, Any]:
    t0 = time.perf_counter()
    runs = [
        iterate_best_responses(m, p, ("A", "B"), mode=mode, start=s, max_steps=MAX_STEPS)
        for m, p, s in instances
    ]
    return summarize(runs, time.perf_counter() - t0)


def table(headers: list[str], rows: list[list[Any]]) -> str:
    cells = [[str(h) for h in headers]] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = [
        "| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |" for r in cells
    ]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="60 instances instead of 400")
    parser.add_argument("--seed", type=int, default=0, help="instance family (default 0)")
    args = parser.parse_args()
    n = 60 if args.quick else 400
    rng = random.Random(f"posted-price/{args.seed}")
    instances = [instance(rng) for _ in range(n)]
    print(f"{n} instances, 2 makers …", file=sys.stderr)
    with_tol = measure(Mode.TOLERANCES, instances)
    print(f"  with tolerances: {with_tol['seconds']} s", file=sys.stderr)
    without = measure(Mode.PARETO, instances)
    print(f"  without tolerances: {without['seconds']} s", file=sys.stderr)

    print(f"\nBest responses of two perfectly informed makers, {n} random small markets")
    rows = []
    for name, r in (("with tolerances", with_tol), ("without (Attempt 3)", without)):
        rows.append(
            [
                name,
                r["reached_optimum_fraction"],
                r["converged_fraction"],
                r["cycled_fraction"],
                r["median_steps_to_converge"],
                r["mean_final_margin_ticks"],
                r["mean_cycle_margin_ticks"],
            ]
        )
    print(
        table(
            [
                "mechanism",
                "reached optimum",
                "converged",
                "cycled",
                "median steps",
                "final margin (ticks)",
                "margin on cycle",
            ],
            rows,
        )
    )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    out = {
        "command": "bench/posted_price.py"
        + (" --quick" if args.quick else "")
        + (f" --seed {args.seed}" if args.seed else ""),
        "python": platform.python_version(),
        "machine": platform.machine(),
        "makers": 2,
        "max_steps": MAX_STEPS,
        **with_tol,
        "without_tolerances": without,
    }
    RESULTS.write_text(json.dumps(out, indent=2) + "\n")
    print(f"\nwrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
