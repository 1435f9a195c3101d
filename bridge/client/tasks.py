"""Circuit tasks as a client sees them: the market's registered circuits, a bid's public inputs,
the backend that proves a job, and the proof a requester gets back.

A market whose verifier is a ``CircuitRegistry`` (``Market.circuit_tasks``) trades tasks that name
a registered circuit and its public inputs; the inputs are logged in ``BidCommitted`` and the proof
in the ``submitProof`` transaction, so provers and requesters read both from the chain.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hexbytes import HexBytes

from bridge.chain.deploy import contract_at
from bridge.chain.groth16 import generic_registry, refers_to, registrations
from bridge.chain.logs import event_logs
from bridge.chain.market import Market
from bridge.client.settled import settled_jobs
from bridge.errors import BridgeError, ConfigError, InvalidInput
from bridge.proving import (
    MANIFEST,
    Circuit,
    Groth16Backend,
    PowBackend,
    ProvingBackend,
    circuits,
    pow_ok,
    task_circuit,
    task_word,
    to_snarkjs,
    verify_local,
)
from bridge.zkstore import ArtifactBackend, Artifacts, key_bytes, verify_with_key, vkey_json


@dataclass(frozen=True)
class RegisteredCircuit:
    """A circuit as the market's registry holds it, with its manifest entry."""

    id: int
    name: str
    verifier: str
    units: int
    inputs: int
    outputs: int
    spec: Circuit | None
    """The manifest's entry (artifacts to prove and verify); ``None`` when this checkout's
    ``zk/circuits.json`` does not know the circuit (or its key is another)."""
    artifacts: Artifacts | None = None
    """A ``Groth16Registry`` circuit's registration: its artifacts by URI and hash."""
    key: bytes | None = None
    """A ``Groth16Registry`` circuit's verification key."""
    registry_id: bytes | None = None
    """A ``Groth16Registry`` circuit's id (``keccak256(abi.encode(key, artifacts))``)."""

    def backend(self) -> ProvingBackend:
        """What proves this circuit's tasks: the manifest's files, else the registered
        artifacts (fetched by URI and checked by hash)."""
        if self.spec is not None:
            return Groth16Backend(self.spec)
        if self.artifacts is not None and self.key is not None:
            return ArtifactBackend(self.artifacts, self.key)
        raise ConfigError(f"circuit {self.id} ({self.name}) is not in {MANIFEST}: add its "
                          "artifacts (wasm, zkey, vkey) to prove or verify its tasks")

    def verification_key(self) -> dict[str, Any]:
        """The snarkjs ``verification_key.json`` proofs of this circuit verify against."""
        if self.key is not None:
            return vkey_json(self.key, self.inputs + self.outputs + 1)
        if self.spec is not None:
            data: dict[str, Any] = json.loads(self.spec.vkey.read_text(encoding="utf-8"))
            return data
        raise ConfigError(f"circuit {self.id} ({self.name}): no verification key here")

    def verify(self, proof: dict[str, Any], public: list[str]) -> bool:
        """``snarkjs groth16 verify`` against :meth:`verification_key`."""
        if self.key is not None:
            return verify_with_key(self.key, proof, public)
        if self.spec is not None:
            return verify_local(self.spec, proof, public)
        raise ConfigError(f"circuit {self.id} ({self.name}): no verification key here")


def _generic_circuits(market: Market) -> dict[int, RegisteredCircuit] | None:
    """The circuits a market whose verifier is a ``Groth16Registry`` accepts, by registration
    index (what task words name); ``None`` for another registry. A circuit's manifest entry is
    used only when its verification key is the registered one (names are anyone's to choose)."""
    reg = generic_registry(market.w3, market.params.verifier)
    if reg is None:
        return None
    out = {}
    for r in registrations(reg):
        if not reg.functions.accepts(market.address, r.id).call():
            continue
        art = r.artifacts
        spec = circuits().get(art.name)
        if spec is not None and key_bytes(json.loads(spec.vkey.read_text())) != r.key:
            spec = None
        out[r.index] = RegisteredCircuit(r.index, art.label, reg.address, 1, art.inputs,
                                         art.outputs, spec, art, r.key, r.id)
    return out


def registered(market: Market) -> dict[int, RegisteredCircuit]:
    """The market's circuits by id (empty for a proof-of-work market; for a ``Groth16Registry``,
    the circuits the market accepts, by registration index)."""
    if not market.circuit_tasks:
        return {}
    generic = _generic_circuits(market)
    if generic is not None:
        return generic
    reg = contract_at(market.w3, "CircuitRegistry", market.params.verifier)
    out = {}
    for cid in range(1, int(reg.functions.circuitCount().call()) + 1):
        verifier, units, n_in, n_out, _selector = reg.functions.circuit(cid).call()
        name = str(reg.functions.circuitName(cid).call())
        spec = circuits().get(name)
        out[cid] = RegisteredCircuit(cid, name, str(verifier), int(units), int(n_in), int(n_out),
                                     spec)
    return out


