"""Gas of the market's hot paths on eth-tester (py-evm, Prague), verifier cost excluded.

Markets use ``AlwaysTrueVerifier`` (a mock verifier, as in Boundless's published figures); the gas a
``verify`` call costs the market (cold account access, encoding, execution) is measured with
``GasProbe`` and subtracted from ``submitProof``. ``settle`` is measured on 100-bid rounds with
100 distinct requesters and 10 provers. Every figure is total transaction gas (21k base and
calldata included). Steady-state figures are medians; first-of-a-kind costs are listed too.

    .venv/bin/python bench/gas.py        # prints a table, writes bench/results/gas.json
"""

from __future__ import annotations

import json
import os
import statistics
import sys
from pathlib import Path
from typing import Any

from coincurve import PrivateKey
from web3.contract import Contract

from bridge.chain.deploy import MarketConfig, Mechanism, deploy, deploy_market, transact
from bridge.chain.settlement import (
    AskReveal,
    BidReveal,
    build_jobs,
    commitment,
    entries_from_outcome,
    job_tree,
    rank_orders,
    settle_args,
)
from bridge.chain.tester import TesterChain, make_tester_chain
from bridge.mechanisms import Ask, Bid, clear

RESULTS = Path(__file__).resolve().parent / "results" / "gas.json"
PERIOD = 3600
REFUND_CAP = 10**15
CIPHERTEXT = b"\x04" + bytes(range(1, 193))  # 193 bytes: ECIES of abi.encode(price, qty, salt)
GAS = 25_000_000
TARGETS = {
    "commitBid": 50_000, "commitAsk": 50_000, "settle_per_bid": 15_000,
    "settle_per_bid_proofphi": 20_000, "submitProof": 50_000, "slash": 60_000, "withdraw": 40_000,
}
BOUNDLESS = {"commitBid": "149k (lock request)", "submitProof": "117k (fulfil)", "slash": "102k"}


def _gas(chain: TesterChain, fn: Any, sender: str, value: int = 0) -> int:
    receipt = transact(fn, sender, value=value, gas=GAS)
    return int(receipt["gasUsed"])


def _round(chain: TesterChain, market: Contract, mechanism: Mechanism, requesters: list[str],
           provers: list[str], values: list[tuple[int, int]], costs: list[int],
           capacity: int) -> dict[str, Any]:
    f = market.functions
    chain_id = chain.w3.eth.chain_id
    r = int(f.currentRound().call()) + 1
    chain.travel_to(int(f.roundTimes(r).call()[0]) + 1)
    bid_gas: list[int] = []
    ask_gas: list[int] = []
    bids: list[BidReveal] = []
    asks: list[AskReveal] = []
    for i, (value, size) in enumerate(values):
        who = requesters[i]
        salt, task = os.urandom(32), os.urandom(32)
        _gas(chain, f.deposit(), who, value=value)
        c = commitment(chain_id, market.address, r, who, 0, value, size, salt)
        bid_gas.append(_gas(chain, f.commitBid(r, c, CIPHERTEXT, value, task), who))
        bids.append(BidReveal(who, value, task, True, value, size, salt))
    for j, cost in enumerate(costs):
        who = provers[j]
        salt = os.urandom(32)
        c = commitment(chain_id, market.address, r, who, 1, cost, capacity, salt)
        ask_gas.append(_gas(chain, f.commitAsk(r, c, CIPHERTEXT), who))
        asks.append(AskReveal(who, capacity, True, cost, capacity, salt))
    name = "proofphi" if mechanism == Mechanism.PROOFPHI else "dara"
    outcome = clear(name, [Bid(i, b.value, b.size) for i, b in enumerate(bids)],
                    [Ask(j, a.cost, a.quantity) for j, a in enumerate(asks)])
    bids = [BidReveal(**{**b.__dict__, "charge": outcome.charges.get(i, 0)})
            for i, b in enumerate(bids)]
    entries = entries_from_outcome(asks, outcome.assignment, outcome.job_payments())
    bid_order, ask_order = rank_orders(bids, asks)
    if mechanism == Mechanism.DARA:
        bid_order, ask_order = [], []
    chain.travel_to(int(f.roundTimes(r).call()[1]) + 1)
    receipt = transact(f.settle(*settle_args(r, bids, asks, bid_order, ask_order, entries)),
                       str(f.keeper().call()), gas=GAS)
    block = chain.w3.eth.get_block(receipt["blockNumber"])
    jobs = build_jobs(bids, asks, entries, int(block["timestamp"]) + PERIOD)
    return {"round": r, "bid_gas": bid_gas, "ask_gas": ask_gas, "settle": int(receipt["gasUsed"]),
            "bids": len(bids), "jobs": jobs, "tree": job_tree(r, jobs)}


