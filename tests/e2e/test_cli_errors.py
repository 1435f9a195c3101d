"""Every ``bridge`` command given wrong input ends in one line naming the problem, never a
traceback (issue 22, item 6).

The commands run through Typer's runner (as the console script does) against a real devnet: the
embedded eth-tester chain served over HTTP, a fixedprice market and its keeper. Each case is a
wrong input a user really types: a wrong address (the verifier's, a posted-price market's, one
with no code), a node that is not there, a file that does not exist, an amount that is not one, a
market of the wrong kind. Each must exit non-zero with exactly one ``error: …`` line on stderr
that names the problem (the fragment each case expects).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bridge.chain.anvil import free_port
from bridge.cli import app
from bridge.sim.devnet import Devnet, dev_key, start_devnet

KEY = "0x" + dev_key(2).hex()
UNREACHABLE = "http://127.0.0.1:9"  # the discard port: nothing answers JSON-RPC there


@pytest.fixture(scope="module")
def devnet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Devnet]:
    net = start_devnet(tmp_path_factory.mktemp("devnet"), port=free_port(), block_time=0)
    try:
        yield net
    finally:
        net.stop()


@pytest.fixture(scope="module")
def posted_price_market(devnet: Devnet) -> str:
    """A PostedPriceMarket on the devnet's chain: the wrong kind for the sealed-bid commands."""
    from web3 import HTTPProvider, Web3

    from bridge.chain.posted_price import PostedPriceConfig, deploy_posted_price_market

    w3 = Web3(HTTPProvider(devnet.url))
    record = json.loads(devnet.deployment.read_text())
    owner = devnet.accounts[0].address  # unlocked on the devnet: eth_sendTransaction deploys
    cfg = PostedPriceConfig(keeper=devnet.accounts[1].address, verifier=record["verifier"])
    return str(deploy_posted_price_market(w3, cfg, owner).address)


def _network(tmp: Path, verifier: str) -> str:
    """A network file with this ``[verifier]`` table; its path."""
    path = tmp / f"net-{abs(hash(verifier))}.toml"
    path.write_text(f'name = "n"\nrpc = "eth-tester"\nchain_id = 1\n[verifier]\n{verifier}\n')
    return str(path)


def _cases(net: Devnet, pp: str, tmp: Path) -> list[tuple[list[str], str]]:
    rec = str(net.deployment)
    record = json.loads(net.deployment.read_text())
    verifier = record["verifier"]
    nowhere = "0x000000000000000000000000000000000000dEaD"
    on = ["--rpc", net.url, "--market", rec]
    missing = str(tmp / "missing.json")
    return [
        # the node
        (["requester", "status", "--rpc", UNREACHABLE, "--market", rec], "cannot reach"),
        (["round", "show", "--rpc", UNREACHABLE, "--market", rec], "cannot reach"),
        (["prover", "status", "--rpc", "localhost:8545", "--market", rec], "not an http"),
        # the market: wrong contract, no contract, not an address, no file, wrong kind
        (["requester", "status", "--rpc", net.url, "--market", verifier],
         "not a sealed-bid market"),
        (["round", "show", "--rpc", net.url, "--market", verifier], "not a sealed-bid market"),
        (["audit", "0", "--rpc", net.url, "--market", verifier], "not a sealed-bid market"),
        (["prover", "jobs", "--rpc", net.url, "--market", verifier], "not a sealed-bid market"),
        (["requester", "proof", "0", "0", "--rpc", net.url, "--market", verifier],
         "not a sealed-bid market"),
        (["requester", "status", "--rpc", net.url, "--market", pp], "posted-price market"),
        (["posted-price", "show", "--round", "0", "--rpc", net.url, "--market", rec],
         "sealed-bid market"),
        (["requester", "status", "--rpc", net.url, "--market", nowhere], "no contract code"),
        (["requester", "status", "--rpc", net.url, "--market", "0x1234"], "not an address"),
        (["requester", "status", "--rpc", net.url, "--market", missing], "does not exist"),
        (["requester", "status", "--rpc", net.url], "no market"),
        (["keeper", "run", "--rpc", net.url, "--market", missing], "does not exist"),
        (["keeper", "run", "--config", str(tmp / "missing.toml")], "missing.toml"),
        (["prover", "run", "--config", str(tmp / "missing.toml")], "missing.toml"),
        (["ui", "--rpc", net.url, "--market", missing], "missing.json"),
        # amounts
        (["requester", "deposit", "12parsecs", *on], "unknown unit"),
        (["requester", "deposit", "1.5wei", *on], "whole number of wei"),
        (["prover", "stake", "lots", *on], "not an amount"),
        (["requester", "bid", "--value", "1gwei", "--escrow", "x", "--task", "t", *on],
         "--escrow"),
        (["prover", "ask", "--cost", "-3gwei", *on], "--cost"),
        (["requester", "withdraw", "5000000ether", *on], "withdraw at most"),
        (["deploy", "--network", "nowhere-net", "--initial-price", "cheap"], "--initial-price"),
        # nothing to find yet
        (["requester", "proof", "0", "0", *on], "bid 0 of round 0 has no jobs"),
        (["prover", "prove", "99", "0", *on], "99"),
        # keys and files
        (["deploy", "--network", "nowhere-net"], "nowhere-net"),
        (["requester", "status", "--rpc", net.url, "--market", rec, "--keystore",
          str(tmp / "no-keystore.json")], "keystore"),
        (["key", "new", "--keystore", str(tmp / "no" / "such" / "dir" / "k.json")], "k.json"),
        (["requester", "bid", "--value", "1gwei", "--escrow", "1gwei", "--circuit", "c",
          "--input", str(tmp / "inputs.json"), *on], "inputs.json"),
        # circuits (bring your own): a market without a Groth16Registry, a bad registry
        (["circuit", "list", *on], "not a Groth16Registry"),
        (["circuit", "check", "1", *on], "not a Groth16Registry"),
        (["circuit", "register", "--circom", str(tmp / "missing.circom"), *on],
         "not a Groth16Registry"),
        (["circuit", "accept", "1", *on], "not a Groth16Registry"),
        (["circuit", "list", "--registry", "0x12", *on], "not an address"),
        (["deploy", "--network", _network(tmp, 'kind = "groth16-registry"\nregistry = "0x12"'),
          "--rpc", net.url], "verifier.registry"),
        (["deploy", "--network", _network(tmp, 'kind = "groth16-registry"\ncircuits = "all"'),
          "--rpc", net.url], "verifier.circuits"),
        # the local tools
        (["devnet", "--chain", "hardhat", "--port", str(free_port())], "hardhat"),
        (["demo", "--mechanism", "vickrey"], "vickrey"),
    ]


