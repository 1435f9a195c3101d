"""One transaction sender per key: local nonces under a lock, EIP-1559 fees, receipts, fee bumps.

The keeper sends every transaction through one :class:`TxSender`. It

- tracks the nonce locally under a lock (resynchronised from the chain's pending count when the
  chain is ahead, e.g. after a restart or a transaction sent by another tool),
- prices with EIP-1559 (``maxFeePerGas = 2·baseFee + tip``) when the latest block has a base fee,
  and with a legacy gas price otherwise,
- estimates gas against ``latest`` (eth-tester cannot estimate against ``pending``) and decodes a
  revert found there into the contract's custom error before anything is signed,
- waits for the receipt and, when the transaction is not mined within ``bump_after`` seconds,
  replaces it with the same nonce and fees raised by ``bump_percent`` (at least the 10 % nodes
  require), up to ``max_fee_per_gas_cap``,
- reports every hash it broadcasts through ``on_broadcast`` so a caller can persist it before
  waiting (a restart then looks the hashes up instead of sending again),
- stops waiting for a receipt as soon as its ``stop`` event is set (a draining keeper exits
  promptly; what was broadcast is already known to the caller).

Failures are classified: :class:`~bridge.errors.RetryableTxError` (node unreachable, timeout,
replacement races) may pass on retry; :class:`~bridge.errors.NonRetryableTxError` and
:class:`~bridge.errors.SettlementRejected` (a decoded revert) will not.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from eth_account.signers.local import LocalAccount
from hexbytes import HexBytes
from web3 import Web3
from web3.exceptions import ContractLogicError, TimeExhausted, TransactionNotFound, Web3RPCError

from bridge.chain.revert import revert_data
from bridge.errors import BridgeError, NonRetryableTxError, RetryableTxError

log = logging.getLogger(__name__)

RevertDecoder = Callable[[bytes], BridgeError | None]
"""Turns raw revert data into the contract's decoded error, or ``None`` if unknown."""

_RETRYABLE_MESSAGES = ("underpriced", "nonce too low", "already known", "replacement", "timeout",
                       "less than block base fee", "fee too low")


