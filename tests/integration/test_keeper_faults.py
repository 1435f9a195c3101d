"""Faults the keeper survives against a real node: bad config, a stuck transaction, reorgs,
an unreachable node, and SIGKILL at random points across many rounds.

Every scenario ends with each round that had commitments settled or voided exactly once, no bid
left out of its settlement, and the contract's ETH balance equal to its ledger
(``liabilities().nonFree + Σ balanceOf``).
"""

from __future__ import annotations

import contextlib
import random
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account

from bridge.chain.sender import TxSender
from bridge.errors import BridgeError
from bridge.keeper.store import Store
from tests.integration.conftest import DEV_KEYS, KeeperProcess, cli_env, run_cli
from tests.integration.harness import Scene, make_scene

pytestmark = pytest.mark.anvil


def _final_checks(scene: Scene, *, allow_void: bool = False) -> None:
    outcomes = scene.round_outcomes()
    assert outcomes, "no round had commitments"
    for r, events in outcomes.items():
        assert len(events) == 1, f"round {r}: {events} (exactly one settlement or void)"
        if not allow_void:
            assert events == ["RoundSettled"], f"round {r} was missed: {events}"
    assert scene.lost_bids() == []
    assert scene.ledger_problems() == []


def _wait_final(scene: Scene, rounds: list[int], keeper: KeeperProcess, timeout: float) -> None:
    def done() -> bool:
        if not keeper.alive():
            raise AssertionError(f"keeper exited:\n{keeper.output()[-3000:]}")
        return all(scene.status(r) in (1, 2) for r in rounds)  # SETTLED or VOIDED

    try:
        scene.wait_until(done, timeout, f"rounds {rounds} settled")
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{keeper.output()[-4000:]}") from None


# ------------------------------------------------------------------------------- bad config
def test_bad_keeper_config_is_refused_at_start_with_one_line(anvil: Any, tmp_path: Path) -> None:
    node = anvil(block_time=1)
    unfunded = Account.create()
    scene = make_scene(node, tmp_path, provers=0, requesters=0)
    poor_dir = tmp_path / "poor"
    poor_dir.mkdir()
    poor = make_scene(node, poor_dir, provers=0, requesters=0, keeper_key=unfunded.key.hex())
    base = ["keeper", "run", "--rpc", node.url]
    cases = {
        "wrong chain": ([*base, "--market", scene.record], DEV_KEYS[0],
                        {"BRIDGE_KEEPER_EXPECTED_CHAIN_ID": "1"}, "expected_chain_id"),
        "no code": ([*base, "--market", "0x" + "12" * 20], DEV_KEYS[0], {}, "no contract code"),
        "not a market": ([*base, "--market", scene.deployment.record.verifier], DEV_KEYS[0], {},
                         "is not a sealed-bid market"),
        "not the keeper": ([*base, "--market", scene.record], DEV_KEYS[5], {},
                           "use the keeper's key"),
        "unfunded": ([*base, "--market", poor.record], "0x" + unfunded.key.hex().removeprefix(
            "0x"), {}, "fund it"),
    }

    def run(case: tuple[list[str], str, dict[str, str], str]) -> tuple[int, str, str]:
        args, key, env, _ = case
        db = f"sqlite:///{tmp_path / (str(abs(hash(case[3]))) + '.sqlite')}"
        p = run_cli(*args, "--database", db, key=key, check=False, cwd=tmp_path,
                    env=cli_env(key, **env), timeout=60)
        return p.returncode, p.stderr, case[3]

    with ThreadPoolExecutor(3) as pool:
        results = dict(zip(cases, pool.map(run, cases.values()), strict=True))
    for name, (code, stderr, expect) in results.items():
        lines = [ln for ln in stderr.splitlines() if ln.strip()]
        assert code == 3, f"{name}: exit {code}\n{stderr}"
        assert len(lines) == 1 and lines[0].startswith("error: "), f"{name}: {stderr}"
        assert expect in lines[0], f"{name}: {lines[0]}"


