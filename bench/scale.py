"""Benchmark: 5,000 bids and 500 asks settled in pages, and a round of that size voided, on anvil.

For each mechanism a market is deployed on anvil (which applies EIP-7623's calldata floor), 500
requesters (ten bids each, round-robin, so a settlement page's requesters are distinct and cold)
and 500 provers commit sealed bids and asks (raw transactions signed here, sent without waiting),
the round is closed, and the real
keeper (in-process, one confirmation) decrypts, clears, audits and sends the settlement pages.
A second round of the same size is left to its deadline and voided page by page by the keeper.
Commitments are mined as they arrive; settlement and void run with a block a second.

Measured per mechanism (``bench/results/scale.json``, keys as the issue names them): settle
transactions, the largest settle transaction's gas (anvil's ``gasUsed``, floor included) and
encoded bytes (``eth_getRawTransactionByHash``), settle gas per bid (all settle transactions over
the bids), the same for the void, and close → final latency (from the block that closes the
round to the last page's receipt). Every transaction is checked against the limits anvil does not
enforce: gas limit ≤ 2²⁴ and encoded size ≤ 128 KiB.

    .venv/bin/python bench/scale.py [--bids 5000] [--asks 500] [--mechanisms dara,proofphi]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from hexbytes import HexBytes
from web3 import HTTPProvider, Web3

from bridge import sealed
from bridge.chain.anvil import ANVIL, DEV_KEYS, Anvil
from bridge.chain.deployment import KeeperIdentity, NetworkConfig, VerifierSpec, deploy_network
from bridge.chain.limits import MAX_TX_BYTES, MAX_TX_GAS
from bridge.chain.market import Market, RoundStatus
from bridge.keeper.config import KeeperConfig
from bridge.keeper.daemon import Keeper

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "scale.json"
GWEI = 10**9
CHAIN_FEE = 2 * GWEI


class Sender:
    """Signs and sends raw transactions for many accounts without waiting for receipts."""

    def __init__(self, w3: Web3, market: Market) -> None:
        self.w3 = w3
        self.market = market
        self.chain_id = int(w3.eth.chain_id)
        self.nonces: dict[str, int] = {}
        self.hashes: list[bytes] = []

    def send(self, account: LocalAccount, fn: str, *args: Any, value: int = 0,
             gas: int = 300_000) -> None:
        nonce = self.nonces.get(account.address, 0)
        tx = {"to": self.market.address, "data": self.market.calldata(fn, *args),
              "value": value, "gas": gas, "nonce": nonce, "chainId": self.chain_id,
              "maxFeePerGas": 20 * GWEI, "maxPriorityFeePerGas": CHAIN_FEE, "type": 2}
        raw = account.sign_transaction(tx).raw_transaction
        self.hashes.append(self.w3.eth.send_raw_transaction(raw))
        self.nonces[account.address] = nonce + 1

    def wait(self) -> None:
        for h in self.hashes[-50:]:
            receipt = self.w3.eth.wait_for_transaction_receipt(h, timeout=300)
            if receipt["status"] != 1:
                raise RuntimeError(f"transaction {h.hex()} reverted")
        self.hashes.clear()


def fund(node: Anvil, accounts: list[LocalAccount]) -> None:
    for a in accounts:
        node.rpc("anvil_setBalance", a.address, hex(10**21))


def commit_round(node: Anvil, market: Market, sender: Sender, requesters: list[LocalAccount],
                 provers: list[LocalAccount], mechanism: str, n_bids: int, seed: int) -> int:
    """Every prover asks; ``n_bids`` bids round-robin over the requesters; returns the round."""
    rng = random.Random(seed)
    node.travel_to(market.params.closes_at(market.current_round()) + 1)
    r = market.current_round()
    key = market.keeper_public_key()
    p = market.params
    for a in provers:
        capacity = int(market.contract.functions.proverInfo(a.address).call()[1])
        cost = rng.randint(20, 80) * GWEI
        salt = sealed.new_salt()
        c = sealed.commitment(chain_id=p.chain_id, market=market.address, round=r,
                              participant=a.address, side=sealed.Side.ASK, price=cost,
                              quantity=capacity, salt=salt)
        sender.send(a, "commitAsk", r, c, sealed.seal(key, price=cost, quantity=capacity,
                                                      salt=salt))
    for k in range(n_bids):
        a = requesters[k % len(requesters)]
        size = 1 if mechanism == "proofphi" else rng.randint(1, 5)
        value = rng.randint(30, 120) * GWEI * size
        salt = sealed.new_salt()
        c = sealed.commitment(chain_id=p.chain_id, market=market.address, round=r,
                              participant=a.address, side=sealed.Side.BID, price=value,
                              quantity=size, salt=salt)
        sender.send(a, "commitBid", r, c, sealed.seal(key, price=value, quantity=size, salt=salt),
                    value, os.urandom(32))
    sender.wait()
    if market.current_round() != r:
        raise RuntimeError("the round closed before every commitment landed: raise commit_period")
    return r


def tx_figures(w3: Web3, node: Anvil, hashes: list[Any]) -> dict[str, Any]:
    """Gas (anvil's gasUsed: EIP-7623 floor applied), gas limits and encoded sizes."""
    gas, limits, sizes = [], [], []
    for h in hashes:
        receipt = w3.eth.get_transaction_receipt(h)
        tx = w3.eth.get_transaction(h)
        raw = node.rpc("eth_getRawTransactionByHash", HexBytes(h).to_0x_hex())
        gas.append(int(receipt["gasUsed"]))
        limits.append(int(tx["gas"]))
        sizes.append((len(raw) - 2) // 2)
    assert max(limits, default=0) <= MAX_TX_GAS, f"a gas limit above 2^24: {max(limits)}"
    assert max(sizes, default=0) <= MAX_TX_BYTES, f"a transaction above 128 KiB: {max(sizes)}"
    return {"txs": len(hashes), "gas": gas, "max_gas": max(gas, default=0),
            "max_gas_limit": max(limits, default=0), "max_bytes": max(sizes, default=0),
            "total_gas": sum(gas)}


def run(mechanism: str, n_bids: int, n_asks: int, n_requesters: int, workdir: Path
        ) -> dict[str, Any]:
    # commitments are mined as they arrive (automine); the settlement then runs with a block a
    # second (evm_setIntervalMining), as on a live network
    node = Anvil(workdir, block_time=None, rpc_timeout=60,
                 extra=("--silent", "--gas-limit", "100000000", "--prune-history", "256")).start()
    try:
        w3 = Web3(HTTPProvider(node.url, request_kwargs={"timeout": 120}))
        keeper_account: LocalAccount = Account.from_key(DEV_KEYS[0])
        net = NetworkConfig(name="scale", rpc=node.url, chain_id=int(w3.eth.chain_id),
                            mechanism=mechanism, commit_period=900, settle_period=1800,
                            proof_period=10**6, refund_cap=200 * GWEI, confirmations=1,
                            min_escrow=GWEI, max_bids_per_round=8192, max_asks_per_round=512,
                            verifier=VerifierSpec(kind="pow", difficulty_bits=4),
                            allow_same_owner_and_keeper=True)  # a bench chain
        res = deploy_network(net, keeper_account, w3=w3, out_dir=workdir / "deployments",
                             keeper=KeeperIdentity.of_account(keeper_account), force=True)
        market = Market(w3, res.record.market)
        rng = random.Random(7)
        # bids come round-robin from n_requesters accounts: consecutive bids (and so every page)
        # have distinct requesters, whose accounts are cold, as with one bid per requester
        requesters = [Account.create(extra_entropy=str(rng.random())) for _ in range(n_requesters)]
        provers = [Account.create(extra_entropy=str(rng.random())) for _ in range(n_asks)]
        t0 = time.perf_counter()
        fund(node, requesters + provers)
        sender = Sender(w3, market)
        units = n_bids * (1 if mechanism == "proofphi" else 3)
        capacity = max(1, units // n_asks)
        for a in provers:
            sender.send(a, "stake", value=200 * GWEI * capacity * 4)
            sender.send(a, "setCapacity", capacity)
        for a in requesters:
            sender.send(a, "deposit", value=10**20)
        sender.wait()
        print(f"  {mechanism}: {n_requesters} requesters and {n_asks} provers ready in "
              f"{time.perf_counter() - t0:.0f} s", flush=True)
        db = f"sqlite:///{workdir / f'keeper-{mechanism}.sqlite'}"
        cfg = KeeperConfig(rpc=node.url, market=res.record.market, database=db, confirmations=1,
                           start_block=res.record.block, poll_interval=0.05,
                           max_log_range=5000).validate()
        keeper = Keeper(cfg, keeper_account, w3=w3, use_scheduler=False)
        keeper.startup_checks()

        # ---- a round settled in pages
        t0 = time.perf_counter()
        r = commit_round(node, market, sender, requesters, provers, mechanism, n_bids, seed=1)
        print(f"  round {r}: commitments in {time.perf_counter() - t0:.0f} s", flush=True)
        node.rpc("evm_setIntervalMining", 1)
        node.travel_to(market.params.closes_at(r) + 1)
        start = time.perf_counter()
        while market.round_info(r).status is not RoundStatus.SETTLED:
            keeper.tick()
            time.sleep(0.02)
            if time.perf_counter() - start > 1200:
                raise RuntimeError(f"round {r} not settled after 1200 s")
        close_to_final = time.perf_counter() - start
        f = market.contract.events
        settle_hashes = [e["transactionHash"] for name in ("SettlementBegun", "BidsSettled")
                         for e in getattr(f, name)().get_logs(
                             from_block=res.record.block, argument_filters={"round": r})]
        settle = tx_figures(w3, node, settle_hashes)
        keeper.run_until_idle(max_ticks=5)
        print(f"  round {r}: settled in {settle['txs']} transactions, "
              f"{close_to_final:.1f} s close → last page", flush=True)

        # ---- a round of the same size voided in pages after its deadline
        node.rpc("evm_setIntervalMining", 0)
        node.rpc("evm_setAutomine", True)
        r2 = commit_round(node, market, sender, requesters, provers, mechanism, n_bids, seed=2)
        node.rpc("evm_setIntervalMining", 1)
        node.travel_to(market.params.settle_deadline(r2) + 1)
        start = time.perf_counter()
        while market.round_info(r2).status is not RoundStatus.VOIDED:
            keeper.tick()
            time.sleep(0.02)
            if time.perf_counter() - start > 1200:
                raise RuntimeError(f"round {r2} not voided after 1200 s")
        void_s = time.perf_counter() - start
        void_hashes = [e["transactionHash"] for e in f.BidsVoided().get_logs(
            from_block=res.record.block, argument_filters={"round": r2})]
        void = tx_figures(w3, node, void_hashes)
        nonfree, _ = market.liabilities()
        keeper.stop()
        return {
            "bids": n_bids, "asks": n_asks,
            "settle_txs": settle["txs"], "settle_max_tx_gas": settle["max_gas"],
            "settle_max_tx_gas_limit": settle["max_gas_limit"],
            "settle_max_tx_bytes": settle["max_bytes"],
            "settle_gas_per_bid": round(settle["total_gas"] / n_bids),
            "settle_gas_total": settle["total_gas"], "settle_tx_gas": settle["gas"],
            "void_txs": void["txs"], "void_max_tx_gas": void["max_gas"],
            "void_max_tx_bytes": void["max_bytes"],
            "void_gas_per_bid": round(void["total_gas"] / n_bids),
            "close_to_final_s": round(close_to_final, 2), "deadline_to_void_s": round(void_s, 2),
            "market_nonfree_after": nonfree,
        }
    finally:
        node.stop()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bids", type=int, default=5000)
    ap.add_argument("--asks", type=int, default=500)
    ap.add_argument("--requesters", type=int, default=500)
    ap.add_argument("--mechanisms", default="dara,proofphi")
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args()
    if not os.access(ANVIL, os.X_OK):
        print(f"anvil not found at {ANVIL}: run `npm ci`", file=sys.stderr)
        return 2
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for mech in args.mechanisms.split(","):
            work = Path(tmp) / mech
            work.mkdir()
            results[mech] = run(mech, args.bids, args.asks, min(args.requesters, args.bids), work)
    keys = ["bids", "asks", "settle_txs", "settle_max_tx_gas", "settle_max_tx_bytes",
            "settle_gas_per_bid", "void_txs", "void_max_tx_gas", "void_max_tx_bytes",
            "void_gas_per_bid", "close_to_final_s"]
    print()
    print(f"{'':22}" + "".join(f"{m:>14}" for m in results))
    for k in keys:
        print(f"{k:22}" + "".join(f"{results[m][k]:>14,}" if isinstance(results[m][k], int)
                                   else f"{results[m][k]:>14}" for m in results))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({
        **results,
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                    "load": round(os.getloadavg()[0], 2), "platform": platform.platform()},
        "notes": "anvil: automine for commits, a block a second for settlement; anvil applies "
                 "EIP-7623's floor; gas is "
                 "the receipts' gasUsed; bytes are the signed transactions' encoded sizes; "
                 "close_to_final_s from the block closing the round to the last page's receipt "
                 "(keeper in-process, 1 confirmation: log reading, decryption, clearing, audit, "
                 "pages)",
    }, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
