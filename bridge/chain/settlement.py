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
from bridge.evidence import EVIDENCE_SIZE
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
    """The commitment of docs/protocol.md (the contract's ``commitmentOf``) by ``bridge.sealed``."""
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
    evidence: bytes = b""
    """Invalid bids: the 129-byte evidence of the mark (:mod:`bridge.evidence`)."""

    def as_tuple(self) -> tuple[Any, ...]:
        """The fields in order (how the keeper stores a reveal)."""
        return (self.requester, self.escrow, self.task, self.valid, self.value, self.size,
                self.salt, self.commitment, self.charge, self.evidence)


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
    evidence: bytes = b""
    """Invalid asks: the 129-byte evidence of the mark (:mod:`bridge.evidence`)."""

    def as_tuple(self) -> tuple[Any, ...]:
        """The fields in order (how the keeper stores a reveal)."""
        return (self.prover, self.capacity, self.valid, self.cost, self.quantity, self.salt,
                self.commitment, self.evidence)


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


# ------------------------------------------------------------------------------------------------
# Paged settlement: byte formats, the ask table, pages and the two-level job tree
# ------------------------------------------------------------------------------------------------

CHECKPOINT_INTERVAL = 64
"""The production deployments' ``checkpointInterval``: bids between stored checkpoints."""

ENTRY_BYTES = 64
"""Bytes of one ask-table entry."""

U128 = (1 << 128) - 1


def _u(value: int, nbytes: int, what: str) -> bytes:
    if not 0 <= value < 1 << (8 * nbytes):
        raise InvalidInput(f"{what} {value} does not fit the {nbytes}-byte field of a "
                           "settlement page")
    return value.to_bytes(nbytes, "big")


def _addr(address: str) -> bytes:
    return bytes.fromhex(address[2:] if address.startswith("0x") else address)


def encode_asks(asks: Sequence[AskReveal]) -> bytes:
    """``beginSettlement``'s packed ask reveals (commit order)."""
    out = bytearray()
    for a in asks:
        out += _addr(a.prover) + _u(a.capacity, 4, "capacity") + (b"\x01" if a.valid else b"\x00")
        if a.valid:
            out += _u(a.cost, 16, "cost") + _u(a.quantity, 4, "quantity") + a.salt
        else:
            out += a.commitment + _evidence(a.evidence)
    return bytes(out)


def _evidence(raw: bytes) -> bytes:
    if len(raw) != EVIDENCE_SIZE:
        raise InvalidInput(f"an invalid order needs {EVIDENCE_SIZE} bytes of evidence "
                           f"(bridge.evidence.make_evidence), got {len(raw)}")
    return raw


@dataclass(frozen=True)
class TableEntry:
    """One valid ask in the ask table: ``sold`` is DARA's running count across pages."""

    prover: str
    index: int
    quantity: int
    cost: int
    sold: int = 0

    def encode(self) -> bytes:
        head = (int(_addr(self.prover).hex(), 16) << 96) | (self.index << 80) \
            | (self.quantity << 48) \
            | (self.sold << 16)
        return head.to_bytes(32, "big") + _u(self.cost, 32, "cost")


def ask_table(mechanism: str, asks: Sequence[AskReveal]) -> list[TableEntry]:
    """The valid asks as the contract tabulates them: Prooφ in rank order, DARA in commit order."""
    entries = [TableEntry(a.prover, i, a.quantity, a.cost) for i, a in enumerate(asks) if a.valid]
    if mechanism == "proofphi":
        entries.sort(key=lambda e: (e.cost, e.index))
    return entries


def encode_table(table: Sequence[TableEntry]) -> bytes:
    """The ask table's bytes (what ``settleBids`` carries and the contract hashes)."""
    return b"".join(e.encode() for e in table)


@dataclass(frozen=True)
class ProofPhiClaim:
    """``IProverMarket.ProofPhiClaim``: ``ell`` asks sell; pivot A at rank S_ell, B at S_ell+1."""

    ell: int = 0
    has_a: bool = False
    a_index: int = 0
    a_value: int = 0
    has_b: bool = False
    b_index: int = 0
    b_value: int = 0

    def as_tuple(self) -> tuple[Any, ...]:
        """ABI tuple in struct field order."""
        return (self.ell, self.has_a, self.a_index, self.a_value, self.has_b, self.b_index,
                self.b_value)