# --------------------------------------------------------------------------- stuck transaction
def test_underpriced_transaction_is_replaced_by_a_fee_bump(anvil: Any, tmp_path: Path) -> None:
    node = anvil(block_time=1)
    scene = make_scene(node, tmp_path, provers=0, requesters=1)
    acct = Account.from_key(DEV_KEYS[1])
    sender = TxSender(scene.w3, acct, decode_revert=scene.market.decode_revert,
                      bump_after=0.5, bump_percent=30, receipt_timeout=60, poll_interval=0.1)
    raised: list[int] = []
    versions: list[int] = []

    def squeeze(sent: Any) -> None:
        versions.append(len(sent.hashes))
        if len(sent.hashes) == 1:  # the first version: make the next blocks too dear for it
            fee = sent.fees[0].max_fee_per_gas
            node.rpc("anvil_setNextBlockBaseFeePerGas", hex(fee * 3))
            raised.append(fee * 3)

    receipt = sender.send(scene.market.tx("deposit", value=10**15), on_broadcast=squeeze)
    assert raised, "the squeeze ran"
    assert max(versions) >= 2, "the transaction was replaced at least once"
    mined = receipt["transactionHash"].to_0x_hex()
    assert receipt["status"] == 1
    assert scene.market.balance_of(acct.address) == 10**15
    # the first version could not be mined: a replacement (same nonce, higher fees) was
    tx = scene.w3.eth.get_transaction(mined)
    first = scene.w3.eth.get_transaction_count(acct.address) - 1
    assert tx["nonce"] == first
    assert int(tx["maxFeePerGas"]) > raised[0] // 3
    assert scene.ledger_problems() == []


def test_keeper_replaces_a_stuck_settlement_with_a_fee_bump(
        anvil: Any, tmp_path: Path, keepers: list[KeeperProcess]) -> None:
    node = anvil(block_time=1)  # no instant mining: a sent transaction waits for the next block
    scene = make_scene(node, tmp_path, commit_period=600, settle_period=600, proof_period=600)
    scene.setup()
    keeper = KeeperProcess(tmp_path, node.url, scene.record, f"sqlite:///{tmp_path / 'k.db'}",
                           confirmations=1, poll_interval=0.2,
                           env={"BRIDGE_KEEPER_BUMP_AFTER": "1"})
    keepers.append(keeper.start())
    node.travel_to(scene.market.params.closes_at(scene.market.current_round()) + 1)
    r = scene.commit()
    me = Account.from_key(DEV_KEYS[0]).address.lower()
    squeezed: list[int] = []
    stop = threading.Event()

    def squeeze_first_settlement() -> None:
        while not stop.is_set() and not squeezed:
            pending = node.rpc("txpool_content")["pending"]
            mine = {k.lower(): v for k, v in pending.items()}.get(me, {})
            for tx in mine.values():
                fee = int(tx["maxFeePerGas"], 16)
                node.rpc("anvil_setNextBlockBaseFeePerGas", hex(fee * 3))
                squeezed.append(fee)
                break
            time.sleep(0.02)

    watcher = threading.Thread(target=squeeze_first_settlement, daemon=True)
    watcher.start()
    try:
        node.travel_to(scene.market.params.closes_at(r) + 1)
        _wait_final(scene, [r], keeper, 90)
    finally:
        stop.set()
        watcher.join()
    assert squeezed, "the settlement was seen pending and priced out"
    out = keeper.output()
    assert "replacing with higher fees" in out, out[-3000:]
    begun = scene.logs("SettlementBegun")
    tx = scene.w3.eth.get_transaction(begun[0]["transactionHash"])
    assert int(tx["maxFeePerGas"]) > squeezed[0], "the replacement, not the first version, mined"
    _final_checks(scene)
    assert keeper.stop() == 0


