"""A prover agent serves circuits it checked itself: on a market whose verifier is a
``Groth16Registry`` the agent fetches each served circuit's artifacts, checks their hashes, checks
the proving key against the registered key and proves one random input before it starts; any
failure refuses the start in one line and sends nothing. Its proofs of a round go in one
``submitProofs`` batch. Real chain (eth-tester), real snarkjs, the range32 circuit (not in the
manifest) registered from its prebuilt artifacts by file URI."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from bridge.chain.groth16 import accept_circuits, register_circuit, registry_at
from bridge.client.participant import Participant
from bridge.testing import LocalMarket
from bridge.zkstore import Artifacts, sha256_file
from tests.e2e.test_prover_agent import _agent, _tick_until
from tests.e2e.test_unprovable import BUILT, range32

GWEI = 10**9
pytestmark = pytest.mark.bridge_market(proofs="groth16-registry", mechanism="fixedprice")


def _register(m: LocalMarket, art: Artifacts, key: bytes | None = None) -> int:
    """Register (anyone) and accept (the market's owner) a circuit; its index."""
    reg = registry_at(m.w3, m.market.params.verifier)
    cid, index = register_circuit(reg, key or range32()[0], art, m.chain.funder)
    accept_circuits(reg, m.address, [cid], m.chain.funder)
    return index


@pytest.fixture(autouse=True)
def _fresh_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("BRIDGE_HOME", str(tmp_path / "home"))


@pytest.mark.realtime  # snarkjs proofs (node processes)
def test_an_agent_checks_a_circuit_before_serving_it_and_batches_a_rounds_proofs(
        bridge_market: LocalMarket, bridge_requester: Callable[..., Participant],
        tmp_path: Path) -> None:
    m = bridge_market
    index = _register(m, range32()[1])
    agent = _agent(m, tmp_path, "a", circuits=["range32"], capacity=3, max_stake="0.01ether")
    assert set(agent.backends) == {"range32"}
    r = m.next_round()
    agent.tick()
    q = bridge_requester()
    for x in (1, 2**31, 2**32 - 1):
        q.bid(value=100 * GWEI, size=None, escrow=100 * GWEI, circuit=index, inputs=[x])
    assert len(m.settle(r).jobs) == 3
    _tick_until([agent], lambda: all(j.status == "proven" for j in m.outcome(r).jobs),
                limit=400)
    txs = {row.tx_hash for row in agent.store.jobs()}
    assert len(txs) == 1  # the three proofs went in one submitProofs
    receipt = m.w3.eth.get_transaction_receipt(txs.pop())
    assert receipt["to"].lower() == m.market.params.verifier.lower()


@pytest.mark.parametrize("fault", ["wrong wasm hash", "zkey of another circuit",
                                   "unreachable URI"])
def test_an_agent_and_the_cli_refuse_a_circuit_that_fails_its_check(
        bridge_market: LocalMarket, tmp_path: Path, fault: str) -> None:
    from bridge.agents.prover import StartRefused

    m = bridge_market
    _key, art = range32()
    other = Path(__file__).resolve().parents[2] / "zk" / "build" / "merkle8.zkey"
    bad = {"wrong wasm hash": replace(art, wasm_sha256=sha256_file(BUILT / "range32.zkey")),
           "zkey of another circuit": replace(art, zkey_sha256=sha256_file(other),
                                              zkey_uri=other.as_uri()),
           "unreachable URI": replace(art, wasm_uri="http://127.0.0.1:9/range32.wasm")}[fault]
    _register(m, bad)
    account = m.account(fund=10**20)
    nonce = m.w3.eth.get_transaction_count(account.address)
    with pytest.raises(StartRefused) as refused:
        _agent(m, tmp_path, "x", key=bytes(account.key), fund=0, circuits=["range32"])
    line = str(refused.value)
    says = {"wrong wasm hash": "has sha-256", "zkey of another circuit":
            "does not match the registered verification key",
            "unreachable URI": "is unreachable"}[fault]
    assert "\n" not in line and line.startswith("circuit 1 (range32) fails its check: ")
    assert says in line
    assert m.w3.eth.get_transaction_count(account.address) == nonce  # nothing was sent
    # and `bridge circuit check` refuses it the same way, in one line
    out = m.cli("circuit", "check", "range32", from_block=False)
    assert out.exit_code == 1, out.output
    assert says in out.output and len(out.output.strip().splitlines()) == 1


def test_an_agent_refuses_a_circuit_the_market_does_not_accept(
        bridge_market: LocalMarket, tmp_path: Path) -> None:
    from bridge.agents.prover import StartRefused

    _register(bridge_market, range32()[1])
    with pytest.raises(StartRefused, match=r"^circuits: no circuit 'sha-9000' in this market: "
                                           r"registered are 1 \(range32, 1 units\)$"):
        _agent(bridge_market, tmp_path, "x", circuits=["sha-9000"])
