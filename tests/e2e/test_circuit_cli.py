"""``bridge circuit register/list/check`` on eth-tester: a circuit that is not in the repository's
manifest (``examples/circuits/range32.circom``) is compiled, set up (development powers of tau),
registered and checked through the command line; artifacts that fail a check are refused in one
line, with nothing sent. Real circom2, snarkjs and chain."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from bridge.testing import LocalMarket
from tests.e2e.test_agent_circuits import _register
from tests.e2e.test_unprovable import range32

pytestmark = pytest.mark.bridge_market(proofs="groth16-registry", mechanism="fixedprice")
CIRCOM = Path(__file__).resolve().parents[2] / "examples" / "circuits" / "range32.circom"


@pytest.fixture(autouse=True)
def _home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("BRIDGE_HOME", str(tmp_path / "home"))


@pytest.mark.realtime  # circom and snarkjs (node processes) compile and set it up
def test_register_list_and_check_a_circuit_from_its_circom_file(
        bridge_market: LocalMarket, tmp_path: Path) -> None:
    m = bridge_market
    someone = m.account(fund=10**20)
    out = m.cli("circuit", "register", "--circom", str(CIRCOM), "--out", str(tmp_path / "b"),
                "--json", key=bytes(someone.key), from_block=False)
    assert out.exit_code == 0, out.output
    rec = json.loads(out.output.splitlines()[-1])
    assert (rec["index"], rec["name"], rec["inputs"], rec["outputs"], rec["dev_ptau"]) == (
        1, "range32(x)", 1, 1, True)
    assert rec["wasm_uri"] == (tmp_path / "b" / "range32.wasm").resolve().as_uri()
    reg_id = rec["id"]
    # not accepted yet: the market's owner accepts it
    out = m.cli("circuit", "list", from_block=False)
    assert out.exit_code == 0, out.output
    assert "range32(x)  1 in, 1 out  not accepted" in out.output
    from bridge.chain.groth16 import accept_circuits, registry_at

    accept_circuits(registry_at(m.w3, m.market.params.verifier), m.address,
                    [bytes.fromhex(reg_id[2:])], m.chain.funder)
    listed = json.loads(m.cli("circuit", "list", "--json", from_block=False).output)
    assert [(c["index"], c["id"], c["accepted"]) for c in listed["circuits"]] == [
        (1, reg_id, True)]
    for ref in ("1", reg_id, "range32"):
        out = m.cli("circuit", "check", ref, from_block=False)
        assert out.exit_code == 0, out.output
        assert out.output.startswith("circuit 1 (range32(x)) checks out: artifacts match")
    # built again, the phase-2 contribution is fresh randomness: another key, another circuit
    out = m.cli("circuit", "register", "--circom", str(CIRCOM), "--out", str(tmp_path / "b2"),
                "--json", key=bytes(someone.key), from_block=False)
    again = json.loads(out.output.splitlines()[-1])
    assert again["index"] == 2 and again["id"] != reg_id
    # someone who is not the market's owner cannot accept
    out = m.cli("circuit", "register", "--circom", str(CIRCOM), "--out", str(tmp_path / "c"),
                "--accept", key=bytes(someone.key), from_block=False)
    assert out.exit_code == 1 and "NotMarketOwner" in out.output
    assert len(out.output.strip().splitlines()) == 1


@pytest.mark.bridge_market(proofs="pow")
def test_a_market_without_a_generic_registry_is_named(bridge_market: LocalMarket) -> None:
    out = bridge_market.cli("circuit", "list", from_block=False)
    assert out.exit_code == 2  # a configuration error
    assert len(out.output.strip().splitlines()) == 1
    assert "is not a Groth16Registry" in out.output and "kind = \"groth16-registry\"" in out.output


@pytest.mark.realtime  # an HTTP server, snarkjs proofs (node processes)
def test_artifacts_served_over_http_register_check_and_trade_by_id(
        bridge_market: LocalMarket, bridge_requester: object, tmp_path: Path) -> None:
    """The registrant serves its build directory over HTTP (``--base-uri``); `check` fetches
    from there, and a requester names the circuit by its 0x id."""
    import functools
    import http.server
    import threading

    out_dir = tmp_path / "served"
    out_dir.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(out_dir))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        m = bridge_market
        base = f"http://127.0.0.1:{httpd.server_address[1]}/"
        someone = m.account(fund=10**20)
        out = m.cli("circuit", "register", "--circom", str(CIRCOM), "--out", str(out_dir),
                    "--base-uri", base, "--json", key=bytes(someone.key), from_block=False)
        assert out.exit_code == 0, out.output
        rec = json.loads(out.output.splitlines()[-1])
        assert rec["wasm_uri"] == base + "range32.wasm"
        from bridge.chain.groth16 import accept_circuits, registry_at

        accept_circuits(registry_at(m.w3, m.market.params.verifier), m.address,
                        [bytes.fromhex(rec["id"][2:])], m.chain.funder)
        out = m.cli("circuit", "check", rec["id"], from_block=False)
        assert out.exit_code == 0, out.output
        m.next_round()
        record = bridge_requester().bid(  # type: ignore[operator]
            value=10**11, size=None, escrow=10**11, circuit=rec["id"], inputs=[77])
        assert record.quantity == 1
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_only_the_markets_owner_accepts_a_circuit(bridge_market: LocalMarket) -> None:
    m = bridge_market
    index = _register(m, range32()[1])  # registered and accepted by the owner (the funder)
    someone = m.account(fund=10**20)
    out = m.cli("circuit", "accept", str(index), key=bytes(someone.key), from_block=False)
    assert out.exit_code == 0 and "(it already did)" in out.output, out.output
    from bridge.chain.groth16 import register_circuit, registry_at

    other = replace(range32()[1], name="range32-copy(x)")
    _cid, index2 = register_circuit(registry_at(m.w3, m.market.params.verifier), range32()[0],
                                    other, m.chain.funder)
    out = m.cli("circuit", "accept", str(index2), key=bytes(someone.key), from_block=False)
    assert out.exit_code == 1 and "NotMarketOwner" in out.output, out.output
    assert len(out.output.strip().splitlines()) == 1
