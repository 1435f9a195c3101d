"""The participant CLI as a user runs it: ``bridge prover …``, ``bridge requester …``,
``bridge round show`` and ``bridge key new`` through Typer's runner against markets on the
process's embedded eth-tester chain (``--rpc eth-tester``), with the real keeper settling.

Every command is checked for its human summary and for its ``--json`` output against the chain;
every pre-send refusal for its exit code and its one line (problem and fix); a revert that still
happens for its decoded custom error. One test runs the installed ``bridge`` in a subprocess.
Refusal tests share one market (module fixture) and use fresh keys, so they do not interfere.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from eth_abi import encode as abi_encode
from eth_account import Account
from eth_account.signers.local import LocalAccount
from typer.testing import CliRunner, Result
from web3 import Web3

from bridge import sealed
from bridge.chain.connect import embedded_chain
from bridge.chain.deploy import MarketConfig, Mechanism, deploy, deploy_market
from bridge.chain.market import Market
from bridge.chain.tester import TesterChain
from bridge.cli import app
from bridge.client.participant import Participant, event_logs
from bridge.client.salts import SaltStore
from bridge.errors import SettlementRejected
from bridge.keeper.config import KeeperConfig
from bridge.keeper.daemon import Keeper
from bridge.units import format_time, format_wei

GWEI = 10**9
ETHER = 10**18
REFUND_CAP = 200 * GWEI
PERIOD = 3600  # long periods: wall-clock time never closes a round during the tests

runner = CliRunner()


@dataclass
class Deployed:
    """A market on the embedded chain, its owner, keeper key and deployment block."""

    chain: TesterChain
    market: Market
    owner: str
    keeper: LocalAccount
    block: int
    workdir: Path

    @property
    def address(self) -> str:
        return self.market.address

    def fund(self, account: str, wei: int = 10 * ETHER) -> None:
        w3 = self.chain.w3
        tx = w3.eth.send_transaction(
            {"from": self.chain.accounts[1], "to": account, "value": wei})  # type: ignore[typeddict-item]
        w3.eth.wait_for_transaction_receipt(tx)

    def new_key(self) -> LocalAccount:
        acct: LocalAccount = Account.create()
        self.fund(acct.address)
        return acct

    def env(self, key: LocalAccount | None = None, **extra: str | None) -> dict[str, str | None]:
        """The environment of one command: this market, its own salt file, ``key`` if any."""
        env: dict[str, str | None] = {
            "BRIDGE_RPC": "eth-tester", "BRIDGE_MARKET": self.address,
            "BRIDGE_SALTS": str(self.workdir / "sealed.json"), "BRIDGE_HOME": str(self.workdir),
            "BRIDGE_PRIVATE_KEY": key.key.to_0x_hex() if key is not None else None,
            "BRIDGE_KEYSTORE": None, "BRIDGE_KEYSTORE_PASSWORD": None}
        env.update(extra)
        return env

    def travel_to(self, ts: int) -> None:
        """Move chain time to at least ``ts``."""
        self.chain.travel_to(ts)

    def keeper_for(self, database: Path) -> Keeper:
        cfg = KeeperConfig(rpc="eth-tester", market=self.address,
                           database=f"sqlite:///{database}", confirmations=0,
                           start_block=self.block, poll_interval=0.2, receipt_timeout=60,
                           bump_after=20, metrics_port=0).validate()
        keeper = Keeper(cfg, self.keeper, w3=self.chain.w3, use_scheduler=False)
        keeper.startup_checks()
        return keeper


def deploy_test_market(workdir: Path, mechanism: Mechanism = Mechanism.PROOFPHI, *,
                       min_escrow: int = 1, max_bids: int = 8192) -> Deployed:
    chain = embedded_chain()
    owner = chain.accounts[0]
    keeper: LocalAccount = Account.create()
    w3 = chain.w3
    verifier = deploy(w3, "ProofOfWorkVerifier", 4, sender=owner)
    contract = deploy_market(w3, MarketConfig(
        owner=owner, keeper=keeper.address,
        keeper_public_key=keeper._key_obj.public_key.to_bytes(), verifier=verifier.address,
        mechanism=mechanism, commit_period=PERIOD, settle_period=PERIOD, proof_period=PERIOD,
        refund_cap=REFUND_CAP, capacity_interval=1, capacity_factor=4, min_escrow=min_escrow,
        max_bids_per_round=max_bids), owner)
    d = Deployed(chain, Market(w3, contract.address), owner, keeper, int(w3.eth.block_number),
                 workdir)
    d.fund(keeper.address)
    return d


def run(d: Deployed, key: LocalAccount | None, *args: str, **env: str | None) -> Result:
    """``bridge ARGS`` as ``key``'s owner would run it."""
    return runner.invoke(app, list(args), env=d.env(key, **env))


def utc(ts: int, now: int | None = None) -> str:
    """A timestamp as the CLI prints it: UTC, and with ``now`` (the chain's time) how far."""
    if now is not None:
        return format_time(ts, now)
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(ts))


def ok(result: Result) -> str:
    assert result.exit_code == 0, (result.output, result.exception)
    return result.stdout


def as_json(result: Result) -> Any:
    return json.loads(ok(result))


def refused(result: Result, code: int = 1) -> str:
    """The one error line of a refused command."""
    assert result.exit_code == code, (result.output, result.exception)
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("error: ")
    return lines[0]


@pytest.fixture(scope="module")
def mkt(tmp_path_factory: pytest.TempPathFactory) -> Deployed:
    """A Prooφ market shared by the refusal tests (each uses fresh keys)."""
    return deploy_test_market(tmp_path_factory.mktemp("cli-market"))


def participant(d: Deployed, key: LocalAccount) -> Participant:
    """The library the CLI runs, for setting up state quickly."""
    return Participant(d.market, key, salts=SaltStore(d.workdir / "sealed.json"))


def prover_with_capacity(d: Deployed, units: int, deposit: bool = True) -> LocalAccount:
    """A prover staked for ``units`` and (``deposit``) one ask's invalid-order deposit."""
    key = d.new_key()
    p = participant(d, key)
    p.stake(REFUND_CAP * units + (d.market.params.min_escrow if deposit else 0))
    p.set_capacity(units)
    return key


