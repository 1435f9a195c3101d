"""``bridge.testing`` from many threads at once, on anvil and on eth-tester (issue 25).

Sixteen threads each make accounts (funded from the one funder), a requester and a prover, bid
and ask on one market, while another thread moves time (``next_round``, ``advance``) and takes
a snapshot; three times over. Afterwards: no thread failed, no two accounts share a key, every
ETH balance is its funding minus exactly what its own transactions spent, every market balance
is what was deposited or staked less the escrow of the open bid, each commit sits in the round
its call reported, and the ledger recomputed from the logs matches the contract (on anvil also
once every round is settled: py-evm takes ~40 s to settle the nine rounds of sixteen orders,
which the threads do not need). A test of eight threads acting as one account follows.

``BRIDGE_TEST_BURN=N`` runs N CPU-bound processes beside this module's tests (and those of
``test_agents.py``): the races this guards against showed only with the other core busy.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from bridge.client.participant import Participant
from bridge.client.salts import SealedRecord
from bridge.testing import LocalChain, LocalMarket, MarketSettings, find_anvil, start_chain
from bridge.testing.agents import burn_cpu

GWEI = 10**9
ETHER = 10**18
THREADS = 16
REPEAT = 3


@pytest.fixture(scope="module", autouse=True)
def _load() -> Iterator[None]:
    """``BRIDGE_TEST_BURN=N``: N busy processes while the module runs (see the docstring)."""
    with burn_cpu(int(os.environ.get("BRIDGE_TEST_BURN", "0") or 0)):
        yield


@pytest.fixture(params=["eth-tester", "anvil"])
def chain(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LocalChain]:
    if request.param == "anvil" and find_anvil() is None:
        pytest.skip("anvil is not installed: run `npm ci` (make test does)")
    c = start_chain(request.param, tmp_path)
    yield c
    c.stop()


@pytest.fixture
def market(chain: LocalChain, tmp_path: Path) -> Iterator[LocalMarket]:
    # an hour a round: on eth-tester blocks follow the wall clock, and a round must not end
    # on its own in the middle of a repetition (only the time-moving thread ends rounds)
    m = LocalMarket(chain, tmp_path / "market", MarketSettings(
        commit_period=3600, settle_period=3600, proof_period=3600))
    yield m
    m.keeper.stop()


@dataclass
class Worker:
    """What one thread made and expects."""

    plain: str = ""
    plain_fund: int = 0
    requester: str = ""
    deposit: int = 0
    bid: SealedRecord | None = None
    prover: str = ""
    stake: int = 0
    ask: SealedRecord | None = None
    funded: dict[str, int] = field(default_factory=dict)


def _run_threads(targets: list[Any]) -> list[BaseException]:
    errors: list[BaseException] = []

    def guarded(target: Any) -> None:
        try:
            target()
        except BaseException as exc:  # reported by the test thread
            errors.append(exc)

    threads = [threading.Thread(target=guarded, args=(t,)) for t in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    assert not any(t.is_alive() for t in threads), "a thread is stuck"
    return errors


def _spent(m: LocalMarket, first_block: int) -> tuple[dict[str, int], dict[str, int]]:
    """ETH each sender spent (value + gas) and transactions it sent, in blocks from
    ``first_block`` to the head."""
    w3 = m.w3
    spent: dict[str, int] = {}
    sent: dict[str, int] = {}
    for n in range(first_block, w3.eth.block_number + 1):
        for tx in w3.eth.get_block(n, full_transactions=True)["transactions"]:
            assert not isinstance(tx, bytes)
            r = w3.eth.get_transaction_receipt(tx["hash"])
            who = str(tx["from"])
            spent[who] = (spent.get(who, 0) + int(tx["value"])
                          + int(r["gasUsed"]) * int(r["effectiveGasPrice"]))
            sent[who] = sent.get(who, 0) + 1
    return spent, sent


def test_sixteen_threads_fund_bid_and_ask_on_one_market(market: LocalMarket) -> None:
    m = market
    every: list[str] = []
    rounds: set[int] = set()
    started = time.monotonic()
    for rep in range(REPEAT):
        made, bid_rounds = _hammer(m, rep)
        every += made
        rounds |= bid_rounds
        # one key per account, across threads and repetitions
        assert len(set(every)) == len(every) == 3 * THREADS * (rep + 1)
    hammered = time.monotonic() - started
    # the books balance (and, on anvil, every round settles and they still do)
    if m.chain.kind == "anvil":
        for r in sorted(rounds):
            assert m.settle(r).status in ("settled", "voided")
    assert m.ledger_problems() == []
    print(f"{m.chain.kind}: {REPEAT} × {THREADS} threads in {hammered:.1f} s, checked in "
          f"{time.monotonic() - started - hammered:.1f} s")


def _hammer(m: LocalMarket, rep: int) -> tuple[list[str], set[int]]:
    """One repetition; returns the addresses made and the rounds bid in."""
    stake = m.settings.refund_cap * 3
    first_block = m.w3.eth.block_number + 1
    gate = threading.Barrier(THREADS + 1)
    workers = [Worker() for _ in range(THREADS)]
    moved: list[int] = []

    def work(i: int, w: Worker) -> None:
        gate.wait(60)
        w.plain_fund = (i + 1) * 10**15 + rep
        w.plain = m.account(fund=w.plain_fund).address
        w.deposit = (i + 1) * 10**16
        q = m.requester(deposit=w.deposit)
        w.requester = q.address
        p = m.prover(capacity=1, stake=stake)
        w.prover = p.address
        value = (100 + i) * GWEI
        w.bid = q.bid(value=value, size=1, escrow=value, task=os.urandom(32))
        w.ask = p.ask(cost=(40 + i) * GWEI)

    def move_time() -> None:
        gate.wait(60)
        time.sleep(0.5)
        moved.append(m.next_round())
        m.chain.snapshot()  # waits for the sends in flight; reverts nothing
        time.sleep(0.5)
        m.chain.advance(1)
        moved.append(m.next_round())

    errors = _run_threads([*(lambda i=i, w=w: work(i, w) for i, w in enumerate(workers)),
                           move_time])
    assert errors == [], errors
    assert moved == [moved[0], moved[0] + 1], moved  # each call moved one round
    made = [a for w in workers for a in (w.plain, w.requester, w.prover)]
    assert len(set(made)) == len(made)

    # ETH: exactly the funding less what each account's own transactions spent
    spent, sent = _spent(m, first_block)
    for w in workers:
        assert m.w3.eth.get_balance(w.plain) == w.plain_fund  # type: ignore[arg-type]
        assert w.plain not in sent
        for who, txs in ((w.requester, 2), (w.prover, 3)):  # deposit+bid, stake+capacity+ask
            assert sent[who] == txs, (who, sent.get(who))
            balance = m.w3.eth.get_balance(who)  # type: ignore[arg-type]
            assert balance == 100 * ETHER - spent[who], who
    assert sent[m.chain.funder] == 3 * THREADS  # one fund per account, none lost or doubled

    # the market: deposits less the open bid's escrow, stakes whole, each commit in the round
    # its call reported
    bids = {e["args"]["requester"]: int(e["args"]["round"])
            for e in _logs(m, "BidCommitted", first_block)}
    asks = {e["args"]["prover"]: int(e["args"]["round"])
            for e in _logs(m, "AskCommitted", first_block)}
    for w in workers:
        assert w.bid is not None and w.ask is not None
        assert m.market.balance_of(w.requester) == w.deposit - w.bid.price
        assert m.market.prover_info(w.prover)["collateral"] == stake
        assert bids[w.requester] == w.bid.round
        assert asks[w.prover] == w.ask.round
    assert set(bids.values()) <= set(range(moved[0] - 1, moved[1] + 1))
    m.next_round()
    return made, set(bids.values())


def test_threads_acting_as_one_account_share_its_nonces(market: LocalMarket) -> None:
    """Participants of one account made in several threads share one sender: no two of their
    transactions take the same nonce."""
    m = market
    acct = m.account()
    gate = threading.Barrier(8)

    def deposit(i: int) -> None:
        q: Participant = m.participant(acct)
        gate.wait(60)
        for _ in range(3):
            q.deposit((i + 1) * GWEI)

    errors = _run_threads([lambda i=i: deposit(i) for i in range(8)])
    assert errors == [], errors
    assert m.market.balance_of(acct.address) == 3 * sum(range(1, 9)) * GWEI
    assert m.w3.eth.get_transaction_count(acct.address) == 24


def _logs(m: LocalMarket, event: str, from_block: int) -> list[Any]:
    from bridge.client.participant import event_logs

    return list(event_logs(m.market, event, from_block))
