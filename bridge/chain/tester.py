"""An in-process eth-tester chain (py-evm, Prague) with funded accounts and time travel.

Used by ``tests/contracts``, the demo and the gas bench. Blocks are mined per transaction; block
timestamps follow the wall clock unless moved with :meth:`TesterChain.travel_to`.
"""

from __future__ import annotations

import functools
import importlib
import threading
from dataclasses import dataclass, field
from typing import Any

from eth.estimators.gas import _get_computation_error as _computation_error
from eth.exceptions import TransactionNotFound
from eth.vm.spoof import SpoofTransaction
from eth_tester import EthereumTester, PyEVMBackend
from eth_tester.backends.pyevm import main as pyevm_main
from eth_tester.utils.filters import Filter, check_if_log_matches
from web3 import EthereumTesterProvider, Web3
from web3.types import RPCEndpoint

_scan_for_transaction = pyevm_main._get_transaction_by_hash


def _indexed_transaction_lookup(chain: Any, transaction_hash: bytes) -> tuple[Any, Any, int]:
    """eth-tester finds a transaction by walking every block back from the head (its own TODO
    says so), which makes each receipt, and so each log read, O(chain length): a 500-bid round's
    logs took ~20 s to read. py-evm indexes canonical transactions by hash; use that, and fall
    back to the scan for the pending block."""
    try:
        number, index = chain.chaindb.get_transaction_index(transaction_hash)
    except TransactionNotFound:
        return _scan_for_transaction(chain, transaction_hash)
    block = chain.get_canonical_block_by_number(number)
    if index < len(block.transactions) and block.transactions[index].hash == transaction_hash:
        return block, block.transactions[index], index
    return _scan_for_transaction(chain, transaction_hash)


pyevm_main._get_transaction_by_hash = _indexed_transaction_lookup

_ecpairing = importlib.import_module("eth.precompiles.ecpairing")
_pairing_check = _ecpairing._ecpairing


@functools.lru_cache(maxsize=4096)
def _pairing_of(data: bytes) -> bool:
    return bool(_pairing_check(data))


def _memoized_pairing_check(data: Any) -> bool:
    """py-evm's ecPairing precompile (pure Python: ~0.3 s a pair) checks the same input again
    and again: every transaction runs once to estimate its gas and once to be mined, and a
    registered key or a fixture's proof is checked in test after test. The check is a pure
    function of its input, so its result is remembered per input (a ``ValidationError``, which
    the precompile turns into a failed call, is raised every time: not remembered)."""
    return _pairing_of(bytes(data))


setattr(_ecpairing, "_ecpairing", _memoized_pairing_check)  # noqa: B010 - an untyped module


def _get_logs(self: EthereumTester, from_block: Any = None, to_block: Any = None,
              address: Any = None, topics: Any = None) -> tuple[Any, ...]:
    """eth-tester's ``get_logs``, reading each mined block's logs once: the original reads every
    block and every receipt of the range again on every call, so a keeper's or a test's log
    reads cost O(chain length) each (a third of an e2e round's time). A block's logs are kept by
    its hash (a snapshot revert mines new blocks under new hashes); the filter and the output
    are eth-tester's own."""
    self.validator.validate_inbound_filter_params(
        from_block=from_block, to_block=to_block, address=address, topics=topics)
    raw_from, raw_to, raw_address, raw_topics = self.normalizer.normalize_inbound_filter_params(
        from_block=from_block, to_block=to_block, address=address, topics=topics)
    params = {"from_block": raw_from, "to_block": raw_to, "addresses": raw_address,
              "topics": raw_topics}
    log_filter = Filter(filter_params=params, filter_fn=functools.partial(
        check_if_log_matches, **params))
    lower = raw_from if isinstance(raw_from, int) else self.get_block_by_number(
        "latest" if raw_from is None else raw_from)["number"]
    upper = raw_to if isinstance(raw_to, int) else self.get_block_by_number(
        "latest" if raw_to is None else raw_to)["number"]
    chain = self.backend.chain
    head = chain.get_canonical_head().block_number
    kept: dict[bytes, list[Any]] = self.__dict__.setdefault("_bridge_block_logs", {})
    for number in range(lower, upper + 1):
        block_hash = chain.chaindb.get_canonical_block_hash(number) if number <= head else None
        entries = kept.get(block_hash) if block_hash is not None else None
        if entries is None:
            block = self.get_block_by_number(number)
            entries = [self.normalizer.normalize_inbound_log_entry(entry)
                       for tx in block["transactions"]
                       for entry in self.get_transaction_receipt(tx)["logs"]]
            if block_hash is not None:
                kept[block_hash] = entries
        for entry in entries:
            log_filter.add(entry)
    return tuple(self.normalizer.normalize_outbound_log_entry(item)
                 for item in log_filter.get_all())