# ------------------------------------------------------------------------------------ reorgs
def test_reorgs_after_commitments_are_read_and_after_settlement_is_sent(
        anvil: Any, tmp_path: Path, keepers: list[KeeperProcess]) -> None:
    node = anvil(block_time=1, mixed=True)
    scene = make_scene(node, tmp_path, provers=2, requesters=3, commit_period=600,
                       settle_period=600, proof_period=600)
    scene.setup(provers=2, requesters=3)
    db = tmp_path / "k.sqlite"
    keeper = KeeperProcess(tmp_path, node.url, scene.record, f"sqlite:///{db}",
                           confirmations=1, poll_interval=0.2)
    keepers.append(keeper.start())
    node.travel_to(scene.market.params.closes_at(scene.market.current_round()) + 1)
    r = scene.commit()
    hashes = [e["transactionHash"] for e in scene.logs("BidCommitted") + scene.logs("AskCommitted")
              if int(e["args"]["round"]) == r]
    dropped_bid = scene.logs("BidCommitted")[-1]["transactionHash"]
    store = Store(f"sqlite:///{db}")
    scene.wait_until(lambda: len(store.events(round=r)) == len(hashes), 60,
                     "the keeper reading the commitments")
    # 1. reorg the commitments into new blocks, without the last bid
    first_block = min(scene.w3.eth.get_transaction_receipt(h)["blockNumber"] for h in hashes)
    raws = [node.rpc("eth_getRawTransactionByHash", h.to_0x_hex()) for h in hashes
            if h != dropped_bid]
    depth = node.block_number() - first_block + 1
    node.rpc("anvil_reorg", depth, [[raw, 0] for raw in raws])
    assert scene.market.round_info(r).bid_count == 2
    scene.wait_until(lambda: "reorg of depth" in keeper.output(), 30, "the keeper's rewind")
    # 2. close the round; once the keeper has read its settlement, drop it with another reorg
    node.travel_to(scene.market.params.closes_at(r) + 1)
    scene.wait_until(lambda: scene.status(r) == 1, 60, "the first settlement")
    settled_block = scene.logs("RoundSettled")[-1]["blockNumber"]
    scene.wait_until(lambda: bool(store.events("RoundSettled", round=r)), 30,
                     "the keeper reading its settlement")
    node.rpc("anvil_reorg", node.block_number() - settled_block + 1, [])
    assert scene.status(r) in (0, 3), "the settlement (its last page at least) is gone"
    scene.wait_until(lambda: scene.status(r) == 1, 90, "the keeper settling again")
    out = keeper.output()
    assert out.count("reorg of depth") >= 2, out[-3000:]
    settled = scene.logs("RoundSettled")
    pages = [e for e in scene.logs("BidsSettled") if int(e["args"]["round"]) == r]
    assert len(settled) == 1 and sum(len(e["args"]["charges"]) for e in pages) == 2
    _final_checks(scene)
    assert keeper.stop() == 0


