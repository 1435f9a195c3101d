"""An integrator's code: an application that buys proofs on a bridge market.

It orders a proof of work for a task with a sealed bid, finds which job the round made of its bid,
reads the proof the prover submitted back from the chain, and checks it itself — the same check
the market's ``ProofOfWorkVerifier`` runs — before using it. Copy it and replace the task with
yours; ``test_buy_a_proof.py`` shows how to test it against a local market.
"""

from __future__ import annotations

from dataclasses import dataclass

from eth_abi import encode as abi_encode
from eth_utils import keccak

from bridge.chain.market import Market
from bridge.client.participant import Participant, event_logs, settled_jobs


@dataclass(frozen=True)
class Order:
    """A sealed bid the application placed."""

    round: int
    bid_index: int
    task: bytes


@dataclass(frozen=True)
class Delivery:
    """A proof delivered for an order, checked locally."""

    prover: str
    nonce: bytes


class ProofBuyer:
    """Buys proofs of work as ``requester`` (a funded :class:`Participant` with a deposit)."""

    def __init__(self, requester: Participant, deploy_block: int) -> None:
        self.requester = requester
        self.market: Market = requester.market
        self.deploy_block = deploy_block

    def order(self, task: bytes, max_price: int) -> Order:
        """Bid up to ``max_price`` wei for one proof of ``task`` in the current round."""
        record = self.requester.bid(value=max_price, size=1, escrow=max_price, task=task)
        receipt = self.market.w3.eth.get_transaction_receipt(record.tx_hash)  # type: ignore[arg-type]
        (event,) = self.market.contract.events.BidCommitted().process_receipt(receipt)
        return Order(record.round, int(event["args"]["index"]), task)

    def delivery(self, order: Order) -> Delivery | None:
        """The checked proof for ``order``, or None if none was delivered (yet)."""
        jobs = [v.job for v in settled_jobs(self.market, order.round, self.deploy_block)
                if v.job.bid_index == order.bid_index]
        for e in event_logs(self.market, "ProofAccepted", self.deploy_block,
                            {"round": order.round}):
            job = next((j for j in jobs if j.job_index == int(e["args"]["jobIndex"])), None)
            if job is None:
                continue
            tx = self.market.w3.eth.get_transaction(e["transactionHash"])
            _fn, args = self.market.contract.decode_function_input(tx["input"])
            nonce = bytes(args["proof"])
            if not self.check(order.task, job.prover, nonce):
                raise ValueError(f"the proof of job {job.job_index} does not check out")
            return Delivery(job.prover, nonce)
        return None

    def check(self, task: bytes, prover: str, nonce: bytes) -> bool:
        """The verifier's rule, recomputed here: the top ``difficulty`` bits of
        ``keccak256(abi.encode(task, prover, nonce))`` are zero."""
        from bridge.chain.deploy import contract_at

        verifier = contract_at(self.market.w3, "ProofOfWorkVerifier", self.market.params.verifier)
        bits = int(verifier.functions.difficultyBits().call())
        digest = keccak(abi_encode(["bytes32", "address", "bytes32"], [task, prover, nonce]))
        return int.from_bytes(digest, "big") >> (256 - bits) == 0
