"""Proving backends: one interface for every kind of proof a market's verifier accepts.

- ``pow``: hashcash proof of work (``ProofOfWorkVerifier``): a 32-byte nonce.
- ``groth16``: a registered circuit (``zk/circuits.json``) proven with snarkjs through node: the
  witness from the circuit's WASM generator and the task's public inputs plus the prover's
  address, the proof with its final zkey. Proof bytes are the inputs, the outputs and the eight
  proof coordinates as packed 32-byte words (what ``CircuitRegistry`` verifies); the same proof is
  written back out in snarkjs's ``proof.json`` / ``public.json`` format (:func:`to_snarkjs`) so
  ``snarkjs groth16 verify`` accepts it.
- ``command``: an external command template for other proof systems; it gets the task, prover and
  inputs and writes the proof bytes to a file.

No web3 here: the client layer chooses the backend for a job (:func:`backend_for`).
"""

from __future__ import annotations

import json
import resource
import secrets
import shlex
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Protocol

from eth_abi import encode as abi_encode
from eth_utils import keccak

from bridge.errors import ConfigError, InvalidInput

REPO_ROOT = Path(__file__).resolve().parents[1]
MANIFEST = REPO_ROOT / "zk" / "circuits.json"
SNARKJS = REPO_ROOT / "node_modules" / "snarkjs" / "build" / "cli.cjs"
SNARK_SCALAR_FIELD = 21888242871839275222246405745257275088548364400416034343698204186575808495617


class ProvingError(InvalidInput):
    """A proof could not be produced or read; the message says what to install or fix."""


@dataclass(frozen=True)
class Circuit:
    """One circuit of the manifest (``zk/circuits.json``)."""

    name: str
    description: str
    verifier_contract: str
    units: int
    inputs: tuple[tuple[str, int], ...]
    """Public input signals in order, each ``(name, length)`` (length 1: a scalar)."""
    outputs: tuple[str, ...]
    wasm: Path
    zkey: Path
    vkey: Path

    @property
    def input_count(self) -> int:
        """Field elements a task names."""
        return sum(n for _, n in self.inputs)

    def witness_input(self, inputs: Sequence[int], prover: str) -> dict[str, Any]:
        """The snarkjs input JSON: the task's inputs by signal name, and the prover."""
        return witness_input(self.inputs, inputs, prover)


def witness_input(layout: Sequence[tuple[str, int]], inputs: Sequence[int], prover: str
                  ) -> dict[str, Any]:
    """A witness generator's input JSON: the task's ``inputs`` by signal name (``layout``: each
    signal's name and length, in order), then ``prover``."""
    total = sum(k for _, k in layout)
    if len(inputs) != total:
        raise ProvingError(f"the circuit takes {total} inputs, the task has {len(inputs)}")
    out: dict[str, Any] = {}
    at = 0
    for name, k in layout:
        values = [str(int(v)) for v in inputs[at:at + k]]
        out[name] = values[0] if k == 1 else values
        at += k
    out["prover"] = str(int(prover, 16))
    return out


@cache
def circuits(manifest: Path = MANIFEST) -> dict[str, Circuit]:
    """The registered circuits by name."""
    try:
        data = json.loads(manifest.read_text())
    except FileNotFoundError:
        raise ConfigError(f"no circuit manifest at {manifest}") from None
    out = {}
    for c in data["circuits"]:
        out[c["name"]] = Circuit(
            name=c["name"], description=c["description"],
            verifier_contract=c["verifier_contract"], units=int(c["units"]),
            inputs=tuple((str(n), int(k)) for n, k in c["inputs"]),
            outputs=tuple(c["outputs"]), wasm=REPO_ROOT / c["wasm"], zkey=REPO_ROOT / c["zkey"],
            vkey=REPO_ROOT / c["vkey"])
    return out


def circuit(name: str) -> Circuit:
    """The manifest's circuit ``name`` (:class:`ConfigError` naming the known ones)."""
    known = circuits()
    if name not in known:
        raise ConfigError(f"no circuit {name!r} in {MANIFEST}: known are {', '.join(known)}")
    return known[name]


def task_word(circuit_id: int, units: int, inputs: Sequence[int]) -> bytes:
    """``CircuitRegistry.taskOf``: ``units (32) | id (32) | keccak(abi.encode(id, inputs))``, the
    hash cut to its low 192 bits."""
    digest = int.from_bytes(keccak(abi_encode(["uint256", "uint256[]"],
                                              [circuit_id, list(inputs)])), "big")
    return ((units << 224) | (circuit_id << 192) | (digest & ((1 << 192) - 1))).to_bytes(32, "big")


def task_circuit(task: bytes) -> int:
    """The circuit (registration index) a circuit task word names: bits 192–223."""
    return (int.from_bytes(task, "big") >> 192) & 0xFFFFFFFF