def test_every_command_given_wrong_input_says_one_line_without_a_traceback(
        devnet: Devnet, posted_price_market: str, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BRIDGE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("BRIDGE_KEYSTORE_PASSWORD", "pw")
    monkeypatch.delenv("BRIDGE_RPC", raising=False)
    monkeypatch.delenv("BRIDGE_MARKET", raising=False)
    failures = []
    for args, fragment in _cases(devnet, posted_price_market, tmp_path):
        env = {"BRIDGE_PRIVATE_KEY": KEY}
        result = CliRunner().invoke(app, args, env=env)
        problems = []
        if result.exit_code == 0:
            problems.append("exit 0")
        if not isinstance(result.exception, SystemExit | None):
            problems.append(f"raised {type(result.exception).__name__}: {result.exception}")
        err = result.stderr
        if "Traceback" in result.output or "Traceback" in err:
            problems.append("traceback")
        lines = [ln for ln in err.splitlines() if ln.strip()]
        if len(lines) != 1 or not lines[0].startswith("error: "):
            problems.append(f"stderr is not one error line: {err!r}")
        elif fragment.lower() not in lines[0].lower():
            problems.append(f"{fragment!r} not in {lines[0]!r}")
        if problems:
            failures.append(f"bridge {' '.join(args)}: {'; '.join(problems)}")
    assert not failures, "\n".join(failures)


def test_devnet_on_anvil_before_npm_ci_says_to_run_it(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Without node_modules (a fresh clone before `npm ci`), `bridge devnet --chain anvil` said
    FileNotFoundError; it names the missing binary and the fix."""
    monkeypatch.setattr("bridge.chain.anvil.ANVIL", tmp_path / "node_modules" / ".bin" / "anvil")
    result = CliRunner().invoke(app, ["devnet", "--chain", "anvil", "--workdir",
                                      str(tmp_path / "d"), "--port", str(free_port())])
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit)
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.output
    assert "npm ci" in result.stderr and "--chain eth-tester" in result.stderr


def test_an_unexpected_error_is_one_line_that_asks_for_a_report(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A bug (not an expected failure) still ends in one line, saying it is one and how to see
    the traceback."""
    bad = tmp_path / "bad.json"
    bad.write_text('{"market": 5, "block": 1}')  # the address is not a string
    result = CliRunner().invoke(app, ["requester", "status", "--rpc", "eth-tester", "--market",
                                      str(bad)], env={"BRIDGE_PRIVATE_KEY": KEY})
    assert result.exit_code != 0 and isinstance(result.exception, SystemExit)
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: ")