def proofphi_claim(bids: Sequence[BidReveal], table: Sequence[TableEntry]) -> ProofPhiClaim:
    """The Prooφ outcome of the valid reveals: the claim the pages confirm (docs/mechanisms.md)."""
    ranked = sorted((b for b in enumerate(bids) if b[1].valid),
                    key=lambda ib: (-ib[1].value, ib[0]))
    n = len(ranked)
    ell = 0
    filled = 0
    for j, entry in enumerate(table):
        if filled >= n or entry.cost > ranked[filled][1].value:
            break
        ell = j
        filled += entry.quantity
    s_ell = sum(e.quantity for e in table[:ell])
    has_a = ell > 0
    a_index, a_value = (ranked[s_ell][0], ranked[s_ell][1].value) if has_a else (0, 0)
    has_b = False
    b_index = b_value = 0
    if ell + 1 < len(table):
        s_next = s_ell + table[ell].quantity
        if s_next < n:
            has_b = True
            b_index, b_value = ranked[s_next][0], ranked[s_next][1].value
    return ProofPhiClaim(ell, has_a, a_index, a_value, has_b, b_index, b_value)


def encode_bid(mechanism: str, bid: BidReveal, jobs: Sequence[tuple[int, int, int]]) -> bytes:
    """One bid of a page; ``jobs`` are DARA's (table position, units, payment) in ask rank order."""
    out = _addr(bid.requester) + _u(bid.escrow, 16, "escrow") + bid.task
    if not bid.valid:
        return out + b"\x00" + bid.commitment + _evidence(bid.evidence)
    if mechanism == "proofphi":
        return out + b"\x01" + _u(bid.value, 16, "value") + bid.salt
    out += b"\x01" + _u(bid.value, 16, "value") + _u(bid.size, 4, "size") + bid.salt \
        + _u(bid.charge, 16, "charge") + _u(len(jobs), 2, "job count")
    for pos, units, payment in jobs:
        out += _u(pos, 2, "ask position") + _u(units, 4, "units") + _u(payment, 16, "payment")
    return out


class JobTree2:
    """The round's job tree: one tree per page, a top tree over the page roots (both the
    contract's sorted-pair trees); a job's proof is its page proof, then its page's top proof."""

    def __init__(self, pages: Sequence[Sequence[bytes]]) -> None:
        self.pages = [MerkleTree(leaves) for leaves in pages]
        self.top = MerkleTree([t.root for t in self.pages])
        self.starts: list[int] = []
        k = 0
        for leaves in pages:
            self.starts.append(k)
            k += len(leaves)
        self.count = k

    @property
    def root(self) -> bytes:
        """The round's job root (zero when the round has no job)."""
        return self.top.root if self.count else b"\x00" * 32

    def proof(self, job_index: int) -> list[bytes]:
        """Merkle proof of job ``job_index`` (global, in settlement order)."""
        if not 0 <= job_index < self.count:
            raise InvalidInput(f"job index {job_index} out of range 0..{self.count - 1}")
        p = max(i for i, start in enumerate(self.starts) if start <= job_index
                and job_index < start + len(self.pages[i].levels[0]))
        return self.pages[p].proof(job_index - self.starts[p]) + self.top.proof(p)


@dataclass(frozen=True)
class Page:
    """One ``settleBids`` call: bids ``first … first + count − 1`` and their jobs."""

    first: int
    count: int
    table: bytes
    data: bytes
    jobs: tuple[Job, ...]
    last: bool
    gas: int
    floor: int

    def args(self, round_: int) -> tuple[Any, ...]:
        """Positional arguments of ``settleBids``."""
        return (round_, self.table, self.data)


@dataclass(frozen=True)
class SettlementPlan:
    """Every transaction of one round's paged settlement, with the jobs and their tree."""

    round: int
    mechanism: str
    asks: bytes
    ask_order: tuple[int, ...]
    claim: ProofPhiClaim
    begin_gas: int
    begin_floor: int
    pages: tuple[Page, ...]
    jobs: tuple[Job, ...]
    tree: JobTree2

    def begin_args(self) -> tuple[Any, ...]:
        """Positional arguments of ``beginSettlement``."""
        return (self.round, self.asks, list(self.ask_order), self.claim.as_tuple())