def task_units(task: bytes) -> int:
    """The units a circuit task word names (0 for an opaque task of a proof-of-work market)."""
    return int.from_bytes(task, "big") >> 224


def check_inputs(inputs: Sequence[int]) -> None:
    """Every input must be a BN254 field element (the registry refuses others at commit time)."""
    for i, v in enumerate(inputs):
        if not 0 <= v < SNARK_SCALAR_FIELD:
            raise InvalidInput(f"input {i} = {v} is not a field element (0 ≤ x < "
                               f"{SNARK_SCALAR_FIELD}): the registry refuses it")


# --------------------------------------------------------------------------------------------------
# Proof bytes and snarkjs files


def encode_proof(inputs: Sequence[int], outputs: Sequence[int], proof: dict[str, Any]) -> bytes:
    """The bytes ``submitProof`` carries: inputs, outputs and the proof's eight coordinates, each a
    32-byte word (B's coordinates swapped as the Solidity verifier expects)."""
    a, b, c = proof["pi_a"], proof["pi_b"], proof["pi_c"]
    abc = [int(a[0]), int(a[1]), int(b[0][1]), int(b[0][0]), int(b[1][1]), int(b[1][0]),
           int(c[0]), int(c[1])]
    return b"".join(v.to_bytes(32, "big") for v in (*inputs, *outputs, *abc))


def decode_proof(data: bytes, n_inputs: int, n_outputs: int
                 ) -> tuple[list[int], list[int], list[int]]:
    """``(inputs, outputs, abc)`` from proof bytes of a circuit with those counts."""
    if len(data) != (n_inputs + n_outputs + 8) * 32:
        raise ProvingError(f"proof bytes are {len(data)} long, a proof of this circuit is "
                           f"{(n_inputs + n_outputs + 8) * 32}")
    words = [int.from_bytes(data[k:k + 32], "big") for k in range(0, len(data), 32)]
    return words[:n_inputs], words[n_inputs:n_inputs + n_outputs], words[n_inputs + n_outputs:]


def to_snarkjs(data: bytes, prover: str, n_inputs: int, n_outputs: int
               ) -> tuple[dict[str, Any], list[str]]:
    """``(proof.json, public.json)`` in snarkjs's format from proof bytes read on chain."""
    inputs, outputs, abc = decode_proof(data, n_inputs, n_outputs)
    proof = {
        "pi_a": [str(abc[0]), str(abc[1]), "1"],
        "pi_b": [[str(abc[3]), str(abc[2])], [str(abc[5]), str(abc[4])], ["1", "0"]],
        "pi_c": [str(abc[6]), str(abc[7]), "1"],
        "protocol": "groth16",
        "curve": "bn128",
    }
    public = [str(v) for v in (*outputs, *inputs, int(prover, 16))]
    return proof, public


def run_snarkjs(args: Sequence[str], seconds: float, memory: int | None = None
                ) -> tuple[int | None, str]:
    """``node snarkjs ARGS`` within ``seconds`` and, when given, ``memory`` bytes of data segment;
    ``(returncode, stderr + stdout)``, the return code ``None`` when time ran out."""
    if not SNARKJS.exists():
        raise ProvingError(f"snarkjs is not installed at {SNARKJS}: run `npm ci` in {REPO_ROOT}")
    if shutil.which("node") is None:
        raise ProvingError("node is not installed: install Node.js ≥ 18 to prove or verify "
                           "Groth16 proofs")

    def limit() -> None:
        if memory is not None:
            resource.setrlimit(resource.RLIMIT_DATA, (memory, memory))

    try:
        done = subprocess.run(["node", str(SNARKJS), *args], capture_output=True, text=True,
                              timeout=seconds, check=False, preexec_fn=limit)
    except subprocess.TimeoutExpired:
        return None, ""
    return done.returncode, done.stderr + done.stdout


def _node(args: list[str], what: str, timeout: float = 300) -> str:
    rc, output = run_snarkjs(args, timeout)
    if rc != 0:
        raise ProvingError(f"{what} failed: " + (output.strip()[-400:] if rc is not None
                                                 else f"over {timeout:g} s"))
    return output


def verify_groth16(vkey: dict[str, Any], proof: dict[str, Any], public: Sequence[str],
                   timeout: float = 300) -> bool:
    """``snarkjs groth16 verify`` of ``proof`` and ``public`` against the key ``vkey``."""
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        for name, data in (("vk", vkey), ("proof", proof), ("public", list(public))):
            (d / f"{name}.json").write_text(json.dumps(data))
        rc, output = run_snarkjs(["groth16", "verify", str(d / "vk.json"), str(d / "public.json"),
                                  str(d / "proof.json")], timeout)
        return rc == 0 and "OK" in output


