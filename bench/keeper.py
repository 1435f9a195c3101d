"""Benchmark: the keeper's settlement latency on eth-tester and on anvil, and its recovery times.

For each chain and round size (bids per round) a market is deployed (``bridge.chain.deployment``),
5 provers ask and 4 requesters place the round's bids, the round is closed by moving chain time,
and the real :class:`~bridge.keeper.daemon.Keeper` (in-process, ticking as fast as it can) runs
until the settlement is on chain. Measured:

- **latency**: from the block that closes the round to the settlement receipt (log reading with
  the chain's confirmations, decryption, clearing, audit, settlement transaction and its receipt);
- **rounds per minute**: 60 / latency, the rate one keeper can settle rounds of that size
  back to back (it settles one round at a time);
- **recovery after a crash** (anvil): ``bridge keeper run`` is SIGKILLed right after the round
  closed; time from its restart (process start, so Python start-up is included) to the settlement;
- **recovery after a reorg** (anvil): the block with the settlement is replaced by ``anvil_reorg``
  after the keeper read it; time from the reorg to the settlement being on chain again.

    .venv/bin/python bench/keeper.py [--sizes 10,100,500] [--chains eth-tester,anvil] [--quick]

Prints a table and writes ``bench/results/keeper.json``. anvil runs with ``--block-time 1
--mixed-mining`` (transactions mined at once, a block every second) and the keeper reads with one
confirmation; eth-tester mines one block per transaction and the keeper uses none.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount

from bridge.chain.anvil import ANVIL, DEV_KEYS, Anvil
from bridge.chain.deployment import KeeperIdentity, NetworkConfig, VerifierSpec, deploy_network
from bridge.chain.local import LocalChain, start_chain
from bridge.chain.market import Market, RoundStatus
from bridge.client.participant import Participant, new_task
from bridge.client.salts import SaltStore
from bridge.keeper.config import KeeperConfig
from bridge.keeper.daemon import Keeper

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "keeper.json"
GWEI = 10**9
KEYS = DEV_KEYS
PROVERS, REQUESTERS = KEYS[1:6], KEYS[6:10]


@dataclass
class Bench:
    """A chain to benchmark on (:class:`~bridge.chain.local.LocalChain`, as the tests use) and
    the confirmations its keeper reads with."""

    chain: LocalChain
    confirmations: int

    @property
    def name(self) -> str:
        return self.chain.kind


@contextmanager
def anvil_chain() -> Iterator[Bench]:
    """anvil with a block a second and instant transactions, stopped afterwards."""
    with tempfile.TemporaryDirectory() as tmp:
        node = Anvil(Path(tmp), block_time=1, mixed=True, rpc_timeout=30,
                     extra=("--silent", "--gas-limit", "60000000")).start()
        try:
            yield Bench(LocalChain.of_anvil(node), confirmations=1)
        finally:
            node.stop()


@contextmanager
def tester_chain() -> Iterator[Bench]:
    """The in-process eth-tester chain with the dev keys funded."""
    chain = start_chain("eth-tester")
    for key in KEYS:
        chain.fund(Account.from_key(key).address, 10**22)
    try:
        yield Bench(chain, confirmations=0)
    finally:
        chain.stop()


@dataclass
class Setup:
    """A deployed market with participants and an in-process keeper."""

    bench: Bench
    market: Market
    keeper: Keeper
    provers: list[Participant]
    requesters: list[Participant]
    record: str
    db: str
    deploy_block: int


def setup(bench: Bench, workdir: Path, bids: int) -> Setup:
    """Deploy, stake, declare capacity (half the bids can trade), deposit."""
    chain = bench.chain
    chain_id = int(chain.w3.eth.chain_id)
    net = NetworkConfig(name=chain.kind, rpc=chain.url or "eth-tester", chain_id=chain_id,
                        commit_period=3600, settle_period=3600, proof_period=10**8,
                        refund_cap=200 * GWEI, min_escrow=GWEI, confirmations=bench.confirmations,
                        verifier=VerifierSpec(kind="pow", difficulty_bits=4),
                        allow_same_owner_and_keeper=True)  # a bench chain
    keeper_account: LocalAccount = Account.from_key(KEYS[0])
    res = deploy_network(net, keeper_account, w3=chain.w3, out_dir=workdir / "deployments",
                         keeper=KeeperIdentity.of_account(keeper_account), force=True)
    market = Market(chain.w3, res.record.market)
    salts = SaltStore(workdir / "sealed.json")
    provers = [Participant(market, Account.from_key(k), salts=salts) for k in PROVERS]
    requesters = [Participant(market, Account.from_key(k), salts=salts) for k in REQUESTERS]
    capacity = max(1, bids // (2 * len(provers)))
    for p in provers:
        p.stake(market.params.refund_cap * capacity * 40)  # rounds leave jobs outstanding
        p.set_capacity(capacity)
    for q in requesters:
        q.deposit(10**18)
    db = f"sqlite:///{workdir / f'keeper-{chain.kind}-{bids}.sqlite'}"
    cfg = KeeperConfig(rpc=chain.url or "eth-tester", market=res.record.market, database=db,
                       confirmations=bench.confirmations, start_block=res.record.block,
                       poll_interval=0.05, max_log_range=2000).validate()
    keeper = Keeper(cfg, keeper_account, w3=chain.w3, use_scheduler=False)
    keeper.startup_checks()
    return Setup(bench, market, keeper, provers, requesters, str(res.path), db,
                 res.record.block)


def commit_round(s: Setup, bids: int, seed: int) -> int:
    """Move to a fresh round; every prover asks, the requesters place ``bids`` bids."""
    s.bench.chain.travel_to(s.market.params.closes_at(s.market.current_round()) + 1)
    r = s.market.current_round()
    for i, p in enumerate(s.provers):
        p.ask(cost=(40 + 3 * i + seed % 7) * GWEI, round=r)
    for i in range(bids):
        q = s.requesters[i % len(s.requesters)]
        value = (60 + (i * 37 + seed) % 80) * GWEI
        q.bid(value=value, size=1, escrow=value, task=new_task(), round=r)
    return r


def settle_latency(s: Setup, r: int) -> float:
    """Close ``r`` and tick the keeper until the settlement is mined; seconds."""
    s.bench.chain.travel_to(s.market.params.closes_at(r) + 1)
    start = time.perf_counter()
    while s.market.round_info(r).status is not RoundStatus.SETTLED:
        s.keeper.tick()
        if s.bench.name != "eth-tester":
            time.sleep(0.02)
        if time.perf_counter() - start > 600:
            raise RuntimeError(f"round {r} not settled after 600 s")
    elapsed = time.perf_counter() - start
    s.keeper.run_until_idle(max_ticks=5)
    return elapsed


def crash_recovery(s: Setup, workdir: Path) -> float:
    """SIGKILL a ``bridge keeper run`` after the close; seconds from restart to settlement."""
    url = s.bench.chain.url
    assert url
    db = f"sqlite:///{workdir / 'crash.sqlite'}"
    args = [str(Path(sys.executable).parent / "bridge"), "keeper", "run", "--rpc", url,
            "--market", s.record, "--database", db, "--confirmations", "1",
            "--poll-interval", "0.1"]
    env = {**os.environ, "BRIDGE_PRIVATE_KEY": KEYS[0]}
    s.keeper.stop()  # the in-process keeper steps aside
    first = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    r = commit_round(s, 10, seed=99)
    s.bench.chain.travel_to(s.market.params.closes_at(r) + 1)
    first.kill()
    first.wait()
    start = time.perf_counter()
    second = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        while s.market.round_info(r).status is not RoundStatus.SETTLED:
            time.sleep(0.05)
            if time.perf_counter() - start > 300:
                raise RuntimeError("no settlement after the restart")
        return time.perf_counter() - start
    finally:
        second.terminate()
        second.wait(timeout=30)


def reorg_recovery(s: Setup) -> float:
    """Drop the block with a read settlement by ``anvil_reorg``; seconds until it is back."""
    node = s.bench.chain.backend
    keeper = s.keeper
    r = commit_round(s, 10, seed=7)
    settle_latency(s, r)
    logs = s.market.contract.events.RoundSettled().get_logs(
        from_block=s.deploy_block, argument_filters={"round": r})
    block = int(logs[-1]["blockNumber"])
    while not keeper.store.events("RoundSettled", round=r):
        keeper.tick()
        time.sleep(0.05)
    head = int(s.bench.chain.w3.eth.block_number)
    node.rpc("anvil_reorg", head - block + 1, [])
    start = time.perf_counter()
    while s.market.round_info(r).status is not RoundStatus.SETTLED:
        keeper.tick()
        time.sleep(0.02)
        if time.perf_counter() - start > 300:
            raise RuntimeError("not settled again after the reorg")
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="10,100,500")
    ap.add_argument("--chains", default="eth-tester,anvil")
    ap.add_argument("--quick", action="store_true", help="10 and 100 bids, one round each")
    args = ap.parse_args()
    sizes = [10, 100] if args.quick else [int(x) for x in args.sizes.split(",")]
    chains = args.chains.split(",")
    if "anvil" in chains and not os.access(ANVIL, os.X_OK):
        print(f"anvil not found at {ANVIL}: run `npm ci`; benchmarking eth-tester only")
        chains = [c for c in chains if c != "anvil"]
    load = os.getloadavg()[0]
    rows: list[dict[str, Any]] = []
    recovery: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in chains:
            for bids in sizes:
                rounds = 1 if args.quick or bids >= 500 else (2 if bids >= 100 else 3)
                ctx = tester_chain() if name == "eth-tester" else anvil_chain()
                with ctx as bench:
                    work = Path(tmp) / f"{name}-{bids}"
                    work.mkdir()
                    s = setup(bench, work, bids)
                    latencies = []
                    for i in range(rounds):
                        r = commit_round(s, bids, seed=i)
                        latencies.append(settle_latency(s, r))
                    mean = statistics.mean(latencies)
                    rows.append({"chain": name, "bids": bids, "asks": len(s.provers),
                                 "rounds": rounds, "confirmations": bench.confirmations,
                                 "latency_s": round(mean, 3),
                                 "latency_max_s": round(max(latencies), 3),
                                 "rounds_per_minute": round(60 / mean, 1)})
                    print(f"{name:10} {bids:4} bids: {mean:7.2f} s close→receipt, "
                          f"{60 / mean:6.1f} rounds/min", flush=True)
                    if name == "anvil" and bids == sizes[0]:
                        recovery["reorg_s"] = round(reorg_recovery(s), 2)
                        recovery["crash_s"] = round(crash_recovery(s, work), 2)
                        print(f"anvil recovery: crash {recovery['crash_s']} s (restart → "
                              f"settled), reorg {recovery['reorg_s']} s (reorg → settled "
                              "again)", flush=True)
                    s.keeper.stop()
    print()
    print(f"{'chain':10} {'bids':>5} {'conf':>4} {'close→receipt s':>16} {'rounds/min':>11}")
    for row in rows:
        print(f"{row['chain']:10} {row['bids']:5} {row['confirmations']:4} "
              f"{row['latency_s']:16.2f} {row['rounds_per_minute']:11.1f}")
    if recovery:
        print(f"recovery on anvil: after SIGKILL {recovery.get('crash_s')} s (incl. process "
              f"start), after a reorg {recovery.get('reorg_s')} s")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                    "load_before": round(load, 2), "platform": platform.platform()},
        "settlement": rows, "recovery_anvil": recovery,
        "notes": "latency: from the block that closes the round to the settlement receipt; "
                 "rounds/min = 60 / latency (one keeper, back to back); anvil --block-time 1 "
                 "--mixed-mining with 1 confirmation, eth-tester with none",
    }, indent=2) + "\n")
    print(f"wrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
