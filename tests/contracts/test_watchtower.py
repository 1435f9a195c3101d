"""The watchtower's log reading: a poll reads the blocks of the rounds it audits, not the chain's
history; a reorganisation deeper than its confirmations is noticed and the rounds it touched are
audited again (eth-tester snapshots replace settled blocks with others at the same heights)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

from web3 import Web3
from web3.middleware import Web3Middleware

from bridge.chain.logs import first_block_at
from bridge.chain.market import Market
from bridge.client.watchtower import Watchtower
from bridge.evidence import MarkReason, make_evidence
from tests.contracts.conftest import Accounts
from tests.contracts.flow import CIPHERTEXT, Driver
from tests.contracts.test_paging import _round


@contextmanager
def _log_requests(w3: Web3) -> Iterator[list[int]]:
    """Record the ``fromBlock`` of every ``eth_getLogs`` the node is asked for."""
    seen: list[int] = []

    class Recorder(Web3Middleware):
        def wrap_make_request(self, make_request: Any) -> Any:
            def request(method: str, params: Any) -> Any:
                if method == "eth_getLogs":
                    start = params[0]["fromBlock"]
                    seen.append(int(start, 16) if isinstance(start, str) else int(start))
                return make_request(method, params)
            return request

    w3.middleware_onion.add(Recorder, name="log-requests")
    try:
        yield seen
    finally:
        w3.middleware_onion.remove("log-requests")


def test_first_block_at_finds_the_boundary_exactly(dara: Driver, accounts: Accounts) -> None:
    w3 = dara.chain.w3
    for _ in range(3):
        dara.chain.advance(7)
    head = int(w3.eth.block_number)
    times = [int(w3.eth.get_block(n)["timestamp"]) for n in range(head + 1)]
    for n in range(1, head + 1):
        t = times[n]
        want = min(k for k in range(head + 1) if times[k] >= t)
        assert first_block_at(w3, t, 0, head) == want
        assert first_block_at(w3, t + 1, 0, head) == min(
            [k for k in range(head + 1) if times[k] >= t + 1], default=head + 1)
    assert first_block_at(w3, times[head] + 1, 0, head) == head + 1  # none: one past the range


def test_a_poll_reads_from_the_round_not_from_the_deployment(
        dara: Driver, accounts: Accounts) -> None:
    """Every log request of a poll starts at or after the block the audited round opened at (or
    at the poll's cursor), however far back the watchtower started."""
    m = dara
    for _ in range(6):  # history: blocks before the audited round
        m.send("deposit", sender=accounts.anyone, value=1)
    r = _round(m, accounts, [(10, 1), (9, 1), (8, 1)], [(1, 3), (2, 3)])
    bids, asks, bo, ao, entries = m.clear(r, invalid_bids=[1])
    tower = Watchtower(Market(m.chain.w3, m.market.address), 0)
    s = m.settle(r, bids, asks, bo, ao, entries, pages=0)
    assert tower.poll() == []  # the first poll reads the history once
    opens = m.times(r)[0]
    floor = first_block_at(m.chain.w3, opens, 0, int(m.chain.w3.eth.block_number))
    assert floor > 6
    cursor = tower.cursor
    for page in s.plan.pages:
        m.send("settleBids", *page.args(r), sender=accounts.keeper)
    with _log_requests(m.chain.w3) as seen:
        assert tower.poll() == [] and tower.metrics.rounds_audited._value.get() == 1
    assert seen and min(seen) >= min(floor, cursor), (seen, floor, cursor)


def test_a_reorg_deeper_than_the_confirmations_reaudits_the_round(
        dara: Driver, accounts: Accounts) -> None:
    """An honest settlement is audited; a reorganisation replaces it with one that marks a valid
    bid invalid: the watchtower notices the replaced blocks and flags the new mark."""
    m = dara
    r = _round(m, accounts, [(10, 1), (9, 1), (8, 1), (7, 1)], [(1, 3), (2, 3)])
    bids, asks, bo, ao, entries = m.clear(r, invalid_bids=[1, 3])
    tower = Watchtower(Market(m.chain.w3, m.market.address), 0)
    before = m.chain.snapshot()
    m.settle(r, bids, asks, bo, ao, entries)
    m.send("deposit", sender=accounts.anyone, value=1)
    assert tower.poll() == [] and tower.metrics.rounds_audited._value.get() == 1
    m.chain.revert(before)
    wrong = make_evidence(b"\x01" * 32, CIPHERTEXT, MarkReason.COMMITMENT_MISMATCH).encode()
    bids[3] = replace(bids[3], evidence=wrong)
    m.settle(r, bids, asks, bo, ao, entries)
    found = tower.poll()
    assert [(d.kind, d.subject) for d in found] == [("invalid_mark", "bid 3")]
    assert tower.metrics.reorgs._value.get() == 1
    assert tower.metrics.rounds_audited._value.get() == 2
