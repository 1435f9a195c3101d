"""Typed bindings to a deployed ``ProverMarket``: parameters, round state and calldata.

Used by the keeper and by the participant client, so both read the market the same way. Reads go
through :func:`bridge.chain.revert.call_decoded`, so a revert surfaces as the named custom error.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from eth_utils import function_signature_to_4byte_selector
from hexbytes import HexBytes
from web3 import Web3
from web3.contract import Contract
from web3.types import BlockIdentifier

from bridge.chain.artifacts import load_artifact
from bridge.chain.revert import decode_revert
from bridge.errors import BridgeError, ChainError, UnauditableSettlement


class Mechanism(IntEnum):
    """``IProverMarket.Mechanism``."""

    PROOFPHI = 0
    DARA = 1
    FIXEDPRICE = 2


MECHANISM_NAMES = {Mechanism.PROOFPHI: "proofphi", Mechanism.DARA: "dara",
                   Mechanism.FIXEDPRICE: "fixedprice"}
"""``IProverMarket.Mechanism`` -> the clearing engine's mechanism name."""


class RoundStatus(IntEnum):
    """``IProverMarket.RoundStatus``."""

    OPEN = 0
    SETTLED = 1
    VOIDED = 2
    SETTLING = 3


@dataclass(frozen=True)
class SettlementProgress:
    """``settlementProgress``: bids settled or voided, pages settled and unwound, totals, table."""

    bids_done: int
    pages: int
    unwound: int
    charged: int
    paid: int
    ask_table_hash: bytes