def resolve(market: Market, ref: str | int) -> RegisteredCircuit:
    """Circuit ``ref`` of the market — its index, its name, or (a ``Groth16Registry`` circuit) its
    0x id or full registration name — or :class:`InvalidInput` listing them."""
    known = registered(market)
    if not known:
        raise InvalidInput("this market's tasks are opaque (proof of work): bid with --task, "
                           "not --circuit")
    for c in known.values():
        if refers_to(ref, c.id, c.name, c.registry_id, c.artifacts.name if c.artifacts else None):
            return c
    listing = ", ".join(f"{c.id} ({c.name}, {c.units} units)" for c in known.values())
    raise InvalidInput(f"no circuit {ref!r} in this market: registered are {listing}")


def read_inputs(text: str) -> list[int]:
    """Task inputs from ``--input``: a JSON file (a list, or an object whose values are numbers or
    lists of numbers, in the circuit's signal order), or comma-separated numbers."""
    path = Path(text)
    raw: Any
    if path.is_file():
        try:
            raw = json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            raise InvalidInput(f"--input {text}: not valid JSON ({exc})") from None
    else:
        raw = [x.strip() for x in text.split(",") if x.strip()]
    values: list[Any] = []
    items = raw.values() if isinstance(raw, dict) else raw
    for item in items:
        values.extend(item if isinstance(item, list) else [item])
    try:
        return [int(s, 16) if s.lower().startswith("0x") else int(s, 10)
                for s in (str(v).strip() for v in values)]
    except ValueError:
        raise InvalidInput(f"--input {text}: every input must be an integer (decimal or 0x-hex)"
                           ) from None


def task_inputs(market: Market, round: int, bid_index: int, from_block: int) -> list[int]:
    """The public inputs bid ``bid_index`` of ``round`` named (from its ``BidCommitted`` log)."""
    for e in event_logs(market, "BidCommitted", from_block, {"round": round}):
        if int(e["args"]["index"]) == bid_index:
            return [int(v) for v in e["args"]["inputs"]]
    raise BridgeError(f"no BidCommitted log for bid {bid_index} of round {round} from block "
                      f"{from_block}: pass an earlier --from-block")


def backend_for(market: Market, task: bytes) -> tuple[ProvingBackend, RegisteredCircuit | None]:
    """The backend that proves ``task`` on this market (and its circuit, for a circuit task)."""
    if market.circuit_tasks:
        cid = task_circuit(task)
        c = registered(market).get(cid)
        if c is None:
            raise BridgeError(f"task {task.hex()} names circuit {cid}, which the registry lacks")
        return c.backend(), c
    verifier = contract_at(market.w3, "ProofOfWorkVerifier", market.params.verifier)
    try:
        bits = int(verifier.functions.difficultyBits().call())
    except Exception:
        raise InvalidInput(f"the market's verifier {market.params.verifier} is neither a circuit "
                           "registry nor a proof-of-work verifier: pass the proof yourself with "
                           "--proof 0x…") from None
    return PowBackend(bits), None


@dataclass(frozen=True)
class DeliveredProof:
    """A job's proof as submitted on chain, in snarkjs's format, and whether it verifies here."""

    round: int
    job_index: int
    bid_index: int
    circuit: RegisteredCircuit
    proof: dict[str, Any]
    public: list[str]
    verified: bool
    tx: str
    data: bytes = b""
    """The proof bytes as submitted (inputs, outputs, the proof's eight words)."""


