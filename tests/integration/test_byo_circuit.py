"""Bring your own circuit, end to end on anvil: a circuit that is not in the repository's
manifest (``examples/circuits/range32.circom``) is compiled, set up and registered with
``bridge circuit register --accept`` by the market's owner, served by a prover agent process that
checks it first, requested with ``bridge requester request --circuit range32 --wait``, and the
delivered proof checks with snarkjs against the registered key. Two jobs of one round go in one
``submitProofs``. Real anvil, keeper, agent, circom2 and snarkjs."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from bridge.client.participant import Participant
from bridge.proving import REPO_ROOT, SNARKJS
from bridge.sim.market import MarketSettings
from bridge.testing import LocalMarket, find_anvil
from bridge.testing.agents import BRIDGE, AgentProcess
from bridge.testing.agents import live_market as start_live_market
from tests.integration.conftest import DEV_KEYS
from tests.integration.test_agents import _wait_for

GWEI = 10**9
CIRCOM = REPO_ROOT / "examples" / "circuits" / "range32.circom"


@pytest.fixture
def market(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalMarket]:
    if find_anvil() is None:
        pytest.skip("anvil is not installed: run `npm ci` (make test does)")
    monkeypatch.setenv("BRIDGE_HOME", str(tmp_path / "keeper-home"))  # the keeper's cache
    settings = MarketSettings(mechanism="fixedprice", proofs="groth16-registry",
                              commit_period=8, settle_period=8, proof_period=40)
    with start_live_market(tmp_path, settings) as m:
        yield m


def _cli(m: LocalMarket, tmp_path: Path, key: str, *args: str, timeout: float = 300
         ) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BRIDGE_")}
    env.update({"BRIDGE_PRIVATE_KEY": key, "BRIDGE_HOME": str(tmp_path / "cli-home")})
    return subprocess.run([BRIDGE, *args, "--rpc", str(m.chain.url), "--market", m.address],
                          env=env, capture_output=True, text=True, timeout=timeout, check=False)


def _asked_with_time(m: LocalMarket) -> int | None:
    """The current round if the agent asked in it and it stays open over 4 s more."""
    r = m.current_round()
    if m.market.round_info(r).ask_count == 1 and m.market.params.closes_at(r) - m.now() > 4:
        return r
    return None


def test_a_circuit_from_a_circom_file_is_registered_served_requested_and_checked(
        market: LocalMarket, tmp_path: Path) -> None:
    m = market
    assert m.chain.funder.lower() == "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266"  # DEV_KEYS[0]
    done = _cli(m, tmp_path, DEV_KEYS[0], "circuit", "register", "--circom", str(CIRCOM),
                "--accept", "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    reg = json.loads(done.stdout.splitlines()[-1])
    assert (reg["name"], reg["accepted"]) == ("range32(x)", True)

    agent = AgentProcess(tmp_path, "agent", m, bytes(m.account().key), cost_gwei=40,
                         capacity=2, extra=('circuits = ["range32"]',))
    agent.env["BRIDGE_HOME"] = str(tmp_path / "agent-home")
    agent.start()
    try:
        # two jobs in one round: the agent proves both and sends them in one submitProofs
        r = _wait_for(lambda: _asked_with_time(m), 120, "a round the agent asked in")
        q = Participant(m.market, m.account())
        q.deposit(10**16)
        for x in (5, 2**32 - 1):
            q.bid(value=200 * GWEI, size=None, escrow=200 * GWEI, circuit=reg["index"],
                  inputs=[x], round=r)
        _wait_for(lambda: (len(v := q.settled_jobs(r, m.deploy_block)) == 2
                           and all(j.resolved for j in v)), 120, "both jobs proven")
        txs = {e["transactionHash"] for e in m.market.contract.events.ProofAccepted()
               .get_logs(from_block=m.deploy_block, argument_filters={"round": r})}
        assert len(txs) == 1, "the round's two proofs went in one submitProofs"
        # and a requester on the command line, waiting for its proof
        done = _cli(m, tmp_path, "0x" + bytes(m.account().key).hex(), "requester", "request",
                    "--circuit", "range32", "--input", "123456789", "--value", "200gwei",
                    "--wait", "--out", str(tmp_path / "proof"), "--json",
                    "--from-block", str(m.deploy_block))
        assert done.returncode == 0, done.stdout + done.stderr + agent.output()[-3000:]
        got = subprocess.run(["node", str(SNARKJS), "groth16", "verify",
                              str(tmp_path / "proof" / "vk.json"),
                              str(tmp_path / "proof" / "public.json"),
                              str(tmp_path / "proof" / "proof.json")],
                             capture_output=True, text=True, cwd=REPO_ROOT, check=False)
        assert got.returncode == 0 and "OK" in got.stdout, got.stdout + got.stderr
        public = json.loads((tmp_path / "proof" / "public.json").read_text())
        assert public[:2] == [str(bin(123456789).count("1")), "123456789"]
    finally:
        agent.stop()
