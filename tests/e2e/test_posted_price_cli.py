"""A posted-price round through the CLI as its users run it, with the keeper's evaluation.

Requesters and nodes register with ``bridge posted-price request/node``, two makers propose with
``bridge market-maker propose`` (the seed's example: B's challenge is absorbed by A's tolerances),
the keeper settles what the library gives (``bridge posted-price settle``; ``audit`` agrees),
everyone accepts, one node proves and the other misses; the keeper's tick slashes and closes; the
ledger is checked to the wei. Every registration carries the deposit ``γ``; in a second round a
fake requester rejects with ``bridge posted-price reject`` and its deposit is burned, the silent
node of the void part takes its deposit back with ``release``, and the maker its bond with
``close``. Refusals: a proposal the library refuses, or one above a requester's registered
maximum, is refused before anything is sent; a release that is not due gets the contract's decoded
error.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from typer.testing import CliRunner, Result

from bridge.chain.connect import embedded_chain
from bridge.chain.deploy import deploy
from bridge.chain.posted_price import (
    PostedPriceConfig,
    PostedPriceMarket,
    deploy_posted_price_market,
)
from bridge.chain.sender import TxSender
from bridge.cli import app
from bridge.keeper.posted_price import PostedPriceKeeper
from bridge.units import format_time

ETHER = 10**18
PERIOD = 3600
BOND = 10**15
CPU = 10**15
runner = CliRunner()


def test_a_posted_price_round_runs_through_the_cli(tmp_path: Path) -> None:
    chain = embedded_chain()
    w3 = chain.w3
    owner = chain.accounts[0]
    keeper: LocalAccount = Account.create()
    verifier = deploy(w3, "ProofOfWorkVerifier", 4, sender=owner)
    contract = deploy_posted_price_market(w3, PostedPriceConfig(
        keeper.address, verifier.address, PERIOD, PERIOD, PERIOD, PERIOD, PERIOD, BOND, CPU),
        owner)
    market = PostedPriceMarket(w3, contract.address)
    keys = {name: Account.create() for name in ("r1", "r2", "n0", "n1", "a", "b")}
    for acct in [keeper, *keys.values()]:
        w3.eth.wait_for_transaction_receipt(w3.eth.send_transaction(
            {"from": owner, "to": acct.address, "value": 10 * ETHER}))  # type: ignore[typeddict-item]

    def cli(who: str | None, *args: str) -> Result:
        key = keeper if who == "keeper" else keys.get(who or "")
        env = {"BRIDGE_RPC": "eth-tester", "BRIDGE_MARKET": market.address,
               "BRIDGE_PRIVATE_KEY": key.key.to_0x_hex() if key else None,
               "BRIDGE_KEYSTORE": None}
        return runner.invoke(app, list(args), env=env)

    def ok(result: Result) -> str:
        assert result.exit_code == 0, (result.output, result.exception)
        return result.stdout

    def js(result: Result) -> Any:
        return json.loads(ok(result))

    def refused(result: Result) -> str:
        assert result.exit_code == 1, (result.output, result.exception)
        return result.stderr.strip()

    r = js(cli("a", "posted-price", "open", "--json"))["round"]
    rd = ["--round", str(r)]
    out = js(cli("r1", "posted-price", "request", *rd, "--max-price", "7000wei", "--replicas",
                 "2", "--task", "job-0", "--json"))
    assert (out["request"], out["deposit"]) == (0, BOND)
    assert market.total_locked() == BOND
    ok(cli("r2", "posted-price", "request", *rd, "--max-price", "5000wei", "--task", "job-1"))
    for name in ("n0", "n1"):
        out = ok(cli(name, "posted-price", "node", *rd, "--capacity", "2", "--min-reward",
                     "500wei", "--tags", "0"))
        assert "capacity 2" in out and "deposit" in out

    def write(name: str, body: dict[str, Any]) -> str:
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(body))
        return str(path)

    a = write("a", {"allocation": {"0": [0, 1], "1": [0]}, "prices": {"0": 6000, "1": 4000},
                    "rewards": {"0": 3000, "1": 1000}, "max_prices": {"0": 7000, "1": 5000},
                    "min_rewards": {"0": 500, "1": 500}})
    b = write("b", {"allocation": {"1": [1]}, "prices": {"1": 3000}, "rewards": {"1": 2000}})
    bad = write("bad", {"allocation": {"0": [0]}, "prices": {"0": 6000}, "rewards": {"0": 1}})
    above = write("above", {"allocation": {"1": [1]}, "prices": {"1": 5001},
                            "rewards": {"1": 2000}})
    d = market.deadlines(r)
    chain.travel_to(d.register_end)
    assert "replicas" in refused(cli("b", "market-maker", "propose", bad, *rd))
    assert "registered maximum 5000" in refused(cli("b", "market-maker", "propose", above, *rd))
    assert market.round_info(r)["proposals"] == 0  # nothing was sent
    out = js(cli("a", "market-maker", "propose", a, *rd, "--json"))
    assert (out["proposal"], out["margin"], out["bond"]) == (0, 6000, BOND)
    ok(cli("b", "market-maker", "propose", b, *rd))

    chain.travel_to(d.propose_end)
    out = js(cli("keeper", "posted-price", "settle", *rd, "--json"))
    assert out["verdicts"] == ["0:first", "1:kept_repriced"] and out["margin"] == 6000
    assert "sequential improvement's" in ok(cli(None, "posted-price", "audit", *rd))
    shown = js(cli(None, "posted-price", "show", *rd, "--json"))
    text = ok(cli(None, "posted-price", "show", *rd))
    now = chain.now()
    assert (f"register until {format_time(d.register_end, now)}, propose until "
            f"{format_time(d.propose_end, now)}") in text and " ago)" in text, text
    assert [q["price"] for q in shown["requests"]] == [7000, 3000]
    assert [n["reward"] for n in shown["nodes"]] == [2000, 2000]
    assert [q["deposit"] for q in shown["requests"]] == ["HELD", "HELD"]

    for who, flag, idx in (("r1", "--request", 0), ("r2", "--request", 1), ("n0", "--node", 0),
                           ("n1", "--node", 1)):
        ok(cli(who, "posted-price", "accept", *rd, flag, str(idx)))
    assert "AlreadyResponded" in refused(cli("r1", "posted-price", "reject", *rd, "--request", "0"))
    for t in (0, 1):
        out = ok(cli("n0", "posted-price", "prove", *rd, "--request", str(t), "--node", "0",
                     "--difficulty", "4"))
    assert "reward 2000 wei" in out

    sender = TxSender(w3, keeper, decode_revert=market.decode_revert, poll_interval=0.01)
    k = PostedPriceKeeper(market, sender)
    chain.travel_to(market.deadlines(r).proof_end)
    assert k.tick() == [f"round {r}: slashed 1, closed 2, released 0 deposits"]
    assert market.total_locked() == 0
    assert market.balance_of(keys["a"].address) == BOND + 6000
    assert market.balance_of(keys["b"].address) == BOND
    assert market.balance_of(keys["n0"].address) == 2 * CPU + 2000 + BOND  # deposit back too
    assert market.balance_of(keys["r1"].address) == CPU + 2000 + BOND
    assert market.balance_of(keys["r2"].address) == BOND
    assert js(cli("a", "posted-price", "withdraw", "--json"))["withdrawn"] == BOND + 6000
    assert w3.eth.get_balance(market.address) == sum(
        market.balance_of(x.address) for x in keys.values())

    # round 2: "f" is a fake requester; it rejects and pays for it
    keys["f"] = Account.create()
    w3.eth.wait_for_transaction_receipt(w3.eth.send_transaction(
        {"from": owner, "to": keys["f"].address, "value": ETHER}))  # type: ignore[typeddict-item]
    r = js(cli("a", "posted-price", "open", "--json"))["round"]
    rd = ["--round", str(r)]
    ok(cli("f", "posted-price", "request", *rd, "--max-price", "5000wei"))
    ok(cli("n1", "posted-price", "node", *rd, "--capacity", "1", "--min-reward", "0wei"))
    ok(cli("r2", "posted-price", "request", *rd, "--max-price", "5000wei"))  # not booked
    d = market.deadlines(r)
    assert "RoundNotSettled" in refused(cli("b", "posted-price", "release", *rd, "--request",
                                            "1"))  # the keeper may still book it
    chain.travel_to(d.register_end)
    ok(cli("a", "market-maker", "propose", write("f", {"allocation": {"0": [0]},
                                                       "prices": {"0": 3000},
                                                       "rewards": {"0": 1000}}), *rd))
    chain.travel_to(d.propose_end)
    ok(cli("keeper", "posted-price", "settle", *rd))
    assert "deposit is burned" in ok(cli("f", "posted-price", "reject", *rd, "--request", "0"))
    assert market.burned() == BOND
    assert "PartVoided" in refused(cli("n1", "posted-price", "accept", *rd, "--node", "0"))
    out = js(cli("b", "posted-price", "release", *rd, "--node", "0", "--json"))  # void: back
    assert (out["returned"], out["amount"]) == (True, BOND)
    out = js(cli("b", "posted-price", "release", *rd, "--request", "1", "--json"))  # unbooked
    assert out["returned"] is True
    assert "NoDeposit" in refused(cli("b", "posted-price", "release", *rd, "--request", "0"))
    chain.travel_to(market.deadlines(r).accept_end)
    out = js(cli("b", "posted-price", "close", *rd, "--proposal", "0", "--json"))
    assert (out["outcome"], out["maker_credit"]) == ("rejected", BOND)  # the maker's bond back
    assert market.balance_of(keys["f"].address) == 0 and market.total_locked() == 0
    assert market.balance_of(keys["a"].address) == BOND
    assert market.balance_of(keys["n1"].address) == 2 * BOND
    assert w3.eth.get_balance(market.address) == market.burned() + sum(
        market.balance_of(x.address) for x in keys.values())


def test_demo_posted_price_prints_both_rounds_and_balances_the_ledger() -> None:
    result = runner.invoke(app, ["demo", "--mechanism", "posted-price"])
    assert result.exit_code == 0, (result.output, result.exception)
    out = result.stdout
    assert "kept_repriced (Δ 1.5 gwei, ∇ 3 gwei)" in out and "merged" in out
    assert "REJECTS" in out and "slashed job (t0, n1)" in out
    assert "MISMATCH" not in out and out.count("  ok") == 7
    assert ("t0 (f) rejected terms within its registered maximum: its deposit 2 gwei is "
            "burned") in out
    assert "locked 0 + burned 2000000000" in out