def measure() -> dict[str, Any]:
    """Run the scenario; return the figures."""
    chain = make_tester_chain(accounts=115, balance_wei=10**24)
    acc = chain.accounts
    owner, keeper, provers, requesters = acc[0], acc[1], acc[2:12], acc[12:112]
    pubkey = PrivateKey(b"\x11" * 32).public_key.format(compressed=False)[1:]
    verifier = deploy(chain.w3, "AlwaysTrueVerifier", sender=owner)
    probe = deploy(chain.w3, "GasProbe", sender=owner)
    markets = {}
    for mech in Mechanism:
        cfg = MarketConfig(owner, keeper, pubkey, verifier.address, mech, PERIOD, PERIOD, PERIOD,
                           REFUND_CAP, 1, 2)
        markets[mech] = deploy_market(chain.w3, cfg, owner)
    capacity = 10
    for m in markets.values():
        for p in provers:
            _gas(chain, m.functions.stake(), p, value=REFUND_CAP * capacity * 3)
            _gas(chain, m.functions.setCapacity(capacity), p)
    unit = 10**13
    # Prooφ: 100 tasks, 10 provers × 10 units at increasing costs -> ℓ = 9, 90 jobs
    pp_values = [((200 - i) * unit, 1) for i in range(100)]
    pp_costs = [(j + 1) * unit for j in range(10)]
    # DARA: 100 bids of 1 unit (sizes of 1 keep the knapsack small), same supply
    da_values = [((200 - i) * unit, 1) for i in range(100)]
    da = _round(chain, markets[Mechanism.DARA], Mechanism.DARA, requesters, provers,
                da_values, pp_costs, capacity)
    # DARA with multi-unit bids (sizes 1..3, 30 units of supply): more jobs per bid
    mu_values = [((300 - i) * unit * (1 + i % 3), 1 + i % 3) for i in range(100)]
    mu = _round(chain, markets[Mechanism.DARA], Mechanism.DARA, requesters, provers,
                mu_values, [(j + 1) * unit for j in range(10)], capacity)
    pp = _round(chain, markets[Mechanism.PROOFPHI], Mechanism.PROOFPHI, requesters, provers,
                pp_values, pp_costs, capacity)

    # proofs and slashes on the Prooφ round
    m = markets[Mechanism.PROOFPHI]
    f = m.functions
    jobs, tree, r = pp["jobs"], pp["tree"], pp["round"]
    verify_cost, ok = probe.functions.measure(verifier.address, jobs[0].task, jobs[0].prover,
                                              b"\x00" * 32).call()
    if not ok:
        raise SystemExit("mock verifier rejected")
    proof_gas = []
    for k in range(0, len(jobs), 2):  # prove even jobs
        job = jobs[k]
        proof_gas.append(_gas(chain, f.submitProof(r, job.as_tuple(), tree.proof(k),
                                                   b"\x00" * 32), job.prover))
    chain.travel_to(jobs[0].proof_deadline + 1)
    slash_gas = []
    for k in range(1, min(len(jobs), 40), 2):
        job = jobs[k]
        slash_gas.append(_gas(chain, f.slash(r, job.as_tuple(), tree.proof(k)), owner))
    withdraw_full, withdraw_part = [], []
    for who in requesters[:20]:
        bal = int(f.balanceOf(who).call())
        withdraw_part.append(_gas(chain, f.withdraw(bal // 2), who))
        withdraw_full.append(_gas(chain, f.withdraw(bal - bal // 2), who))
    med = statistics.median
    res = {
        "commitBid": int(med(pp["bid_gas"][1:])),
        "commitBid_first_in_round": pp["bid_gas"][0],
        "commitAsk": int(med(pp["ask_gas"][1:])),
        "commitAsk_first_in_round": pp["ask_gas"][0],
        "settle_per_bid": round(da["settle"] / da["bids"]),
        "settle_total_dara": da["settle"],
        "settle_jobs_dara": len(da["jobs"]),
        "settle_per_bid_dara_multiunit": round(mu["settle"] / mu["bids"]),
        "settle_jobs_dara_multiunit": len(mu["jobs"]),
        "settle_per_bid_proofphi": round(pp["settle"] / pp["bids"]),
        "settle_total_proofphi": pp["settle"],
        "settle_jobs_proofphi": len(jobs),
        "submitProof": int(med(proof_gas[1:])) - int(verify_cost),
        "submitProof_with_mock_verifier": int(med(proof_gas[1:])),
        "submitProof_first_margin_to_treasury": proof_gas[0] - int(verify_cost),
        "verifier_call_excluded": int(verify_cost),
        "slash": int(med(slash_gas)),
        "withdraw": int(med(withdraw_full)),
        "withdraw_partial": int(med(withdraw_part)),
        "bids_per_settle": 100,
        "chain": "eth-tester 0.14.0b1 / py-evm 0.12.1b1, Prague",
    }
    return res


def main() -> int:
    """Print the table and write the JSON."""
    res = measure()
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(res, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    print(f"{'operation':<38}{'gas':>10}{'target':>10}  Boundless (mock verifier)")
    for key, value in res.items():
        if not isinstance(value, int):
            continue
        target = TARGETS.get(key)
        mark = "" if target is None else ("  ok" if value <= target else "  OVER")
        print(f"{key:<38}{value:>10}{(target or ''):>10}{mark}  {BOUNDLESS.get(key, '')}")
    print(f"wrote {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