def verify_local(c: Circuit, proof: dict[str, Any], public: list[str]) -> bool:
    """``snarkjs groth16 verify`` of ``proof`` and ``public`` against the circuit's key."""
    return verify_groth16(json.loads(c.vkey.read_text()), proof, public)


# --------------------------------------------------------------------------------------------------
# Backends


class ProvingBackend(Protocol):
    """Produces the proof bytes for one job."""

    @property
    def name(self) -> str:
        """``pow``, ``groth16`` or ``command``."""
        ...

    def prove(self, task: bytes, prover: str, inputs: Sequence[int]) -> bytes:
        """Proof bytes for ``task`` (with the circuit ``inputs`` a circuit task names)."""
        ...


def pow_ok(task: bytes, prover: str, nonce: bytes, difficulty_bits: int) -> bool:
    """``ProofOfWorkVerifier(difficulty_bits)``'s rule for (task, prover, nonce)."""
    digest = keccak(abi_encode(["bytes32", "address", "bytes32"], [task, prover, nonce]))
    return int.from_bytes(digest, "big") >> (256 - difficulty_bits) == 0


def solve_pow(task: bytes, prover: str, difficulty_bits: int, start: int = 0) -> bytes:
    """A 32-byte nonce passing ``ProofOfWorkVerifier(difficulty_bits)`` for (task, prover).

    The verifier accepts when the top ``difficulty_bits`` bits of
    ``keccak256(abi.encode(bytes32 task, address prover, bytes32 nonce))`` are zero.
    """
    if not 0 <= difficulty_bits <= 255:
        raise InvalidInput(f"difficulty {difficulty_bits} is outside 0..255")
    prefix = abi_encode(["bytes32", "address"], [task, prover])
    n = start
    while True:
        nonce = n.to_bytes(32, "big")
        if int.from_bytes(keccak(prefix + nonce), "big") >> (256 - difficulty_bits) == 0:
            return nonce
        n += 1


@dataclass(frozen=True)
class PowBackend:
    """Proof of work for ``ProofOfWorkVerifier(difficulty_bits)``."""

    difficulty_bits: int
    name: str = "pow"

    def prove(self, task: bytes, prover: str, inputs: Sequence[int] = ()) -> bytes:
        return solve_pow(task, prover, self.difficulty_bits, start=secrets.randbits(32))


@dataclass(frozen=True)
class Groth16Backend:
    """A registered circuit, proven with snarkjs (``groth16 fullprove``)."""

    circuit: Circuit
    name: str = "groth16"

    def prove(self, task: bytes, prover: str, inputs: Sequence[int]) -> bytes:
        return encode_proof(inputs, *self.prove_files(prover, inputs))

    def prove_files(self, prover: str, inputs: Sequence[int]) -> tuple[list[int], dict[str, Any]]:
        """``(outputs, proof.json)`` for ``inputs`` by ``prover``."""
        c = self.circuit
        for path in (c.wasm, c.zkey):
            if not path.exists():
                raise ProvingError(f"circuit {c.name}: {path} is missing (run zk/regenerate.sh)")
        with tempfile.TemporaryDirectory() as tmp:
            d = Path(tmp)
            (d / "input.json").write_text(json.dumps(c.witness_input(inputs, prover)))
            _node(["groth16", "fullprove", str(d / "input.json"), str(c.wasm), str(c.zkey),
                   str(d / "proof.json"), str(d / "public.json")], f"proving {c.name}")
            proof = json.loads((d / "proof.json").read_text())
            public = [int(x) for x in json.loads((d / "public.json").read_text())]
        outputs = public[:len(c.outputs)]
        if public[len(c.outputs):] != [*inputs, int(prover, 16)]:
            raise ProvingError(f"circuit {c.name}: snarkjs's public signals are not "
                               "(outputs, inputs, prover): the manifest's layout is wrong")
        return outputs, proof


@dataclass(frozen=True)
class CommandBackend:
    """An external prover: ``template`` with ``{task}``, ``{prover}``, ``{inputs}``
    (comma-separated) and ``{out}`` (a file it writes the proof bytes to) substituted."""

    template: str
    name: str = "command"

    def prove(self, task: bytes, prover: str, inputs: Sequence[int]) -> bytes:
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "proof.bin"
            cmd = self.template.format(task="0x" + task.hex(), prover=prover,
                                       inputs=",".join(str(v) for v in inputs), out=str(out))
            done = subprocess.run(shlex.split(cmd), capture_output=True, text=True, check=False,
                                  timeout=3600)
            if done.returncode != 0 or not out.exists():
                raise ProvingError(f"prover command {cmd!r} failed ({done.returncode}): "
                                   f"{(done.stderr or done.stdout).strip()[-300:]}")
            return out.read_bytes()
