"""The posted price as a requester sees it in the CLI, on a fixedprice market (the plugin's
``bridge_market`` on eth-tester, stepped keeper).

``bridge requester request`` and ``bridge requester bid`` show the round's posted price before
bidding; a value below price × units cannot trade, so it is refused before anything is sent (one
line, exit 1: no transaction, no deposit, no escrow). Both are checked at the boundary: one wei
below price × units (refused) and exactly at it (committed). ``bridge round show`` gives the
round's price, the prices before it and the next round's once the keeper posted it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount

from bridge.client.participant import event_logs
from bridge.testing import LocalMarket

GWEI = 10**9
PRICE = 35 * GWEI

pytestmark = pytest.mark.bridge_market(mechanism="fixedprice", initial_price=PRICE,
                                       price_every=1, price_step_bps=2_000)


@pytest.fixture(autouse=True)
def _salts_in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The commands record their salts under the test's tmp dir, not ``~/.bridge``."""
    monkeypatch.setenv("BRIDGE_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("BRIDGE_SALTS", raising=False)


def _money(m: LocalMarket, who: LocalAccount) -> tuple[int, int, int, int]:
    """(nonce, ETH, free market balance, bids in the current round): what a sent bid changes."""
    return (m.w3.eth.get_transaction_count(who.address), m.w3.eth.get_balance(who.address),
            m.market.balance_of(who.address), m.market.round_info(m.current_round()).bid_count)


def _refused(result: Any) -> str:
    assert result.exit_code == 1, (result.output, result.exception)
    assert result.stdout == ""
    (line,) = result.stderr.strip().splitlines()
    return str(line)


def _escrows(m: LocalMarket, who: LocalAccount) -> list[int]:
    return [int(e["args"]["escrow"]) for e in event_logs(m.market, "BidCommitted", m.deploy_block,
                                                          {"requester": who.address})]


def test_request_below_the_posted_price_is_refused_and_at_it_commits(
        bridge_market: LocalMarket) -> None:
    m = bridge_market
    r = m.next_round()
    me = m.account()
    before = _money(m, me)
    got = m.cli("requester", "request", "--value", f"{PRICE - 1}wei", "--task", "job-1",
                key=bytes(me.key))
    assert _refused(got) == (f"error: round {r}: your 34.999999999 gwei is below the posted "
                             "price 35 gwei: this bid cannot trade; raise it to ≥ 35 gwei")
    assert _money(m, me) == before  # nothing sent, nothing deposited, no bid
    assert _escrows(m, me) == []

    got = m.cli("requester", "request", "--value", "35gwei", "--task", "job-1",
                key=bytes(me.key))
    assert got.exit_code == 0, (got.output, got.exception)
    assert f"round {r}: your 35 gwei ≥ the posted 35 gwei: you trade if supply allows" \
        in got.stderr.splitlines()
    assert got.stdout.startswith(f"committed: round {r} bid 0")
    assert _escrows(m, me) == [PRICE]  # the default escrow (the value), deposited with the bid
    assert m.market.round_info(r).bid_count == 1
    got = m.cli("requester", "request", "--value", "40gwei", "--task", "job-1b", "--json",
                key=bytes(me.key))
    assert got.exit_code == 0, (got.output, got.exception)
    assert json.loads(got.stdout) == {"status": "committed", "round": r, "bid_index": 1,
                                      "price": PRICE}


def test_bid_of_several_units_is_held_against_price_times_units(
        bridge_market: LocalMarket) -> None:
    m = bridge_market
    r = m.next_round()
    me = m.account()
    need = 2 * PRICE
    before = _money(m, me)
    args = ("requester", "bid", "--size", "2", "--escrow", "1ether", "--task", "job-2",
            "--top-up")
    got = m.cli(*args, "--value", f"{need - 1}wei", key=bytes(me.key), from_block=False)
    assert _refused(got) == (f"error: round {r}: your 69.999999999 gwei is below the posted "
                             "price 35 gwei × 2 units = 70 gwei: this bid cannot trade; raise "
                             "it to ≥ 70 gwei")
    assert _money(m, me) == before

    got = m.cli(*args, "--value", f"{need}wei", key=bytes(me.key), from_block=False)
    assert got.exit_code == 0, (got.output, got.exception)
    assert got.stdout.splitlines()[0] == (f"round {r}: your 70 gwei ≥ the posted 35 gwei × 2 "
                                          "units = 70 gwei: you trade if supply allows")
    assert _escrows(m, me) == [10**18]

    got = m.cli(*args, "--value", "90gwei", "--json", key=bytes(me.key), from_block=False)
    assert got.exit_code == 0, (got.output, got.exception)
    data = json.loads(got.stdout)
    assert (data["price"], data["round"], data["quantity"]) == (PRICE, r, 2)


def test_round_show_gives_the_price_its_history_and_the_next_posted_price(
        bridge_market: LocalMarket) -> None:
    m = bridge_market
    r = m.next_round()

    def show(*args: str) -> Any:
        got = m.cli("round", "show", *args)
        assert got.exit_code == 0, (got.output, got.exception)
        return got.stdout

    text = show()
    assert (f"price 35 gwei per unit (initial); next round {r + 1}: not posted yet (the keeper "
            f"posts it during round {r} if the price moves; else 35 gwei carries)") \
        in text.splitlines()

    m.keeper.sender.send(m.market.tx("postPrice", r + 1, 36 * GWEI))  # as the keeper would
    text = show()
    assert f"price 35 gwei per unit (initial); next round {r + 1}: 36 gwei (posted)" \
        in text.splitlines()
    assert f"price history: {', '.join(f'round {k} 35 gwei' for k in range(r))}" \
        in text.splitlines()

    m.next_round()
    data = json.loads(show("--json"))
    assert (data["round"], data["price"], data["price_source"]) == (r + 1, 36 * GWEI, "posted")
    assert data["price_history"][-2:] == [
        {"round": r - 1, "price": PRICE, "source": "initial"},
        {"round": r, "price": PRICE, "source": "initial"}]
    assert data["next_price"] is None  # the rule keeps 36 gwei: nothing posted yet

    data = json.loads(show(str(r), "--json"))  # a past round: the next one's price is final
    assert data["price"] == PRICE
    assert data["next_price"] == {"round": r + 1, "price": 36 * GWEI, "source": "posted"}
