"""Build ``settle`` calldata and the job Merkle tree exactly as ``ProverMarket`` does.

Pure functions over frozen dataclasses (no web3): the keeper uses them to post a settlement, and
provers and requesters to rebuild their jobs and Merkle proofs from a settle transaction's input.

Conventions shared with the contract (see ``contracts/interfaces/IProverMarket.sol``):
- bids and asks are indexed by commit order; reveals are given in that order;
- jobs are grouped by bid in ascending bid index, within a bid in ask rank order (cost, index);
- a job's ``charge_share`` is ``charge * units // size``, the bid's last job takes the remainder;
- leaf = ``keccak256(abi.encode(round, jobIndex, bidIndex, requester, task, prover, units,
  payment, chargeShare, proofDeadline))``; the tree hashes sorted pairs and carries an odd last
  node up unchanged (OpenZeppelin ``MerkleProof`` verifies it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from eth_abi import encode as abi_encode
from eth_utils import keccak, to_checksum_address

from bridge import sealed
from bridge.errors import InvalidInput
from bridge.mechanisms import Ask, Bid, sort_asks, sort_bids

BID_SIDE = 0
ASK_SIDE = 1
DOMAIN = keccak(text="ProverMarket.Bid.v1")
COUNT_MASK = 0xFFFFFFFF


def commitment(
    chain_id: int,
    market: str,
    round_: int,
    participant: str,
    side: int,
    price: int,
    quantity: int,
    salt: bytes,
) -> bytes:
    """SPEC §4 commitment (same as the contract's ``commitmentOf``), by :mod:`bridge.sealed`."""
    return sealed.commitment(chain_id=chain_id, market=market, round=round_,
                             participant=participant, side=side, price=price,
                             quantity=quantity, salt=salt)


@dataclass(frozen=True)
class BidReveal:
    """``IProverMarket.BidReveal``: one committed bid as the keeper reveals it."""

    requester: str
    escrow: int
    task: bytes
    valid: bool
    value: int = 0
    size: int = 0
    salt: bytes = b"\x00" * 32
    commitment: bytes = b"\x00" * 32
    charge: int = 0

    def as_tuple(self) -> tuple[Any, ...]:
        """ABI tuple in struct field order."""
        return (self.requester, self.escrow, self.task, self.valid, self.value, self.size,
                self.salt, self.commitment, self.charge)


@dataclass(frozen=True)
class AskReveal:
    """``IProverMarket.AskReveal``: one committed ask as the keeper reveals it."""

    prover: str
    capacity: int
    valid: bool
    cost: int = 0
    quantity: int = 0
    salt: bytes = b"\x00" * 32
    commitment: bytes = b"\x00" * 32

    def as_tuple(self) -> tuple[Any, ...]:
        """ABI tuple in struct field order."""
        return (self.prover, self.capacity, self.valid, self.cost, self.quantity, self.salt,
                self.commitment)


@dataclass(frozen=True)
class JobEntry:
    """``IProverMarket.JobEntry``: ``units`` of bid ``bid_index`` served by ask ``ask_index``."""

    bid_index: int
    ask_index: int
    units: int
    payment: int

    def as_tuple(self) -> tuple[int, int, int, int]:
        """ABI tuple in struct field order."""
        return (self.bid_index, self.ask_index, self.units, self.payment)


@dataclass(frozen=True)
class Job:
    """``IProverMarket.Job``: a settled job as committed to by the round's Merkle root."""

    job_index: int
    bid_index: int
    requester: str
    task: bytes
    prover: str
    units: int
    payment: int
    charge_share: int
    proof_deadline: int

    def as_tuple(self) -> tuple[Any, ...]:
        """ABI tuple in struct field order."""
        return (self.job_index, self.bid_index, self.requester, self.task, self.prover,
                self.units, self.payment, self.charge_share, self.proof_deadline)


JOB_TYPES = ["uint256", "uint256", "address", "bytes32", "address", "uint256", "uint256",
             "uint256", "uint256"]


def job_leaf(round_: int, job: Job) -> bytes:
    """The Merkle leaf of ``job`` in ``round_``."""
    return keccak(abi_encode(["uint256", *JOB_TYPES], [round_, *job.as_tuple()]))


def _pair(a: bytes, b: bytes) -> bytes:
    return keccak(a + b) if a < b else keccak(b + a)


class MerkleTree:
    """The contract's job tree: sorted-pair keccak, odd last node carried up."""

    def __init__(self, leaves: Sequence[bytes]) -> None:
        self.levels: list[list[bytes]] = [list(leaves)]
        while len(self.levels[-1]) > 1:
            prev = self.levels[-1]
            nxt = [_pair(prev[i], prev[i + 1]) for i in range(0, len(prev) - 1, 2)]
            if len(prev) % 2 == 1:
                nxt.append(prev[-1])
            self.levels.append(nxt)

    @property
    def root(self) -> bytes:
        """The root (32 zero bytes for no leaves)."""
        return self.levels[-1][0] if self.levels[0] else b"\x00" * 32

    def proof(self, index: int) -> list[bytes]:
        """Sibling hashes from leaf ``index`` up to the root."""
        if not 0 <= index < len(self.levels[0]):
            raise InvalidInput(f"leaf index {index} out of range 0..{len(self.levels[0]) - 1}")
        path: list[bytes] = []
        for level in self.levels[:-1]:
            sibling = index ^ 1
            if sibling < len(level):
                path.append(level[sibling])
            index //= 2
        return path


def verify_proof(leaf: bytes, proof: Sequence[bytes], root: bytes) -> bool:
    """OpenZeppelin ``MerkleProof.verify`` in Python."""
    node = leaf
    for sibling in proof:
        node = _pair(node, sibling)
    return node == root


def bid_chain(round_commits: Sequence[tuple[bytes, str, int, bytes]]) -> int:
    """The bid chain word over (commitment, requester, escrow, task) in commit order."""
    word = 0
    for commit, requester, escrow, task in round_commits:
        h = int.from_bytes(
            keccak(abi_encode(["uint256", "bytes32", "address", "uint256", "bytes32"],
                              [word, commit, requester, escrow, task])), "big")
        word = (h & ~COUNT_MASK) | ((word & COUNT_MASK) + 1)
    return word


def ask_chain(round_commits: Sequence[tuple[bytes, str, int]]) -> int:
    """The ask chain word over (commitment, prover, capacity) in commit order."""
    word = 0
    for commit, prover, capacity in round_commits:
        h = int.from_bytes(
            keccak(abi_encode(["uint256", "bytes32", "address", "uint256"],
                              [word, commit, prover, capacity])), "big")
        word = (h & ~COUNT_MASK) | ((word & COUNT_MASK) + 1)
    return word


def rank_orders(
    bids: Sequence[BidReveal], asks: Sequence[AskReveal]
) -> tuple[list[int], list[int]]:
    """Valid bid and ask indices in rank order (SPEC §3 tie rules, :mod:`bridge.mechanisms`)."""
    bid_order = [b.id for b in sort_bids(
        Bid(i, b.value, b.size) for i, b in enumerate(bids) if b.valid)]
    ask_order = [a.id for a in sort_asks(
        Ask(i, a.cost, a.quantity) for i, a in enumerate(asks) if a.valid)]
    return bid_order, ask_order


def sort_entries(entries: Sequence[JobEntry], asks: Sequence[AskReveal]) -> list[JobEntry]:
    """Jobs in the order the contract requires: bid index, then ask rank (cost, index)."""
    return sorted(entries, key=lambda e: (e.bid_index, asks[e.ask_index].cost, e.ask_index))


def build_jobs(
    bids: Sequence[BidReveal],
    asks: Sequence[AskReveal],
    entries: Sequence[JobEntry],
    proof_deadline: int,
) -> list[Job]:
    """The settled jobs (with charge shares) the contract derives from a settlement's entries."""
    jobs: list[Job] = []
    given: dict[int, int] = {}
    for k, entry in enumerate(entries):
        bid = bids[entry.bid_index]
        last = k + 1 == len(entries) or entries[k + 1].bid_index != entry.bid_index
        before = given.get(entry.bid_index, 0)
        share = bid.charge - before if last else bid.charge * entry.units // bid.size
        given[entry.bid_index] = before + share
        jobs.append(Job(k, entry.bid_index, bid.requester, bid.task, asks[entry.ask_index].prover,
                        entry.units, entry.payment, share, proof_deadline))
    return jobs


def job_tree(round_: int, jobs: Sequence[Job]) -> MerkleTree:
    """The round's job tree."""
    return MerkleTree([job_leaf(round_, j) for j in jobs])


def settle_args(
    round_: int,
    bids: Sequence[BidReveal],
    asks: Sequence[AskReveal],
    bid_order: Sequence[int],
    ask_order: Sequence[int],
    entries: Sequence[JobEntry],
) -> tuple[Any, ...]:
    """Positional arguments of ``settle``."""
    return (
        round_,
        [b.as_tuple() for b in bids],
        [a.as_tuple() for a in asks],
        list(bid_order),
        list(ask_order),
        [e.as_tuple() for e in entries],
    )


def entries_from_outcome(
    asks: Sequence[AskReveal],
    assignment: Mapping[int, Mapping[int, int]],
    job_payments: Mapping[tuple[int, int], int],
) -> list[JobEntry]:
    """Job entries from an engine outcome whose bid/ask ids are the commit indices."""
    entries = [
        JobEntry(bid_id, ask_id, units, job_payments[(bid_id, ask_id)])
        for bid_id, per_ask in assignment.items()
        for ask_id, units in per_ask.items()
    ]
    return sort_entries(entries, asks)


def unpack_job(packed: int) -> JobEntry:
    """Unpack ``RoundSettled.jobs[k]``: ``bid << 224 | ask << 192 | units << 160 | payment``."""
    return JobEntry(packed >> 224, (packed >> 192) & 0xFFFFFFFF, (packed >> 160) & 0xFFFFFFFF,
                    packed & ((1 << 160) - 1))


def jobs_from_logs(
    bid_commits: Sequence[tuple[str, int, bytes]],
    ask_provers: Sequence[str],
    charges: Sequence[int],
    packed_jobs: Sequence[int],
    proof_deadline: int,
) -> list[Job]:
    """Rebuild a round's jobs from logs alone.

    ``bid_commits``: (requester, escrow, task) of each ``BidCommitted`` in index order;
    ``ask_provers``: the prover of each ``AskCommitted`` in index order; ``charges`` and
    ``packed_jobs`` from ``RoundSettled``; ``proof_deadline`` = settle block time + proofPeriod.
    Sizes are not logged, but each bid's units are the sum of its jobs' units (winners only).
    """
    entries = [unpack_job(p) for p in packed_jobs]
    sizes: dict[int, int] = {}
    for e in entries:
        sizes[e.bid_index] = sizes.get(e.bid_index, 0) + e.units
    bids = [BidReveal(req, escrow, task, True, size=sizes.get(i, 0), charge=charges[i])
            for i, (req, escrow, task) in enumerate(bid_commits)]
    asks = [AskReveal(p, 0, True) for p in ask_provers]
    return build_jobs(bids, asks, entries, proof_deadline)


def decode_settle_input(abi: Sequence[dict[str, Any]], data: bytes) -> dict[str, Any]:
    """Decode a ``settle`` transaction's input into reveals and entries (for provers/requesters)."""
    from eth_abi import decode as abi_decode

    entry = next(e for e in abi if e.get("type") == "function" and e["name"] == "settle")
    types = [
        "uint256",
        "(address,uint256,bytes32,bool,uint256,uint256,bytes32,bytes32,uint256)[]",
        "(address,uint256,bool,uint256,uint256,bytes32,bytes32)[]",
        "uint256[]",
        "uint256[]",
        "(uint256,uint256,uint256,uint256)[]",
    ]
    if len(entry["inputs"]) != len(types):
        raise InvalidInput("the ABI's settle() does not match this decoder; rebuild the artifacts")
    round_, raw_bids, raw_asks, bid_order, ask_order, raw_jobs = abi_decode(types, data[4:])
    return {
        "round": round_,
        "bids": [BidReveal(to_checksum_address(b[0]), *b[1:]) for b in raw_bids],
        "asks": [AskReveal(to_checksum_address(a[0]), *a[1:]) for a in raw_asks],
        "bid_order": list(bid_order),
        "ask_order": list(ask_order),
        "entries": [JobEntry(*j) for j in raw_jobs],
    }