def requester_with_deposit(d: Deployed, wei: int) -> LocalAccount:
    key = d.new_key()
    participant(d, key).deposit(wei)
    return key


# ------------------------------------------------------------------------------ full round
def test_a_whole_round_runs_through_the_cli_with_the_real_keeper(tmp_path: Path) -> None:
    """Stake, capacity, asks, deposits, bids; the keeper settles; jobs, a proof, a missed
    deadline and its slash; status of every side; withdrawals. Numbers checked on chain."""
    d = deploy_test_market(tmp_path)
    m = d.market
    record = tmp_path / "deployment.json"
    record.write_text(json.dumps({"market": d.address, "block": d.block}))
    base = {"BRIDGE_MARKET": str(record)}  # commands name the market by its deployment record

    # prover 1 keeps its key in a keystore made by `bridge key new`
    ks = str(tmp_path / "p1.json")
    created = as_json(run(d, None, "key", "new", "--keystore", ks, "--json",
                          BRIDGE_KEYSTORE_PASSWORD="s3cret"))
    p1_address = created["address"]
    d.fund(p1_address)
    with_keystore = ("--keystore", ks)
    ks_env = {**base, "BRIDGE_KEYSTORE_PASSWORD": "s3cret"}
    # decrypting a keystore costs a second (scrypt): later commands take the key from the env
    p1: LocalAccount = Account.from_key(Account.decrypt(json.loads(Path(ks).read_text()),
                                                        "s3cret"))
    assert p1.address == p1_address
    p1_env = {**base, "BRIDGE_PRIVATE_KEY": p1.key.to_0x_hex()}
    p2, p3 = d.new_key(), d.new_key()
    r1, r2, r3 = d.new_key(), d.new_key(), d.new_key()
    p4 = prover_with_capacity(d, 1)  # set up through the library: its ask sets the price

    # stake, with each amount suffix
    staked = as_json(run(d, None, "prover", "stake", "0.5ether", *with_keystore, "--json",
                         **ks_env))
    assert staked["staked"] == ETHER // 2
    assert staked["collateral"] == m.prover_info(p1_address)["collateral"] == ETHER // 2
    out = ok(run(d, p2, "prover", "stake", "600gwei", **base))
    assert out.strip() == "staked 600 gwei; collateral now 600 gwei"
    ok(run(d, p3, "prover", "stake", "600000000000", **base))
    assert m.prover_info(p3.address)["collateral"] == 600 * GWEI

    assert as_json(run(d, None, "prover", "capacity", "1", "--json", **p1_env)) == {
        "capacity": 1}
    for p in (p2, p3):
        assert ok(run(d, p, "prover", "capacity", "1", **base)).strip() == \
            "capacity set to 1 unit"
    assert m.prover_info(p1_address)["capacity"] == 1

    # asks: the salt record is on disk and reproduces the commitment on chain
    r = m.current_round()
    ask = as_json(run(d, None, "prover", "ask", "--cost", "40gwei", "--json", **p1_env))
    assert (ask["round"], ask["price"], ask["quantity"], ask["side"]) == (r, 40 * GWEI, 1, 1)
    logs = m.contract.events.AskCommitted().get_logs(from_block=d.block)
    assert "0x" + bytes(logs[0]["args"]["commitment"]).hex() == ask["commitment"]
    stored = SaltStore(tmp_path / "sealed.json").find(market=d.address, round=r)
    assert [s.commitment for s in stored] == [ask["commitment"]]
    assert stored[0].tx_hash == ask["tx_hash"] != ""
    again = sealed.commitment(chain_id=m.params.chain_id, market=d.address, round=r,
                              participant=p1_address, side=sealed.Side.ASK, price=40 * GWEI,
                              quantity=1, salt=bytes.fromhex(stored[0].salt[2:]))
    assert "0x" + again.hex() == ask["commitment"]
    out = ok(run(d, p2, "prover", "ask", "--cost", "50gwei", **base))
    assert out.splitlines()[0] == f"ask committed in round {r}: 1 unit at 50 gwei each"
    assert out.splitlines()[1].startswith("commitment 0x")
    ok(run(d, p3, "prover", "ask", "--cost", "60gwei", "--round", str(r), **base))
    participant(d, p4).ask(cost=70 * GWEI)

    # requesters deposit and bid (escrow above value: the difference comes back)
    dep = as_json(run(d, r1, "requester", "deposit", "1ether", "--json", **base))
    assert dep == {"deposited": ETHER, "free": ETHER}
    for q in (r2, r3):
        assert ok(run(d, q, "requester", "deposit", "1ether", **base)).strip() == \
            "deposited 1 ether; free balance 1 ether"
    bid = as_json(run(d, r1, "requester", "bid", "--value", "100gwei", "--size", "1",
                      "--escrow", "120gwei", "--task", "job-a", "--json", **base))
    assert (bid["round"], bid["price"], bid["quantity"], bid["side"]) == (r, 100 * GWEI, 1, 0)
    assert bid["extra"] == "0x" + Web3.keccak(text="job-a").hex().removeprefix("0x")
    assert m.balance_of(r1.address) == ETHER - 120 * GWEI
    out = ok(run(d, r2, "requester", "bid", "--value", "90gwei", "--size", "1", "--escrow",
                 "90gwei", "--task", "job-b", **base))
    assert out.splitlines()[0] == (f"bid committed in round {r}: value 90 gwei for 1 unit, "
                                   "escrow 90 gwei locked")
    ok(run(d, r3, "requester", "bid", "--value", "80gwei", "--size", "1", "--escrow",
           "80gwei", "--task", "job-c", **base))

    # a fourth requester posts a commitment its ciphertext does not open to (not via the CLI)
    r4 = requester_with_deposit(d, ETHER)
    participant(d, r4)._send("commitBid", r, b"\x01" * 32, b"not an envelope", 7 * GWEI,
                             b"\x02" * 32)
    r5 = requester_with_deposit(d, ETHER)
    participant(d, r5).bid(value=85 * GWEI, size=1, escrow=85 * GWEI,
                           task=Web3.keccak(text="job-e"))

    shown = as_json(run(d, None, "round", "show", "--json", **base))
    assert (shown["round"], shown["phase"], shown["bids"], shown["asks"]) == (
        r, "accepting commitments", 5, 4)
    assert shown["closes_at"] == m.params.closes_at(r)
    opens, closes, settle_by, _ = m.round_times(r)
    now = m.chain_time()
    assert ok(run(d, None, "round", "show", **base)).splitlines() == [
        f"round {r} (proofphi): accepting commitments",
        f"commits {utc(opens, now)} to {utc(closes, now)}, settle by {utc(settle_by, now)}",
        "5 sealed bids, 4 sealed asks"]
    assert as_json(run(d, None, "round", "show", str(r + 1), "--json", **base))["phase"] == \
        "not open yet"
    line = refused(run(d, None, "prover", "prove", str(r), "0", **p1_env))
    assert line == (f"error: round {r} is not settled: it has no jobs yet "
                    f"(see `bridge round show {r}`)")

    # the round closes; the real keeper opens, clears, audits and settles it
    d.travel_to(m.params.closes_at(r) + 1)
    keeper = d.keeper_for(tmp_path / "keeper.sqlite")
    try:
        keeper.run_until_idle()
        shown = as_json(run(d, None, "round", "show", str(r), "--json", **base))
        # Prooφ: three trades at the fourth fee (80 gwei); asks paid the fourth cost (70)
        assert shown["phase"] == "settled"
        assert shown["winners"] == [{"index": 0, "charge": 80 * GWEI},
                                    {"index": 1, "charge": 80 * GWEI},
                                    {"index": 4, "charge": 80 * GWEI}]
        assert [(j["bid"], j["prover"], j["units"], j["payment"], j["state"])
                for j in shown["jobs"]] == [(0, p1_address, 1, 70 * GWEI, "open"),
                                            (1, p2.address, 1, 70 * GWEI, "open"),
                                            (4, p3.address, 1, 70 * GWEI, "open")]
        out = ok(run(d, None, "round", "show", str(r), **base))
        assert f"round {r} (proofphi): settled" in out
        assert ("3 winning bids, charged 80 gwei; provers paid 70 gwei per unit\n"
                "240 gwei charged, 210 gwei paid to provers, 30 gwei margin\n") in out
        assert (shown["total_charged"], shown["total_paid"], shown["unit_payments"]) == (
            240 * GWEI, 210 * GWEI, [70 * GWEI])

        jobs = as_json(run(d, None, "prover", "jobs", "--json", **p1_env))["jobs"]
        assert len(jobs) == 1
        job = jobs[0]
        deadline = m.round_times(r)[3]
        assert (job["round"], job["bid"], job["payment"], job["deadline"], job["state"]) == (
            r, 0, 70 * GWEI, deadline, "open")
        assert job["requester"] == r1.address
        now = m.chain_time()
        out = ok(run(d, None, "prover", "jobs", **p1_env))
        assert out.strip() == (f"round {r} bid 0 (job 0): 1 unit, pays 70 gwei, "
                               f"prove by {utc(deadline, now)} — open")
        assert ok(run(d, p4, "prover", "jobs", **base)).strip() == "no jobs awaiting proof"

        # refused: a job that is not yours
        line = refused(run(d, p2, "prover", "prove", str(r), "0", **base))
        assert line == (f"error: no job of bid 0 in round {r} is assigned to {p2.address}: "
                        "see `bridge prover jobs`")

        # a proof the verifier rejects: the revert is decoded and printed with a hint
        task = Web3.keccak(text="job-a")
        bad = next(n.to_bytes(32, "big") for n in range(64)
                   if Web3.keccak(abi_encode(["bytes32", "address", "bytes32"],
                                             [task, p1_address, n.to_bytes(32, "big")]))[0] >= 16)
        line = refused(run(d, None, "prover", "prove", str(r), "0", "--proof", "0x" + bad.hex(),
                           **p1_env))
        assert line == (f"error: ProofRejected(round={r}, jobIndex=0): the verifier rejected the "
                        "proof: check it, or let the client compute a proof of work (omit "
                        "--proof)")
        line = refused(run(d, None, "prover", "prove", str(r), "0", "--proof", "0xzz", **p1_env))
        assert line == ("error: --proof '0xzz' is not hex bytes: write 0x followed by an even "
                        "number of hex digits")

        proved = as_json(run(d, None, "prover", "prove", str(r), "0", "--json", **p1_env))
        assert proved["proved"][0]["job"] == 0 and proved["proved"][0]["payment"] == 70 * GWEI
        assert m.is_resolved(r, 0)
        assert ok(run(d, None, "prover", "jobs", **p1_env)).strip() == "no jobs awaiting proof"
        done = as_json(run(d, None, "prover", "jobs", "--all", "--json", **p1_env))["jobs"]
        assert [(j["round"], j["job"], j["state"]) for j in done] == [(r, 0, "proven")]
        line = refused(run(d, None, "prover", "prove", str(r), "0", **p1_env))
        assert line == (f"error: job 0 of round {r} is already proven or slashed: nothing to do "
                        "(see `bridge prover jobs --all`)")
        status = as_json(run(d, None, "prover", "status", *with_keystore, "--json", **ks_env))
        collateral = ETHER // 2 + 70 * GWEI
        assert status == {"address": p1_address, "collateral": collateral, "capacity": 1,
                          "ref_capacity": 1, "capacity_round_plus_one": r + 1,
                          "last_ask_round_plus_one": r + 1, "outstanding_units": 0,
                          "withdrawable": collateral - REFUND_CAP, "invalid_asks": []}
        out = ok(run(d, p2, "prover", "status", **base)).splitlines()
        assert out == [f"prover {p2.address}",
                       "collateral 600 gwei, capacity 1 unit, 1 unit awaiting proof",
                       "withdrawable 200 gwei"]

        out = ok(run(d, p3, "prover", "prove", str(r), "4", **base))
        assert out.strip() == f"proved job 2 of round {r}: 70 gwei now withdrawable"
        assert m.prover_info(p3.address)["collateral"] == 670 * GWEI

        # prover 2 misses its deadline: too late to prove, the keeper slashes
        d.travel_to(deadline + 1)
        jobs = as_json(run(d, None, "round", "show", str(r), "--json", **base))["jobs"]
        assert [j["state"] for j in jobs] == ["proven", "missed (slashable)", "proven"]
        line = refused(run(d, p2, "prover", "prove", str(r), "1", **base))
        assert line == (f"error: the proof deadline of job 1 of round {r} passed "
                        f"({utc(deadline)}): it can only be slashed now")
        keeper.run_until_idle()
    finally:
        keeper.stop()
    assert m.is_resolved(r, 1)
    jobs = as_json(run(d, None, "round", "show", str(r), "--json", **base))["jobs"]
    assert [j["state"] for j in jobs] == ["proven", "slashed", "proven"]
    assert ok(run(d, p2, "prover", "jobs", "--all", **base)).strip().endswith("— slashed")
    assert (jobs[1]["refund"], jobs[1]["compensation"]) == (80 * GWEI, REFUND_CAP)
    out = ok(run(d, None, "round", "show", str(r), **base)).splitlines()
    assert out[-3:] == [
        f"  job 0: bid 0 → {p1_address} 1 unit, pays 70 gwei — proven",
        f"  job 1: bid 1 → {p2.address} 1 unit, pays 70 gwei — slashed (requester refunded "
        "80 gwei + 200 gwei compensation)",
        f"  job 2: bid 4 → {p3.address} 1 unit, pays 70 gwei — proven"]

    # requesters see charges, refunds and the slash
    st1 = as_json(run(d, r1, "requester", "status", "--json", **base))
    assert st1["free"] == m.balance_of(r1.address) == ETHER - 80 * GWEI
    assert [(b["round"], b["index"], b["escrow"], b["charge"], b["refund"]) for b in st1["bids"]
            ] == [(r, 0, 120 * GWEI, 80 * GWEI, 40 * GWEI)]
    assert st1["slashes"] == []
    st2 = as_json(run(d, r2, "requester", "status", "--json", **base))
    assert [(s["refund"], s["compensation"]) for s in st2["slashes"]] == [
        (80 * GWEI, REFUND_CAP)]
    assert st2["free"] == m.balance_of(r2.address) == ETHER + REFUND_CAP
    out = ok(run(d, r2, "requester", "status", **base)).splitlines()
    assert out[1] == (f"round {r} bid 1: escrow 90 gwei — won, charged 80 gwei, refunded 10 gwei"
                      "; slashed: job 1's prover missed its deadline; you got the charge back "
                      "(80 gwei) plus 200 gwei compensation from its collateral")
    assert out[2] == (f"round {r} job 1: prover missed the deadline; refunded 80 gwei + "
                      "compensation 200 gwei")
    st4 = as_json(run(d, r4, "requester", "status", "--json", **base))
    assert [(b["index"], b["valid"], b["charge"], b["value"]) for b in st4["bids"]] == [
        (3, False, 0, None)]
    assert st4["free"] == ETHER - 1  # minEscrow (1 wei here) paid the keeper's settlement
    assert ok(run(d, r4, "requester", "status", **base)).splitlines()[1] == (
        f"round {r} bid 3: escrow 7 gwei — settled as invalid, 6.999999999 gwei of the escrow "
        "returned (1 wei forfeited to the keeper): your bid was invalid: undecryptable — the "
        "keeper's evidence confirms it")
    assert [(b["valid"], b["value"]) for b in st1["bids"]] == [(True, 100 * GWEI)]
    # the proof of a proof-of-work bid: the nonce, checked here, written as request --out does
    got = as_json(run(d, r1, "requester", "proof", str(r), "0", "--out",
                      str(tmp_path / "pow"), "--json", **base))
    (pow_proof,) = got["proofs"]
    assert (pow_proof["job"], pow_proof["kind"], pow_proof["verified"]) == (0, "pow", True)
    assert (tmp_path / "pow" / "proof.bin").read_bytes() == bytes.fromhex(pow_proof["nonce"][2:])
    # each bid's whole life: proven (where the proof is, how to fetch and check it), slashed
    assert [(b["stage"], [j["state"] for j in b["jobs"]]) for b in st1["bids"]] == [
        ("proven", ["proven"])]
    assert [(b["stage"], [j["state"] for j in b["jobs"]]) for b in st2["bids"]] == [
        ("slashed", ["slashed"])]
    proven = ok(run(d, r1, "requester", "status", **base)).splitlines()[1]
    assert proven.startswith(f"round {r} bid 0: escrow 120 gwei — won, charged 80 gwei, "
                             f"refunded 40 gwei; proven: job 0 by {p1_address} (tx 0x"), proven
    assert proven.endswith(f"`bridge requester proof {r} 0 --out DIR` checks the nonce and "
                           "writes it as DIR/proof.bin"), proven
    out = ok(run(d, r3, "requester", "status", **base)).splitlines()
    assert out == [f"requester {r3.address}: free balance 1 ether",
                   f"round {r} bid 2: escrow 80 gwei — not allocated, escrow 80 gwei returned: "
                   "outbid: higher bids took the units sold this round"]

    # withdrawals: the prover takes its free collateral, requesters their balances
    w3 = d.chain.w3
    before = w3.eth.get_balance(p1_address)
    got = as_json(run(d, None, "prover", "withdraw", "--json", **p1_env))
    assert got == {"withdrawn": collateral - REFUND_CAP, "collateral": collateral - REFUND_CAP,
                   "balance": 0}
    assert m.prover_info(p1_address)["collateral"] == REFUND_CAP
    assert 0 < w3.eth.get_balance(p1_address) - before <= collateral - REFUND_CAP
    out = ok(run(d, r1, "requester", "withdraw", "1gwei", **base))
    assert out.strip() == "withdrew 1 gwei"
    got = as_json(run(d, r1, "requester", "withdraw", "--json", **base))
    assert got == {"withdrawn": ETHER - 81 * GWEI}
    assert m.balance_of(r1.address) == 0


