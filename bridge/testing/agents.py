"""Prover agents as processes, for tests and benchmarks that run the market in real time.

:class:`AgentProcess` writes a ``prover.toml`` for a :class:`~bridge.testing.LocalMarket` and runs
``bridge prover run --config`` in the background (JSON log lines in a file); :func:`live_market`
starts anvil mining a block a second with a market whose keeper runs on its own thread;
:func:`burn_cpu` keeps cores busy meanwhile, to reproduce what shows only on a loaded machine.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from bridge.chain.local import LocalChain
from bridge.client.requester import Requester
from bridge.errors import BridgeError
from bridge.testing.market import LocalMarket, MarketSettings

BRIDGE = str(Path(sys.executable).with_name("bridge"))


class ManagedProcess:
    """A ``bridge`` command in the background with its output appended to ``log``: start
    (again after a crash), SIGKILL, SIGTERM and wait, read what it logged."""

    def __init__(self, args: list[str], log: Path, env: dict[str, str],
                 cwd: Path | None = None) -> None:
        self.args = args
        self.log = log
        self.env = env
        self.cwd = cwd
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self, *extra: str) -> ManagedProcess:
        """Start (or restart); output is appended to the log after a ``--- start N`` line."""
        with self.log.open("ab") as out:
            out.write(f"--- start {self.starts}\n".encode())
            out.flush()
            self.proc = subprocess.Popen([*self.args, *extra], cwd=self.cwd, env=self.env,
                                         stdout=out, stderr=subprocess.STDOUT)
        self.starts += 1
        return self

    def alive(self) -> bool:
        """True while the process runs."""
        return self.proc is not None and self.proc.poll() is None

    def output(self) -> str:
        """Everything it logged so far."""
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def kill(self) -> None:
        """SIGKILL, as a crash would."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def stop(self, timeout: float = 30) -> int:
        """SIGTERM (it stops between steps) and wait; returns the exit code."""
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return int(self.proc.returncode)

    def cpu_seconds(self) -> float:
        """User + system CPU time the process used so far (Linux ``/proc``)."""
        assert self.proc is not None
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def process_env(key: str, **extra: str) -> dict[str, str]:
    """This environment without ``BRIDGE_*`` settings, signing with ``key`` (0x hex)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BRIDGE_")}
    env.update({"BRIDGE_PRIVATE_KEY": key, "PYTHONUNBUFFERED": "1", **extra})
    return env


class AgentProcess(ManagedProcess):
    """``bridge prover run --config FILE`` in the background, its log in ``workdir/NAME.log``."""

    def __init__(self, workdir: Path, name: str, market: LocalMarket, key: bytes, *,
                 cost_gwei: int, backend: str | None = None, capacity: int = 1,
                 metrics_port: int = 0, extra: tuple[str, ...] = ()) -> None:
        self.name = name
        self.key = key
        self.config = workdir / f"{name}.toml"
        lines = [f'rpc = "{market.chain.url}"', f'market = "{market.address}"',
                 f'database = "sqlite:///{workdir / name}.sqlite"',
                 f'cost_per_unit = "{cost_gwei}gwei"', f"capacity = {capacity}",
                 'max_stake = "0.01ether"', f"from_block = {market.deploy_block}",
                 "poll_interval = 0.3", "safety_margin = 3", 'log_format = "json"',
                 f"metrics_port = {metrics_port}", *extra]
        if backend:
            lines += ["[backends]", f'pow = "command:{backend}"']
        self.config.write_text("\n".join(lines) + "\n")
        super().__init__([BRIDGE, "prover", "run", "--config", str(self.config)],
                         workdir / f"{name}.log", process_env("0x" + key.hex()))

    def start(self, *extra: str) -> AgentProcess:
        super().start(*extra)
        return self


@contextlib.contextmanager
def live_market(workdir: Path, settings: MarketSettings | None = None) -> Iterator[LocalMarket]:
    """A market on anvil mining a block a second, its keeper running on its own thread."""
    from bridge.chain.anvil import Anvil

    node = Anvil(workdir, block_time=1).start()
    try:
        m = LocalMarket(LocalChain.of_anvil(node), workdir / "market", settings or MarketSettings(
            commit_period=6, settle_period=6, proof_period=15))
        with m.keeper_running():
            yield m
    finally:
        node.stop()


@contextlib.contextmanager
def burn_cpu(processes: int = 1) -> Iterator[list[int]]:
    """``processes`` CPU-bound processes (``while True: pass``) running inside the block, so the
    code under test competes for the cores as on a busy CI machine; yields their pids and kills
    them on the way out."""
    procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"])
             for _ in range(processes)]
    try:
        yield [p.pid for p in procs]
    finally:
        for p in procs:
            p.kill()
            p.wait()


def requester(m: LocalMarket, workdir: Path, name: str, *, timeout: float = 240) -> Requester:
    """A funded :class:`~bridge.client.requester.Requester` with its own connection (one per
    thread)."""
    from web3 import HTTPProvider, Web3

    from bridge.chain.market import Market
    from bridge.client.participant import Participant
    from bridge.client.salts import SaltStore

    acct = m.account()
    w3 = Web3(HTTPProvider(m.chain.url, request_kwargs={"timeout": 30}))
    p = Participant(Market(w3, m.address), acct, salts=SaltStore(workdir / f"{name}.json"))
    return Requester(p, from_block=m.deploy_block, poll_interval=0.3, timeout=timeout)


class BackgroundDemand(threading.Thread):
    """Low bids every round from ``len(values)`` requesters (without waiting for outcomes); a bid
    that would reach a round after it closes (a slow machine) is skipped, not an error.

    In Prooφ a round of n bids trades at most the top n − 1 (the next bid sets the price): this
    demand lets every higher bid of a round trade, as a market with steady demand does."""

    def __init__(self, m: LocalMarket, workdir: Path, values_gwei: tuple[int, ...] = (70, 65),
                 circuit: tuple[str, int] | None = None) -> None:
        super().__init__(daemon=True, name="background-demand")
        self.m = m
        self.bidders = [requester(m, workdir, f"background{i}") for i in range(len(values_gwei))]
        self.values = values_gwei
        self.circuit = circuit
        self.done = threading.Event()
        self.errors: list[BaseException] = []

    def run(self) -> None:
        import random

        last = -1
        try:
            while not self.done.is_set():
                r = self.m.current_round()
                if r > last and self._open(r, margin=3):
                    for q, v in zip(self.bidders, self.values, strict=True):
                        # on a loaded machine a bid can take seconds: the round may end between
                        # two of them; demand is best effort, so what misses the round is skipped
                        if not self._open(r, margin=1):
                            break
                        name, n = self.circuit or (None, 0)
                        try:
                            q.submit(value=v * 10**9, escrow=v * 10**9, round=r, circuit=name,
                                     inputs=[random.randrange(1 << 64) for _ in range(n)])
                        except BridgeError:
                            if self._open(r, margin=0):
                                raise  # refused for another reason than the round ending
                            break
                    last = r
                time.sleep(0.3)
        except BaseException as exc:  # reported by whoever joins the thread
            self.errors.append(exc)

    def _open(self, r: int, *, margin: float) -> bool:
        """Round ``r`` still takes commitments for more than ``margin`` seconds."""
        return (self.m.current_round() == r
                and self.m.market.params.closes_at(r) - self.m.now() > margin)

    def stop(self) -> None:
        self.done.set()
        self.join(30)