def proof_deadline(genesis: int, commit_period: int, settle_period: int, proof_period: int,
                   round_: int) -> int:
    """Every job of ``round_`` must be proven before this: its settle deadline + proofPeriod."""
    return genesis + (round_ + 1) * commit_period + settle_period + proof_period


def _proofphi_jobs(round_: int, bids: Sequence[BidReveal], table: Sequence[TableEntry],
                   claim: ProofPhiClaim, deadline: int) -> dict[int, Job]:
    """Prooφ's jobs as the contract derives them: winners in commit order fill the table's asks."""
    price = table[claim.ell].cost if 0 < claim.ell < len(table) else 0
    jobs: dict[int, Job] = {}
    pos = start = k = 0
    for i, b in enumerate(bids):
        if not (claim.has_a and b.valid and (b.value, -i) > (claim.a_value, -claim.a_index)):
            continue
        while pos < len(table) and k >= start + table[pos].quantity:
            start += table[pos].quantity
            pos += 1
        if pos == len(table):
            break  # a claim with more winners than units (the contract rejects it)
        jobs[i] = Job(k, i, b.requester, b.task, table[pos].prover, 1, price, claim.a_value,
                      deadline)
        k += 1
    return jobs


def plan_settlement(
    round_: int,
    mechanism: str,
    bids: Sequence[BidReveal],
    asks: Sequence[AskReveal],
    entries: Sequence[JobEntry],
    deadline: int,
    limits: Any = None,
    interval: int = CHECKPOINT_INTERVAL,
    claim: ProofPhiClaim | None = None,
) -> SettlementPlan:
    """Split a round's settlement into ``beginSettlement`` and ``settleBids`` pages.

    ``entries`` are the outcome's jobs (commit indices; DARA only, Prooφ's follow from the claim).
    Each page ends on a checkpoint (``interval``, the market's ``checkpointInterval``) unless it
    ends the round, and fits ``limits`` (:class:`bridge.chain.limits.Limits`: gas with margin and
    the EIP-7623 floor, calldata size). ``claim`` overrides the Prooφ claim (tests of rejection).
    """
    from bridge.chain import limits as lim

    limits = limits or lim.DEFAULT
    table = ask_table(mechanism, asks)
    if claim is None:
        claim = proofphi_claim(bids, table) if mechanism == "proofphi" else ProofPhiClaim()
    ask_order = tuple(e.index for e in table) if mechanism == "proofphi" else ()
    asks_bytes = encode_asks(asks)
    begin_gas, begin_floor = lim.begin_gas(len(asks), len(table), asks_bytes, len(bids) == 0,
                                           mechanism)
    position = {e.index: p for p, e in enumerate(table)}

    # every bid's bytes and jobs
    by_bid: dict[int, list[JobEntry]] = {}
    for e in sort_entries(entries, asks):
        by_bid.setdefault(e.bid_index, []).append(e)
    pj = _proofphi_jobs(round_, bids, table, claim, deadline) if mechanism == "proofphi" else {}
    encoded: list[bytes] = []
    bid_jobs: list[list[Job]] = []
    for i, b in enumerate(bids):
        mine = by_bid.get(i, [])
        if mechanism == "proofphi":
            encoded.append(encode_bid(mechanism, b, ()))
            bid_jobs.append([pj[i]] if i in pj else [])
            continue
        encoded.append(encode_bid(mechanism, b, [(position[e.ask_index], e.units, e.payment)
                                                 for e in mine]))
        share_sum = 0
        js: list[Job] = []
        for q, e in enumerate(mine):
            share = b.charge - share_sum if q + 1 == len(mine) else b.charge * e.units // b.size
            share_sum += share
            js.append(Job(0, i, b.requester, b.task, asks[e.ask_index].prover, e.units, e.payment,
                          share, deadline))
        bid_jobs.append(js)

    # pages: whole checkpoint chunks while the page fits
    sold = [0] * len(table)
    pages: list[Page] = []
    all_jobs: list[Job] = []
    leaves_by_page: list[list[bytes]] = []
    first = 0
    n = len(bids)
    while first < n:
        table_bytes = encode_table([TableEntry(e.prover, e.index, e.quantity, e.cost, s)
                                    for e, s in zip(table, sold, strict=True)])
        end = first
        chosen: tuple[int, int, int] | None = None
        while end < n:
            nxt = min(n, end + interval)
            njobs = sum(len(bid_jobs[i]) for i in range(first, nxt))
            size = 12 + sum(len(encoded[i]) for i in range(first, nxt))
            gas, floor = lim.page_gas(mechanism, nxt - first, njobs, len(table), table_bytes,
                                      size, nxt == n, claim.ell)
            if not limits.fits(gas, floor, lim.settle_calldata_bytes(len(table_bytes), size)) or (
                    limits.max_page_bids is not None and nxt - first > limits.max_page_bids
                    and chosen is not None):
                break
            chosen = (nxt, gas, floor)
            end = nxt
        if chosen is None:
            raise InvalidInput(f"round {round_}: bids {first}…{min(n, first + interval) - 1} "
                               "do not fit one transaction's limits")
        end, gas, floor = chosen
        jobs_here: list[Job] = []
        for i in range(first, end):
            for j in bid_jobs[i]:
                jobs_here.append(Job(len(all_jobs) + len(jobs_here), *j.as_tuple()[1:]))
        if mechanism != "proofphi":  # Prooφ's table carries no running counts
            for e_i in range(first, end):
                for e in by_bid.get(e_i, []):
                    sold[position[e.ask_index]] += e.units
        data = first.to_bytes(4, "big") + (end - first).to_bytes(4, "big") \
            + len(jobs_here).to_bytes(4, "big") + b"".join(encoded[first:end])
        pages.append(Page(first, end - first, table_bytes, data, tuple(jobs_here), end == n, gas,
                          floor))
        all_jobs.extend(jobs_here)
        leaves_by_page.append([job_leaf(round_, j) for j in jobs_here])
        first = end
    return SettlementPlan(round_, mechanism, asks_bytes, ask_order, claim, begin_gas, begin_floor,
                          tuple(pages), tuple(all_jobs), JobTree2(leaves_by_page))


