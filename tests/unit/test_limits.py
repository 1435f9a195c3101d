"""Every settlement and void transaction the keeper builds fits a mainnet client's limits.

Neither test chain enforces them (anvil 1.7 applies EIP-7623's floor but neither the 2²⁴ gas cap
of EIP-7825 nor the pools' 128 KiB size limit), so this checks the planner itself on a round of
5,000 bids and 500 asks: each transaction's gas limit ≤ 2²⁴, its EIP-7623 floor (from the real
calldata) below its gas limit, and the signed transaction ≤ 128 KiB.
"""

from __future__ import annotations

import os
import random

import pytest
from eth_account import Account
from eth_utils import keccak, to_checksum_address

from bridge.chain.artifacts import load_artifact
from bridge.chain.limits import (
    MAX_TX_BYTES,
    MAX_TX_GAS,
    Limits,
    calldata_tokens,
    floor_gas,
    void_gas,
)
from bridge.chain.settlement import (
    AskReveal,
    BidReveal,
    JobEntry,
    plan_settlement,
    void_segments,
)
from bridge.mechanisms import Ask, Bid, clear

GWEI = 10**9
KEY = "0x" + "42" * 32
ABI = load_artifact("ProverMarket").abi


def _calldata(fn: str, *args: object) -> bytes:
    from web3 import Web3

    c = Web3().eth.contract(abi=ABI)
    return bytes.fromhex(c.encode_abi(fn, args=list(args))[2:])


def _signed_size(data: bytes, gas: int) -> int:
    tx = {"to": "0x" + "11" * 20, "data": data, "value": 0, "gas": gas, "nonce": 123_456,
          "chainId": 1, "maxFeePerGas": 500 * GWEI, "maxPriorityFeePerGas": 50 * GWEI,
          "type": 2}
    return len(Account.from_key(KEY).sign_transaction(tx).raw_transaction)


def _round(mechanism: str, n_bids: int, n_asks: int) -> tuple[list[BidReveal], list[AskReveal],
                                                                list[JobEntry]]:
    rng = random.Random(5)
    addr = [to_checksum_address(keccak(i.to_bytes(4, "big"))[:20])
            for i in range(n_bids + n_asks)]
    sizes = [1 if mechanism == "proofphi" else rng.randint(1, 20) for _ in range(n_bids)]
    values = [s * rng.randint(30, 120) * GWEI for s in sizes]
    invalid = set(rng.sample(range(n_bids), n_bids // 20))
    units = sum(sizes)
    capacity = max(1, units // n_asks)
    costs = [rng.randint(20, 80) * GWEI for _ in range(n_asks)]
    asks = [AskReveal(addr[n_bids + j], capacity, True, costs[j], capacity, os.urandom(32))
            for j in range(n_asks)]
    outcome = clear(mechanism, [Bid(i, values[i], sizes[i]) for i in range(n_bids)
                                if i not in invalid],
                    [Ask(j, costs[j], capacity) for j in range(n_asks)])
    bids = [BidReveal(addr[i], values[i] + GWEI, os.urandom(32), False,
                      commitment=os.urandom(32), evidence=b"\x03" + os.urandom(128))
            if i in invalid else
            BidReveal(addr[i], values[i] + GWEI, os.urandom(32), True, values[i], sizes[i],
                      os.urandom(32), charge=outcome.charges.get(i, 0))
            for i in range(n_bids)]
    from bridge.chain.settlement import entries_from_outcome

    entries = entries_from_outcome(asks, outcome.assignment, outcome.job_payments())
    return bids, asks, entries


@pytest.mark.parametrize("mechanism", ["dara", "proofphi"])
def test_a_5000_bid_500_ask_round_settles_and_voids_within_the_limits(mechanism: str) -> None:
    bids, asks, entries = _round(mechanism, 5000, 500)
    plan = plan_settlement(7, mechanism, bids, asks, entries, 10**10)
    assert len(plan.pages) > 1, "a round this size needs pages"
    assert sum(p.count for p in plan.pages) == 5000
    assert all(p.first % 64 == 0 for p in plan.pages), "pages start on checkpoints"
    begin = _calldata("beginSettlement", *plan.begin_args())
    txs = [(begin, plan.begin_gas)] + [(_calldata("settleBids", *p.args(7)), p.gas)
                                        for p in plan.pages]
    for data, gas in txs:
        assert gas <= MAX_TX_GAS
        assert floor_gas(data) < gas, "a gas limit below the floor is never mined"
        assert _signed_size(data, gas) <= MAX_TX_BYTES
    assert len(plan.jobs) == len(entries) if mechanism == "dara" else len(plan.jobs) > 0
    commits = [(b.commitment, b.requester, b.escrow, b.task) for b in bids]
    segments = void_segments(0, commits)
    assert sum(len(s) for s in segments) == 5000 and len(segments) > 1
    for seg in segments:
        data = _calldata("voidRound", 7, seg)
        gas, floor = void_gas(len(seg))
        assert gas <= MAX_TX_GAS and floor_gas(data) <= floor < gas
        assert _signed_size(data, gas) <= MAX_TX_BYTES


def test_limits_size_pages_and_never_set_a_limit_below_the_floor() -> None:
    bids, asks, entries = _round("dara", 300, 30)
    tight = Limits(max_bytes=20_000)
    plan = plan_settlement(1, "dara", bids, asks, entries, 10**10, tight)
    for p in plan.pages:
        data = _calldata("settleBids", *p.args(1))
        assert len(data) + 400 <= 20_000
        assert p.gas > floor_gas(data)
    assert len(plan.pages) > len(plan_settlement(1, "dara", bids, asks, entries, 10**10).pages)
    assert Limits().gas_limit(100_000, 200_000) > 200_000
    assert calldata_tokens(b"\x00\x01\x00") == 1 + 4 + 1
    assert floor_gas(b"\x01" * 10) == 21_000 + 400