# ------------------------------------------------------------------------------ node outage
class PausableProxy:
    """A TCP proxy in front of the node that can refuse and cut every connection."""

    def __init__(self, target_port: int) -> None:
        self.target = ("127.0.0.1", target_port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.listener.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self.up = threading.Event()
        self.up.set()
        self.conns: list[socket.socket] = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.up.is_set():
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            with self.lock:
                self.conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.close()

    def pause(self) -> None:
        """Refuse new connections and cut the open ones."""
        self.up.clear()
        with self.lock:
            for s in self.conns:
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
            self.conns.clear()

    def resume(self) -> None:
        """Forward again."""
        self.up.set()

    def close(self) -> None:
        """Stop listening."""
        self.pause()
        self.listener.close()


def test_node_outage_is_retried_with_backoff_and_caught_up(
        anvil: Any, tmp_path: Path, keepers: list[KeeperProcess]) -> None:
    node = anvil(block_time=1, mixed=True)
    proxy = PausableProxy(node.port)
    scene = make_scene(node, tmp_path, commit_period=600, settle_period=600, proof_period=600)
    scene.setup()
    keeper = KeeperProcess(tmp_path, proxy.url, scene.record, f"sqlite:///{tmp_path / 'k.db'}",
                           confirmations=1, poll_interval=0.2)
    keepers.append(keeper.start())
    try:
        rounds = []
        for _ in range(2):
            node.travel_to(scene.market.params.closes_at(scene.market.current_round()) + 1)
            r = scene.commit()
            rounds.append(r)
            scene.wait_until(lambda: "keeper " in keeper.output(), 60, "the keeper's start")
            proxy.pause()
            node.travel_to(scene.market.params.closes_at(r) + 1)
            dark = node.block_number()  # several blocks are mined while the keeper cannot see them
            scene.wait_until(lambda dark=dark: node.block_number() >= dark + 3, 60,
                             "three blocks during the outage")
            assert scene.status(r) == 0
            proxy.resume()
            _wait_final(scene, [r], keeper, 60)
        out = keeper.output()
        assert "node unreachable" in out and "retrying in" in out, out[-3000:]
        assert "node reachable again" in out
        _final_checks(scene)
        assert keeper.stop() == 0
    finally:
        proxy.close()


# ------------------------------------------------------------------------------------ crash
def test_sigkill_at_random_points_across_rounds_settles_each_round_once(
        anvil: Any, tmp_path: Path, keepers: list[KeeperProcess]) -> None:
    rounds_wanted, seed = 20, 20261123
    rng = random.Random(seed)
    node = anvil(block_time=1, mixed=True)
    # a job's proof deadline is its round's settlement deadline + proofPeriod: 2 + 60 + 2 s; the
    # settle period is the keeper's slack to start again after each kill on a loaded machine
    scene = make_scene(node, tmp_path, provers=2, requesters=2, commit_period=2,
                       settle_period=60, proof_period=2)
    scene.setup()
    keeper = KeeperProcess(tmp_path, node.url, scene.record, f"sqlite:///{tmp_path / 'k.db'}",
                           confirmations=1, poll_interval=0.2)
    keepers.append(keeper.start())
    stop = threading.Event()
    kills: list[float] = []

    def acting() -> bool:  # the current run of the keeper holds the lock and acts
        return "leader lock acquired" in keeper.output().rsplit("--- start ", 1)[-1]

    def chaos() -> None:
        # each run acts for 3-8 s before it is killed, however long it took to start: on a
        # loaded machine the start alone can outlast a kill timer counted from the start
        while True:
            while not acting() and not stop.wait(0.1):
                pass
            if stop.wait(rng.uniform(3.0, 8.0)):
                break
            keeper.kill()
            kills.append(time.monotonic())
            stop.wait(rng.uniform(0.0, 0.5))
            keeper.start()

    killer = threading.Thread(target=chaos, daemon=True)
    killer.start()
    committed: list[int] = []
    try:
        while len(committed) < rounds_wanted or len(kills) < 5:  # rounds until 5 kills too
            assert len(committed) < 4 * rounds_wanted, f"only {len(kills)} kills"
            r = scene.market.current_round()
            try:
                scene.commit(seed=len(committed))
                committed.append(r)
            except BridgeError:
                pass  # the round turned while committing: its commitments still count
            scene.wait_until(lambda r=r: scene.market.current_round() > r, 10, "the next round")
    finally:
        stop.set()
        killer.join()
    if not keeper.alive():
        keeper.start()
    rounds = sorted(scene.round_outcomes())
    _wait_final(scene, rounds, keeper, 300)
    store = Store(f"sqlite:///{tmp_path / 'k.db'}")
    scene.wait_until(lambda: all(store.round_phase(r) is not None and
                                 store.round_phase(r).terminal  # type: ignore[union-attr]
                                 for r in rounds), 300, "every round finalised by the keeper")
    assert len(kills) >= 5, f"only {len(kills)} kills"
    assert len(committed) >= rounds_wanted
    _final_checks(scene)
    assert keeper.stop() == 0
