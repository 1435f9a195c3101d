"""The log readers against a provider that refuses large ``eth_getLogs`` answers, and against a
chain that reorganises in the middle of a poll.

An eth-tester chain is served over HTTP (:class:`~bridge.chain.rpcserver.RpcServer`); a
:class:`LimitingProxy` in front of it forwards every JSON-RPC request and answers an
``eth_getLogs`` whose real answer holds more than ``max_logs`` logs with Infura's refusal
(``-32005 query returned more than 10000 results``). The contract is a few bytes of hand-written
EVM code emitting, in one transaction, any list of ``Ping(uint256)`` / ``Pong(uint256)`` logs, so
one block can hold more logs than the proxy allows, of one event or of both.

The proxy answers at most ``budget`` ``eth_getLogs`` requests and then a non-refusal error, so a
reader that retried a refused range forever fails quickly instead of hanging. Its ``before`` hook
runs before it forwards a request: the reorganisation tests replace blocks there (an eth-tester
snapshot reverted and other blocks mined at the same heights), between any two requests of a poll.
"""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pytest
from eth_utils import event_abi_to_log_topic
from hexbytes import HexBytes
from web3 import HTTPProvider, Web3
from web3.exceptions import Web3RPCError

from bridge.chain.logs import (
    Batch,
    LogLimitError,
    LogReader,
    RememberedBlocks,
    Reorg,
    event_logs,
    is_range_refusal,
)
from bridge.chain.rpcserver import JsonRpcEndpoint, RpcServer
from bridge.chain.tester import TesterChain, make_tester_chain
from bridge.errors import ChainError

MAX_LOGS = 5
"""The proxy refuses an ``eth_getLogs`` answer of more logs than this."""
MAX_RANGE = 64
REFUSAL = {"code": -32005, "message": "query returned more than 10000 results"}

ABI: list[dict[str, Any]] = [
    {"type": "event", "name": name, "anonymous": False,
     "inputs": [{"name": "value", "type": "uint256", "indexed": False}]}
    for name in ("Ping", "Pong")
]
TOPIC = {e["name"]: bytes(event_abi_to_log_topic(e)) for e in ABI}  # type: ignore[arg-type]

# Runtime: for each 64-byte word pair (topic, value) of the calldata, LOG1(value, topic).
#   00 PUSH1 0            i = 0
#   02 JUMPDEST           loop:
#   03 CALLDATASIZE DUP2 LT ISZERO PUSH1 0x1f JUMPI      if i >= size: stop
#   0a DUP1 PUSH1 32 ADD CALLDATALOAD PUSH1 0 MSTORE      mem[0] = calldata[i+32]
#   12 DUP1 CALLDATALOAD PUSH1 32 PUSH1 0 LOG1            log1(mem[0:32], calldata[i])
#   19 PUSH1 64 ADD PUSH1 2 JUMP                          i += 64
#   1f JUMPDEST STOP
RUNTIME = bytes.fromhex("6000" "5b" "36811015601f57" "80602001356000" "52" "80356020" "6000" "a1"
                        "604001600256" "5b00")
INIT = bytes.fromhex(f"60{len(RUNTIME):02x}600c600039" f"60{len(RUNTIME):02x}6000f3") + RUNTIME


