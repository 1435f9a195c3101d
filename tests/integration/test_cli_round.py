"""The demo's round through real CLI processes against anvil, with a background keeper.

``bridge deploy`` → ``bridge keeper run`` (SQLite, 1 confirmation) → provers stake, declare
capacity and ask; requesters deposit and bid → the round closes (chain time moved with
``evm_mine``) → the keeper settles → provers list and prove their jobs → requesters see their
charges → the keeper finalises → balances: contract ETH == nonFree + Σ balanceOf.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account

from bridge.chain.market import Market
from tests.integration.conftest import DEV_KEYS, KeeperProcess, cli_env, run_cli
from tests.integration.harness import web3_for, write_network

pytestmark = pytest.mark.anvil


def _json(*args: str, key: str, cwd: Path, env: dict[str, str]) -> Any:
    out = run_cli(*args, "--json", key=key, cwd=cwd, env={**cli_env(key), **env}).stdout
    return json.loads(out.strip().splitlines()[-1])


def test_full_round_through_the_cli_against_anvil(anvil: Any, tmp_path: Path,
                                                   keepers: list[KeeperProcess]) -> None:
    node = anvil(block_time=1)
    net = write_network(tmp_path / "net.toml", node.url, commit_period=300, settle_period=300,
                        proof_period=300)
    deployed = _json("deploy", "--network", str(net), key=DEV_KEYS[0], cwd=tmp_path, env={})
    assert deployed["deployed"] is True
    again = _json("deploy", "--network", str(net), key=DEV_KEYS[0], cwd=tmp_path, env={})
    assert again["deployed"] is False and again["market"] == deployed["market"]
    record = str(tmp_path / deployed["record"])
    conn = ["--rpc", node.url, "--market", record]
    env = {"BRIDGE_SALTS": str(tmp_path / "sealed.json")}

    keeper = KeeperProcess(tmp_path, node.url, record, f"sqlite:///{tmp_path / 'k.sqlite'}",
                           confirmations=1)
    keepers.append(keeper.start())

    provers, requesters = DEV_KEYS[1:3], DEV_KEYS[3:5]

    def each(keys: list[str], *args: str) -> list[Any]:
        with ThreadPoolExecutor(len(keys)) as pool:
            return list(pool.map(lambda k: _json(*args, *conn, key=k, cwd=tmp_path, env=env),
                                 keys))

    each(provers, "prover", "stake", "0.001ether")
    each(provers, "prover", "capacity", "1")
    each(requesters, "requester", "deposit", "0.01ether")
    w3 = web3_for(node.url)
    market = Market(w3, deployed["market"])
    node.travel_to(market.params.closes_at(market.current_round()) + 1)
    r = market.current_round()
    orders = [(k, ["prover", "ask", "--cost", f"{c}gwei"])
              for k, c in zip(provers, (40, 55), strict=True)]
    orders += [(k, ["requester", "bid", "--value", f"{v}gwei", "--size", "1", "--escrow",
                    f"{v + 20}gwei", "--task", f"task-{i}"])
               for i, (k, v) in enumerate(zip(requesters, (100, 120), strict=True))]
    with ThreadPoolExecutor(len(orders)) as pool:  # separate keys: independent nonces
        placed = list(pool.map(lambda o: _json(*o[1], "--round", str(r), *conn, key=o[0],
                                               cwd=tmp_path, env=env), orders))
    asks, bids = placed[:2], placed[2:]
    assert {a["round"] for a in asks} | {b["round"] for b in bids} == {r}

    node.travel_to(market.params.closes_at(r) + 1)
    _wait(lambda: int(market.round_info(r).status) == 1, keeper, "the keeper's settlement")
    jobs = dict(zip(provers, (j["jobs"] for j in each(provers, "prover", "jobs")),
                    strict=True))
    assigned = [(k, j) for k, js in jobs.items() for j in js]
    assert assigned, "a Prooφ round with two asks below two bids trades"
    for k, j in assigned:
        proved = _json("prover", "prove", str(r), str(j["bid"]), *conn, key=k, cwd=tmp_path,
                       env=env)
        assert proved["proved"][0]["payment"] == j["payment"]
    status = dict(zip(requesters, each(requesters, "requester", "status"), strict=True))
    charged = [b for s in status.values() for b in s["bids"] if b["charge"]]
    assert len(charged) == len(assigned)
    for s in status.values():
        for b in s["bids"]:
            assert b["charge"] is not None and b["charge"] + b["refund"] == b["escrow"]

    node.travel_to(market.round_times(r)[3] + 1)
    _wait(lambda: market.uncollected_margin(r) == 0, keeper, "margins collected")
    shown = _json("round", "show", str(r), *conn, key=DEV_KEYS[0], cwd=tmp_path, env=env)
    assert shown["phase"] == "settled"
    assert {j["state"] for j in shown["jobs"]} == {"proven"}
    settled = market.contract.events.RoundSettled().get_logs(from_block=deployed["block"])
    assert len(settled) == 1

    accounts = [Account.from_key(k).address for k in DEV_KEYS]
    non_free, _ = market.liabilities()
    balance = int(w3.eth.get_balance(market.address))
    assert balance == non_free + sum(market.balance_of(a) for a in accounts)
    assert keeper.stop() == 0, keeper.output()[-3000:]
    assert "keeper stopped" in keeper.output()


def _wait(cond: Any, keeper: KeeperProcess, what: str, timeout: float = 60) -> None:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        assert keeper.alive(), f"keeper exited:\n{keeper.output()[-3000:]}"
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}:\n{keeper.output()[-3000:]}")