def sort_entries(entries: Sequence[JobEntry], asks: Sequence[AskReveal]) -> list[JobEntry]:
    """Jobs in the order the contract requires: bid index, then ask rank (cost, index)."""
    return sorted(entries, key=lambda e: (e.bid_index, asks[e.ask_index].cost, e.ask_index))


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


def rank_orders(
    bids: Sequence[BidReveal], asks: Sequence[AskReveal]
) -> tuple[list[int], list[int]]:
    """Valid bid and ask indices in rank order (the ranking rules of docs/mechanisms.md)."""
    bid_order = [b.id for b in sort_bids(
        Bid(i, b.value, b.size) for i, b in enumerate(bids) if b.valid)]
    ask_order = [a.id for a in sort_asks(
        Ask(i, a.cost, a.quantity) for i, a in enumerate(asks) if a.valid)]
    return bid_order, ask_order


def unpack_job(packed: int) -> JobEntry:
    """Unpack ``BidsSettled.jobs[k]``: ``bid << 224 | ask << 192 | units << 160 | payment``."""
    return JobEntry(packed >> 224, (packed >> 192) & 0xFFFFFFFF, (packed >> 160) & 0xFFFFFFFF,
                    packed & ((1 << 160) - 1))


@dataclass(frozen=True)
class SettledPage:
    """What one ``BidsSettled`` log says: the page's first bid and job, charges and packed jobs."""

    page: int
    first_bid: int
    first_job: int
    charges: tuple[int, ...]
    jobs: tuple[int, ...]


