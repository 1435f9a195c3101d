"""fixedprice on anvil with processes: the keeper process learns and posts the price by the public
rule, and a watchtower process (`bridge audit --follow`) flags a price posted off the rule."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bridge.chain.anvil import DEV_KEYS
from bridge.chain.sender import TxSender
from bridge.errors import NonRetryableTxError
from bridge.testing.agents import ManagedProcess
from tests.integration.conftest import BRIDGE, KeeperProcess, cli_env
from tests.integration.harness import GWEI, make_scene

START = 50 * GWEI


def test_the_keeper_posts_by_the_rule_and_the_watchtower_flags_a_price_off_it(
        anvil: Callable[..., Any], tmp_path: Path) -> None:
    from eth_account import Account

    node = anvil(block_time=1)
    # lag 2 + ⌈6/6⌉ = 3 rounds; re-fit every round by at most ×1.2
    scene = make_scene(node, tmp_path, provers=1, requesters=1, mechanism="fixedprice",
                       initial_price="50gwei", commit_period=6, settle_period=6,
                       proof_period=12, price_window=8, price_every=1, price_step_bps=2_000)
    scene.setup(provers=1, requesters=1)
    market = scene.market
    keeper = KeeperProcess(tmp_path, node.url, scene.record,
                           f"sqlite:///{tmp_path / 'keeper.sqlite'}").start()
    watch = ManagedProcess([str(BRIDGE), "audit", "--follow", "--rpc", node.url, "--market",
                            scene.record, "--poll", "0.5"], tmp_path / "watch.log",
                           cli_env(DEV_KEYS[5]), cwd=tmp_path).start()
    try:
        # each round one ask at 100 gwei (above the starting price: it cannot sell at 50) and one
        # bid of 150 gwei: the welfare-maximising price lies in [100, 150] gwei, so the keeper
        # moves the price up by the full step once such a round is three rounds back
        first = market.current_round()
        committed: set[int] = set()
        while market.round_price(market.current_round() + 1) == START:
            r = market.current_round()
            left = market.params.closes_at(r) - market.chain_time()
            if r not in committed and left >= 3:  # two transactions, 1 s blocks: not at the edge
                committed.add(r)
                try:
                    scene.provers[0].ask(cost=100 * GWEI, round=r)
                    q = scene.requesters[0]
                    q.bid(value=150 * GWEI, size=1, escrow=150 * GWEI, task=b"\x01" * 32,
                          round=r)
                except NonRetryableTxError:  # landed in the next round on a slow machine
                    pass
            assert market.current_round() < first + 12, keeper.output()[-3000:]
            time.sleep(0.5)
        target = market.current_round() + 1
        assert market.round_price(target) == 60 * GWEI  # 50 × 1.2, as the rule clamps it
        assert re.search(rf"round {target}: posted price 60 gwei", keeper.output()), \
            keeper.output()[-2000:]

        # now a keeper key posts the next price off the rule (still within the contract's step)
        sender = TxSender(scene.w3, Account.from_key(DEV_KEYS[0]), poll_interval=0.1)
        for _ in range(5):
            nxt = market.current_round() + 1
            scene.wait_until(lambda n=nxt: f"round {n}: " in keeper.output(), 8,
                             "the keeper to price the next round")
            honest = market.round_price(nxt)
            if market.params.closes_at(nxt - 1) - market.chain_time() < 2:
                continue  # too close to the round's end to land in it
            try:
                sender.send(market.tx("postPrice", nxt, honest - 1))
                break
            except NonRetryableTxError as exc:  # the round opened meanwhile: try the next one
                assert "would revert" in str(exc) or "reverted" in str(exc), exc
        else:
            raise AssertionError("could not post within a round")
        scene.wait_until(lambda: f"ALERT round {nxt} round: price:" in watch.output(), 20,
                         "the watchtower to flag the price")
        line = next(x for x in watch.output().splitlines() if f"ALERT round {nxt}" in x)
        assert "the price rule gives" in line
        # the honest posts before it were not flagged (the other alerts of a development market:
        # the owner is the keeper; a round may void while the keeper process starts)
        assert watch.output().count(": price:") == 1, watch.output()
        assert scene.ledger_problems() == []
    finally:
        watch.stop()
        keeper.stop()
