"""The ``bridge`` pytest plugin (:mod:`bridge.testing.plugin`) as an integrator uses it.

The fixtures are used directly here (the plugin is loaded from the package's ``pytest11`` entry
point, as in any other suite); the example integrator test in ``examples/buy_a_proof`` runs in a
subprocess on both chains, and the plugin's refusals are checked on a throwaway test file.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from bridge.client.participant import Participant
from bridge.testing import LocalChain, LocalMarket

GWEI = 10**9
REPO = Path(__file__).resolve().parents[2]
PYTEST = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider"]


def _two_asks_two_bids(m: LocalMarket, prover: Callable[..., Participant],
                       requester: Callable[..., Participant]
                       ) -> tuple[int, list[Participant], list[Participant]]:
    provers = [prover(capacity=1), prover(capacity=1)]
    requesters = [requester(), requester()]
    r = m.next_round()
    for q, value in zip(requesters, (120 * GWEI, 90 * GWEI), strict=True):
        q.bid(value=value, size=1, escrow=value, task=os.urandom(32))
    for p, cost in zip(provers, (40 * GWEI, 60 * GWEI), strict=True):
        p.ask(cost=cost)
    return r, provers, requesters


def test_a_round_through_the_fixtures_reads_back_as_plain_data(
        bridge_market: LocalMarket, bridge_prover: Callable[..., Participant],
        bridge_requester: Callable[..., Participant]) -> None:
    r, provers, requesters = _two_asks_two_bids(bridge_market, bridge_prover, bridge_requester)
    before = bridge_market.outcome(r)
    assert before.status == "open" and not before.traded
    assert [b.valid for b in before.bids] == [None, None]  # sealed until the keeper reveals

    settled = bridge_market.settle(r)
    assert settled.status == "settled" and settled.traded
    # Prooφ: the cheapest ask (40) sells its unit to the highest bid at the second bid's price
    (job,) = settled.jobs
    assert (job.bid_index, job.prover, job.status) == (0, provers[0].address, "pending")
    assert [b.charge for b in settled.bids] == [90 * GWEI, 0]
    assert all(b.valid and b.reason is None for b in settled.bids)
    assert settled.job_for(1) is None

    jobs = bridge_market.prove_all(r, provers)
    assert [j.status for j in jobs] == ["proven"]
    data = bridge_market.outcome(r).as_dict()
    assert data["jobs"][0]["status"] == "proven" and data["jobs"][0]["payment"] == job.payment
    assert requesters[0].address == data["bids"][0]["requester"]


@pytest.mark.bridge_market(mechanism="dara", commit_period=30, refund_cap=50 * GWEI)
def test_the_marker_overrides_the_market_settings(bridge_market: LocalMarket) -> None:
    params = bridge_market.market.params
    assert params.mechanism == "dara"
    assert params.commit_period == 30
    assert params.refund_cap == 50 * GWEI
    assert bridge_market.settings.settle_period == 60  # the rest keeps the defaults


def test_an_unreadable_bid_is_reported_invalid_with_the_keepers_reason(
        bridge_market: LocalMarket, bridge_requester: Callable[..., Participant]) -> None:
    q = bridge_requester()
    r = bridge_market.next_round()
    m = bridge_market.market
    tx = m.contract.functions.commitBid(r, os.urandom(32), b"\x04" + os.urandom(96), 10**9,
                                       os.urandom(32)).build_transaction(
        {"from": q.address, "nonce": m.w3.eth.get_transaction_count(q.address)})
    signed = q.account.sign_transaction(tx)
    m.w3.eth.wait_for_transaction_receipt(m.w3.eth.send_raw_transaction(signed.raw_transaction))
    outcome = bridge_market.settle(r)
    (bid,) = outcome.bids
    assert bid.valid is False and bid.reason == "undecryptable"
    assert outcome.status == "settled" and not outcome.traded


def test_the_keeper_can_run_on_its_own_thread(
        bridge_market: LocalMarket, bridge_prover: Callable[..., Participant],
        bridge_requester: Callable[..., Participant]) -> None:
    r, provers, _ = _two_asks_two_bids(bridge_market, bridge_prover, bridge_requester)
    with bridge_market.keeper_running() as keeper:
        assert keeper.scheduler is not None  # the real scheduler, as `bridge keeper run` has
        outcome = bridge_market.settle(r, timeout=60)
        assert outcome.status == "settled"
        outcome = bridge_market.past_proof_deadline(r, timeout=60)
    (job,) = outcome.jobs
    assert job.status == "slashed" and job.prover == provers[0].address


def test_chain_snapshots_and_time(bridge_chain: LocalChain) -> None:
    t0 = bridge_chain.now()
    snap = bridge_chain.snapshot()
    bridge_chain.advance(3600)
    assert bridge_chain.now() >= t0 + 3600
    bridge_chain.revert(snap)
    assert bridge_chain.now() < t0 + 3600


def test_the_cli_runs_against_the_fixture_market(
        bridge_market: LocalMarket, bridge_requester: Callable[..., Participant]) -> None:
    q = bridge_requester(deposit=10**15)
    result = bridge_market.cli("requester", "status", key=bytes(q.account.key))
    assert result.exit_code == 0, result.output
    assert "0.001" in result.output


def _run_pytest(*args: str, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BRIDGE_")}
    return subprocess.run([*PYTEST, *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout, check=False)


@pytest.mark.realtime  # pytest in a subprocess
@pytest.mark.parametrize("chain", ["eth-tester", pytest.param("anvil", marks=pytest.mark.anvil)])
def test_the_example_integrator_test_passes(chain: str) -> None:
    from bridge.testing import find_anvil

    if chain == "anvil" and find_anvil() is None:
        pytest.skip("anvil is not installed: run `npm ci` (make test does)")
    done = _run_pytest(str(REPO / "examples" / "buy_a_proof"), f"--bridge-chain={chain}",
                       cwd=REPO)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "2 passed" in done.stdout
    assert f"bridge: chain {chain}" in done.stdout


@pytest.mark.realtime  # pytest in a subprocess
def test_the_plugin_refuses_an_unknown_marker_field_by_name(tmp_path: Path) -> None:
    (tmp_path / "test_x.py").write_text(
        "import pytest\n\n"
        "@pytest.mark.bridge_market(mechanism='dara', comit_period=5)\n"
        "def test_x(bridge_market):\n    pass\n")
    done = _run_pytest(str(tmp_path), cwd=tmp_path)
    assert done.returncode != 0
    assert "unknown field(s) comit_period" in done.stdout + done.stderr
    assert "commit_period" in done.stdout + done.stderr  # the valid names are listed


@pytest.mark.slow
@pytest.mark.realtime  # pip installs the package into a new virtualenv: processes, the index
def test_the_example_passes_in_a_fresh_virtualenv_with_only_the_package(tmp_path: Path) -> None:
    """A third party's view: a new virtualenv, ``pip install`` of the package (not editable, no
    dev extras) and pytest, the example copied out of the repository, plain ``pytest``."""
    import shutil

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    pip = subprocess.run([str(venv / "bin" / "pip"), "install", "-q", str(REPO),
                          "pytest==9.2.0"], capture_output=True, text=True, timeout=600,
                         check=False)
    assert pip.returncode == 0, pip.stderr[-3000:]
    shutil.rmtree(REPO / "build", ignore_errors=True)  # the wheel build's scratch directory
    app = tmp_path / "my-app"
    shutil.copytree(REPO / "examples" / "buy_a_proof", app)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("BRIDGE_", "PYTHON", "VIRTUAL_ENV"))}
    done = subprocess.run([str(venv / "bin" / "pytest"), "-p", "no:cacheprovider"], cwd=app,
                          env=env, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "2 passed" in done.stdout and "bridge: chain eth-tester" in done.stdout
    installed = subprocess.run([str(venv / "bin" / "python"), "-c",
                                "import bridge; print(bridge.__file__)"], capture_output=True,
                               text=True, check=True, env=env, cwd=app)
    assert str(venv) in installed.stdout  # the installed copy ran, not the checkout


def test_the_ledger_check_recomputes_every_balance_from_the_logs(
        bridge_market: LocalMarket, bridge_prover: Callable[..., Participant],
        bridge_requester: Callable[..., Participant], monkeypatch: pytest.MonkeyPatch) -> None:
    r, provers, requesters = _two_asks_two_bids(bridge_market, bridge_prover, bridge_requester)
    assert bridge_market.ledger_problems() == []  # escrow locked in an open round
    bridge_market.settle(r)
    bridge_market.past_proof_deadline(r)  # nobody proves: slashed, requester compensated
    assert bridge_market.ledger_problems() == []
    real = bridge_market.market.balance_of
    victim = requesters[0].address
    monkeypatch.setattr(bridge_market.market, "balance_of",
                        lambda who: real(who) + (1 if who == victim else 0))
    problems = bridge_market.ledger_problems()
    assert any(p.startswith(f"free balance of {victim}") for p in problems), problems
    monkeypatch.undo()
    info = bridge_market.market.prover_info
    monkeypatch.setattr(bridge_market.market, "prover_info",
                        lambda who, *a: {**info(who, *a), "collateral": info(who, *a)[
                            "collateral"] - (1 if who == provers[0].address else 0)})
    problems = bridge_market.ledger_problems()
    assert problems == [f"collateral of {provers[0].address}: contract "
                        f"{info(provers[0].address)['collateral'] - 1}, logs say "
                        f"{info(provers[0].address)['collateral']}"]


@pytest.mark.realtime  # pytest in a subprocess
def test_anvil_asked_for_by_name_fails_when_it_is_missing(tmp_path: Path) -> None:
    """``--bridge-chain anvil`` on a machine without anvil fails the test in one line; it used to
    skip it, so a suite meant for anvil passed without running there."""
    (tmp_path / "test_x.py").write_text("def test_x(bridge_chain):\n    pass\n")
    # A machine without anvil: the project's node_modules binary is not where the plugin looks,
    # and PATH has none (the conftest only moves where the package looks for it).
    (tmp_path / "conftest.py").write_text(
        "from pathlib import Path\n"
        "import bridge.chain.anvil\n"
        "bridge.chain.anvil.ANVIL = Path('/nonexistent/anvil')\n")
    env_path = os.pathsep.join(p for p in os.environ.get("PATH", "").split(os.pathsep)
                               if not (Path(p) / "anvil").exists())
    for args, env_extra, expected in (
            (["--bridge-chain=anvil"], {}, "anvil was asked for"),
            (["--bridge-chain=anvil"], {"BRIDGE_ANVIL": str(tmp_path / "no-such-anvil")},
             "is not an executable anvil")):
        env = {k: v for k, v in os.environ.items() if not k.startswith("BRIDGE_")}
        env.update(env_extra, PATH=env_path)
        done = subprocess.run([*PYTEST, str(tmp_path), *args], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=300, check=False)
        out = done.stdout + done.stderr
        assert done.returncode == 1, out[-3000:]
        assert "1 error" in out and "skipped" not in out, out[-3000:]
        assert expected in out and "Traceback" not in out, out[-3000:]