@dataclass(frozen=True)
class Fees:
    """Fee fields of one transaction: EIP-1559 when ``max_fee_per_gas`` is set, else legacy."""

    max_fee_per_gas: int | None = None
    max_priority_fee_per_gas: int | None = None
    gas_price: int | None = None

    def as_params(self) -> dict[str, int]:
        """The fee fields as web3 transaction parameters."""
        if self.max_fee_per_gas is not None:
            assert self.max_priority_fee_per_gas is not None
            return {
                "maxFeePerGas": self.max_fee_per_gas,
                "maxPriorityFeePerGas": self.max_priority_fee_per_gas,
            }
        assert self.gas_price is not None
        return {"gasPrice": self.gas_price}

    def bumped(self, percent: int, cap: int | None) -> Fees:
        """These fees raised by ``percent`` (rounded up, +1 wei at least), limited by ``cap``."""

        def up(x: int) -> int:
            raised = max(x + 1, -(-x * (100 + percent) // 100))
            return raised if cap is None else min(raised, cap)

        if self.max_fee_per_gas is not None:
            assert self.max_priority_fee_per_gas is not None
            tip = up(self.max_priority_fee_per_gas)
            return Fees(max_fee_per_gas=max(up(self.max_fee_per_gas), tip),
                        max_priority_fee_per_gas=tip)
        assert self.gas_price is not None
        return Fees(gas_price=up(self.gas_price))


@dataclass
class SentTx:
    """What the sender knows of one logical transaction: its nonce and every hash broadcast."""

    nonce: int
    hashes: list[str] = field(default_factory=list)
    fees: list[Fees] = field(default_factory=list)


class TxSender:
    """Signs and sends transactions from one local account; see the module docstring."""

    def __init__(
        self,
        w3: Web3,
        account: LocalAccount,
        *,
        decode_revert: RevertDecoder | None = None,
        receipt_timeout: float = 120.0,
        bump_after: float = 30.0,
        bump_percent: int = 13,
        max_fee_per_gas_cap: int | None = None,
        poll_interval: float = 0.1,
        gas_margin_percent: int = 20,
        on_broadcast: Callable[[SentTx], None] | None = None,
        stop: threading.Event | None = None,
    ) -> None:
        if bump_percent < 10:
            raise ValueError("bump_percent must be at least 10: nodes refuse smaller replacements")
        self.w3 = w3
        self.account = account
        self.address = account.address
        self._decode = decode_revert
        self.receipt_timeout = receipt_timeout
        self.bump_after = bump_after
        self.bump_percent = bump_percent
        self.max_fee_cap = max_fee_per_gas_cap
        self.poll_interval = poll_interval
        self.gas_margin_percent = gas_margin_percent
        self.on_broadcast = on_broadcast
        self.stop = stop
        self._lock = threading.Lock()
        self._next_nonce: int | None = None

    # -- fees and nonces -------------------------------------------------------------------
    def current_fees(self) -> Fees:
        """Fees for a new transaction: EIP-1559 where the chain has a base fee."""
        block = self.w3.eth.get_block("latest")
        base = block.get("baseFeePerGas")
        if base is not None:
            try:
                tip = int(self.w3.eth.max_priority_fee)
            except Exception:  # some nodes lack eth_maxPriorityFeePerGas
                tip = 10**9
            tip = max(tip, 1)
            max_fee = 2 * int(base) + tip
            if self.max_fee_cap is not None:
                max_fee = min(max_fee, self.max_fee_cap)
                tip = min(tip, max_fee)
            return Fees(max_fee_per_gas=max_fee, max_priority_fee_per_gas=tip)
        return Fees(gas_price=int(self.w3.eth.gas_price))

    def _take_nonce(self) -> int:
        chain_pending = self.w3.eth.get_transaction_count(self.address, "pending")
        if self._next_nonce is None or chain_pending > self._next_nonce:
            self._next_nonce = chain_pending
        nonce = self._next_nonce
        self._next_nonce += 1
        return nonce

    def resync_nonce(self) -> None:
        """Forget the local nonce; the next send reads the chain's pending count again."""
        with self._lock:
            self._next_nonce = None

    # -- sending ---------------------------------------------------------------------------
    def _raise_decoded(self, exc: BaseException) -> None:
        data = revert_data(exc)
        if data is not None and self._decode is not None:
            decoded = self._decode(data)
            if decoded is not None:
                raise decoded from exc
        raise NonRetryableTxError(f"transaction would revert: {exc}") from exc

    def build(self, tx: dict[str, Any], fees: Fees, nonce: int) -> dict[str, Any]:
        """Complete ``tx`` (to, data, value, optional gas) with chain id, nonce, fees and gas."""
        full: dict[str, Any] = {
            "from": self.address,
            "chainId": self.w3.eth.chain_id,
            "nonce": nonce,
            "value": tx.get("value", 0),
            **fees.as_params(),
        }
        for key in ("to", "data"):
            if key in tx:
                full[key] = tx[key]
        if "gas" in tx:
            full["gas"] = tx["gas"]
        else:
            probe = {k: v for k, v in full.items() if k in ("from", "to", "data", "value")}
            try:
                estimate = self.w3.eth.estimate_gas(probe, "latest")  # type: ignore[arg-type]
            except ContractLogicError as exc:
                self._raise_decoded(exc)
                raise  # unreachable: _raise_decoded always raises
            except Exception as exc:
                # eth-tester raises its own TransactionFailed carrying the revert bytes
                if revert_data(exc) is None:
                    raise
                self._raise_decoded(exc)
                raise
            full["gas"] = estimate + estimate * self.gas_margin_percent // 100 + 10_000
        return full

    def _broadcast(self, tx: dict[str, Any], sent: SentTx, fees: Fees,
                   on_broadcast: Callable[[SentTx], None] | None = None) -> None:
        signed = self.account.sign_transaction(tx)
        try:
            h = self.w3.eth.send_raw_transaction(signed.raw_transaction)
            tx_hash = HexBytes(h).to_0x_hex()
        except (ConnectionError, OSError, TimeoutError) as exc:
            raise RetryableTxError(f"node unreachable while sending: {exc}") from exc
        except (ValueError, Web3RPCError) as exc:  # web3 ≥ 7 raises Web3RPCError for node errors
            msg = str(exc).lower()
            if "already known" in msg:
                tx_hash = HexBytes(signed.hash).to_0x_hex()
            elif any(m in msg for m in _RETRYABLE_MESSAGES):
                raise RetryableTxError(f"node refused the transaction: {exc}") from exc
            elif "insufficient funds" in msg:
                raise NonRetryableTxError(
                    f"{self.address} cannot pay for gas: fund it and retry ({exc})") from exc
            else:
                raise NonRetryableTxError(f"node refused the transaction: {exc}") from exc
        sent.hashes.append(tx_hash)
        sent.fees.append(fees)
        log.info("broadcast tx %s nonce=%s fees=%s", tx_hash, sent.nonce, fees)
        for callback in (self.on_broadcast, on_broadcast):
            if callback is not None:
                callback(sent)

    def send(self, tx: dict[str, Any], *, fees: Fees | None = None,
             on_broadcast: Callable[[SentTx], None] | None = None) -> dict[str, Any]:
        """Sign, broadcast and wait for ``tx``; returns the receipt of whichever version mined.

        ``tx`` holds ``to``, ``data``, optionally ``value`` and ``gas``. ``on_broadcast`` is
        called with every hash sent for it (the first and each replacement). Raises
        :class:`~bridge.errors.SettlementRejected` (or another decoded error) when the call
        reverts, :class:`RetryableTxError` when it could not be mined in ``receipt_timeout``.
        """
        with self._lock:
            fees = fees or self.current_fees()
            nonce = self._take_nonce()
            try:
                full = self.build(tx, fees, nonce)
            except BaseException:
                self._next_nonce = None  # nothing was sent with this nonce
                raise
            sent = SentTx(nonce=nonce)
            try:
                self._broadcast(full, sent, fees, on_broadcast)
            except BaseException:
                self._next_nonce = None
                raise
        return self.wait(sent, full, on_broadcast)

    def wait(self, sent: SentTx, tx: dict[str, Any],
             on_broadcast: Callable[[SentTx], None] | None = None) -> dict[str, Any]:
        """Wait for any of ``sent``'s hashes to be mined, bumping fees when it takes too long."""
        start = time.monotonic()
        last_bump = start
        while True:
            for tx_hash in reversed(sent.hashes):
                receipt = self._receipt(tx_hash)
                if receipt is not None:
                    return self._check(receipt, tx)
            if self.stop is not None and self.stop.is_set():
                raise RetryableTxError(
                    f"stopping: nonce {sent.nonce} was sent as {', '.join(sent.hashes)}; not "
                    "waiting for its receipt (a restart looks it up)")
            now = time.monotonic()
            if now - start > self.receipt_timeout:
                raise RetryableTxError(
                    f"nonce {sent.nonce}: no receipt after {self.receipt_timeout:.0f}s "
                    f"for {', '.join(sent.hashes)}")
            if now - last_bump >= self.bump_after:
                last_bump = now
                self._bump(sent, tx, on_broadcast)
            time.sleep(self.poll_interval)

    def _bump(self, sent: SentTx, tx: dict[str, Any],
              on_broadcast: Callable[[SentTx], None] | None) -> None:
        new_fees = self._at_least_market(sent.fees[-1].bumped(self.bump_percent,
                                                              self.max_fee_cap))
        if new_fees == sent.fees[-1]:
            log.warning("nonce %s: fee cap reached, cannot bump further", sent.nonce)
            return
        replacement = {k: v for k, v in tx.items()
                       if k not in ("maxFeePerGas", "maxPriorityFeePerGas", "gasPrice")}
        replacement.update(new_fees.as_params())
        log.warning("nonce %s not mined after %.1fs: replacing with higher fees %s",
                    sent.nonce, self.bump_after, new_fees)
        try:
            self._broadcast(replacement, sent, new_fees, on_broadcast)
            tx.update(new_fees.as_params())
        except RetryableTxError as exc:
            # "nonce too low" means a previous version was mined: the next poll finds it.
            log.info("replacement of nonce %s not accepted: %s", sent.nonce, exc)

    def _at_least_market(self, fees: Fees) -> Fees:
        """``fees``, raised to what a new transaction would pay now (the base fee may have risen
        past a 10 % bump; a replacement below it would be refused again)."""
        try:
            market = self.current_fees()
        except (ConnectionError, OSError, Web3RPCError):
            return fees
        if fees.max_fee_per_gas is not None and market.max_fee_per_gas is not None:
            assert fees.max_priority_fee_per_gas is not None
            assert market.max_priority_fee_per_gas is not None
            tip = max(fees.max_priority_fee_per_gas, market.max_priority_fee_per_gas)
            return Fees(max_fee_per_gas=max(fees.max_fee_per_gas, market.max_fee_per_gas, tip),
                        max_priority_fee_per_gas=tip)
        if fees.gas_price is not None and market.gas_price is not None:
            return Fees(gas_price=max(fees.gas_price, market.gas_price))
        return fees

    def _receipt(self, tx_hash: str) -> dict[str, Any] | None:
        try:
            return dict(self.w3.eth.get_transaction_receipt(tx_hash))  # type: ignore[arg-type]
        except (TransactionNotFound, TimeExhausted):
            return None
        except (ConnectionError, OSError) as exc:
            log.warning("receipt lookup for %s failed (%s); will retry", tx_hash, exc)
            return None

    def _check(self, receipt: dict[str, Any], tx: dict[str, Any]) -> dict[str, Any]:
        if receipt.get("status", 1) == 1:
            return receipt
        # Replay the call at the block before the failure to recover the revert reason.
        call = {k: tx[k] for k in ("from", "to", "data", "value") if k in tx}
        try:
            self.w3.eth.call(call, receipt["blockNumber"] - 1)  # type: ignore[arg-type]
        except ContractLogicError as exc:
            self._raise_decoded(exc)
        except Exception as exc:  # eth-tester raises its own TransactionFailed with the bytes
            if revert_data(exc) is None:
                raise
            self._raise_decoded(exc)
        tx_hash = HexBytes(receipt["transactionHash"]).to_0x_hex()
        raise NonRetryableTxError(f"transaction {tx_hash} reverted (gas used "
                                  f"{receipt.get('gasUsed')} of {tx.get('gas')})")

    def lookup(self, hashes: list[str]) -> dict[str, Any] | None:
        """The receipt of whichever of ``hashes`` was mined (for resuming after a restart)."""
        for tx_hash in reversed(hashes):
            receipt = self._receipt(tx_hash)
            if receipt is not None:
                return receipt
        return None