def delivered_proofs(market: Market, round: int, bid_index: int, from_block: int
                     ) -> list[DeliveredProof]:
    """The proofs of bid ``bid_index``'s jobs in ``round``, read back from the ``submitProof``
    transactions and verified locally against each circuit's verification key."""
    jobs = {v.job.job_index: v.job for v in settled_jobs(market, round, from_block)
            if v.job.bid_index == bid_index}
    if not jobs:
        raise BridgeError(f"bid {bid_index} of round {round} has no jobs (not settled, or it did "
                          "not trade): see `bridge requester status`")
    out = []
    for e in event_logs(market, "ProofAccepted", from_block, {"round": round}):
        job = jobs.get(int(e["args"]["jobIndex"]))
        if job is None:
            continue
        tx_hash = HexBytes(e["transactionHash"]).to_0x_hex()
        if not market.circuit_tasks:
            raise InvalidInput("this market's jobs are proofs of work: there is no proof to "
                               "deliver beyond the accepted nonce")
        known = registered(market)
        c = known.get(task_circuit(job.task))
        if c is None:
            raise BridgeError(f"job {job.job_index}'s task names a circuit the registry lacks")
        data = _submitted_proof(market, tx_hash, round, job.job_index, job.task, known)
        proof, public = to_snarkjs(data, job.prover, c.inputs, c.outputs)
        inputs = [int(v) for v in public[c.outputs:c.outputs + c.inputs]]
        if task_word(c.id, c.units, inputs) != job.task:
            raise BridgeError(f"the proof in {tx_hash} is for other inputs than job "
                              f"{job.job_index}'s task")
        out.append(DeliveredProof(round, job.job_index, bid_index, c, proof, public,
                                  c.verify(proof, public), tx_hash, data))
    return out


def _submitted_proof(market: Market, tx_hash: str, round: int, job_index: int, task: bytes,
                     known: dict[int, RegisteredCircuit]) -> bytes:
    """Job ``job_index``'s proof bytes as its transaction carried them: a direct ``submitProof``
    on the market, or a ``submitProofs`` batch on the market's ``Groth16Registry`` verifier (which
    checked the batch, then called the market for each job)."""
    tx = market.w3.eth.get_transaction(tx_hash)  # type: ignore[arg-type]
    to = str(tx.get("to") or "")
    if to.lower() == market.params.verifier.lower():
        reg = contract_at(market.w3, "Groth16Registry", market.params.verifier)
        _fn, args = reg.decode_function_input(bytes(HexBytes(tx["input"])))
        if str(args["market"]).lower() != market.address.lower() or int(args["round"]) != round:
            raise BridgeError(f"transaction {tx_hash} submits proofs for another market or round")
        blob, at = bytes(args["proofs"]), 0
        for j in args["jobs"]:
            c = known.get(task_circuit(bytes(j["task"])))
            if c is None:
                raise BridgeError(f"transaction {tx_hash} proves a circuit the registry lacks")
            size = (c.inputs + c.outputs + 8) * 32
            if int(j["jobIndex"]) == job_index and bytes(j["task"]) == task:
                return blob[at:at + size]
            at += size
        raise BridgeError(f"transaction {tx_hash} does not submit job {job_index}")
    # otherwise only a direct submitProof call on the market is exactly what the market verified
    data = market.direct_call_input(tx_hash, "submitProof", round)
    _fn, args = market.contract.decode_function_input(data)
    submitted = args["job"]
    if int(submitted["jobIndex"]) != job_index or bytes(submitted["task"]) != task:
        raise BridgeError(f"transaction {tx_hash} does not submit job {job_index}")
    return bytes(args["proof"])


@dataclass(frozen=True)
class DeliveredWork:
    """A proof-of-work job's proof as accepted on chain: the nonce, and whether it meets the
    verifier's work rule when checked here. ``proof.bin`` holds the nonce's bytes."""

    round: int
    job_index: int
    bid_index: int
    prover: str
    task: bytes
    nonce: bytes
    difficulty_bits: int
    verified: bool
    tx: str


def delivered_work(market: Market, round: int, bid_index: int, from_block: int
                   ) -> list[DeliveredWork]:
    """The accepted proofs of work of bid ``bid_index``'s jobs in ``round``, read back from the
    ``submitProof`` transactions and checked against the work rule locally."""
    jobs = {v.job.job_index: v.job for v in settled_jobs(market, round, from_block)
            if v.job.bid_index == bid_index}
    if not jobs:
        raise BridgeError(f"bid {bid_index} of round {round} has no jobs (not settled, or it did "
                          "not trade): see `bridge requester status`")
    verifier = contract_at(market.w3, "ProofOfWorkVerifier", market.params.verifier)
    bits = int(verifier.functions.difficultyBits().call())
    out = []
    for e in event_logs(market, "ProofAccepted", from_block, {"round": round}):
        job = jobs.get(int(e["args"]["jobIndex"]))
        if job is None:
            continue
        tx_hash = HexBytes(e["transactionHash"]).to_0x_hex()
        data = market.direct_call_input(tx_hash, "submitProof", round)
        _fn, args = market.contract.decode_function_input(data)
        nonce = bytes(args["proof"])
        out.append(DeliveredWork(round, job.job_index, bid_index, job.prover, job.task, nonce,
                                 bits, pow_ok(job.task, job.prover, nonce, bits), tx_hash))
    return out
