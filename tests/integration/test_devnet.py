"""`bridge devnet`: one command gives other processes a shared local market; two separate CLI
processes per side complete a round against it, time moves over JSON-RPC, Ctrl-C stops it all."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from bridge.chain.anvil import free_port
from bridge.sim.devnet import dev_key

BRIDGE = str(Path(sys.executable).with_name("bridge"))


def _rpc(url: str, method: str, *params: Any) -> Any:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)})
    req = urllib.request.Request(url, data=body.encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        reply = json.loads(r.read())
    assert "error" not in reply, reply
    return reply["result"]


def test_two_cli_processes_trade_a_round_on_the_devnet(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    # hour-long rounds: every commitment lands in round r however long the ten CLI processes
    # take on a loaded machine (a minute's round did not hold them); the test moves time itself
    devnet, lines = _start_devnet("--port", str(port), "--workdir", str(tmp_path / "devnet"),
                                  "--commit-period", "3600")
    try:
        record = next(ln.split("deployment file ")[1].strip() for ln in lines
                      if "deployment file" in ln)
        assert "PRIVATE keys, well known" in "".join(lines)
        assert "never use them on a real network" in "".join(lines)

        def cli(key: int, *args: str) -> dict[str, Any]:
            env = {**os.environ, "BRIDGE_PRIVATE_KEY": "0x" + dev_key(key).hex(),
                   "BRIDGE_HOME": str(tmp_path / f"home{key}")}
            done = subprocess.run([BRIDGE, *args, "--rpc", url, "--market", record, "--json"],
                                  capture_output=True, text=True, env=env, timeout=120,
                                  check=False)
            assert done.returncode == 0, (args, done.stdout, done.stderr)
            return dict(json.loads(done.stdout))

        for prover in (3, 4):
            cli(prover, "prover", "stake", "0.01ether")
            cli(prover, "prover", "capacity", "1")
            cli(prover, "prover", "ask", "--cost", "10gwei")
        bids = []
        for requester in (2, 5):
            cli(requester, "requester", "deposit", "1ether")
            bids.append(cli(requester, "requester", "bid", "--value", "100gwei", "--escrow",
                            "100gwei", "--size", "1", "--task", f"task {requester}"))
        r = bids[0]["round"]
        assert bids[1]["round"] == r
        _rpc(url, "evm_increaseTime", 3601)  # past the round's close; the devnet's keeper settles
        _rpc(url, "evm_mine")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            shown = cli(2, "round", "show", str(r))
            if shown["phase"] == "settled":
                break
            time.sleep(0.5)
        # the devnet's market is fixedprice: both bids clear the posted price and both asks
        # sell (Prooφ would trade one, giving up the marginal trade)
        assert shown["phase"] == "settled" and len(shown["jobs"]) == 2, shown
        provers = {cli(k, "prover", "status")["address"]: k for k in (3, 4)}
        for job in shown["jobs"]:
            proved = cli(provers[job["prover"]], "prover", "prove", str(r), str(job["bid"]))
            assert proved["proved"][0]["job"] == job["job"]
        assert [j["state"] for j in cli(2, "round", "show", str(r))["jobs"]] == ["proven"] * 2
    finally:
        out = _stop_devnet(devnet)
    assert "devnet stopped" in out
    # nothing left behind: nobody answers on the port any more
    import urllib.error

    with pytest.raises(urllib.error.URLError):
        _rpc(url, "eth_chainId")


def test_the_eth_tester_server_speaks_json_rpc_like_a_node(tmp_path: Path) -> None:
    """Reverts come back with their data (so clients decode custom errors), time and snapshots
    move with the standard test-node methods."""
    from web3 import HTTPProvider, Web3
    from web3.exceptions import ContractLogicError

    from bridge.chain.market import Market
    from bridge.chain.rpcserver import RpcServer
    from bridge.chain.tester import make_tester_chain
    from bridge.sim.world import SimConfig, World
    from bridge.testing import LocalChain

    chain = make_tester_chain(accounts=2)
    server = RpcServer(chain).start()
    try:
        w3 = Web3(HTTPProvider(server.url))
        assert w3.eth.chain_id == chain.w3.eth.chain_id
        world = World(LocalChain.of_tester(chain), SimConfig(), tmp_path)
        market = Market(w3, world.market.address)
        with pytest.raises(ContractLogicError) as err:
            market.contract.functions.withdraw(1).call({"from": chain.accounts[1]})
        decoded = market.decode_revert(bytes.fromhex(str(err.value.data)[2:]))
        assert decoded is not None and decoded.name == "InsufficientBalance"  # type: ignore
        # logs as a browser client asks for them: one address (viem) or a list, lowercase too
        head = hex(w3.eth.block_number)
        address = world.market.address
        expected = _rpc(server.url, "eth_getLogs", {"address": [address], "fromBlock": "0x0",
                                                    "toBlock": head})
        assert expected, "the world's setup left no logs"
        for one in (address, address.lower()):
            got = _rpc(server.url, "eth_getLogs", {"address": one, "fromBlock": "0x0",
                                                   "toBlock": head})
            assert got == expected
        before = int(_rpc(server.url, "eth_getBlockByNumber", "latest", False)["timestamp"], 16)
        snap = _rpc(server.url, "evm_snapshot")
        _rpc(server.url, "evm_increaseTime", 3600)
        _rpc(server.url, "evm_mine")
        after = int(_rpc(server.url, "eth_getBlockByNumber", "latest", False)["timestamp"], 16)
        assert after >= before + 3600
        assert _rpc(server.url, "evm_revert", snap) is True
        back = int(_rpc(server.url, "eth_getBlockByNumber", "latest", False)["timestamp"], 16)
        assert back == before
    finally:
        server.stop()


def _start_devnet(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None
                  ) -> tuple[subprocess.Popen[str], list[str]]:
    proc = subprocess.Popen([BRIDGE, "devnet", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, cwd=cwd, env=env)
    assert proc.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        lines.append(line)
        if line.strip() == "ready" or not line:
            break
    assert lines[-1].strip() == "ready", "".join(lines)
    return proc, lines


def _stop_devnet(proc: subprocess.Popen[str]) -> str:
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out
    return out


def test_devnet_state_keeps_the_market_and_balances_between_runs(tmp_path: Path) -> None:
    from bridge.testing import find_anvil

    if find_anvil() is None:
        pytest.skip("anvil is not installed: run `npm ci` (make test does)")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    state = tmp_path / "devnet-state"
    env = {**os.environ, "BRIDGE_PRIVATE_KEY": "0x" + dev_key(2).hex(),
           "BRIDGE_HOME": str(tmp_path / "home")}

    def balance(record: str) -> int:
        done = subprocess.run([BRIDGE, "requester", "status", "--rpc", url, "--market", record,
                               "--json"], capture_output=True, text=True, env=env, timeout=120,
                              check=True)
        return int(json.loads(done.stdout)["free"])

    proc, lines = _start_devnet("--chain", "anvil", "--port", str(port), "--state", str(state))
    try:
        assert any("a new chain" in ln for ln in lines), "".join(lines)
        record = next(ln.split("deployment file ")[1].strip() for ln in lines
                      if "deployment file" in ln)
        market = next(ln.split("market ")[1].split(";")[0] for ln in lines
                      if ln.startswith("market "))
        subprocess.run([BRIDGE, "requester", "deposit", "0.25ether", "--rpc", url, "--market",
                        record], capture_output=True, text=True, env=env, timeout=120,
                       check=True)
        assert balance(record) == 25 * 10**16
    finally:
        _stop_devnet(proc)
    assert (state / "anvil-state.json").is_file()

    proc, lines = _start_devnet("--chain", "anvil", "--port", str(port), "--state", str(state))
    try:
        assert any("resumed" in ln for ln in lines), "".join(lines)
        assert any(ln.startswith(f"market {market};") for ln in lines), "".join(lines)
        assert balance(record) == 25 * 10**16  # the same market, the deposit still there
    finally:
        _stop_devnet(proc)


def test_devnet_state_on_the_in_memory_chain_is_refused_with_the_fix(tmp_path: Path) -> None:
    done = subprocess.run([BRIDGE, "devnet", "--state", str(tmp_path / "s"), "--port",
                           str(free_port())], capture_output=True, text=True, timeout=120,
                          check=False)
    assert done.returncode != 0
    assert "--state keeps the chain between runs only with --chain anvil" in done.stderr + \
        done.stdout
    assert not (tmp_path / "s" / "deployments").exists()  # nothing deployed


def _until(what: Any, why: str, timeout: float = 60) -> None:
    """Wait for ``what()`` (a loaded machine mines the followed blocks late, never not at all)."""
    deadline = time.monotonic() + timeout
    while not what():
        assert time.monotonic() < deadline, f"timed out after {timeout} s waiting for {why}"
        time.sleep(0.1)


def test_the_devnet_clock_follows_the_wall_clock_and_keeps_increases(tmp_path: Path) -> None:
    """Agents run in real time: without transactions, time still moves (a block whenever the
    wall clock is ahead); evm_increaseTime moves it ahead for good; time never goes back."""
    from bridge.chain.rpcserver import RpcServer
    from bridge.chain.tester import make_tester_chain

    chain = make_tester_chain(accounts=1)
    server = RpcServer(chain).start()
    try:
        server.follow_wall_clock(0.2)
        start = chain.now()
        _until(lambda: chain.now() >= start + 2, "blocks mined with nobody sending")
        _rpc(server.url, "evm_increaseTime", 600)
        ahead = chain.now()
        assert ahead >= int(time.time()) + 590
        _until(lambda: chain.now() >= ahead + 1, "the clock following, 600 s ahead")
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "evm_mine",
                           "params": [start]}).encode()
        req = urllib.request.Request(server.url, data=body,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as r:
            reply = json.loads(r.read())
        assert "time cannot go back" in reply["error"]["message"]
    finally:
        server.stop()


def test_the_default_devnet_is_where_the_docs_say_and_serves_browsers_and_its_accounts(
        tmp_path: Path) -> None:
    """Issue 22 items 2 and 5: without --workdir the devnet writes
    ./.devnet/deployments/31337/market.json (chain id 31337), the path the docs' prover.toml
    names; its JSON-RPC answers a browser's CORS preflight; the printed dev accounts are the
    node's unlocked accounts (eth_sendTransaction from one works); a command given a market file
    that does not exist names the running devnet's file."""
    import re

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "BRIDGE_HOME": str(tmp_path / "home")}
    devnet, lines = _start_devnet("--port", str(port), "--block-time", "0", cwd=tmp_path,
                                  env=env)
    try:
        text = "".join(lines)
        record = tmp_path / ".devnet" / "deployments" / "31337" / "market.json"
        assert record.is_file(), text
        assert "deployment file .devnet/deployments/31337/market.json" in text
        assert int(_rpc(url, "eth_chainId"), 16) == 31337
        # the docs' prover.toml names that file, relative to where the devnet runs
        docs = Path(__file__).resolve().parents[2]
        named = {m for f in [docs / "README.md", *sorted((docs / "docs").rglob("*.md"))]
                 for m in re.findall(r'market = "([^"]*31337[^"]*)"', f.read_text())}
        assert named and all((tmp_path / m).resolve() == record.resolve() for m in named), named

        # CORS: the preflight a browser sends before its JSON POST, then the POST itself
        pre = urllib.request.Request(url, method="OPTIONS", headers={
            "Origin": "http://127.0.0.1:8700", "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type"})
        with urllib.request.urlopen(pre, timeout=30) as r:
            assert r.status == 204
            assert r.headers["Access-Control-Allow-Origin"] == "*"
            assert "POST" in r.headers["Access-Control-Allow-Methods"]
            assert "content-type" in r.headers["Access-Control-Allow-Headers"].lower()
        post = urllib.request.Request(url, data=json.dumps(
            {"jsonrpc": "2.0", "id": 1, "method": "eth_blockNumber", "params": []}).encode(),
            headers={"Content-Type": "application/json", "Origin": "http://127.0.0.1:8700"})
        with urllib.request.urlopen(post, timeout=30) as r:
            assert r.headers["Access-Control-Allow-Origin"] == "*"

        # the printed accounts are the node's unlocked ones, and can send
        printed = re.findall(r"^  \d: (0x[0-9a-fA-F]{40}) ", text, re.M)
        assert len(printed) == 6
        unlocked = _rpc(url, "eth_accounts")
        assert [a.lower() for a in unlocked] == [a.lower() for a in printed]
        before = int(_rpc(url, "eth_getBalance", printed[4], "latest"), 16)
        tx = _rpc(url, "eth_sendTransaction", {"from": printed[3].lower(), "to": printed[4],
                                               "value": hex(12345)})
        receipt = _rpc(url, "eth_getTransactionReceipt", tx)
        assert int(receipt["status"], 16) == 1
        assert int(_rpc(url, "eth_getBalance", printed[4], "latest"), 16) == before + 12345

        # a market file that does not exist: the error names the devnet's
        done = subprocess.run([BRIDGE, "requester", "status", "--rpc", url, "--market",
                               "deployments/31337/market.json"], capture_output=True,
                              text=True, env={**env, "BRIDGE_PRIVATE_KEY": "0x" + dev_key(2).hex()},
                              cwd=tmp_path, timeout=120, check=False)
        assert done.returncode == 2, done.stderr
        assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
        assert str(record.resolve()) in done.stderr, done.stderr
    finally:
        _stop_devnet(devnet)
    assert not (tmp_path / "home" / "devnet.json").exists()  # the pointer goes with the devnet
