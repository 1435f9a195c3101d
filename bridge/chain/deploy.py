"""Deploy the market contracts from artifacts and send transactions with decoded reverts.

Used by the contract tests, the gas bench and the demo; needs no compiler (artifacts only).
:class:`Mechanism` is the market binding's (:mod:`bridge.chain.market`), imported here for
:class:`MarketConfig`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from web3 import Web3
from web3.contract import Contract
from web3.contract.contract import ContractFunction
from web3.types import TxParams, TxReceipt

from bridge.chain.artifacts import load_artifact
from bridge.chain.market import Mechanism
from bridge.chain.revert import decoded_reverts
from bridge.errors import ChainError
from bridge.mechanisms.fixedprice import DEFAULT_RULE
from bridge.proving import circuits


@dataclass(frozen=True)
class MarketConfig:
    """``ProverMarket.Config`` (periods in seconds, amounts in wei; genesis 0 = deployment)."""

    owner: str
    keeper: str
    keeper_public_key: bytes
    verifier: str
    mechanism: Mechanism
    commit_period: int
    settle_period: int
    proof_period: int
    refund_cap: int
    capacity_interval: int
    capacity_factor: int
    genesis: int = 0
    min_escrow: int = 1
    fill_cost: int = 0
    """Congestion fees (wei, burned) to fill one side of a round past a quarter of its cap
    (0: none; deployments from network files default to 25 ether)."""
    max_bids_per_round: int = 8192
    max_asks_per_round: int = 512
    checkpoint_interval: int = 64
    initial_price: int = 0
    """FIXEDPRICE: wei per unit until the keeper posts a price (the other mechanisms ignore the
    four price fields)."""
    price_window: int = DEFAULT_RULE.window
    price_every: int = DEFAULT_RULE.every
    price_step_bps: int = DEFAULT_RULE.step_bps

    def as_tuple(self) -> tuple[Any, ...]:
        """ABI tuple in struct field order."""
        return (self.owner, self.keeper, self.keeper_public_key, self.verifier,
                int(self.mechanism), self.genesis, self.commit_period, self.settle_period,
                self.proof_period, self.refund_cap, self.capacity_interval, self.capacity_factor,
                self.min_escrow, self.fill_cost, self.max_bids_per_round, self.max_asks_per_round,
                self.checkpoint_interval, self.initial_price, self.price_window, self.price_every,
                self.price_step_bps)


def contract_at(w3: Web3, name: str, address: str) -> Contract:
    """A binding of artifact ``name`` at ``address``."""
    return w3.eth.contract(address=Web3.to_checksum_address(address), abi=load_artifact(name).abi)


def deploy(w3: Web3, name: str, *args: Any, sender: str) -> Contract:
    """Deploy artifact ``name`` with constructor ``args`` from ``sender``; returns the binding."""
    artifact = load_artifact(name)
    factory = w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
    tx: TxParams = {"from": Web3.to_checksum_address(sender)}
    with decoded_reverts(artifact.abi):
        tx_hash = factory.constructor(*args).transact(tx)
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash)
    address = receipt["contractAddress"]
    if receipt["status"] != 1 or address is None:
        raise ChainError(f"deployment of {name} failed in {tx_hash.hex()}")
    return contract_at(w3, name, address)


def deploy_market(w3: Web3, config: MarketConfig, sender: str) -> Contract:
    """Deploy ``ProverMarket`` with ``config``."""
    return deploy(w3, "ProverMarket", config.as_tuple(), sender=sender)


def transact(
    fn: ContractFunction,
    sender: str,
    value: int = 0,
    gas: int | None = None,
    abi: Sequence[dict[str, Any]] | None = None,
) -> TxReceipt:
    """Send ``fn`` from ``sender`` and wait; a revert raises ``SettlementRejected`` (decoded)."""
    tx: TxParams = {"from": Web3.to_checksum_address(sender), "value": Web3.to_wei(value, "wei")}
    if gas is not None:
        tx["gas"] = gas
    error_abi: Sequence[Any] = abi if abi is not None else fn.contract_abi
    with decoded_reverts(error_abi):
        tx_hash = fn.transact(tx)
        receipt = fn.w3.eth.wait_for_transaction_receipt(tx_hash)
    if receipt["status"] != 1:
        # replay at the parent block to recover the revert reason
        with decoded_reverts(error_abi):
            fn.call(tx, block_identifier=receipt["blockNumber"] - 1)
        raise ChainError(f"{fn.fn_name} reverted in {tx_hash.hex()}")
    return receipt


def deploy_circuit_registry(w3: Web3, owner: str, *, unit_circuits_only: bool = False
                            ) -> Contract:
    """Deploy a ``CircuitRegistry`` owned by ``owner`` and register the manifest's circuits
    (``zk/circuits.json``), each with its generated Groth16 verifier; ``unit_circuits_only`` for a
    Prooφ market (its tasks are one unit)."""
    registry = deploy(w3, "CircuitRegistry", owner, sender=owner)
    for c in circuits().values():
        if unit_circuits_only and c.units != 1:
            continue
        verifier = deploy(w3, c.verifier_contract, sender=owner)
        transact(registry.functions.register(verifier.address, c.units, c.input_count,
                                             len(c.outputs), c.name), owner)
    return registry