EthereumTester.get_logs = _get_logs

ESTIMATE_TOLERANCE = 21_000
"""py-evm's default estimator (``binary_gas_search_intrinsic_tolerance``) bisects to within this
much above the least gas that succeeds."""


def _fails(state: Any, transaction: Any) -> bool:
    """Whether ``transaction`` fails on ``state`` (py-evm's probe: run, then revert)."""
    return _computation_error(state, transaction) is not None


def estimate_gas(state: Any, transaction: Any) -> int:
    """py-evm's default gas estimate, with a third of the executions.

    The default bisects between the intrinsic gas and the block gas limit, executing the
    transaction ~14 times. This runs the same bisection, the same probes in the same order, and
    answers a probe without executing when the answer is known: below the gas the transaction
    consumed with the whole block's gas it fails, and at or above a limit it already succeeded
    with it succeeds. One extra execution, just above the consumption (room for the 63/64
    rule), usually settles every probe but one or two. The result is the default's whenever more
    gas never turns success into failure and less than the consumption is never enough (a
    transaction whose path depends on ``gasleft()`` may get a higher estimate, never a lower)."""
    intrinsic = transaction.intrinsic_gas
    if not _fails(state, SpoofTransaction(transaction, gas=intrinsic, gas_price=0)):
        return int(intrinsic)
    top = state.gas_limit
    snapshot = state.snapshot()
    try:
        computation = state.apply_transaction(SpoofTransaction(transaction, gas=top,
                                                               gas_price=0))
        if computation.is_error:
            raise computation.error
        consumed = top - computation.get_gas_remaining()
    finally:
        state.revert(snapshot)
    least_success = top

    def ok(gas: int) -> bool:
        nonlocal least_success
        if gas < consumed:
            return False
        if gas >= least_success:
            return True
        if _fails(state, SpoofTransaction(transaction, gas=gas)):
            return False
        least_success = gas
        return True

    ok(min(top, consumed + consumed // 32 + 10_000))
    viable, out_of_gas = top, intrinsic
    while viable - out_of_gas > ESTIMATE_TOLERANCE:
        midpoint = (viable + out_of_gas) // 2
        if ok(midpoint):
            viable = midpoint
        else:
            out_of_gas = midpoint
    return int(viable)


class LockedTesterProvider(EthereumTesterProvider):
    """eth-tester is not thread-safe: every request (and :class:`TesterChain`'s time moves) holds
    one lock, so a keeper thread and a test can share the chain."""

    def __init__(self, tester: EthereumTester, lock: threading.RLock,
                 chain_id: int | None = None) -> None:
        super().__init__(tester)
        self.lock = lock
        self.chain_id = chain_id
        """Answered for ``eth_chainId`` / ``net_version`` (web3's tester provider hard-codes
        eth-tester's default, 131277322940537, whatever the chain signs with)."""
        self._accounts: tuple[Any, list[Any]] | None = None

    def make_request(self, method: Any, params: Any) -> Any:
        if self.chain_id is not None and method in ("eth_chainId", "net_version"):
            value = hex(self.chain_id) if method == "eth_chainId" else str(self.chain_id)
            return {"jsonrpc": "2.0", "id": 0, "result": value}
        if method == "eth_accounts":
            return self._eth_accounts(params)
        with self.lock:
            return super().make_request(method, params)

    def _eth_accounts(self, params: Any) -> Any:
        """``eth_accounts``, answered again from memory while the unlocked keys are the same:
        web3's tester middleware asks for it before every ``eth_call`` without a ``from`` (to
        fill one in), and eth-tester checksums every account each time (a sixth of a CLI
        round's time). eth-tester replaces its tuple of keys when one is added."""
        keys = getattr(getattr(self.ethereum_tester, "backend", None), "account_keys", None)
        kept = self._accounts
        if keys is not None and kept is not None and kept[0] is keys:
            return {"jsonrpc": "2.0", "id": 0, "result": list(kept[1])}
        with self.lock:
            response = super().make_request(RPCEndpoint("eth_accounts"), params)
        if keys is not None and isinstance(response, dict) and "result" in response:
            self._accounts = (keys, list(response["result"]))
        return response


@dataclass
class TesterChain:
    """A web3 instance over eth-tester, its accounts and time helpers."""

    __test__ = False  # not a pytest test class

    w3: Web3
    tester: EthereumTester
    accounts: list[str] = field(default_factory=list)
    lock: threading.RLock = field(default_factory=threading.RLock)
    """Held by every request through ``w3`` and by the time helpers below."""

    def now(self) -> int:
        """Timestamp of the latest block."""
        return int(self.w3.eth.get_block("latest")["timestamp"])

    def travel_to(self, timestamp: int) -> None:
        """Mine a block at ``timestamp`` or later; nothing if the chain is already there.

        eth-tester's ``time_travel(t)`` mines its block at ``t - 1``, so ask for one more second
        when it falls short.
        """
        with self.lock:
            self._travel_to(timestamp)

    def _travel_to(self, timestamp: int) -> None:
        if self.now() >= timestamp:
            return
        pending = int(self.tester.get_block_by_number("pending")["timestamp"])
        if pending >= timestamp:  # after a revert the pending block can be ahead of `latest`
            self.tester.mine_blocks(1)
            return
        self.tester.time_travel(timestamp)
        if self.now() < timestamp:
            self.tester.time_travel(timestamp + 1)

    def advance(self, seconds: int) -> None:
        """Mine a block ``seconds`` after the latest one."""
        self.travel_to(self.now() + seconds)

    def snapshot(self) -> int:
        """A snapshot id to revert to."""
        with self.lock:
            return int(self.tester.take_snapshot())

    def revert(self, snapshot_id: int) -> None:
        """Return to a snapshot."""
        with self.lock:
            self.tester.revert_to_snapshot(snapshot_id)


def make_tester_chain(accounts: int = 10, balance_wei: int = 10**24, *,
                      keys: list[bytes] | None = None, chain_id: int | None = None
                      ) -> TesterChain:
    """A fresh chain with ``accounts`` unlocked accounts holding ``balance_wei`` each.

    ``keys``: the unlocked accounts are these private keys' (funded at genesis, so
    ``eth_accounts`` lists them and ``eth_sendTransaction`` from them works) instead of
    eth-tester's built-in test keys. ``chain_id``: the id transactions are signed for and
    ``eth_chainId`` answers (default: eth-tester's 131277322940537)."""
    from eth_keys import keys as eth_keys
    from eth_tester.backends.pyevm.main import generate_genesis_state_for_keys

    genesis = PyEVMBackend.generate_genesis_params(overrides={"gas_limit": 60_000_000})
    if keys is not None:
        private = [eth_keys.PrivateKey(k) for k in keys]
        state = generate_genesis_state_for_keys(private)
    else:
        state = PyEVMBackend.generate_genesis_state(num_accounts=accounts)
    for entry in state.values():
        entry["balance"] = balance_wei
    backend = PyEVMBackend(genesis_parameters=genesis, genesis_state=state)
    if keys is not None:
        backend.account_keys = tuple(private)  # unlocked: eth-tester signs for them
    # the chain class is made per backend (setup_tester_chain): these are this chain's
    type(backend.chain).gas_estimator = staticmethod(estimate_gas)
    backend.chain.gas_estimator = estimate_gas  # (set from the class when it was made)
    if chain_id is not None:
        type(backend.chain).chain_id = chain_id
    tester = EthereumTester(backend)
    lock = threading.RLock()
    w3 = Web3(LockedTesterProvider(tester, lock, chain_id))
    return TesterChain(w3=w3, tester=tester, accounts=list(w3.eth.accounts), lock=lock)
