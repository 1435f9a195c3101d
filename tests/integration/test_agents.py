"""Prover agents as real processes on anvil (one block a second) with the real keeper running:
a stream of requests over ten rounds, an agent SIGKILLed mid-proof, one stopped for good, and
configurations refused before anything is sent.

``BRIDGE_TEST_BURN=N`` runs N CPU-bound processes beside this module's tests (the requester
threads' races showed only with the other core busy): ``BRIDGE_TEST_BURN=1 pytest
tests/integration/test_agents.py`` is how the stream test is checked under load."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bridge.client.requester import RequestResult
from bridge.testing import LocalMarket, MarketSettings, find_anvil
from bridge.testing.agents import BRIDGE, AgentProcess, BackgroundDemand, burn_cpu, requester
from bridge.testing.agents import live_market as start_live_market

GWEI = 10**9

SLOW_POW = """\
import sys, time
from bridge.proving import solve_pow
task, prover, out, bits, pause = sys.argv[1:6]
time.sleep(float(pause))
open(out, "wb").write(solve_pow(bytes.fromhex(task[2:]), prover, int(bits)))
"""


@pytest.fixture(scope="module", autouse=True)
def _load() -> Iterator[None]:
    """``BRIDGE_TEST_BURN=N``: N busy processes while the module runs (module docstring)."""
    with burn_cpu(int(os.environ.get("BRIDGE_TEST_BURN", "0") or 0)):
        yield


@pytest.fixture
def live_market(tmp_path: Path) -> Iterator[LocalMarket]:
    """A market on anvil mining a block a second, its keeper running on its own thread."""
    if find_anvil() is None:
        pytest.skip("anvil is not installed: run `npm ci` (make test does)")
    with start_live_market(tmp_path) as m:
        yield m


@pytest.fixture(scope="module")
def shared_market(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalMarket]:
    """One live market for the tests that only read it (the refused configurations)."""
    if find_anvil() is None:
        pytest.skip("anvil is not installed: run `npm ci` (make test does)")
    with start_live_market(tmp_path_factory.mktemp("shared-market")) as m:
        yield m


WAIT = 180.0
"""How long a test waits for an agent's step before failing: a cap, not a pause (each wait ends
as soon as its condition holds). A step takes a round or two (~15 s) on an idle machine; under
load the agents, the keeper and anvil share two cores with the rest of the suite, and a cap of
60 s was missed once."""


def _wait_for(probe: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = probe()
        if got:
            return got
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _both_asked(m: LocalMarket, after: int, margin: int = 3) -> int | None:
    """The current round if it is after ``after``, both agents asked in it and it stays open
    for more than ``margin`` seconds."""
    r = m.current_round()
    if r > after and m.market.round_info(r).ask_count == 2 \
            and m.market.params.closes_at(r) - m.now() > margin:
        return r
    return None


def test_three_agents_serve_a_stream_of_requests_over_ten_rounds(
        live_market: LocalMarket, tmp_path: Path) -> None:
    """Three agents (capacity 2 each) and three requesters each asking for four proofs in turn,
    plus background demand: two low bids every round. In Prooφ a round of n bids trades at most
    the top n − 1 (the next bid sets the price), so the background bids are what lets every
    request of the stream trade in the round it bids; they trade or lose as the mechanism says."""
    import json
    import urllib.request

    from bridge.chain.anvil import free_port

    m = live_market
    port = free_port()
    agents = [AgentProcess(tmp_path, f"agent{i}", m, bytes(m.account().key), cost_gwei=c,
                           capacity=2, metrics_port=port if i == 0 else 0).start()
              for i, c in enumerate((40, 50, 60))]
    first = m.current_round()
    buyer = m.account()  # a fourth requester: the CLI, one request with --wait
    cli_env = {k: v for k, v in os.environ.items() if not k.startswith("BRIDGE_")}
    cli_env.update({"BRIDGE_PRIVATE_KEY": "0x" + bytes(buyer.key).hex(),
                    "BRIDGE_HOME": str(tmp_path / "cli-home")})
    cli = subprocess.Popen([BRIDGE, "requester", "request", "--task", "my circuit output",
                            "--value", "150gwei", "--wait", "--retries", "2", "--out",
                            str(tmp_path / "cli-proof"), "--json", "--rpc", str(m.chain.url),
                            "--market", m.address, "--from-block", str(m.deploy_block)],
                           env=cli_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True)
    results: list[RequestResult] = []
    errors: list[BaseException] = []

    def stream(name: str, values: list[int]) -> None:
        req = requester(m, tmp_path, name)
        try:
            for v in values:
                results.append(req.request(value=v * GWEI, retries=2))
        except BaseException as exc:  # reported by the test thread
            errors.append(exc)

    threads = [threading.Thread(target=stream, args=(f"req{i}", values))
               for i, values in enumerate(([120, 110, 130, 100], [90, 95, 85, 105],
                                           [80, 140, 75, 115]))]
    filler = BackgroundDemand(m, tmp_path)
    try:
        filler.start()
        for t in threads:
            t.start()
        deadline = time.monotonic() + 420
        for t in threads:
            t.join(max(deadline - time.monotonic(), 1))
        assert not errors and not filler.errors, (errors, filler.errors)
        assert not any(t.is_alive() for t in threads), \
            [(r.round, r.attempts, round(r.latency_s)) for r in results]
        out, err = cli.communicate(timeout=120)
        assert cli.returncode == 0, err
        bought = json.loads(out)
        assert bought["status"] == "proven"
        assert (tmp_path / "cli-proof" / "proof.bin").read_bytes().hex() == bought["proof"][2:]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
            metrics = r.read().decode()
        assert "bridge_prover_asks_total" in metrics and "bridge_prover_jobs_total" in metrics
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as r:
            assert r.status == 200
        _wait_for(lambda: m.current_round() >= first + 10, 120, "ten rounds")
        filler.stop()
        last = m.current_round()
        # the last round must settle too, unless nobody bid in it (the filler has stopped and
        # the streams are done, so no bid can come; a round with asks only may stay open)
        _wait_for(lambda: all(j.status != "pending" for r in range(first, last + 1)
                              for j in m.outcome(r).jobs)
                  and (m.market.round_info(last).status.name != "OPEN"
                       or m.market.round_info(last).bid_count == 0), 120,
                  "every job proven")
    finally:
        filler.stop()
        cli.kill()
        codes = [a.stop() for a in agents]
    assert codes == [0, 0, 0], [a.output()[-2000:] for a in agents]
    assert len(results) == 12
    assert [r.status for r in results] == ["proven"] * 12, \
        [(r.status, r.round, r.attempts, r.reason) for r in results]
    jobs = [j for r in range(first, last + 1) for j in m.outcome(r).jobs]
    assert len(jobs) >= 13
    assert [j for j in jobs if j.status != "proven"] == []  # 0 slashes
    assert [ln for a in agents for ln in a.output().splitlines()
            if '"level": "error"' in ln] == []
    assert m.ledger_problems() == []


def test_an_agent_killed_mid_proof_resumes_and_one_gone_for_good_is_slashed(
        tmp_path: Path) -> None:
    if find_anvil() is None:
        pytest.skip("anvil is not installed: run `npm ci` (make test does)")
    # both requesters must bid in the round the agents asked in: alice's request starts on a
    # thread and, on a loaded machine, took over 3 s to commit (it then landed in the next
    # round, alone, and never traded). A 20 s commit period leaves 10 s for both commits.
    with start_live_market(tmp_path, MarketSettings(commit_period=20, settle_period=6,
                                                    proof_period=15)) as m:
        _killed_mid_proof(m, tmp_path)


def _killed_mid_proof(m: LocalMarket, tmp_path: Path) -> None:
    script = tmp_path / "slow_pow.py"
    script.write_text(SLOW_POW)
    slow = f"{sys.executable} {script} {{task}} {{prover}} {{out}} 8 4"
    cheap = AgentProcess(tmp_path, "cheap", m, bytes(m.account().key), cost_gwei=40,
                         backend=slow).start()
    dear = AgentProcess(tmp_path, "dear", m, bytes(m.account().key), cost_gwei=90).start()
    try:
        alice, bob = requester(m, tmp_path, "alice"), requester(m, tmp_path, "bob")
        # round 1: alice outbids bob; the cheap agent wins the job and is killed while proving
        r1 = _wait_for(lambda: _both_asked(m, after=-1, margin=10), WAIT,
                       "a round both agents asked in")
        result: list[RequestResult] = []
        t = threading.Thread(target=lambda: result.append(alice.request(value=150 * GWEI)))
        t.start()
        bob.submit(value=100 * GWEI, escrow=100 * GWEI, round=r1)
        _wait_for(lambda: "proving" in cheap.output(), WAIT, "the cheap agent to start proving")
        cheap.kill()
        cheap.start()
        t.join(120)
        (res,) = result
        assert res.status == "proven" and res.round == r1, res
        # the requester can see the proof on chain before the agent has logged its receipt
        _wait_for(lambda: "proven" in cheap.output(), WAIT, "the agent to log the proof")
        # now it stops for good in the middle of its next job: slashed, alice compensated
        r2 = _wait_for(lambda: _both_asked(m, after=r1, margin=10), WAIT,
                       "the next round both asked in")
        result.clear()
        t = threading.Thread(target=lambda: result.append(alice.request(value=150 * GWEI)))
        t.start()
        bob.submit(value=100 * GWEI, escrow=100 * GWEI, round=r2)
        marker = f'"msg": "round {r2} job 0: proving'
        _wait_for(lambda: marker in cheap.output(), WAIT, "the cheap agent to prove again")
        cheap.kill()
        t.join(120)
        (res,) = result
    finally:
        cheap.kill()
        dear.stop()
    assert res.status == "refunded" and res.round == r2, res
    assert res.refund == res.charge > 0
    assert res.compensation == m.settings.refund_cap * 1
    (job,) = [j for j in m.outcome(r2).jobs if j.bid_index == res.bid_index]
    assert (job.status, job.refund, job.compensation) == ("slashed", res.refund,
                                                         res.compensation)
    assert m.ledger_problems() == []


@pytest.mark.parametrize(("setting", "message"), [
    ('cost_per_unit = "cheap"', "cost_per_unit 'cheap' is not an amount"),
    ('capacity = 9\nmax_stake = "0"', "capacity 9 needs"),
    ('[backends]\n"poseidon-chain-16" = "builtin"', "tasks are proofs of work"),
    ("", "has no ETH for gas"),
    ("metrics_port = BUSY\nmax_stake = \"1ether\"", "pick another metrics_port"),
    ('capacty = 2', "did you mean 'capacity'?"),
])
def test_bad_config_is_one_line_exit_nonzero_nothing_sent(
        shared_market: LocalMarket, tmp_path: Path, setting: str, message: str) -> None:
    m = shared_market
    funded = "no ETH" not in message
    acct = m.account(fund=10**18 if funded else 0)
    config = tmp_path / "bad.toml"
    base = [f'rpc = "{m.chain.url}"', f'market = "{m.address}"',
            f'database = "sqlite:///{tmp_path}/bad.sqlite"']
    if "cost_per_unit" not in setting:
        base.append('cost_per_unit = "50gwei"')
    import socket

    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    setting = setting.replace("BUSY", str(busy.getsockname()[1]))
    config.write_text("\n".join([*base, setting]) + "\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("BRIDGE_")}
    env["BRIDGE_PRIVATE_KEY"] = "0x" + bytes(acct.key).hex()
    done = subprocess.run([BRIDGE, "prover", "run", "--config", str(config)], env=env,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode != 0
    lines = [ln for ln in done.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], \
        done.stderr
    assert m.w3.eth.get_transaction_count(acct.address) == 0  # nothing sent
    busy.close()
