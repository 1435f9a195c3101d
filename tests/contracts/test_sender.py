"""The keeper's transaction sender on eth-tester: nonces, fee bumps, draining, decoded reverts."""

from __future__ import annotations

import itertools
import threading
import time
from typing import Any

import pytest
from eth_account import Account

from bridge.chain.revert import decode_revert
from bridge.chain.sender import SentTx, TxSender
from bridge.chain.tester import make_tester_chain
from bridge.errors import RetryableTxError


@pytest.fixture
def setup() -> tuple:  # type: ignore[type-arg]
    chain = make_tester_chain(accounts=2)
    acct = Account.create()
    tx = chain.w3.eth.send_transaction({"from": chain.accounts[0], "to": acct.address,
                                        "value": 10**20})
    chain.w3.eth.wait_for_transaction_receipt(tx)
    return chain, acct


def test_concurrent_sends_get_distinct_nonces_and_all_mine(setup: tuple) -> None:  # type: ignore[type-arg]
    chain, acct = setup
    sender = TxSender(chain.w3, acct, poll_interval=0.01)
    receipts: list[dict] = []  # type: ignore[type-arg]
    threads = [threading.Thread(target=lambda: receipts.append(
        sender.send({"to": chain.accounts[1], "value": 1}))) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(receipts) == 5 and all(r["status"] == 1 for r in receipts)
    assert chain.w3.eth.get_transaction_count(acct.address) == 5


def test_unmined_transaction_is_replaced_with_higher_fees(setup: tuple) -> None:  # type: ignore[type-arg]
    chain, acct = setup
    seen: list[list[str]] = []
    # The node's own record of each version as it is broadcast (still pending: auto-mining is off).
    broadcast: list[dict] = []  # type: ignore[type-arg]

    def on_broadcast(s: SentTx) -> None:
        seen.append(list(s.hashes))
        broadcast.append(dict(chain.w3.eth.get_transaction(s.hashes[-1])))

    sender = TxSender(chain.w3, acct, bump_after=0.3, poll_interval=0.05,
                      on_broadcast=on_broadcast)
    chain.tester.disable_auto_mine_transactions()
    result: list[dict] = []  # type: ignore[type-arg]
    t = threading.Thread(target=lambda: result.append(
        sender.send({"to": chain.accounts[1], "value": 7})))
    t.start()
    deadline = time.monotonic() + 60  # a replacement is due after 0.3 s; a loaded box is slower
    while not (seen and len(seen[-1]) >= 3) and time.monotonic() < deadline:
        time.sleep(0.02)
    chain.tester.mine_blocks(1)
    t.join(60)
    assert result and result[0]["status"] == 1
    assert len(seen[-1]) >= 2, "at least one replacement was broadcast"
    assert [tx["hash"].to_0x_hex() for tx in broadcast] == seen[-1]
    assert len(set(seen[-1])) == len(seen[-1]), "every replacement differs from what it replaces"
    # Each replacement keeps the nonce and raises both fee fields by at least the promised bump
    # (``Fees.bumped``: +bump_percent rounded up, never less than +1 wei).
    for before, after in itertools.pairwise(broadcast):
        assert after["nonce"] == before["nonce"] == 0
        for field in ("maxFeePerGas", "maxPriorityFeePerGas"):
            assert after[field] > before[field], field
            assert after[field] * 100 >= before[field] * (100 + sender.bump_percent), field
    mined = result[0]["transactionHash"].to_0x_hex()
    assert mined == seen[-1][-1]  # the replacement with the highest fee is what mined
    final = chain.w3.eth.get_transaction(mined)
    assert final["blockNumber"] is not None and final["nonce"] == 0
    assert final["maxFeePerGas"] == broadcast[-1]["maxFeePerGas"]
    assert final["maxPriorityFeePerGas"] == broadcast[-1]["maxPriorityFeePerGas"]
    assert final["maxFeePerGas"] > broadcast[0]["maxFeePerGas"]
    assert final["maxPriorityFeePerGas"] > broadcast[0]["maxPriorityFeePerGas"]
    assert chain.w3.eth.get_transaction_count(acct.address) == 1


def test_a_stopping_sender_gives_up_waiting_but_reports_what_it_sent(setup: tuple) -> None:  # type: ignore[type-arg]
    chain, acct = setup
    stop = threading.Event()
    seen: list[str] = []
    sender = TxSender(chain.w3, acct, poll_interval=0.05, stop=stop,
                      on_broadcast=lambda s: seen.extend(s.hashes))
    chain.tester.disable_auto_mine_transactions()
    threading.Timer(0.3, stop.set).start()
    started = time.monotonic()
    with pytest.raises(RetryableTxError, match="stopping"):
        sender.send({"to": chain.accounts[1], "value": 7})
    assert time.monotonic() - started < 5
    assert len(seen) == 1
    chain.tester.mine_blocks(1)
    assert sender.lookup(seen)["status"] == 1  # a restart finds it instead of sending again


def test_a_mined_revert_with_a_given_gas_limit_is_decoded(proofphi: Any, accounts: Any) -> None:
    """The keeper sends with modelled gas (no estimate): a transaction that reverts on chain is
    replayed at its parent block and raised as the contract's named error, on eth-tester too."""
    from bridge.errors import SettlementRejected

    m = proofphi
    keeper = Account.from_key(b"\x31" * 32)
    tx = m.chain.w3.eth.send_transaction({"from": accounts.owner, "to": keeper.address,
                                          "value": 10**18})
    m.chain.w3.eth.wait_for_transaction_receipt(tx)
    sender = TxSender(m.chain.w3, keeper, poll_interval=0.01,
                      decode_revert=lambda data: decode_revert(m.market.abi, data))
    data = m.market.encode_abi("withdraw", [1])
    with pytest.raises(SettlementRejected) as err:
        sender.send({"to": m.market.address, "data": data, "gas": 100_000})
    assert err.value.name == "InsufficientBalance" and err.value.args_["required"] == 1
