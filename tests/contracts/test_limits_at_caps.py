"""Every limit the market's constructor accepts settles on a real network (issue: griefing).

- The ask cap ``MAX_ASKS_LIMIT`` is derived from the transaction-size budget: at the cap, with every
  ask invalid and carrying real evidence (an ECIES envelope to the keeper's key, a DLEQ proof of the
  shared point), the one ``beginSettlement`` stays within 2²⁴ gas and 128 KiB, EIP-7623's floor
  included, and every invalid ask forfeits ``minEscrow`` of its collateral to the keeper.
- Page counters cannot wrap: ``MAX_BIDS_LIMIT`` (65,535) bids make at most 65,535 pages (a page
  settles at least one bid), and the constructor refuses 65,536 (test_guards).
"""

from __future__ import annotations

import os
from dataclasses import replace

from eth_account import Account
from web3 import Web3

from bridge import sealed
from bridge.chain import deployment
from bridge.chain.deploy import Mechanism, deploy, deploy_market, transact
from bridge.chain.limits import MAX_TX_BYTES, MAX_TX_GAS, floor_gas
from bridge.chain.settlement import AskReveal
from bridge.chain.tester import TesterChain
from bridge.evidence import MarkReason, dleq_verify, encode_evidence, make_evidence
from tests.contracts.conftest import (
    DIFFICULTY_BITS,
    KEEPER_PUBKEY,
    KEEPER_SECRET,
    MIN_ESCROW,
    REFUND_CAP,
    Accounts,
    market_config,
)
from tests.contracts.flow import Driver

BATCH = 64


def _signed_size(w3: Web3, to: str, data: bytes, gas: int) -> int:
    """Bytes of the EIP-1559 transaction carrying ``data`` as a wallet would sign and send it."""
    tx = {"to": to, "data": data, "gas": gas, "maxFeePerGas": 100 * 10**9,
          "maxPriorityFeePerGas": 2 * 10**9, "nonce": 1_000_000, "chainId": int(w3.eth.chain_id),
          "value": 0, "type": 2}
    return len(Account.sign_transaction(tx, "0x" + "42" * 32).raw_transaction)


def test_every_ask_invalid_at_the_cap_settles_in_one_transaction_within_mainnet_limits(
        chain: TesterChain, accounts: Accounts, pow_verifier: object) -> None:
    w3 = chain.w3
    probe = deploy_market(w3, market_config(accounts, pow_verifier.address,  # type: ignore[attr-defined]
                                            Mechanism.DARA), accounts.owner)
    cap = int(probe.functions.MAX_ASKS_LIMIT().call())
    assert cap == (128 * 1024 - 1024) // (25 + 32 + 129) == 699 == deployment.MAX_ASKS_LIMIT
    assert probe.functions.MAX_BIDS_LIMIT().call() == deployment.MAX_BIDS_LIMIT == 2**16 - 1
    cfg = replace(market_config(accounts, pow_verifier.address,  # type: ignore[attr-defined]
                                Mechanism.DARA), max_asks_per_round=cap)
    market = deploy_market(w3, cfg, accounts.owner)
    m = Driver(chain, market, accounts.keeper, accounts.owner, DIFFICULTY_BITS)
    flood = deploy(w3, "AskFlood", market.address, sender=accounts.anyone)
    each = REFUND_CAP + MIN_ESCROW  # one unit's backing and the invalid-ask deposit
    for first in range(0, cap, BATCH):
        n = min(BATCH, cap - first)
        transact(flood.functions.spawn(n), accounts.anyone, value=each * n, gas=15_000_000)
    assert flood.functions.count().call() == cap
    provers = [flood.functions.provers(i).call() for i in range(cap)]

    # a real envelope to the keeper's key that opens to an ask, but not to the flood's commitment
    ciphertext = sealed.seal(KEEPER_PUBKEY, price=1, quantity=1, salt=os.urandom(32))
    evidence = make_evidence(KEEPER_SECRET, ciphertext, MarkReason.COMMITMENT_MISMATCH)
    assert evidence.shared != bytes(64)
    assert dleq_verify(KEEPER_PUBKEY, ciphertext[:65], evidence.shared, evidence.c, evidence.z)
    r = m.next_round()
    for first in range(0, cap, BATCH):
        transact(flood.functions.askAll(r, first, min(BATCH, cap - first), ciphertext),
                 accounts.anyone, gas=15_000_000)
    assert m.market.functions.roundInfo(r).call()[1] == cap

    m.close(r)
    # AskFlood's commitment: keccak256(abi.encode(round, prover))
    asks = [AskReveal(p, 1, False, commitment=Web3.keccak(
                r.to_bytes(32, "big") + bytes(12) + bytes.fromhex(p[2:])),
                      evidence=encode_evidence(evidence))
            for p in provers]
    plan = m.plan(r, [], asks, [])
    data = bytes.fromhex(market.encode_abi("beginSettlement", args=plan.begin_args())[2:])
    floor = floor_gas(data)
    size = _signed_size(w3, market.address, data, plan.begin_gas)
    assert size <= MAX_TX_BYTES, size
    assert floor <= plan.begin_gas <= MAX_TX_GAS, (floor, plan.begin_gas)
    keeper_before = m.balance(accounts.keeper)
    collateral_before = [m.collateral(p) for p in provers[:3]]
    rc = m.send("beginSettlement", *plan.begin_args(), sender=accounts.keeper, gas=plan.begin_gas)
    assert rc["status"] == 1
    used = max(int(rc["gasUsed"]), floor)  # what a Prague chain charges
    assert used <= plan.begin_gas <= MAX_TX_GAS
    (begun,) = m.events(rc, "SettlementBegun")
    assert (begun["args"]["askCount"], begun["args"]["validAsks"]) == (cap, 0)
    (forfeit,) = m.events(rc, "InvalidForfeited")
    assert (forfeit["args"]["orders"], forfeit["args"]["amount"]) == (cap, cap * MIN_ESCROW)
    assert m.balance(accounts.keeper) == keeper_before + cap * MIN_ESCROW
    assert [m.collateral(p) for p in provers[:3]] == [c - MIN_ESCROW for c in collateral_before]
    assert m.market.functions.roundInfo(r).call()[7] == 1  # SETTLED: no bids, no pages
    print(f"\n{cap} invalid asks: {len(data)} calldata bytes, {size} signed, gas used "
          f"{int(rc['gasUsed']):,}, floor {floor:,}, limit {plan.begin_gas:,}")