# -------------------------------------------------------------------------------- refusals
def test_bid_for_a_round_that_is_not_open_is_refused(mkt: Deployed) -> None:
    q = requester_with_deposit(mkt, ETHER)
    r = mkt.market.current_round()
    line = refused(run(mkt, q, "requester", "bid", "--value", "1gwei", "--size", "1",
                       "--escrow", "1gwei", "--task", "t", "--round", str(r + 5)))
    assert line == (f"error: round {r + 5} is not accepting commitments (the current round is "
                    f"{r}): pass --round {r} or omit --round")
    line = refused(run(mkt, prover_with_capacity(mkt, 1), "prover", "ask", "--cost", "1gwei",
                       "--round", str(r + 1)))
    assert f"pass --round {r} or omit --round" in line


def test_escrow_above_free_balance_is_refused_with_the_deposit_to_make(mkt: Deployed) -> None:
    q = requester_with_deposit(mkt, 3 * GWEI)
    line = refused(run(mkt, q, "requester", "bid", "--value", "5gwei", "--size", "1",
                       "--escrow", "10gwei", "--task", "t"))
    assert line == ("error: escrow 10 gwei exceeds your free balance 3 gwei: pass --top-up to "
                    "deposit the missing 7 gwei with the bid, or run `bridge requester deposit "
                    "7000000000wei` first")
    line = refused(run(mkt, q, "requester", "bid", "--value", "5gwei", "--size", "1",
                       "--escrow", "4gwei", "--task", "t"))
    assert "escrow 4 gwei is below the sealed value 5 gwei" in line
    assert mkt.market.balance_of(q.address) == 3 * GWEI


