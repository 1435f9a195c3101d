"""The generic Groth16 verifier (``Groth16Registry``): circuits as data, batched proofs.

A circuit is registered once by anyone (``register_circuit``): its verification key (snarkjs's
``verification_key.json`` encoded by :func:`key_bytes`) is stored as chain code, next to the sha-256
of its ``.wasm`` and ``.zkey``, their URIs, its input/output counts and a name; its id is
``keccak256(abi.encode(key, artifacts))``. A market's owner names the circuits the market accepts
(``accept_circuits``). A prover sends many jobs' proofs in one ``submitProofs`` call to the registry
(:func:`submit_proofs`): it checks them with one randomised pairing product per circuit, then hands
each job to the market's ``submitProof``, which takes its verifier's word for the proof.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from web3 import Web3
from web3.contract import Contract

from bridge import zkstore
from bridge.chain.artifacts import load_artifact
from bridge.chain.deploy import contract_at, deploy, transact
from bridge.chain.market import market_abi
from bridge.errors import ConfigError, InvalidInput
from bridge.proving import Circuit, circuits, task_circuit
from bridge.zkstore import Artifacts, key_bytes


def _sha256(path: Path) -> bytes:
    return hashlib.sha256(path.read_bytes()).digest()


def manifest_artifacts(c: Circuit) -> tuple[bytes, Artifacts]:
    """The key and artifacts of a manifest circuit (``zk/circuits.json``), with ``file://`` URIs."""
    key = key_bytes(json.loads(c.vkey.read_text(encoding="utf-8")))
    return key, Artifacts(c.input_count, len(c.outputs), _sha256(c.wasm), _sha256(c.zkey),
                          c.wasm.resolve().as_uri(), c.zkey.resolve().as_uri(), c.name)


def register_circuit(registry: Contract, key: bytes, artifacts: Artifacts, sender: str
                     ) -> tuple[bytes, int]:
    """Register a circuit (anyone may); returns ``(id, index)`` (``CircuitRegistered``)."""
    rc = transact(registry.functions.registerCircuit(key, artifacts.as_tuple()), sender)
    [log] = registry.events.CircuitRegistered().process_receipt(rc)
    return bytes(log["args"]["id"]), int(log["args"]["index"])


def accept_circuits(registry: Contract, market: str, ids: Sequence[bytes], owner: str) -> Any:
    """The market's owner adds circuits to those the market accepts (append-only)."""
    return transact(registry.functions.acceptCircuits(market, list(ids)), owner)


def deploy_groth16_registry(w3: Web3, sender: str) -> tuple[Contract, dict[str, bytes]]:
    """Deploy a ``Groth16Registry`` and register the manifest's circuits in the manifest's order
    (their indexes 1, 2, … match ``CircuitRegistry``'s ids); returns it and the ids by name."""
    registry = deploy(w3, "Groth16Registry", sender=sender)
    ids = {}
    for c in circuits().values():
        key, art = manifest_artifacts(c)
        ids[c.name], _ = register_circuit(registry, key, art, sender)
    return registry, ids


def registry_at(w3: Web3, address: str) -> Contract:
    """The ``Groth16Registry`` at ``address``."""
    return contract_at(w3, "Groth16Registry", address)


def batch_abi() -> list[dict[str, Any]]:
    """The registry's ABI plus the market's errors (``submitProofs`` calls the market's
    ``submitProof`` per job, whose reverts come back through it)."""
    abi = list(load_artifact("Groth16Registry").abi)
    mine = {(e["name"], tuple(p["type"] for p in e["inputs"])) for e in abi if e["type"] == "error"}
    return abi + [e for e in market_abi() if e["type"] == "error"
                  and (e["name"], tuple(p["type"] for p in e["inputs"])) not in mine]


def submit_proofs(registry: Contract, market: str, round_: int, jobs: Sequence[tuple[Any, ...]],
                  merkle_proofs: Sequence[Sequence[bytes]], proofs: Sequence[bytes], sender: str
                  ) -> Any:
    """Send many jobs' proofs by their prover ``sender`` in one ``submitProofs`` transaction
    (the jobs as ``Job`` tuples, each with its Merkle proof; the proofs are packed)."""
    if not (len(jobs) == len(merkle_proofs) == len(proofs)) or not jobs:
        raise ConfigError(f"a batch needs one Merkle proof and one proof per job: {len(jobs)} "
                          f"jobs, {len(merkle_proofs)} Merkle proofs, {len(proofs)} proofs")
    fn = registry.functions.submitProofs(Web3.to_checksum_address(market), round_, list(jobs),
                                         [list(m) for m in merkle_proofs], b"".join(proofs))
    return transact(fn, sender, abi=batch_abi())