def jobs_from_logs(
    round_: int,
    bid_commits: Sequence[tuple[str, int, bytes]],
    ask_provers: Sequence[str],
    pages: Sequence[SettledPage],
    deadline: int,
) -> tuple[list[Job], JobTree2, list[int]]:
    """Rebuild a settled round's jobs, job tree and per-bid charges from logs alone.

    ``bid_commits``: (requester, escrow, task) of each ``BidCommitted`` in index order;
    ``ask_provers``: the prover of each ``AskCommitted`` in index order; ``pages``: the round's
    ``BidsSettled`` logs; ``deadline``: :func:`proof_deadline`. A bid's size is the sum of its
    jobs' units (winners only), so each job's charge share follows the contract's rule.
    """
    charges = [0] * len(bid_commits)
    jobs: list[Job] = []
    leaves: list[list[bytes]] = []
    for pg in sorted(pages, key=lambda p: p.page):
        for i, c in enumerate(pg.charges):
            charges[pg.first_bid + i] = c
        entries = [unpack_job(p) for p in pg.jobs]
        sizes: dict[int, int] = {}
        for e in entries:
            sizes[e.bid_index] = sizes.get(e.bid_index, 0) + e.units
        given: dict[int, int] = {}
        here: list[Job] = []
        for k, e in enumerate(entries):
            req, _escrow, task = bid_commits[e.bid_index]
            last = k + 1 == len(entries) or entries[k + 1].bid_index != e.bid_index
            charge = charges[e.bid_index]
            before = given.get(e.bid_index, 0)
            share = charge - before if last else charge * e.units // sizes[e.bid_index]
            given[e.bid_index] = before + share
            here.append(Job(pg.first_job + k, e.bid_index, req, task, ask_provers[e.ask_index],
                            e.units, e.payment, share, deadline))
        jobs.extend(here)
        leaves.append([job_leaf(round_, j) for j in here])
    return jobs, JobTree2(leaves), charges


def charged_entries(bid_commits: Sequence[tuple[str, int, bytes]], page: SettledPage
                    ) -> list[tuple[str, int]]:
    """``unwindPage``'s argument for a settled page: (requester, charge) of each charged bid."""
    return [(bid_commits[page.first_bid + i][0], c) for i, c in enumerate(page.charges) if c]