def test_bid_with_top_up_deposits_the_missing_escrow_in_the_same_transaction(
        mkt: Deployed) -> None:
    """--top-up: one transaction carries the missing escrow as value (Deposited + BidCommitted)."""
    q = requester_with_deposit(mkt, 3 * GWEI)
    block = mkt.chain.w3.eth.block_number
    got = as_json(run(mkt, q, "requester", "bid", "--value", "5gwei", "--size", "1",
                      "--escrow", "10gwei", "--task", "t", "--top-up", "--json"))
    assert got["escrow"] == 10 * GWEI
    assert mkt.chain.w3.eth.block_number == block + 1, "one transaction"
    tx = mkt.chain.w3.eth.get_transaction(got["tx_hash"])
    assert tx["value"] == 7 * GWEI
    assert mkt.market.balance_of(q.address) == 0
    deposited = mkt.market.contract.events.Deposited().get_logs(from_block=block + 1)
    assert [(e["args"]["account"], e["args"]["amount"]) for e in deposited] == [
        (q.address, 7 * GWEI)]


def test_prover_exit_leaves_in_one_transaction(mkt: Deployed) -> None:
    key = prover_with_capacity(mkt, 2, deposit=False)
    participant(mkt, key).stake(GWEI)
    line = refused(run(mkt, key, "prover", "withdraw", "2gwei"))
    assert "`bridge prover exit`" in line
    with pytest.raises(SettlementRejected) as err:  # past the client's check: the contract's
        participant(mkt, key)._send("withdrawCollateral", 2 * GWEI)
    assert (err.value.name, err.value.args_["capacity"], err.value.args_["withdrawable"]) == (
        "CollateralBacksCapacity", 2, 2 * REFUND_CAP + GWEI)
    block = mkt.chain.w3.eth.block_number
    got = as_json(run(mkt, key, "prover", "exit", "--json"))
    assert got == {"withdrawn": 2 * REFUND_CAP + GWEI, "collateral": 0}
    assert mkt.chain.w3.eth.block_number == block + 1, "one transaction"
    assert mkt.market.prover_info(key.address)["capacity"] == 0


