"""Clearing-engine benchmark: speed of Prooφ and DARA, and welfare against the exact optimum.

    .venv/bin/python bench/clearing.py            # full run (a few minutes)
    .venv/bin/python bench/clearing.py --quick    # fewer instances and repetitions

Prints the tables and writes ``bench/results/clearing.json``. Every instance comes from a seeded
``random.Random``; amounts are integers (think gwei).

Instances
- bids: size uniform in 1…20 (DARA) or 1 (Prooφ tasks); per-unit value either *uniform* in
  1…1000 or *heavy-tailed*: Pareto with shape α = 1.5 and scale 100 (``⌊100·U^(−1/1.5)⌋``,
  mean 300, infinite variance); a bid's value is size × per-unit value (+ a uniform 0…size−1
  remainder so ratios rarely tie exactly).
- asks: cost per unit uniform in 1…1000; capacities set so total supply ≈ total demand:
  DARA thick 100 asks × 50…150 units, thin 5 asks × 20…60; Prooφ thick 100 asks × 5…15,
  thin 5 asks × 2…6.
- thin market: 20 bids; thick market: 1,000 bids.

Welfare = Σ values of winning bids − Σ costs of the units they use. The optimum is exact: the DP of
``optimum_dp`` where it is small, HiGHS (``optimum_milp``) otherwise. Instances with optimum 0
(no efficient trade) are counted separately and left out of the ratios.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bridge.mechanisms import Ask, Bid, Outcome, clear, optimum  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "clearing.json"


# ---------------------------------------------------------------------------------------------
# Instance generators
# ---------------------------------------------------------------------------------------------


def unit_value(rng: random.Random, dist: str) -> int:
    if dist == "uniform":
        return rng.randint(1, 1000)
    u = 1.0 - rng.random()  # (0, 1]
    return int(100 * u ** (-1 / 1.5))  # Pareto(α = 1.5, scale 100); the float is only sampling


def make_bids(rng: random.Random, n: int, dist: str, *, max_size: int) -> list[Bid]:
    bids = []
    for i in range(n):
        k = rng.randint(1, max_size)
        bids.append(Bid(i, k * unit_value(rng, dist) + rng.randint(0, k - 1), k))
    return bids


def make_asks(rng: random.Random, n: int, cap: tuple[int, int]) -> list[Ask]:
    return [Ask(1_000_000 + i, rng.randint(1, 1000), rng.randint(*cap)) for i in range(n)]


MARKETS: dict[tuple[str, str], tuple[int, int, tuple[int, int], int]] = {
    # (mechanism, market) -> (bids, asks, capacity range, max bid size)
    ("dara", "thin"): (20, 5, (20, 60), 20),
    ("dara", "thick"): (1000, 100, (50, 150), 20),
    ("proofphi", "thin"): (20, 5, (2, 6), 1),
    ("proofphi", "thick"): (1000, 100, (5, 15), 1),
}


def instance(mechanism: str, market: str, dist: str, seed: int) -> tuple[list[Bid], list[Ask]]:
    n_bids, n_asks, cap, max_size = MARKETS[(mechanism, market)]
    rng = random.Random(f"{mechanism}/{market}/{dist}/{seed}")
    return make_bids(rng, n_bids, dist, max_size=max_size), make_asks(rng, n_asks, cap)


def welfare(bids: list[Bid], asks: list[Ask], out: Outcome) -> int:
    value = {b.id: b.value for b in bids}
    cost = {a.id: a.cost for a in asks}
    sold = out.units_sold()
    return sum(value[i] for i in out.charges) - sum(cost[a] * u for a, u in sold.items())


# ---------------------------------------------------------------------------------------------
# Measurements
# ---------------------------------------------------------------------------------------------


def timed(fn: Callable[[], Outcome], reps: int) -> tuple[float, float, Outcome]:
    """Median wall-clock and median CPU seconds (CPU time is robust to a shared machine)."""
    walls, cpus = [], []
    out = None
    for _ in range(reps):
        t0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    assert out is not None
    return statistics.median(walls), statistics.median(cpus), out


def bench_proofphi_speed(reps: int) -> dict[str, Any]:
    rng = random.Random("proofphi-speed")
    bids = [Bid(i, rng.randint(1, 10**15), 1) for i in range(100_000)]
    asks = [Ask(1_000_000 + i, rng.randint(1, 10**15), rng.randint(50, 150)) for i in range(1000)]
    secs, cpu, out = timed(lambda: clear("proofphi", bids, asks), reps)
    return {
        "bids": len(bids),
        "asks": len(asks),
        "units": sum(a.capacity for a in asks),
        "winners": len(out.charges),
        "seconds_median": round(secs, 4),
        "cpu_seconds_median": round(cpu, 4),
        "target_seconds": 0.5,
    }


def bench_dara_scaling(sizes: list[int], reps: int) -> list[dict[str, Any]]:
    rows = []
    for n in sizes:
        rng = random.Random(f"dara-speed/{n}")
        bids = make_bids(rng, n, "uniform", max_size=20)
        asks = make_asks(rng, 100, (50, 150))
        secs, cpu, out = timed(lambda b=bids, a=asks: clear("dara", b, a), reps)
        rows.append(
            {
                "bids": n,
                "asks": len(asks),
                "units": sum(a.capacity for a in asks),
                "winners": len(out.charges),
                "sellers": len(out.payouts),
                "seconds_median": round(secs, 4),
                "cpu_seconds_median": round(cpu, 4),
            }
        )
    return rows


def bench_welfare(instances: int) -> list[dict[str, Any]]:
    rows = []
    for mechanism in ("proofphi", "dara"):
        for market in ("thin", "thick"):
            for dist in ("uniform", "pareto"):
                ratios: list[float] = []
                no_trade_opt = 0
                t0 = time.perf_counter()
                for seed in range(instances):
                    bids, asks = instance(mechanism, market, dist, seed)
                    opt = optimum(bids, asks).welfare
                    got = welfare(bids, asks, clear(mechanism, bids, asks))
                    if got > opt:
                        raise SystemExit(f"mechanism beat the optimum: {mechanism} {seed}")
                    if opt == 0:
                        no_trade_opt += 1
                        continue
                    ratios.append(got / opt)  # float only for reporting
                rows.append(
                    {
                        "mechanism": mechanism,
                        "market": market,
                        "values": dist,
                        "instances": instances,
                        "opt_zero": no_trade_opt,
                        "mean": round(statistics.fmean(ratios), 4) if ratios else None,
                        "min": round(min(ratios), 4) if ratios else None,
                        "seconds": round(time.perf_counter() - t0, 1),
                    }
                )
                r = rows[-1]
                print(
                    f"  {mechanism:8} {market:5} {dist:7}  mean {r['mean']}  min {r['min']}"
                    f"  ({r['seconds']} s)",
                    file=sys.stderr,
                )
    return rows


# ---------------------------------------------------------------------------------------------
# Output
# ---------------------------------------------------------------------------------------------


def table(headers: list[str], rows: list[list[Any]]) -> str:
    cells = [[str(h) for h in headers]] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = [
        "| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |" for r in cells
    ]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def _quiet_highs_banner() -> None:
    """HiGHS prints a banner on stdout the first time a solver is built; build one silently."""
    import os

    import highspy

    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 1)
            highspy.Highs()
    finally:
        os.dup2(saved, 1)
        os.close(saved)


def main() -> None:
    _quiet_highs_banner()
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="10 instances per cell, 1 repetition")
    args = parser.parse_args()
    instances = 10 if args.quick else 50
    reps = 1 if args.quick else 5

    print("Prooφ speed …", file=sys.stderr)
    pp = bench_proofphi_speed(reps)
    print("DARA scaling …", file=sys.stderr)
    scaling = bench_dara_scaling([100, 1000, 10_000], reps if not args.quick else 1)
    print("welfare …", file=sys.stderr)
    wel = bench_welfare(instances)

    print("\nProoφ clearing (median of", reps, "runs)")
    print(
        table(
            ["tasks", "asks", "units", "winners", "seconds", "cpu seconds", "target"],
            [
                [
                    pp["bids"],
                    pp["asks"],
                    pp["units"],
                    pp["winners"],
                    pp["seconds_median"],
                    pp["cpu_seconds_median"],
                    "≤ 0.5",
                ]
            ],
        )
    )
    print("\nDARA clearing with exact threshold payments, 100 asks (median of", reps, "runs)")
    print(
        table(
            ["bids", "asks", "units", "winners", "sellers", "seconds", "cpu seconds"],
            [
                [
                    r["bids"],
                    r["asks"],
                    r["units"],
                    r["winners"],
                    r["sellers"],
                    r["seconds_median"],
                    r["cpu_seconds_median"],
                ]
                for r in scaling
            ],
        )
    )
    print(f"\nWelfare / optimum over {instances} instances per cell")
    print(
        table(
            ["mechanism", "market", "values", "mean", "min", "opt = 0"],
            [
                [r["mechanism"], r["market"], r["values"], r["mean"], r["min"], r["opt_zero"]]
                for r in wel
            ],
        )
    )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "command": "bench/clearing.py" + (" --quick" if args.quick else ""),
                "python": platform.python_version(),
                "machine": platform.machine(),
                "proofphi_speed": pp,
                "dara_scaling": scaling,
                "welfare": wel,
            },
            indent=2,
        )
        + "\n"
    )
    print(f"\nwrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