def void_segments(n_done: int, commits: Sequence[tuple[bytes, str, int, bytes]],
                  limits: Any = None, interval: int = CHECKPOINT_INTERVAL
                  ) -> list[list[tuple[str, int, bytes, bytes]]]:
    """``voidRound`` arguments that return the escrow of bids ``n_done …``: ``commits`` are every
    bid's (commitment, requester, escrow, task) in commit order; each segment ends on a checkpoint
    unless it ends the round and fits ``limits``."""
    from bridge.chain import limits as lim

    limits = limits or lim.DEFAULT
    segments: list[list[tuple[str, int, bytes, bytes]]] = []
    first = n_done
    n = len(commits)
    per = lim.void_bids_per_tx(limits, interval)
    if limits.max_page_bids:
        per = min(per, max(interval, limits.max_page_bids // interval * interval))
    while first < n or (first == n and not segments):
        end = min(n, first + per)
        segments.append([(req, escrow, task, c) for c, req, escrow, task in commits[first:end]])
        first = end
        if first >= n:
            break
    return segments


# ------------------------------------------------------------------------------------------------
# Decoding settlement transactions (what provers, requesters and auditors read back)
# ------------------------------------------------------------------------------------------------

def decode_asks(data: bytes) -> list[AskReveal]:
    """``beginSettlement``'s packed asks back into reveals."""
    asks: list[AskReveal] = []
    o = 0
    while o < len(data):
        prover = to_checksum_address(data[o:o + 20])
        capacity = int.from_bytes(data[o + 20:o + 24], "big")
        valid = data[o + 24] == 1
        o += 25
        if valid:
            asks.append(AskReveal(prover, capacity, True, int.from_bytes(data[o:o + 16], "big"),
                                  int.from_bytes(data[o + 16:o + 20], "big"), data[o + 20:o + 52]))
            o += 52
        else:
            asks.append(AskReveal(prover, capacity, False, commitment=data[o:o + 32],
                                  evidence=data[o + 32:o + 32 + EVIDENCE_SIZE]))
            o += 32 + EVIDENCE_SIZE
    return asks


def decode_page(mechanism: str, data: bytes, table: Sequence[TableEntry] = ()
                ) -> tuple[list[BidReveal], list[JobEntry]]:
    """A ``settleBids`` page back into its bids (charges as the page states them; Prooφ's are in
    ``BidsSettled``) and, for DARA, its job entries: bid index within the page, ask commit index
    (table position when no ``table`` is given)."""
    count = int.from_bytes(data[4:8], "big")
    o = 12
    bids: list[BidReveal] = []
    entries: list[JobEntry] = []
    for k in range(count):
        requester = to_checksum_address(data[o:o + 20])
        escrow = int.from_bytes(data[o + 20:o + 36], "big")
        task = data[o + 36:o + 68]
        valid = data[o + 68] == 1
        o += 69
        if not valid:
            bids.append(BidReveal(requester, escrow, task, False, commitment=data[o:o + 32],
                                  evidence=data[o + 32:o + 32 + EVIDENCE_SIZE]))
            o += 32 + EVIDENCE_SIZE
        elif mechanism == "proofphi":
            bids.append(BidReveal(requester, escrow, task, True,
                                  int.from_bytes(data[o:o + 16], "big"), 1, data[o + 16:o + 48]))
            o += 48
        else:
            value = int.from_bytes(data[o:o + 16], "big")
            size = int.from_bytes(data[o + 16:o + 20], "big")
            salt = data[o + 20:o + 52]
            charge = int.from_bytes(data[o + 52:o + 68], "big")
            njobs = int.from_bytes(data[o + 68:o + 70], "big")
            o += 70
            bids.append(BidReveal(requester, escrow, task, True, value, size, salt, charge=charge))
            for _ in range(njobs):
                pos = int.from_bytes(data[o:o + 2], "big")
                units = int.from_bytes(data[o + 2:o + 6], "big")
                payment = int.from_bytes(data[o + 6:o + 22], "big")
                o += 22
                entries.append(JobEntry(k, table[pos].index if table else pos, units, payment))
    return bids, entries


def decode_settlement(abi: Sequence[dict[str, Any]], mechanism: str, begin_input: bytes,
                      page_inputs: Sequence[bytes], charges: Sequence[int] | None = None
                      ) -> dict[str, Any]:
    """Decode a round's ``beginSettlement`` and ``settleBids`` inputs (in page order) into
    ``{"round", "bids", "asks", "claim"}``; ``charges`` (from ``BidsSettled``) fill Prooφ's."""
    from eth_abi import decode as abi_decode

    round_, asks_bytes, _order, claim = abi_decode(
        ["uint256", "bytes", "uint256[]", "(uint256,bool,uint256,uint256,bool,uint256,uint256)"],
        begin_input[4:])
    bids: list[BidReveal] = []
    for data in page_inputs:
        _r, _table, page = abi_decode(["uint256", "bytes", "bytes"], data[4:])
        bids.extend(decode_page(mechanism, page)[0])
    if charges is not None:
        bids = [BidReveal(**{**b.__dict__, "charge": c})
                for b, c in zip(bids, charges, strict=True)]
    return {"round": round_, "bids": bids, "asks": decode_asks(asks_bytes),
            "claim": ProofPhiClaim(*claim)}


def void_transactions(
    bids_done: int,
    pages_landed: int,
    pages_unwound: int,
    commits: Sequence[tuple[bytes, str, int, bytes]],
    settled: Sequence[SettledPage],
    limits: Any = None,
    interval: int = CHECKPOINT_INTERVAL,
) -> list[tuple[str, tuple[Any, ...], int]]:
    """Every transaction still needed to void a round, as ``(function, args-after-round, gas)``.

    ``bids_done``/``pages_landed``/``pages_unwound``: ``settlementProgress``; ``commits``: every
    bid's (commitment, requester, escrow, task) in commit order; ``settled``: the round's
    ``BidsSettled`` logs (at least the landed pages). Unwinds come first, then void segments.
    """
    from bridge.chain import limits as lim

    limits = limits or lim.DEFAULT
    by_page = {p.page: p for p in settled}
    missing = [p for p in range(pages_unwound, pages_landed) if p not in by_page]
    if missing:
        raise InvalidInput(f"the BidsSettled logs of pages {missing} are needed to unwind them")
    plain = [(req, escrow, task) for _c, req, escrow, task in commits]
    txs: list[tuple[str, tuple[Any, ...], int]] = []
    for p in range(pages_unwound, pages_landed):
        entries = charged_entries(plain, by_page[p])
        txs.append(("unwindPage", (entries,), lim.unwind_gas(len(entries), limits)[0]))
    for segment in void_segments(bids_done, commits, limits, interval):
        txs.append(("voidRound", (segment,), lim.void_gas(len(segment), limits)[0]))
    return txs