def test_capacity_without_collateral_is_refused_with_the_stake_to_add(mkt: Deployed) -> None:
    key = mkt.new_key()
    participant(mkt, key).stake(REFUND_CAP)
    line = refused(run(mkt, key, "prover", "capacity", "3"))
    assert line == (f"error: capacity 3 needs {format_wei(3 * REFUND_CAP)} of collateral (the "
                    f"refund cap {format_wei(REFUND_CAP)} per unit: what a requester is refunded "
                    f"from it if a proof is missed), you have {format_wei(REFUND_CAP)}: run "
                    f"`bridge prover stake {2 * REFUND_CAP}wei` first")
    line = refused(run(mkt, mkt.new_key(), "prover", "ask", "--cost", "1gwei"))
    assert line == ("error: you have no declared capacity: run `bridge prover stake AMOUNT` and "
                    "`bridge prover capacity UNITS` first")


def test_ask_above_capacity_or_not_whole_capacity_in_proofphi_is_refused(
        mkt: Deployed) -> None:
    key = prover_with_capacity(mkt, 2)
    asks_before = mkt.market.round_info(mkt.market.current_round()).ask_count
    line = refused(run(mkt, key, "prover", "ask", "--cost", "1gwei", "--units", "3"))
    assert line == ("error: 3 units exceed your declared capacity 2: ask for at most your "
                    "capacity or raise it with `bridge prover capacity`")
    line = refused(run(mkt, key, "prover", "ask", "--cost", "1gwei", "--units", "1"))
    assert line == ("error: this is a Prooφ market: an ask offers its whole capacity (2); "
                    "omit --units")
    assert mkt.market.round_info(mkt.market.current_round()).ask_count == asks_before


def test_proofphi_bid_of_size_other_than_one_is_refused(mkt: Deployed) -> None:
    q = requester_with_deposit(mkt, ETHER)
    line = refused(run(mkt, q, "requester", "bid", "--value", "5gwei", "--size", "2",
                       "--escrow", "5gwei", "--task", "t"))
    assert line == ("error: this is a Prooφ market: every task has size 1 (got 2); split the "
                    "job into tasks")


def test_second_ask_in_a_round_is_refused(mkt: Deployed) -> None:
    key = prover_with_capacity(mkt, 1)
    r = mkt.market.current_round()
    ok(run(mkt, key, "prover", "ask", "--cost", "3gwei"))
    line = refused(run(mkt, key, "prover", "ask", "--cost", "2gwei"))
    assert line == f"error: you already committed an ask in round {r}: one ask per round"
    # the pending ask locks collateral until its round is settled
    participant(mkt, key).stake(GWEI)
    line = refused(run(mkt, key, "prover", "withdraw", "1gwei"))
    assert line == (f"error: your ask in round {r} awaits settlement, which locks your "
                    "collateral: withdraw once the keeper settles it (at the latest "
                    f"{utc(mkt.market.params.settle_deadline(r))})")
    assert as_json(run(mkt, key, "prover", "status", "--json"))["withdrawable"] == 0