class LimitingProxy:
    """A JSON-RPC HTTP proxy to ``upstream`` refusing ``eth_getLogs`` answers of more than
    ``max_logs`` logs; with ``error`` set it answers every ``eth_getLogs`` with that error."""

    def __init__(self, upstream: str, max_logs: int = MAX_LOGS, budget: int = 100) -> None:
        self.upstream = upstream
        self.max_logs = max_logs
        self.budget = budget
        self.error: dict[str, Any] | None = None
        self.requests: list[tuple[int, int, tuple[str, ...]]] = []
        """Every ``eth_getLogs`` seen: (fromBlock, toBlock, topics)."""
        self.refused: list[tuple[int, int, tuple[str, ...]]] = []
        self.before: Callable[[dict[str, Any]], None] | None = None
        """Called with every request before it is forwarded or answered."""
        self.logs_upstream: str | None = None
        """Where ``eth_getLogs`` goes instead of ``upstream``: a provider whose log index sits on
        another node (and another fork) than the one answering for blocks."""
        self.endpoint = JsonRpcEndpoint(self.handle, "limiting-proxy").start()
        self.url = self.endpoint.url

    def forward(self, request: dict[str, Any], upstream: str | None = None) -> dict[str, Any]:
        req = urllib.request.Request(upstream or self.upstream, data=json.dumps(request).encode(),
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as r:
            reply: dict[str, Any] = json.loads(r.read())
        return reply

    def handle(self, request: dict[str, Any]) -> dict[str, Any]:
        if self.before is not None:
            self.before(request)
        if request.get("method") != "eth_getLogs":
            return self.forward(request)
        query = request["params"][0]
        seen = (int(query["fromBlock"], 16), int(query["toBlock"], 16),
                tuple(query.get("topics") or ()))
        self.requests.append(seen)
        rid = request.get("id")
        if len(self.requests) > self.budget:
            return {"jsonrpc": "2.0", "id": rid,
                    "error": {"code": -32603, "message": "proxy: eth_getLogs budget exhausted"}}
        if self.error is not None:
            return {"jsonrpc": "2.0", "id": rid, "error": self.error}
        reply = self.forward(request, self.logs_upstream)
        if len(reply.get("result") or ()) > self.max_logs:
            self.refused.append(seen)
            return {"jsonrpc": "2.0", "id": rid, "error": REFUSAL}
        return reply

    def widths(self) -> list[int]:
        """Block widths of the ``eth_getLogs`` requests, in order."""
        return [to - frm + 1 for frm, to, _ in self.requests]

    def stop(self) -> None:
        self.endpoint.stop()


@dataclass
class Scene:
    chain: TesterChain
    proxy: LimitingProxy
    w3: Web3
    """A client of the chain through the proxy."""
    address: str
    deploy_block: int
    emitted: list[tuple[int, str, int]] = field(default_factory=list)
    """(block, event name, value) of every emitted log, in chain order."""

    def emit(self, *logs: tuple[str, int]) -> int:
        """One transaction (so one block) emitting ``logs``; returns its block number."""
        data = b"".join(TOPIC[name] + value.to_bytes(32, "big") for name, value in logs)
        tx = self.chain.w3.eth.send_transaction({
            "from": self.chain.accounts[0], "to": self.address, "data": HexBytes(data),
            "gas": 1_000_000})
        block = int(self.chain.w3.eth.get_transaction_receipt(tx)["blockNumber"])
        self.emitted.extend((block, name, value) for name, value in logs)
        return block

    def mine(self, blocks: int) -> None:
        with self.chain.lock:
            self.chain.tester.mine_blocks(blocks)


@contextmanager
def ping_scene() -> Iterator[Scene]:
    """A fresh chain with the Ping/Pong contract, served through a :class:`LimitingProxy`."""
    chain = make_tester_chain(accounts=2)
    server = RpcServer(chain).start()
    proxy = LimitingProxy(server.url)
    try:
        yield _deploy(chain, proxy)
    finally:
        proxy.stop()
        server.stop()


def _deploy(chain: TesterChain, proxy: LimitingProxy) -> Scene:
    """The Ping/Pong contract on ``chain`` (at the same address on every fresh chain)."""
    tx = chain.w3.eth.send_transaction({"from": chain.accounts[0], "data": HexBytes(INIT),
                                        "gas": 1_000_000})
    receipt = chain.w3.eth.get_transaction_receipt(tx)
    assert bytes(chain.w3.eth.get_code(receipt["contractAddress"])) == RUNTIME
    w3 = Web3(HTTPProvider(proxy.url, request_kwargs={"timeout": 10}))
    return Scene(chain, proxy, w3, str(receipt["contractAddress"]), int(receipt["blockNumber"]))


@pytest.fixture
def scene() -> Iterator[Scene]:
    with ping_scene() as s:
        yield s


def read_all(reader: LogReader, known: RememberedBlocks, scene: Scene,
             spans: list[int]) -> list[Batch]:
    """Poll until caught up (40 polls at most), checking each batch; ``spans`` gets the
    reader's range after each poll."""
    batches: list[Batch] = []
    for _ in range(40):
        result = reader.poll(known)
        if result is None:
            return batches
        assert isinstance(result, Batch), result
        last = known.last_scanned()
        assert result.from_block == (reader.start_block if last is None else last + 1)
        tip = scene.chain.w3.eth.get_block(result.to_block)["hash"]
        assert result.block_hashes[result.to_block] == HexBytes(tip).to_0x_hex()
        known.record(result)
        batches.append(result)
        spans.append(reader.range.current)
    raise AssertionError(f"not caught up after 40 polls; widths asked: {scene.proxy.widths()}")


def test_reader_halves_splits_one_block_by_event_and_grows_back(scene: Scene) -> None:
    for i in range(12):  # 18 logs in 12 blocks: more than the proxy allows in one answer
        scene.emit(("Ping", i), *([("Pong", i)] if i % 2 else []))
    flooded = scene.emit(*[("Ping", 100 + i) for i in range(4)],
                         *[("Pong", 200 + i) for i in range(4)])  # 8 logs, 4 per event
    scene.emit(("Pong", 300))
    scene.mine(2 * MAX_RANGE)  # room to grow the range back to its maximum
    scene.emit(("Ping", 400), ("Ping", 401))
    reader = LogReader(scene.w3, scene.address, ABI, start_block=scene.deploy_block,
                       max_range=MAX_RANGE)
    known = RememberedBlocks()
    spans: list[int] = []

    started = time.monotonic()
    batches = read_all(reader, known, scene, spans)
    elapsed = time.monotonic() - started

    events = [e for b in batches for e in b.events]
    assert [(e.block_number, e.name, e.args["value"]) for e in events] == scene.emitted
    assert len({e.key for e in events}) == len(events)
    assert [(e.block_number, e.log_index) for e in events] == sorted(
        (e.block_number, e.log_index) for e in events)
    assert known.last_scanned() == scene.chain.w3.eth.block_number
    # refused, halved to one block, the flooded block read one event at a time …
    assert (flooded, flooded, ()) in scene.proxy.refused
    by_topic = {r[2] for r in scene.proxy.requests if r[:2] == (flooded, flooded) and r[2]}
    assert by_topic == {(HexBytes(t).to_0x_hex(),) for t in TOPIC.values()}
    alone = [i for i, b in enumerate(batches) if b.from_block == b.to_block == flooded]
    assert alone, [(b.from_block, b.to_block) for b in batches]
    # … then grown back, doubling after each success, to the maximum
    after = spans[alone[0]:]
    assert after[0] == 2 and after == sorted(after), spans
    assert after[-1] == MAX_RANGE == reader.range.current
    assert reader.range.refusals == len(scene.proxy.refused)
    assert len(scene.proxy.requests) < 60, scene.proxy.widths()
    assert elapsed < 30


def test_one_event_of_one_block_over_the_limit_is_a_clear_error(scene: Scene) -> None:
    scene.emit(("Pong", 1))
    flooded = scene.emit(*[("Ping", i) for i in range(MAX_LOGS + 1)])
    reader = LogReader(scene.w3, scene.address, ABI, start_block=scene.deploy_block,
                       max_range=MAX_RANGE)
    known = RememberedBlocks()
    with pytest.raises(LogLimitError) as info:
        for _ in range(10):  # the blocks before the flooded one are read, then it fails
            result = reader.poll(known)
            assert isinstance(result, Batch), result
            known.record(result)
    assert known.last_scanned() == flooded - 1
    message = str(info.value)
    assert isinstance(info.value, ChainError)
    assert "\n" not in message
    assert f"block {flooded}" in message and "event Ping" in message
    assert "query returned more than 10000 results" in message
    assert "own node" in message and "higher eth_getLogs limits" in message
    assert info.value.block == flooded
    # bounded: a few halvings, then one request per event
    assert len(scene.proxy.requests) <= 12, scene.proxy.widths()


@pytest.mark.parametrize("error", [
    {"code": -32000, "message": "header not found"},
    {"code": -32602, "message": "invalid argument 0: hex string without 0x prefix"},
    {"code": -32005, "message": "daily request count exceeded, request rate limited"},
])
def test_other_errors_propagate_unchanged(scene: Scene, error: dict[str, Any]) -> None:
    for i in range(3):
        scene.emit(("Ping", i))
    scene.proxy.error = error
    reader = LogReader(scene.w3, scene.address, ABI, start_block=scene.deploy_block,
                       max_range=MAX_RANGE)
    with pytest.raises(Web3RPCError) as info:
        reader.poll(RememberedBlocks())
    assert error["message"] in str(info.value)
    assert not is_range_refusal(info.value)
    assert len(scene.proxy.requests) == 1 and reader.range.current == MAX_RANGE
    market = SimpleNamespace(w3=scene.w3, contract=scene.w3.eth.contract(scene.address, abi=ABI))
    with pytest.raises(Web3RPCError, match=error["message"]):
        event_logs(market, "Ping", scene.deploy_block, step=MAX_RANGE)
    assert len(scene.proxy.requests) == 2


def test_event_logs_halves_grows_back_and_names_the_block_it_cannot_read(scene: Scene) -> None:
    for i in range(10):
        scene.emit(("Ping", i), ("Pong", i))
    scene.emit(*[("Ping", 100 + i) for i in range(MAX_LOGS)], ("Pong", 100))  # 6 logs, 5 Pings
    scene.mine(MAX_RANGE)
    scene.emit(("Ping", 200))
    market = SimpleNamespace(w3=scene.w3, contract=scene.w3.eth.contract(scene.address, abi=ABI))

    pings = event_logs(market, "Ping", scene.deploy_block, step=MAX_RANGE)

    assert [(e["blockNumber"], int(e["args"]["value"])) for e in pings] == [
        (b, v) for b, name, v in scene.emitted if name == "Ping"]
    widths = scene.proxy.widths()
    assert scene.proxy.refused and min(widths) < MAX_RANGE
    assert widths[-1] > min(widths)  # grew back after the successes
    assert len(widths) < 40, widths
    pongs = event_logs(market, "Pong", scene.deploy_block, step=MAX_RANGE)
    assert len(pongs) == 11

    flooded = scene.emit(*[("Pong", 300 + i) for i in range(MAX_LOGS + 1)])
    before = len(scene.proxy.requests)
    with pytest.raises(LogLimitError, match=f"block {flooded} \\(event Pong\\)") as info:
        event_logs(market, "Pong", flooded - 3, step=MAX_RANGE)
    assert "\n" not in str(info.value) and "own node" in str(info.value)
    assert len(scene.proxy.requests) - before <= 8, scene.proxy.widths()[before:]


@pytest.mark.parametrize(("message", "code", "refusal"), [
    ("query returned more than 10000 results", -32005, True),  # Infura, geth
    ("Log response size exceeded. You can make eth_getLogs requests with up to a 2K block "
     "range and no limit on the response size", -32602, True),  # Alchemy
    ("eth_getLogs is limited to a 10,000 range", -32614, True),  # QuickNode
    ("block range is too wide", -32000, True),  # Ankr
    ("Request exceeds defined limit", -32046, True),  # Cloudflare
    ("query exceeds max results 20000, retry with the range 1-5", -32602, True),  # reth
    ("exceed maximum block range: 5000", -32000, True),  # BSC
    ("eth_getLogs range is too large, max is 1k blocks", -32600, True),
    ("limit exceeded", -32005, True),
    ("execution reverted", 3, False),
    ("invalid block range params", -32000, False),
    ("invalid argument 0: hex string without 0x prefix", -32602, False),
    ("daily request count exceeded, request rate limited", -32005, False),
    ("Your app has exceeded its compute units per second capacity", 429, False),
])
def test_is_range_refusal_recognises_provider_messages(message: str, code: int,
                                                       refusal: bool) -> None:
    error = {"code": code, "message": message}
    exc = Web3RPCError(repr(error), rpc_response={"jsonrpc": "2.0", "id": 1, "error": error})
    assert is_range_refusal(exc) is refusal
    assert is_range_refusal(ConnectionRefusedError("connection refused")) is False


# ------------------------------------------------------------------- reorganisation mid-poll
def _chain_logs(scene: Scene) -> list[tuple[int, str, int]]:
    """(block, event, value) of every log the chain holds now, read from the node directly."""
    names = {HexBytes(t): n for n, t in TOPIC.items()}
    raw = scene.chain.w3.eth.get_logs({"address": scene.address, "fromBlock": scene.deploy_block,
                                       "toBlock": "latest"})
    return [(int(r["blockNumber"]), names[HexBytes(r["topics"][0])],
             int.from_bytes(r["data"], "big")) for r in raw]


def _read_through_reorgs(reader: LogReader, known: RememberedBlocks,
                         held: list[tuple[int, str, int]]) -> int:
    """Poll until caught up as the keeper does: keep each batch, drop what a reorg discards.
    Returns the number of reorganisations reported."""
    reorgs = 0
    for _ in range(40):
        result = reader.poll(known)
        if result is None:
            return reorgs
        if isinstance(result, Reorg):
            reorgs += 1
            held[:] = [h for h in held if h[0] <= result.ancestor]
            known.rewind(result.ancestor)
            continue
        held.extend((e.block_number, e.name, int(e.args["value"])) for e in result.events)
        known.record(result)
    raise AssertionError("not caught up after 40 polls")


def _reorg_before_request(n: int, deep: bool) -> bool:
    """Catch up, add a range, then replace blocks just before the ``n``-th request (from 0) of
    the reader's polls and poll until caught up; False if the polls made ``n`` requests or fewer.

    The new blocks start at a fork point below the last scanned block (``deep``) or just after
    it, hold an event in their first block and another below the old head, and end two blocks
    above the old head."""
    with ping_scene() as scene:
        scene.emit(("Ping", 1))
        scene.mine(2)
        fork = scene.chain.snapshot()
        scene.emit(("Ping", 2))
        scene.mine(2)
        reader = LogReader(scene.w3, scene.address, ABI, start_block=scene.deploy_block,
                           max_range=MAX_RANGE)
        known = RememberedBlocks()
        held: list[tuple[int, str, int]] = []
        assert _read_through_reorgs(reader, known, held) == 0
        if not deep:
            fork = scene.chain.snapshot()
        scene.emit(("Ping", 3))
        scene.mine(3)
        head = int(scene.chain.w3.eth.block_number)
        requests: list[str] = []

        def reorg_before_the_nth(request: dict[str, Any]) -> None:
            requests.append(request["method"])
            if len(requests) == n + 1:
                scene.chain.revert(fork)
                scene.emit(("Pong", 9))
                scene.mine(head - 2 - int(scene.chain.w3.eth.block_number))
                assert scene.emit(("Pong", 10)) == head - 1
                scene.mine(3)

        scene.proxy.before = reorg_before_the_nth
        reorgs = _read_through_reorgs(reader, known, held)
        if len(requests) <= n:
            return False
        where = (n, requests[:n + 1])
        assert int(scene.chain.w3.eth.block_number) == head + 2, where  # the reorg happened
        assert held == _chain_logs(scene), where
        assert [(name, v) for _, name, v in held if name == "Pong"] == [("Pong", 9), ("Pong", 10)]
        for number, h in known.remembered_blocks():
            assert h == HexBytes(scene.chain.w3.eth.get_block(number)["hash"]).to_0x_hex(), where
        assert reorgs >= 1 or not deep, where
        return True


@pytest.mark.parametrize("deep", [True, False], ids=["below-the-last-scanned", "in-the-range"])
def test_a_reorg_between_any_two_requests_of_a_poll_leaves_exactly_the_chains_logs(
        deep: bool) -> None:
    """Blocks already read are replaced (``deep``), or only blocks of the range being read, just
    before the n-th request of a poll, for every n: once the reader has caught up, what it holds
    is what the chain holds, and every block hash it remembers is the chain's."""
    n = 0
    while _reorg_before_request(n, deep):
        n += 1
    assert n > 5  # every request of the polls was tried


def test_logs_served_from_another_fork_are_never_taken() -> None:
    """A provider answering ``eth_getLogs`` from a node on another fork than the one answering
    for blocks: the reader reports each range it reads as reorganised and keeps nothing from the
    other fork; once the logs come from the right node, it holds exactly the chain's."""
    other = make_tester_chain(accounts=2)
    other_server = RpcServer(other).start()
    try:
        with ping_scene() as scene:
            elsewhere = _deploy(other, scene.proxy)
            assert elsewhere.address == scene.address
            for chain, value in ((scene.chain, 1), (other, 2)):
                chain.w3.eth.send_transaction({
                    "from": chain.accounts[0], "to": scene.address, "gas": 1_000_000,
                    "data": HexBytes(TOPIC["Ping"] + value.to_bytes(32, "big"))})
            scene.mine(2)
            with other.lock:
                other.tester.mine_blocks(2)
            scene.proxy.logs_upstream = other_server.url
            reader = LogReader(scene.w3, scene.address, ABI, start_block=scene.deploy_block,
                               max_range=MAX_RANGE)
            known = RememberedBlocks()
            for _ in range(3):
                assert reader.poll(known) == Reorg(ancestor=scene.deploy_block - 1,
                                                   depth=scene.chain.w3.eth.block_number
                                                   - scene.deploy_block + 1)
            assert known.last_scanned() is None
            scene.proxy.logs_upstream = None
            held: list[tuple[int, str, int]] = []
            assert _read_through_reorgs(reader, known, held) == 0
            assert held == _chain_logs(scene) == [(scene.deploy_block + 1, "Ping", 1)]
    finally:
        other_server.stop()
