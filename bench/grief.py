"""What halting a round costs an attacker, and what the defence costs an honest user.

A round is halted when one side is full: honest orders get ``RoundFull``. The attacker batches junk
orders through contracts (``contracts/test/BidFlood.sol``: one account, many bids per transaction;
``contracts/test/AskFlood.sol``: many prover contracts owned by one factory, created beforehand,
one ask each per round). Junk may be *valid* (a one-gwei bid, an ask at a huge cost: they simply
lose), so the attack's cost is its gas plus the congestion fees it burns; invalid junk also forfeits
``minEscrow`` per order to the keeper. Everything runs on eth-tester (py-evm, Prague) with the
production parameters of ``deploy/networks`` (caps 8,192 bids and 512 asks, ``fillCost`` 25 ether,
``minEscrow`` 0.0003 ether); ETH at 20 gwei, gas as Prague charges it (the EIP-7623 floor applies).

Keys (``bench/results/grief.json``):

- ``block_round_ask_side_eth`` / ``block_round_bid_side_eth``: gas and fees to fill one side of one
  round to its cap (the orders are valid junk: nothing else is forfeited);
- ``honest_commit_gas``: a ``commitBid`` in a round below a quarter of its cap (100 bids in), fee as
  gas at 20 gwei included (0 there); ``honest_commit_gas_before``: the same on the market of commit
  224fb40 (before fees), deployed from its committed artifact;
- ``keeper_cost_per_invalid_order_wei``: the keeper's marginal settlement gas per invalid order
  (bids with evidence on a page, asks in ``beginSettlement``), the larger, at 20 gwei;
  ``keeper_compensated_per_invalid_order_wei``: what each such order forfeited to the keeper.

    .venv/bin/python bench/grief.py      # prints a table, writes bench/results/grief.json
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from coincurve import PrivateKey
from web3 import Web3
from web3.contract import Contract
from web3.logs import DISCARD

from bridge import sealed
from bridge.chain.deploy import MarketConfig, Mechanism, deploy, deploy_market, transact
from bridge.chain.limits import floor_gas
from bridge.chain.settlement import AskReveal, BidReveal, plan_settlement, proof_deadline
from bridge.chain.tester import TesterChain, make_tester_chain
from bridge.evidence import MarkReason, encode_evidence, make_evidence

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "grief.json"
GWEI = 10**9
ETHER = 10**18
GAS_PRICE = 20 * GWEI
PERIOD = 3600
REFUND_CAP = 200 * GWEI
MIN_ESCROW = 3 * 10**14
FILL_COST = 25 * ETHER
MAX_BIDS, MAX_ASKS = 8192, 512
BEFORE = "224fb40"
SECRET = b"\x11" * 32
PUBKEY = PrivateKey(SECRET).public_key.format(compressed=False)[1:]
CIPHERTEXT = b"\x04" + bytes(range(1, 193))


def _charged(w3: Web3, rc: Any) -> int:
    data = bytes(w3.eth.get_transaction(rc["transactionHash"])["input"])
    return max(int(rc["gasUsed"]), floor_gas(data))


def _market(chain: TesterChain, owner: str, keeper: str, verifier: str) -> Contract:
    cfg = MarketConfig(owner, keeper, PUBKEY, verifier, Mechanism.DARA, PERIOD, PERIOD, PERIOD,
                       REFUND_CAP, 1, 4, min_escrow=MIN_ESCROW, fill_cost=FILL_COST,
                       max_bids_per_round=MAX_BIDS, max_asks_per_round=MAX_ASKS)
    return deploy_market(chain.w3, cfg, owner)


def _next_round(chain: TesterChain, m: Contract) -> int:
    genesis, period = m.functions.genesis().call(), m.functions.commitPeriod().call()
    r = m.functions.currentRound().call() + 1
    chain.travel_to(genesis + r * period)
    return int(r)


def fill_asks(chain: TesterChain, m: Contract, attacker: str) -> dict[str, int]:
    flood = deploy(chain.w3, "AskFlood", m.address, sender=attacker)
    each = REFUND_CAP + MIN_ESCROW + FILL_COST  # a unit's backing, the deposit, fee headroom
    for _ in range(0, MAX_ASKS, 64):
        transact(flood.functions.spawn(64), attacker, value=each * 64, gas=15_000_000)
    r = _next_round(chain, m)
    burned0 = m.functions.burned().call()
    gas = 0
    for first in range(0, MAX_ASKS, 128):
        rc = transact(flood.functions.askAll(r, first, 128, CIPHERTEXT), attacker, gas=15_000_000)
        gas += _charged(chain.w3, rc)
    assert m.functions.roundInfo(r).call()[1] == MAX_ASKS
    return {"gas": gas, "fees": m.functions.burned().call() - burned0}


def fill_bids(chain: TesterChain, m: Contract, attacker: str) -> dict[str, int]:
    flood = deploy(chain.w3, "BidFlood", m.address, sender=attacker)
    r = _next_round(chain, m)
    burned0 = m.functions.burned().call()
    gas, batch = 0, 256
    for first in range(0, MAX_BIDS, batch):
        fees = sum(m.functions.congestionFee(0, first + i).call() for i in (0, batch - 1))
        value = (MIN_ESCROW + fees) * batch  # escrow and (an upper bound on) the batch's fees
        rc = transact(flood.functions.flood(r, batch, MIN_ESCROW, CIPHERTEXT), attacker,
                      value=value, gas=15_000_000)
        gas += _charged(chain.w3, rc)
    assert m.functions.roundInfo(r).call()[0] == MAX_BIDS
    return {"gas": gas, "fees": m.functions.burned().call() - burned0}


def honest_commit(chain: TesterChain, m: Contract, requesters: list[str], fill: int,
                  old: bool = False) -> int:
    """Gas of a new requester's commitBid (deposited before) with ``fill`` bids in the round."""
    r = _next_round(chain, m)
    f = m.functions
    for who in requesters[:fill]:
        transact(f.commitBid(r, os.urandom(32), CIPHERTEXT, MIN_ESCROW, os.urandom(32)), who,
                 gas=500_000)
    gas = []
    for who in requesters[fill:fill + 20]:
        rc = transact(f.commitBid(r, os.urandom(32), CIPHERTEXT, MIN_ESCROW, os.urandom(32)), who,
                      gas=500_000)
        fee = 0 if old else sum(int(e["args"]["fee"]) for e in
                                m.events.CongestionFeeBurned().process_receipt(rc, errors=DISCARD))
        gas.append(_charged(chain.w3, rc) + -(-fee // GAS_PRICE))
    return sum(gas) // len(gas)


def _old_market(chain: TesterChain, owner: str, keeper: str, verifier: str) -> Contract:
    """The market of commit ``BEFORE`` (no fees), from its committed artifact."""
    raw = subprocess.run(["git", "show", f"{BEFORE}:bridge/artifacts/ProverMarket.json"],
                         cwd=ROOT, check=True, capture_output=True, text=True).stdout
    art = json.loads(raw)
    factory = chain.w3.eth.contract(abi=art["abi"], bytecode=art["bytecode"])
    cfg = (owner, keeper, PUBKEY, verifier, int(Mechanism.DARA), 0, PERIOD, PERIOD, PERIOD,
           REFUND_CAP, 1, 4, 10**9, MAX_BIDS, MAX_ASKS, 64, 0, 64, 1, 200)
    tx_hash = factory.constructor(cfg).transact({"from": owner, "gas": 30_000_000})
    rc = chain.w3.eth.wait_for_transaction_receipt(tx_hash)
    return chain.w3.eth.contract(address=rc["contractAddress"], abi=art["abi"])


def invalid_cost(chain: TesterChain, m: Contract, keeper: str, requesters: list[str],
                 provers: list[str]) -> dict[str, int]:
    """Marginal keeper gas per invalid bid (a page) and per invalid ask (beginSettlement)."""
    f = m.functions
    out: dict[str, int] = {}
    # a real envelope (its ephemeral key a curve point) that opens to no commitment of the round:
    # the evidence carries a real shared point and DLEQ proof, as the keeper's does
    ct = sealed.seal(PUBKEY, price=1, quantity=1, salt=os.urandom(32))
    ev = encode_evidence(make_evidence(SECRET, ct, MarkReason.COMMITMENT_MISMATCH))
    results = []
    for n_bids, n_asks in ((64, 16), (128, 48)):
        r = _next_round(chain, m)
        bids = []
        for who in requesters[:n_bids]:
            c = os.urandom(32)
            task = os.urandom(32)
            transact(f.commitBid(r, c, ct, MIN_ESCROW, task), who, gas=500_000)
            bids.append(BidReveal(who, MIN_ESCROW, task, False, commitment=c, evidence=ev))
        asks = []
        for p in provers[:n_asks]:
            c = os.urandom(32)
            transact(f.commitAsk(r, c, ct), p, gas=500_000)
            asks.append(AskReveal(p, 1, False, commitment=c, evidence=ev))
        chain.travel_to(f.genesis().call() + (r + 1) * PERIOD)
        plan = plan_settlement(r, "dara", bids, asks, [], proof_deadline(
            f.genesis().call(), PERIOD, PERIOD, PERIOD, r), interval=64)
        keeper0 = f.balanceOf(keeper).call()
        rc = transact(f.beginSettlement(*plan.begin_args()), keeper, gas=plan.begin_gas)
        begin = _charged(chain.w3, rc)
        pages = 0
        for page in plan.pages:
            pages += _charged(chain.w3, transact(f.settleBids(*page.args(r)), keeper,
                                                 gas=page.gas))
        results.append((n_bids, n_asks, begin, pages, f.balanceOf(keeper).call() - keeper0))
    (b1, a1, g1, p1, k1), (b2, a2, g2, p2, k2) = results
    out["per_invalid_ask_gas"] = (g2 - g1) // (a2 - a1)
    out["per_invalid_bid_gas"] = (p2 - p1) // (b2 - b1)
    out["compensated"] = (k2 - k1) // ((b2 - b1) + (a2 - a1))
    return out


def main() -> int:
    chain = make_tester_chain(accounts=260, balance_wei=10**26)
    acc = chain.accounts
    owner, keeper, attacker = acc[0], acc[1], acc[2]
    requesters, provers = acc[3:200], acc[200:260]
    verifier = deploy(chain.w3, "AlwaysTrueVerifier", sender=owner).address
    m = _market(chain, owner, keeper, verifier)
    old = _old_market(chain, owner, keeper, verifier)
    for market in (m, old):
        for who in requesters:
            transact(market.functions.deposit(), who, value=10**18, gas=200_000)
    for p in provers:
        transact(m.functions.stake(), p, value=10**18, gas=200_000)
        transact(m.functions.setCapacity(1), p, gas=200_000)

    print("honest commits ...", flush=True)
    honest = honest_commit(chain, m, requesters, 100)
    honest_before = honest_commit(chain, old, requesters, 100, old=True)
    print("invalid orders ...", flush=True)
    inv = invalid_cost(chain, m, keeper, requesters, provers)
    print("ask flood ...", flush=True)
    asks = fill_asks(chain, m, attacker)
    print("bid flood ...", flush=True)
    bids = fill_bids(chain, m, attacker)

    keeper_cost = max(inv["per_invalid_bid_gas"], inv["per_invalid_ask_gas"]) * GAS_PRICE
    out = {
        "block_round_ask_side_eth": round((asks["gas"] * GAS_PRICE + asks["fees"]) / ETHER, 3),
        "block_round_bid_side_eth": round((bids["gas"] * GAS_PRICE + bids["fees"]) / ETHER, 3),
        "honest_commit_gas": honest,
        "honest_commit_gas_before": honest_before,
        "keeper_cost_per_invalid_order_wei": keeper_cost,
        "keeper_compensated_per_invalid_order_wei": inv["compensated"],
        "detail": {"ask_flood": asks, "bid_flood": bids, "invalid": inv,
                   "gas_price_wei": GAS_PRICE, "fill_cost_wei": FILL_COST,
                   "min_escrow_wei": MIN_ESCROW, "caps": [MAX_BIDS, MAX_ASKS],
                   "honest_fill": 100, "before_commit": BEFORE},
    }
    rows = [
        ("fill the ask side (512 asks)", f"{out['block_round_ask_side_eth']} ETH",
         f"gas {asks['gas']:,} + fees {asks['fees'] / ETHER:.3f} ETH"),
        ("fill the bid side (8,192 bids)", f"{out['block_round_bid_side_eth']} ETH",
         f"gas {bids['gas']:,} + fees {bids['fees'] / ETHER:.3f} ETH"),
        ("honest commitBid, round 100/8,192 full", f"{honest:,} gas",
         f"before: {honest_before:,} gas "
         f"({100 * (honest - honest_before) / honest_before:+.1f} %)"),
        ("keeper per invalid order", f"{keeper_cost / 10**12:.0f} µETH",
         f"bid {inv['per_invalid_bid_gas']:,} gas, ask {inv['per_invalid_ask_gas']:,} gas"),
        ("forfeit to the keeper per invalid order", f"{inv['compensated'] / 10**12:.0f} µETH", ""),
    ]
    w = max(len(r[0]) for r in rows)
    for name, value, note in rows:
        print(f"{name:<{w}}  {value:>14}  {note}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(out, indent=2) + "\n")
    print(f"wrote {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