def test_capacity_change_and_a_second_pending_ask_are_refused_with_the_fix(
        tmp_path: Path) -> None:
    """While an ask may still be settled capacity is frozen, and a new ask needs collateral for
    it too; the minimum escrow and a full round are refused before sending."""
    d = deploy_test_market(tmp_path, min_escrow=2 * GWEI, max_bids=1)
    key = prover_with_capacity(d, 2)
    r = d.market.current_round()
    ok(run(d, key, "prover", "ask", "--cost", "3gwei"))
    line = refused(run(d, key, "prover", "capacity", "1"))
    assert line == (f"error: your ask in round {r} may still be settled: capacity cannot "
                    "change until it is (or its settle deadline passes)")
    d.travel_to(d.market.params.closes_at(r) + 1)  # round r closed, not settled
    line = refused(run(d, key, "prover", "ask", "--cost", "3gwei"))
    need, have = 4 * REFUND_CAP + 4 * GWEI, 2 * REFUND_CAP + 2 * GWEI
    assert line == (f"error: this ask needs {format_wei(need)} of collateral (capacity 2 and "
                    "1 earlier ask that may still be settled, 0 outstanding units, the "
                    f"invalid-order deposit 2 gwei per ask), you have {format_wei(have)}: run "
                    f"`bridge prover stake {need - have}wei` or wait for the earlier round to "
                    "settle")
    participant(d, key).stake(need - have)
    ok(run(d, key, "prover", "ask", "--cost", "3gwei"))
    q = requester_with_deposit(d, ETHER)
    line = refused(run(d, q, "requester", "bid", "--value", "1gwei", "--size", "1",
                       "--escrow", "1gwei", "--task", "t"))
    assert line == ("error: escrow 1 gwei is below this market's minimum 2 gwei: lock at least "
                    "2 gwei (2000000000 wei)")
    ok(run(d, q, "requester", "bid", "--value", "2gwei", "--size", "1", "--escrow", "2gwei",
           "--task", "t"))
    line = refused(run(d, q, "requester", "bid", "--value", "2gwei", "--size", "1",
                       "--escrow", "2gwei", "--task", "t"))
    assert line == (f"error: round {r + 1} is full: it holds the maximum 1 bids; commit in the "
                    "next round")


def test_an_empty_round_the_keeper_finalized_is_not_shown_as_missed(tmp_path: Path) -> None:
    """No commitments: the keeper leaves the round alone on purpose (nothing to settle, the
    chain keeps it OPEN), so `round show` must not call it voidable or missed once its deadline
    has passed; a round with a commitment and no settlement still is."""
    from bridge.chain.market import RoundStatus

    d = deploy_test_market(tmp_path)
    r = d.market.current_round()
    keeper = d.keeper_for(tmp_path / "keeper.sqlite")
    keeper.run_until_idle()
    d.travel_to(d.market.params.settle_deadline(r) + 1)
    keeper.run_until_idle()
    assert d.market.round_info(r).status is RoundStatus.OPEN
    shown = as_json(run(d, None, "round", "show", str(r), "--json"))
    assert shown["phase"] == "closed empty (no commitments: nothing to settle)"
    q = requester_with_deposit(d, ETHER)
    r2 = d.market.current_round()
    ok(run(d, q, "requester", "bid", "--value", "5gwei", "--size", "1", "--escrow", "7gwei",
           "--task", "t"))
    d.travel_to(d.market.params.settle_deadline(r2) + 1)
    assert as_json(run(d, None, "round", "show", str(r2), "--json"))["phase"] == \
        "voidable (keeper missed it)"


def test_anyone_voids_an_unsettled_round_with_round_void(tmp_path: Path) -> None:
    d = deploy_test_market(tmp_path)
    q = requester_with_deposit(d, ETHER)
    r = d.market.current_round()
    ok(run(d, q, "requester", "bid", "--value", "5gwei", "--size", "1", "--escrow", "7gwei",
           "--task", "t"))
    anyone = d.new_key()
    deadline = d.market.params.settle_deadline(r)
    line = refused(run(d, anyone, "round", "void", str(r)))
    assert line == (f"error: round {r} may still be settled by the keeper until {utc(deadline)}: "
                    "void it after that")
    d.travel_to(deadline)
    out = as_json(run(d, anyone, "round", "void", str(r), "--json"))
    assert out == {"round": r, "transactions": 1, "unwound_pages": 0, "bids_returned": 1,
                   "escrow_returned": 7 * GWEI}
    assert d.market.balance_of(q.address) == ETHER
    assert refused(run(d, anyone, "round", "void", str(r))) == (
        f"error: round {r} is already voided: nothing to void")


def test_withdrawing_more_than_is_free_is_refused(mkt: Deployed) -> None:
    q = requester_with_deposit(mkt, GWEI)
    line = refused(run(mkt, q, "requester", "withdraw", "2gwei"))
    assert line == ("error: free balance is 1 gwei, cannot withdraw 2 gwei: "
                    "withdraw at most the free balance (escrow of open bids is locked until "
                    "settlement)")
    key = prover_with_capacity(mkt, 1, deposit=False)
    participant(mkt, key).stake(GWEI)
    line = refused(run(mkt, key, "prover", "withdraw", "2gwei"))
    assert line == (f"error: only 1 gwei of collateral is free ({format_wei(REFUND_CAP)} backs "
                    "capacity and open jobs): lower capacity to 0 and wait for your jobs to "
                    "finish, or leave in one call with `bridge prover exit`")
    assert refused(run(mkt, mkt.new_key(), "requester", "withdraw")) == (
        "error: nothing to withdraw: free balance is 0 wei")