@dataclass(frozen=True)
class MarketParams:
    """Immutable deployment parameters of one market, read once."""

    address: str
    chain_id: int
    mechanism: str
    genesis: int
    commit_period: int
    settle_period: int
    proof_period: int
    refund_cap: int
    capacity_interval: int
    capacity_factor: int
    verifier: str
    min_escrow: int = 1
    fill_cost: int = 0
    """Congestion fees (wei) to fill one side of a round past a quarter of its cap."""
    max_bids_per_round: int = 8192
    max_asks_per_round: int = 512
    checkpoint_interval: int = 64
    initial_price: int = 0
    """fixedprice: the price of every round before the keeper's first post (0 otherwise)."""
    price_window: int = 0
    price_every: int = 0
    price_step_bps: int = 0

    @property
    def price_lag(self) -> int:
        """fixedprice: the price of round ``r`` reads settled rounds ``≤ r − price_lag`` only, whose
        settlement is final when round ``r − 1`` opens (``2 + ⌈settlePeriod / commitPeriod⌉``), so
        the keeper can post it a whole round ahead and anyone can recompute it."""
        return 2 + -(-self.settle_period // self.commit_period)

    def proof_deadline(self, round: int) -> int:
        """Every job of ``round`` must be proven before this: settle deadline + proofPeriod."""
        return self.settle_deadline(round) + self.proof_period

    def closes_at(self, round: int) -> int:
        """End of ``round``'s commit window (unix seconds, chain time)."""
        return self.genesis + (round + 1) * self.commit_period

    def settle_deadline(self, round: int) -> int:
        """Last moment the keeper may settle ``round``."""
        return self.closes_at(round) + self.settle_period

    def round_at(self, timestamp: int) -> int:
        """The round accepting commitments at ``timestamp``."""
        return max(0, (timestamp - self.genesis) // self.commit_period)


@dataclass(frozen=True)
class RoundInfo:
    """``roundInfo(round)``."""

    bid_count: int
    ask_count: int
    bid_chain: int
    ask_chain: int
    job_root: bytes
    settled_at: int
    job_count: int
    status: RoundStatus


def market_abi() -> list[dict[str, Any]]:
    """The market's ABI plus the circuit registries' errors (they surface through ``commitTask``,
    ``submitProof`` and ``submitProofs``), so every revert a market call can raise decodes by name
    (errors are told apart by signature: ``ProofInvalid(uint256)`` is not ``ProofInvalid(bytes32,
    address)``)."""
    abi = list(load_artifact("ProverMarket").abi)

    def signature(e: dict[str, Any]) -> tuple[str, tuple[str, ...]]:
        return e["name"], tuple(str(p["type"]) for p in e["inputs"])

    known = {signature(e) for e in abi if e["type"] == "error"}
    for registry in ("CircuitRegistry", "Groth16Registry"):
        for e in load_artifact(registry).abi:
            if e["type"] == "error" and signature(e) not in known:
                known.add(signature(e))
                abi.append(e)
    return abi


def answers(w3: Web3, address: str, signature: str) -> bool:
    """Whether the contract at ``address`` answers the argument-free view ``signature`` (e.g.
    ``"mechanism()"``) with at least one word: how to tell which contract an address holds."""
    try:
        out = w3.eth.call({"to": Web3.to_checksum_address(address),
                           "data": "0x" + function_signature_to_4byte_selector(signature).hex()})  # type: ignore[typeddict-item]
    except Exception:  # a revert, or a node that refuses the call: not this contract
        return False
    return len(out) >= 32


class Market:
    """A deployed market at ``address`` on ``w3``."""

    def __init__(self, w3: Web3, address: str) -> None:
        self.w3 = w3
        self.address = Web3.to_checksum_address(address)
        self.abi = market_abi()
        self.contract: Contract = w3.eth.contract(address=self.address, abi=self.abi)
        self._params: MarketParams | None = None
        self._circuit_tasks: bool | None = None

    @property
    def circuit_tasks(self) -> bool:
        """Whether bids name a registered circuit and its inputs (``commitTask``)."""
        if self._circuit_tasks is None:
            self._circuit_tasks = bool(self.contract.functions.circuitTasks().call())
        return self._circuit_tasks

    def decode_revert(self, data: bytes) -> BridgeError | None:
        """The market's custom error for revert ``data``."""
        return decode_revert(self.abi, data)

    def check_code(self) -> None:
        """Raise :class:`ChainError` if no contract code is at the address, or if the contract
        there is not a sealed-bid market (the verifier's address, a posted-price market)."""
        if len(self.w3.eth.get_code(self.address)) == 0:
            raise ChainError(f"no contract code at {self.address} on chain "
                             f"{self.w3.eth.chain_id}: wrong --market address or wrong chain")
        if not answers(self.w3, self.address, "mechanism()"):
            kind = ("a posted-price market: use `bridge posted-price …` with it"
                    if answers(self.w3, self.address, "bond()") else
                    "another contract (the verifier's? a registry's?)")
            raise ChainError(f"the contract at {self.address} is not a sealed-bid market, it is "
                             f"{kind}; pass the market's address or its deployment file "
                             "(deployments/<chain-id>/market.json) as --market")

    @property
    def params(self) -> MarketParams:
        """Deployment parameters (read once)."""
        if self._params is None:
            f = self.contract.functions
            self._params = MarketParams(
                address=self.address,
                chain_id=int(self.w3.eth.chain_id),
                mechanism=MECHANISM_NAMES[Mechanism(int(f.mechanism().call()))],
                genesis=int(f.genesis().call()),
                commit_period=int(f.commitPeriod().call()),
                settle_period=int(f.settlePeriod().call()),
                proof_period=int(f.proofPeriod().call()),
                refund_cap=int(f.refundCap().call()),
                capacity_interval=int(f.capacityInterval().call()),
                capacity_factor=int(f.capacityFactor().call()),
                verifier=str(f.verifier().call()),
                min_escrow=int(f.minEscrow().call()),
                fill_cost=int(f.fillCost().call()),
                max_bids_per_round=int(f.maxBidsPerRound().call()),
                max_asks_per_round=int(f.maxAsksPerRound().call()),
                checkpoint_interval=int(f.checkpointInterval().call()),
                initial_price=int(f.initialPrice().call()),
                price_window=int(f.priceWindow().call()),
                price_every=int(f.priceEvery().call()),
                price_step_bps=int(f.priceStepBps().call()),
            )
        return self._params

    def keeper(self) -> str:
        """The current round's keeper address."""
        return str(self.contract.functions.keeper().call())

    def keeper_public_key(self) -> bytes:
        """The 64-byte public key the current round's orders are encrypted to."""
        return bytes(self.contract.functions.keeperPublicKey().call())

    def keeper_for(self, round: int, block: BlockIdentifier = "latest") -> tuple[str, bytes]:
        """The keeper who settles ``round`` and the 64-byte key its orders are encrypted to
        (a rotation takes effect from the round after the one it was made in)."""
        k, key = self.contract.functions.keeperFor(round).call(block_identifier=block)
        return str(k), bytes(key)

    def round_info(self, round: int, block: BlockIdentifier = "latest") -> RoundInfo:
        """State of ``round`` at ``block``."""
        r = self.contract.functions.roundInfo(round).call(block_identifier=block)
        return RoundInfo(int(r[0]), int(r[1]), int(r[2]), int(r[3]), bytes(r[4]), int(r[5]),
                         int(r[6]), RoundStatus(int(r[7])))

    def settlement_progress(self, round: int, block: BlockIdentifier = "latest"
                            ) -> SettlementProgress:
        """How far ``round``'s paged settlement (or void) has come."""
        r = self.contract.functions.settlementProgress(round).call(block_identifier=block)
        return SettlementProgress(int(r[0]), int(r[1]), int(r[2]), int(r[3]), int(r[4]),
                                  bytes(r[5]))

    def round_times(self, round: int) -> tuple[int, int, int, int]:
        """(opensAt, closesAt, settleDeadline, proofDeadline) of ``round``."""
        t = self.contract.functions.roundTimes(round).call()
        return (int(t[0]), int(t[1]), int(t[2]), int(t[3]))

    def round_price(self, round: int, block: BlockIdentifier = "latest") -> int:
        """fixedprice: the per-unit price of ``round`` (wei), fixed once the round opens."""
        return int(self.contract.functions.roundPrice(round).call(block_identifier=block))

    def current_round(self) -> int:
        """Round accepting commitments now."""
        return int(self.contract.functions.currentRound().call())

    def is_resolved(self, round: int, job_index: int) -> bool:
        """Whether a job was proven or slashed."""
        return bool(self.contract.functions.isResolved(round, job_index).call())

    def balance_of(self, account: str) -> int:
        """Free (withdrawable) balance of ``account``."""
        return int(self.contract.functions.balanceOf(account).call())

    def prover_info(self, prover: str, block: BlockIdentifier = "latest") -> dict[str, int]:
        """Collateral, capacity and capacity-change bookkeeping of ``prover``."""
        r = self.contract.functions.proverInfo(prover).call(block_identifier=block)
        keys = ("collateral", "capacity", "ref_capacity", "capacity_round_plus_one",
                "last_ask_round_plus_one")
        return {k: int(v) for k, v in zip(keys, r, strict=True)}

    def outstanding_units(self, prover: str, block: BlockIdentifier = "latest") -> int:
        """Allocated units of ``prover`` not yet proven or slashed."""
        return int(self.contract.functions.outstandingUnits(prover).call(block_identifier=block))

    def congestion_fee(self, side: int, position: int) -> int:
        """The burned fee (wei) of the order finding ``position`` orders on ``side`` (0 bids,
        1 asks) of its round: 0 below a quarter of the side's cap."""
        return int(self.contract.functions.congestionFee(side, position).call())

    def burned(self) -> int:
        """Congestion fees burned so far (held by the market for good)."""
        return int(self.contract.functions.burned().call())

    def liabilities(self) -> tuple[int, int]:
        """(nonFree, treasury): the ETH balance is nonFree plus every free balance."""
        n, t = self.contract.functions.liabilities().call()
        return int(n), int(t)

    def uncollected_margin(self, round: int) -> int:
        """Margins of ``round``'s proven jobs not yet moved to the treasury."""
        return int(self.contract.functions.uncollectedMargin(round).call())

    def calldata(self, fn: str, *args: Any) -> str:
        """ABI-encoded call of ``fn(*args)``."""
        return str(self.contract.encode_abi(fn, args=list(args)))

    def tx(self, fn: str, *args: Any, value: int = 0) -> dict[str, Any]:
        """A transaction dict (to, data, value) for :class:`bridge.chain.sender.TxSender`."""
        return {"to": self.address, "data": self.calldata(fn, *args), "value": value}

    def chain_time(self, block: BlockIdentifier = "latest") -> int:
        """Timestamp of ``block``."""
        return int(self.w3.eth.get_block(block)["timestamp"])

    def tx_input(self, tx_hash: str) -> bytes:
        """Input data of a transaction (to decode a settlement)."""
        return bytes(HexBytes(self.w3.eth.get_transaction(tx_hash)["input"]))  # type: ignore[arg-type]

    def direct_call_input(self, tx_hash: str, function: str, round: int) -> bytes:
        """The input of transaction ``tx_hash``, which must be a direct call of ``function`` on
        this market for ``round`` (settlement pages, proofs): then it is exactly what the market
        executed.

        A settlement sent through another contract (a forwarder, a multisig, a delegated wallet)
        cannot be read from its transaction, so it cannot be audited:
        :class:`~bridge.errors.UnauditableSettlement`.
        """
        tx = self.w3.eth.get_transaction(tx_hash)  # type: ignore[arg-type]
        data = bytes(HexBytes(tx["input"]))
        selector = function_signature_to_4byte_selector(
            self.contract.get_function_by_name(function).signature)
        to = tx.get("to")
        if (to is None or str(to).lower() != self.address.lower() or data[:4] != selector
                or int.from_bytes(data[4:36], "big") != round):
            raise UnauditableSettlement(
                f"transaction {tx_hash} of round {round} is not a direct {function} call on the "
                f"market (sent to {to}): what the market executed cannot be read from it, so it "
                "cannot be audited")
        return data