def generic_registry(w3: Web3, verifier: str) -> Contract | None:
    """The ``Groth16Registry`` at ``verifier``, or ``None`` when the verifier is another kind."""
    reg = registry_at(w3, verifier)
    try:
        reg.functions.accepts(verifier, bytes(32)).call()
    except Exception:  # another contract: no such function, or no code
        return None
    return reg


@dataclass(frozen=True)
class Registration:
    """One circuit of a ``Groth16Registry``: its index, id, verification key and artifacts."""

    index: int
    id: bytes
    key: bytes
    artifacts: Artifacts

    def named_by(self, ref: str | int) -> bool:
        """Whether ``ref`` names it: its index, 0x id, label or full registration name."""
        return refers_to(ref, self.index, self.artifacts.label, self.id, self.artifacts.name)


def refers_to(ref: str | int, index: int, label: str, reg_id: bytes | None = None,
              full_name: str | None = None) -> bool:
    """Whether a user's ``--circuit``/``circuits`` entry names the circuit with these facts."""
    text = str(ref).strip().lower()
    return (text in (str(index), label.lower())
            or (reg_id is not None and text == "0x" + reg_id.hex())
            or (full_name is not None and text == full_name.lower()))


def registration(registry: Contract, index: int) -> Registration:
    """Circuit ``index`` of ``registry`` as registered."""
    cid = bytes(registry.functions.circuitId(index).call())
    _index, _pointer, raw = registry.functions.circuit(cid).call()
    return Registration(index, cid, bytes(registry.functions.verificationKey(cid).call()),
                        Artifacts.from_tuple(raw))


def registrations(registry: Contract) -> list[Registration]:
    """Every circuit of ``registry``, in registration order."""
    return [registration(registry, i)
            for i in range(1, int(registry.functions.circuitCount().call()) + 1)]


@dataclass(frozen=True)
class Provability:
    """Whether a circuit task can be proven, and what running its circuit gave."""

    provable: bool
    detail: str


class ProvabilityChecker:
    """Runs circuit tasks' witness generators as registered (``bridge.zkstore``): the keeper's
    check before a round clears, and the audit's re-run of an ``unprovable`` mark. A task is
    provable when its circuit's artifacts are fetched with the registered hashes and its witness
    computes within the limits for :data:`bridge.zkstore.PROBE_PROVER`; registrations and
    artifacts are read once per checker, outcomes once per (circuit, inputs)."""

    def __init__(self, registry: Contract, *, cache: Path | None = None,
                 limits: zkstore.Limits = zkstore.DEFAULT_LIMITS) -> None:
        self.registry = registry
        self.cache = cache
        self.limits = limits
        self._fetched: dict[int, tuple[zkstore.Artifacts, zkstore.Fetched] | str] = {}
        self._seen: dict[tuple[int, tuple[int, ...]], Provability] = {}

    def _artifacts(self, index: int) -> tuple[zkstore.Artifacts, zkstore.Fetched] | str:
        if index not in self._fetched:
            try:
                art = registration(self.registry, index).artifacts
                art.layout()  # a name without a readable layout cannot be run
                self._fetched[index] = (art, zkstore.fetch_artifacts(
                    art, cache=self.cache, limits=self.limits))
            except zkstore.ArtifactError as exc:
                self._fetched[index] = f"its artifacts cannot be used: {exc}"
            except InvalidInput as exc:
                self._fetched[index] = f"its registration cannot be run: {exc}"
        return self._fetched[index]

    def check(self, task: bytes, inputs: Sequence[int]) -> Provability:
        """Whether ``task`` (a circuit task word) on ``inputs`` can be proven."""
        return self.check_many([(task, inputs)])[0]

    def check_many(self, tasks: Sequence[tuple[bytes, Sequence[int]]]) -> list[Provability]:
        """:meth:`check` of many tasks: each circuit's generator runs once for all its tasks."""
        keys = [(task_circuit(t), tuple(int(v) for v in inputs)) for t, inputs in tasks]
        todo: dict[int, list[tuple[int, ...]]] = {}
        for index, inputs in dict.fromkeys(k for k in keys if k not in self._seen):
            todo.setdefault(index, []).append(inputs)
        for index, batch in todo.items():
            got = self._artifacts(index)
            if isinstance(got, str):
                for inputs in batch:
                    self._seen[(index, inputs)] = Provability(False, f"circuit {index}: {got}")
                continue
            art, fetched = got
            try:
                outcomes = zkstore.task_witnesses(art, fetched, batch, self.limits)
            except InvalidInput as exc:  # inputs that do not fit the circuit's layout
                outcomes = [zkstore.Witness(zkstore.WitnessOutcome.REJECTED, str(exc))] * len(batch)
            for inputs, w in zip(batch, outcomes, strict=True):
                self._seen[(index, inputs)] = Provability(
                    w.outcome.provable,
                    f"circuit {index} ({art.label}): {w.outcome.value}: {w.detail}")
        return [self._seen[k] for k in keys]