def test_missing_key_and_wrong_keystore_password_exit_2(mkt: Deployed, tmp_path: Path) -> None:
    line = refused(run(mkt, None, "requester", "deposit", "1gwei"), code=2)
    assert line == ("error: no key: pass --keystore FILE (password in BRIDGE_KEYSTORE_PASSWORD) "
                    "or set BRIDGE_PRIVATE_KEY to a 0x-prefixed private key")
    ks = str(tmp_path / "k.json")
    ok(run(mkt, None, "key", "new", "--keystore", ks, BRIDGE_KEYSTORE_PASSWORD="right"))
    line = refused(run(mkt, None, "prover", "stake", "1gwei", "--keystore", ks,
                       BRIDGE_KEYSTORE_PASSWORD="wrong"), code=2)
    assert line == (f"error: wrong password for keystore {ks!r} (from BRIDGE_KEYSTORE_PASSWORD "
                    "or the prompt)")
    line = refused(run(mkt, None, "prover", "stake", "1gwei", "--keystore", ks), code=2)
    assert line == f"error: keystore {ks!r} needs a password: set BRIDGE_KEYSTORE_PASSWORD"
    line = refused(run(mkt, None, "key", "new", "--keystore", ks,
                       BRIDGE_KEYSTORE_PASSWORD="x"), code=2)
    assert line == f"error: {ks!r} exists already: choose another file (nothing overwritten)"


def test_bad_amount_names_the_units_to_use(mkt: Deployed) -> None:
    key = mkt.new_key()
    line = refused(run(mkt, key, "requester", "deposit", "12 btc"))
    assert line == "error: AMOUNT '12 btc': unknown unit 'btc'; use wei, gwei or ether"
    line = refused(run(mkt, key, "requester", "bid", "--value", "ten", "--size", "1",
                       "--escrow", "1gwei", "--task", "t"))
    assert line == ("error: --value 'ten' is not an amount: write e.g. 1000, 20gwei or "
                    "0.5ether")


def test_market_without_code_is_refused(mkt: Deployed) -> None:
    key = mkt.new_key()
    line = refused(run(mkt, key, "requester", "deposit", "1gwei", BRIDGE_MARKET=key.address))
    assert line == (f"error: no contract code at {key.address} on chain "
                    f"{mkt.chain.w3.eth.chain_id}: wrong --market address or wrong chain")


def test_amount_suffixes_reach_the_chain_exactly(mkt: Deployed) -> None:
    key = mkt.new_key()
    total = 0
    for text, wei in (("7wei", 7), ("3 gwei", 3 * GWEI), ("0.25ether", ETHER // 4),
                      ("1_000", 1000), ("1.5gwei", 1_500_000_000)):
        got = as_json(run(mkt, key, "requester", "deposit", text, "--json"))
        total += wei
        assert got == {"deposited": wei, "free": total}
    assert mkt.market.balance_of(key.address) == total


# ------------------------------------------------------------------ reverts that still happen
def test_salt_record_is_on_disk_before_a_commit_that_reverts(
        mkt: Deployed, monkeypatch: pytest.MonkeyPatch) -> None:
    """The owner pauses commits between the client's pre-check and its transaction (a race the
    client cannot prevent): the commit reverts, the decoded error is printed, and the sealed
    values with their salt are already on disk."""
    q = requester_with_deposit(mkt, ETHER)
    contract = mkt.market.contract
    real_send = Participant._send

    def owner_pauses_first(self: Participant, fn: str, *args: Any, value: int = 0) -> Any:
        if fn == "commitBid":
            records = SaltStore(mkt.workdir / "sealed.json").find(
                market=mkt.address, participant=self.address)
            assert [r.commitment for r in records] == ["0x" + bytes(args[1]).hex()]
            tx = contract.functions.setCommitsPaused(True).transact({"from": mkt.owner})
            mkt.chain.w3.eth.wait_for_transaction_receipt(tx)
        return real_send(self, fn, *args, value=value)

    monkeypatch.setattr(Participant, "_send", owner_pauses_first)
    try:
        line = refused(run(mkt, q, "requester", "bid", "--value", "5gwei", "--size", "1",
                           "--escrow", "5gwei", "--task", "t"))
        assert line.startswith("error: CommitsPaused()")
        records = SaltStore(mkt.workdir / "sealed.json").find(market=mkt.address,
                                                              participant=q.address)
        assert len(records) == 1 and records[0].tx_hash == ""
        assert (records[0].price, records[0].quantity) == (5 * GWEI, 1)
        # with the pause visible, the pre-check refuses before sealing anything
        monkeypatch.setattr(Participant, "_send", real_send)
        line = refused(run(mkt, q, "requester", "bid", "--value", "5gwei", "--size", "1",
                           "--escrow", "5gwei", "--task", "t"))
        assert line == ("error: the market owner paused new commitments: try again later "
                        "(withdrawals still work)")
    finally:
        tx = contract.functions.setCommitsPaused(False).transact({"from": mkt.owner})
        mkt.chain.w3.eth.wait_for_transaction_receipt(tx)
    assert mkt.market.balance_of(q.address) == ETHER


def test_capacity_pacing_is_refused_before_sending(mkt: Deployed) -> None:
    key = prover_with_capacity(mkt, 2)
    participant(mkt, key).stake(100 * REFUND_CAP)
    r = mkt.market.current_round()
    line = refused(run(mkt, key, "prover", "capacity", "3"))
    assert line == (f"error: capacity changed in round {r}: it may change again from round "
                    f"{r + 1} (now {r}); 0 to exit is always allowed")
    mkt.travel_to(mkt.market.params.closes_at(r))
    line = refused(run(mkt, key, "prover", "capacity", "9"))
    assert line == ("error: capacity may change at most 4-fold per step: from 2 choose 1 to 8 "
                    "(or 0 to exit)")
    assert as_json(run(mkt, key, "prover", "capacity", "8", "--json")) == {"capacity": 8}


def test_revert_not_covered_by_a_pre_check_is_decoded(mkt: Deployed) -> None:
    """Past the client's checks (a direct call), the contract's error comes back by name."""
    key = prover_with_capacity(mkt, 1, deposit=False)
    with pytest.raises(SettlementRejected) as err:
        participant(mkt, key)._send("withdrawCollateral", 2 * REFUND_CAP)
    assert err.value.name == "InsufficientCollateral"
    assert err.value.args_["prover"].lower() == key.address.lower()
    assert err.value.args_["collateral"] == REFUND_CAP
    with pytest.raises(SettlementRejected) as err:
        participant(mkt, key)._send("setCapacity", 9)
    assert (err.value.name, err.value.args_["required"]) == ("InsufficientCollateral",
                                                             9 * REFUND_CAP)


def test_connection_mistakes_name_the_setting_to_fix(mkt: Deployed, tmp_path: Path) -> None:
    key = mkt.new_key()
    assert refused(run(mkt, key, "requester", "deposit", "1gwei", "--market", "0x1234"),
                   code=2) == ("error: --market '0x1234' is not an address (0x and 40 hex "
                               "digits): pass the market's address or its deployment file")
    assert refused(run(mkt, key, "requester", "deposit", "1gwei", "--market", "nope.json"),
                   code=2).startswith("error: --market file 'nope.json' does not exist")
    assert refused(run(mkt, key, "requester", "deposit", "1gwei", "--rpc", "ws://x"),
                   code=2).startswith("error: --rpc 'ws://x' is not an http(s) URL")
    assert refused(run(mkt, key, "requester", "deposit", "1gwei", "--rpc",
                       "http://127.0.0.1:9")) == (
        "error: cannot reach a node at http://127.0.0.1:9: start it or fix --rpc / BRIDGE_RPC")
    assert refused(run(mkt, key, "key", "new", "--keystore", str(tmp_path / "no" / "k.json"),
                       BRIDGE_KEYSTORE_PASSWORD="x"), code=2).startswith(
        "error: cannot write keystore")


def test_dara_ask_may_offer_part_of_its_capacity(tmp_path: Path) -> None:
    d = deploy_test_market(tmp_path, Mechanism.DARA)
    key = prover_with_capacity(d, 3)
    ask = as_json(run(d, key, "prover", "ask", "--cost", "2gwei", "--units", "2", "--json"))
    assert (ask["quantity"], ask["price"]) == (2, 2 * GWEI)
    line = refused(run(d, key, "prover", "ask", "--cost", "2gwei", "--units", "4"))
    assert "4 units exceed your declared capacity 3" in line
    q = requester_with_deposit(d, ETHER)
    bid = as_json(run(d, q, "requester", "bid", "--value", "9gwei", "--size", "3", "--escrow",
                      "10gwei", "--task", "0x" + "ab" * 32, "--json"))
    assert (bid["quantity"], bid["task"], bid["escrow"]) == (3, "0x" + "ab" * 32, 10 * GWEI)
    # a market named by address: the log search starts at its deployment block, found on chain
    status = as_json(run(d, q, "requester", "status", "--json"))
    assert [(b["index"], b["escrow"], b["stage"]) for b in status["bids"]] == [
        (0, 10 * GWEI, "sealed")]
    assert status["bids"][0]["status"].startswith("sealed; the round takes bids until ")
    assert status["free"] == ETHER - 10 * GWEI
    # logs are read in bounded block ranges: any range size gives the same events
    everything = event_logs(d.market, "BidCommitted", d.block)
    assert [e["args"]["commitment"] for e in event_logs(d.market, "BidCommitted", d.block,
                                                        step=2)] == \
        [e["args"]["commitment"] for e in everything] != []


def test_nothing_is_committed_when_the_salt_record_cannot_be_kept(
        mkt: Deployed, tmp_path: Path) -> None:
    q = requester_with_deposit(mkt, ETHER)
    bids_before = mkt.market.round_info(mkt.market.current_round()).bid_count
    blocker = tmp_path / "file"
    blocker.write_text("")
    bid = ("requester", "bid", "--value", "5gwei", "--size", "1", "--escrow", "5gwei",
           "--task", "t")
    line = refused(run(mkt, q, *bid, "--salts", str(blocker / "sealed.json")), code=2)
    assert line.startswith(f"error: cannot write the sealed-bid record "
                           f"{str(blocker / 'sealed.json')!r}")
    assert line.endswith("pass --salts FILE in a writable directory")
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    line = refused(run(mkt, q, *bid, "--salts", str(broken)), code=2)
    assert line.startswith(f"error: sealed-bid record {str(broken)!r} cannot be read")
    assert line.endswith("move it aside (it may hold salts you need) or pass --salts FILE")
    assert broken.read_text() == "{not json"
    assert mkt.market.round_info(mkt.market.current_round()).bid_count == bids_before
    assert mkt.market.balance_of(q.address) == ETHER


@pytest.mark.realtime  # the installed command in a subprocess
def test_the_installed_command_runs_offline_checks_in_its_own_process(tmp_path: Path) -> None:
    """``bridge`` as a user's shell runs it: a new key, and input mistakes caught before any
    node is contacted (``--rpc`` points at nothing)."""
    exe = Path(sys.executable).with_name("bridge")
    env = {k: v for k, v in os.environ.items() if not k.startswith("BRIDGE_")}
    env.update({"BRIDGE_KEYSTORE_PASSWORD": "pw", "BRIDGE_RPC": "http://127.0.0.1:9",
                "BRIDGE_MARKET": "0x" + "11" * 20})

    def bridge(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(exe), *args], env=env, capture_output=True, text=True,
                              timeout=120, check=False)

    ks = tmp_path / "k.json"
    done = bridge("key", "new", "--keystore", str(ks), "--json")
    assert done.returncode == 0, done.stderr
    address = json.loads(done.stdout)["address"]
    assert Account.from_key(Account.decrypt(json.loads(ks.read_text()), "pw")).address == address
    assert ks.stat().st_mode & 0o777 == 0o600
    bad = bridge("requester", "deposit", "12 btc", "--keystore", str(ks))
    assert (bad.returncode, bad.stdout) == (1, "")
    assert bad.stderr == "error: AMOUNT '12 btc': unknown unit 'btc'; use wei, gwei or ether\n"
    far = bridge("requester", "deposit", "12gwei", "--keystore", str(ks))
    assert (far.returncode, far.stderr) == (
        1, "error: cannot reach a node at http://127.0.0.1:9: start it or fix --rpc / "
           "BRIDGE_RPC\n")


def test_a_proofphi_bid_needs_no_size(mkt: Deployed) -> None:
    """Issue 22 item 10: every Prooφ task is one unit, so `requester bid` without --size bids
    one unit instead of demanding the flag."""
    q = requester_with_deposit(mkt, ETHER)
    bid = as_json(run(mkt, q, "requester", "bid", "--value", "5gwei", "--escrow", "5gwei",
                      "--task", "no size", "--json"))
    assert (bid["quantity"], bid["price"]) == (1, 5 * GWEI)
