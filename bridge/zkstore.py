"""Circuits as data: artifacts fetched by URI and checked by hash, witnesses and proofs run under
limits.

A circuit registered in a ``Groth16Registry`` names its witness generator (``.wasm``) and proving
key (``.zkey``) by sha-256 and URI. Whoever runs them on a stranger's behalf — the keeper checking
that a task can be proven, a prover agent, ``bridge circuit check`` — goes through here:

- :func:`fetch` reads a ``file://``, ``http(s)://`` URI or a plain path, at most
  ``Limits.fetch_bytes`` in ``Limits.fetch_seconds``, checks the sha-256 and keeps the file in a
  cache named by its hash (a second fetch reads nothing);
- :func:`check_witnesses` runs the generator on many tasks' inputs in one process, and
  :func:`compute_witness` on one into a file to prove, each with a time and a memory limit; the
  outcome is :class:`WitnessOutcome` — computed, rejected by the circuit (an ``assert`` or a
  constraint fails: the task is unprovable), or over a limit — never a hang;
- :func:`zkey_key` exports a proving key's verification key, to compare with the registered one;
- :func:`prove` makes a Groth16 proof of a computed witness, also under limits.

A registration's name may carry the circuit's public input signals, which the generator needs by
name: ``range32(x)``, ``merkle-root-8(leaves[8])`` (:func:`parse_name`, :func:`layout_name`). Every
market circuit's last public input is ``prover`` (the proof's owner); it is not listed.

No web3 here (the ``proving`` floor).
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import resource
import secrets
import select
import shutil
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from eth_abi import encode as abi_encode
from eth_utils import keccak

from bridge.errors import ConfigError, InvalidInput
from bridge.proving import (
    SNARK_SCALAR_FIELD,
    SNARKJS,
    ProvingError,
    circuits,
    encode_proof,
    run_snarkjs,
    verify_groth16,
    witness_input,
)

MiB = 1 << 20
GiB = 1 << 30


class ArtifactError(InvalidInput):
    """An artifact could not be fetched, was too large or slow, or its hash is not the registered
    one; the message names the URI and what to do."""


@dataclass(frozen=True)
class Limits:
    """What running a stranger's circuit may take. Exceeding one is a stated outcome."""

    fetch_bytes: int = 512 * MiB
    """Largest artifact read (a 2^20-constraint zkey is ~600 MiB; ours are < 4 MiB)."""
    fetch_seconds: float = 120.0
    """Longest one fetch may take, all of it (not per read)."""
    witness_seconds: float = 60.0
    """Longest one witness computation may take."""
    witness_memory: int = 4 * GiB
    """Most memory (the data segment: heap and private writable mappings) a witness may use."""
    prove_seconds: float = 600.0
    """Longest one proof may take."""
    prove_memory: int = 8 * GiB
    """Most memory one proof may use."""


DEFAULT_LIMITS = Limits()


# --------------------------------------------------------------------------------------------------
# Names that carry the input layout


_NAME = re.compile(r"^([A-Za-z0-9][A-Za-z0-9_.-]{0,63})(?:\((.*)\))?$")
_SIGNAL = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)(?:\[([1-9][0-9]{0,3})\])?$")


def parse_name(name: str) -> tuple[str, tuple[tuple[str, int], ...] | None]:
    """``(label, inputs)`` of a registration name: ``range32(x)`` → ``("range32", (("x", 1),))``;
    a plain ``poseidon-chain-16`` → ``(name, None)`` (its layout comes from the manifest)."""
    m = _NAME.match(name.strip())
    if m is None:
        raise InvalidInput(f"circuit name {name!r} is not LABEL or LABEL(signal, signal[n], …) "
                           "(a label of letters, digits, '-', '_' or '.')")
    label, body = m.group(1), m.group(2)
    if body is None:
        return label, None
    inputs = []
    for part in (p.strip() for p in body.split(",")) if body.strip() else ():
        s = _SIGNAL.match(part)
        if s is None:
            raise InvalidInput(f"circuit name {name!r}: {part!r} is not a signal name or "
                               "name[n]")
        inputs.append((s.group(1), int(s.group(2) or 1)))
    if not inputs:
        raise InvalidInput(f"circuit name {name!r} lists no input signal: a market circuit takes "
                           "at least one public input besides `prover`")
    if len({n for n, _ in inputs}) != len(inputs):
        raise InvalidInput(f"circuit name {name!r} lists a signal twice")
    return label, tuple(inputs)


def layout_name(label: str, inputs: Sequence[tuple[str, int]]) -> str:
    """The registration name of a circuit ``label`` with public input signals ``inputs``."""
    body = ",".join(n if k == 1 else f"{n}[{k}]" for n, k in inputs)
    name = f"{label}({body})"
    parse_name(name)  # refuses what it could not read back
    return name


# --------------------------------------------------------------------------------------------------
# Fetching


def sha256_file(path: Path) -> bytes:
    """The sha-256 of a file, read in 1 MiB pieces."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(MiB):
            h.update(chunk)
    return h.digest()


def default_cache() -> Path:
    """Where fetched artifacts are kept: ``$BRIDGE_HOME/artifacts`` (default ``~/.bridge``)."""
    home = Path(os.environ.get("BRIDGE_HOME", Path.home() / ".bridge"))
    return home / "artifacts"


def fetch(uri: str, sha256: bytes, *, cache: Path | None = None,
          limits: Limits = DEFAULT_LIMITS) -> Path:
    """The artifact ``uri`` whose sha-256 is ``sha256``, from the cache or fetched into it.

    Raises :class:`ArtifactError` (one line) when it cannot be read in ``limits``, or its hash
    differs: a wrong file is never cached.
    """
    cache = cache or default_cache()
    target = cache / sha256.hex()
    if target.exists():
        return target
    cache.mkdir(parents=True, exist_ok=True)
    local = _shipped().get(sha256)
    if local is not None:  # content-addressed: this checkout's copy is the artifact
        shutil.copyfile(local, target)
        return target
    fd, tmp_name = tempfile.mkstemp(dir=cache, prefix=".fetch-")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            h = _copy(uri, out, limits)
        if h.digest() != sha256:
            raise ArtifactError(f"{uri} has sha-256 {h.hexdigest()}, the registration says "
                                f"{sha256.hex()}: the file changed or the URI is wrong; nothing "
                                "was used")
        tmp.replace(target)
        return target
    finally:
        tmp.unlink(missing_ok=True)


@functools.cache
def _shipped() -> dict[bytes, Path]:
    """The manifest circuits' artifacts in this checkout, by sha-256: a registration of them
    names ``file://`` URIs of the machine that registered it, which other machines lack."""
    out = {}
    for c in circuits().values():
        for path in (c.wasm, c.zkey):
            if path.is_file():
                out[sha256_file(path)] = path
    return out


def _copy(uri: str, out: Any, limits: Limits) -> Any:
    """Copy ``uri`` into ``out`` within the limits; the running sha-256."""
    h = hashlib.sha256()
    started = time.monotonic()
    parsed = urllib.parse.urlparse(uri)
    try:
        if parsed.scheme in ("http", "https"):
            src = urllib.request.urlopen(uri, timeout=min(limits.fetch_seconds, 30.0))
            declared = src.headers.get("Content-Length")
            if declared is not None and int(declared) > limits.fetch_bytes:
                src.close()
                raise ArtifactError(f"{uri} is {int(declared):,} bytes, over the "
                                    f"{limits.fetch_bytes:,}-byte artifact limit")
        elif parsed.scheme in ("file", ""):
            path = Path(urllib.parse.unquote(parsed.path) if parsed.scheme else uri)
            src = path.open("rb")
        else:
            raise ArtifactError(f"{uri}: only file://, http:// and https:// URIs (or a path) "
                                "can be fetched")
    except ArtifactError:
        raise
    except FileNotFoundError:
        raise ArtifactError(f"{uri} does not exist: the circuit's artifacts are "
                            "unreachable") from None
    except (OSError, urllib.error.URLError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise ArtifactError(f"{uri} is unreachable ({reason}): the circuit's artifacts "
                            "cannot be fetched") from None
    got = 0
    with src:
        while True:
            if time.monotonic() - started > limits.fetch_seconds:
                raise ArtifactError(f"{uri} took over {limits.fetch_seconds:g} s to fetch "
                                    "(the artifact time limit)")
            try:
                chunk = src.read1(1 << 16)  # what has arrived: the time limit is checked often
            except (OSError, urllib.error.URLError) as exc:
                raise ArtifactError(f"{uri}: the fetch broke off ({exc})") from None
            if not chunk:
                return h
            got += len(chunk)
            if got > limits.fetch_bytes:
                raise ArtifactError(f"{uri} is over the {limits.fetch_bytes:,}-byte artifact "
                                    "limit")
            h.update(chunk)
            out.write(chunk)


# --------------------------------------------------------------------------------------------------
# Running the circuit


class WitnessOutcome(StrEnum):
    """What running a circuit's witness generator on a task's inputs gave."""

    COMPUTED = "computed"
    REJECTED = "rejected"
    """The circuit refuses the inputs (an ``assert`` or constraint fails): no proof can exist."""
    TIME_LIMIT = "time_limit"
    MEMORY_LIMIT = "memory_limit"

    @property
    def provable(self) -> bool:
        return self is WitnessOutcome.COMPUTED


@dataclass(frozen=True)
class Witness:
    """A witness computation's outcome; ``path`` is the ``.wtns`` file when computed."""

    outcome: WitnessOutcome
    detail: str
    path: Path | None = None


def _limited(memory: int) -> Any:
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_DATA, (memory, memory))
    return apply


_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _first_error(output: str) -> str:
    lines = [_ANSI.sub("", line).strip() for line in output.splitlines()]
    for line in lines:
        if "Assert Failed" in line:
            return line[line.index("Assert Failed"):][:200]
    for line in lines:
        if "Error" in line or "Assert" in line:
            return line.replace("[ERROR] snarkJS: ", "")[:200]
    return next((line for line in lines if line), "no output")[:200]


def _over_memory(rc: int, output: str) -> bool:
    return rc < 0 or any(s in output for s in ("out of memory", "Out of memory",
                                                "Cannot allocate", "heap limit",
                                                "RangeError: WebAssembly"))


def compute_witness(wasm: Path, input_json: dict[str, Any], out: Path,
                    limits: Limits = DEFAULT_LIMITS) -> Witness:
    """Run the generator ``wasm`` on ``input_json``, writing the witness to ``out``."""
    inp = out.with_suffix(".input.json")
    inp.write_text(json.dumps(input_json))
    try:
        rc, output = run_snarkjs(["wtns", "calculate", str(wasm), str(inp), str(out)],
                               limits.witness_seconds, limits.witness_memory)
    finally:
        inp.unlink(missing_ok=True)
    if rc is None:
        return Witness(WitnessOutcome.TIME_LIMIT,
                       f"the witness took over {limits.witness_seconds:g} s")
    if rc == 0 and out.exists():
        return Witness(WitnessOutcome.COMPUTED, "computed", out)
    if _over_memory(rc, output):
        return Witness(WitnessOutcome.MEMORY_LIMIT,
                       f"the witness needs over {limits.witness_memory // MiB:,} MiB")
    return Witness(WitnessOutcome.REJECTED, _first_error(output))


WITNESS_RUNNER = Path(__file__).with_name("zkwitness.cjs")
"""The batch runner: one node process computes many witnesses of one circuit."""


def check_witnesses(wasm: Path, inputs: Sequence[dict[str, Any]],
                    limits: Limits = DEFAULT_LIMITS) -> list[Witness]:
    """The outcome of each input of one circuit, in order, from one node process (the generator
    loaded once: ~1 ms an input for a small circuit instead of ~0.3 s a process). Each input has
    ``limits.witness_seconds``; one over it or over the memory limit is stated and the rest go on
    in a fresh process."""
    if not inputs:
        return []
    require_tools()
    out: list[Witness] = []
    while len(out) < len(inputs):
        got = _witness_run(wasm, inputs[len(out):], limits)
        if len(got) > 1 and got[-1].outcome is WitnessOutcome.MEMORY_LIMIT:
            got.pop()  # the process had run others first: try that input alone in a fresh one
        out += got
    return out


def _witness_run(wasm: Path, inputs: Sequence[dict[str, Any]], limits: Limits) -> list[Witness]:
    """Run inputs until the end or the first one over a limit (whose outcome ends the list)."""
    proc = subprocess.Popen(
        ["node", str(WITNESS_RUNNER), str(SNARKJS.parents[2]), str(wasm)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        preexec_fn=_limited(limits.witness_memory))
    stdin, stdout = proc.stdin, proc.stdout
    assert stdin is not None and stdout is not None

    def feed() -> None:
        try:
            for item in inputs:
                stdin.write((json.dumps(item) + "\n").encode())
            stdin.close()
        except (BrokenPipeError, ValueError):
            pass

    threading.Thread(target=feed, daemon=True).start()
    got: list[Witness] = []
    buf = b""
    fd = stdout.fileno()
    try:
        while len(got) < len(inputs):
            deadline = time.monotonic() + limits.witness_seconds
            while b"\n" not in buf:
                left = deadline - time.monotonic()
                ready = select.select([fd], [], [], max(left, 0))[0] if left > 0 else []
                if not ready:
                    return [*got, Witness(WitnessOutcome.TIME_LIMIT,
                                          f"the witness took over {limits.witness_seconds:g} s")]
                chunk = os.read(fd, 65536)
                if not chunk:  # the process died mid-input: out of memory (or killed)
                    proc.wait()
                    return [*got, Witness(WitnessOutcome.MEMORY_LIMIT,
                                          f"the witness needs over "
                                          f"{limits.witness_memory // MiB:,} MiB")]
                buf += chunk
            line, buf = buf.split(b"\n", 1)
            res = json.loads(line)
            got.append(Witness(WitnessOutcome.COMPUTED, "computed") if res["ok"] else
                       Witness(WitnessOutcome.REJECTED, _first_error(str(res["error"]))))
        return got
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        stdout.close()


def zkey_key(zkey: Path, limits: Limits = DEFAULT_LIMITS) -> dict[str, Any]:
    """The verification key in a proving key (``snarkjs zkey export verificationkey``)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "vk.json"
        rc, output = run_snarkjs(["zkey", "export", "verificationkey", str(zkey), str(out)],
                               limits.prove_seconds, limits.prove_memory)
        if rc != 0 or not out.exists():
            raise ArtifactError(f"{zkey.name} is not a Groth16 proving key snarkjs can read "
                                f"({_first_error(output) if rc is not None else 'timed out'})")
        key: dict[str, Any] = json.loads(out.read_text())
        return key


def prove(zkey: Path, wtns: Path, limits: Limits = DEFAULT_LIMITS
          ) -> tuple[dict[str, Any], list[int]]:
    """``(proof.json, public signals)`` of a computed witness (``snarkjs groth16 prove``)."""
    with tempfile.TemporaryDirectory() as tmp:
        p, s = Path(tmp) / "proof.json", Path(tmp) / "public.json"
        rc, output = run_snarkjs(["groth16", "prove", str(zkey), str(wtns), str(p), str(s)],
                               limits.prove_seconds, limits.prove_memory)
        if rc is None:
            raise ProvingError(f"the proof took over {limits.prove_seconds:g} s (the proving "
                               "time limit)")
        if rc != 0 or not p.exists():
            if _over_memory(rc, output):
                raise ProvingError(f"the proof needs over {limits.prove_memory // MiB:,} MiB "
                                   "(the proving memory limit)")
            raise ProvingError(f"snarkjs groth16 prove failed: {_first_error(output)}")
        return json.loads(p.read_text()), [int(x) for x in json.loads(s.read_text())]


def require_tools() -> None:
    """Refuse in one line when node or snarkjs is missing."""
    if shutil.which("node") is None:
        raise ConfigError("node is not installed: install Node.js ≥ 18 to run circuits")
    if not SNARKJS.exists():
        raise ConfigError(f"snarkjs is not installed at {SNARKJS}: run `npm ci`")


# --------------------------------------------------------------------------------------------------
# Registrations


def key_bytes(vkey: dict[str, Any]) -> bytes:
    """A snarkjs verification key as the registry stores it: ``alpha | beta | gamma | delta |
    IC_0 … IC_n``, 32-byte words, G2 points as ``x.im, x.re, y.im, y.re`` (the precompile's order).
    """
    if vkey.get("protocol") != "groth16" or vkey.get("curve") != "bn128":
        raise ConfigError("the verification key is not a Groth16 key on bn128 (BN254): "
                          "export it with `snarkjs zkey export verificationkey`")

    def g1(p: Sequence[str]) -> list[int]:
        return [int(p[0]), int(p[1])]

    def g2(p: Sequence[Sequence[str]]) -> list[int]:
        return [int(p[0][1]), int(p[0][0]), int(p[1][1]), int(p[1][0])]

    words = (g1(vkey["vk_alpha_1"]) + g2(vkey["vk_beta_2"]) + g2(vkey["vk_gamma_2"])
             + g2(vkey["vk_delta_2"]))
    for ic in vkey["IC"]:
        words += g1(ic)
    return b"".join(w.to_bytes(32, "big") for w in words)


def vkey_json(key: bytes, n_public: int) -> dict[str, Any]:
    """The snarkjs ``verification_key.json`` of a registered key (the inverse of
    :func:`key_bytes`), for ``snarkjs groth16 verify``."""
    w = [str(int.from_bytes(key[k:k + 32], "big")) for k in range(0, len(key), 32)]

    def g2(at: int) -> list[list[str]]:
        return [[w[at + 1], w[at]], [w[at + 3], w[at + 2]], ["1", "0"]]

    ics = [[w[k], w[k + 1], "1"] for k in range(14, len(w), 2)]
    return {"protocol": "groth16", "curve": "bn128", "nPublic": n_public,
            "vk_alpha_1": [w[0], w[1], "1"], "vk_beta_2": g2(2), "vk_gamma_2": g2(6),
            "vk_delta_2": g2(10), "IC": ics}


@dataclass(frozen=True)
class Artifacts:
    """What a registration names besides the key (``Groth16Registry.Artifacts``)."""

    inputs: int
    outputs: int
    wasm_sha256: bytes
    zkey_sha256: bytes
    wasm_uri: str
    zkey_uri: str
    name: str

    def as_tuple(self) -> tuple[Any, ...]:
        return (self.inputs, self.outputs, self.wasm_sha256, self.zkey_sha256, self.wasm_uri,
                self.zkey_uri, self.name)

    @classmethod
    def from_tuple(cls, t: Sequence[Any]) -> Artifacts:
        return cls(int(t[0]), int(t[1]), bytes(t[2]), bytes(t[3]), str(t[4]), str(t[5]),
                   str(t[6]))

    @property
    def label(self) -> str:
        """The name without its input layout."""
        return parse_name(self.name)[0]

    def layout(self) -> tuple[tuple[str, int], ...]:
        """The public input signals by name and length: from the name, or for a plain name from
        the repository's manifest (``zk/circuits.json``)."""
        label, inputs = parse_name(self.name)
        if inputs is None:
            spec = circuits().get(label)
            if spec is None:
                raise ArtifactError(f"circuit {label!r} names no input signals (register it "
                                    "as NAME(signal, …)) and is not in zk/circuits.json")
            inputs = spec.inputs
        if sum(k for _, k in inputs) != self.inputs:
            raise ArtifactError(f"circuit {self.name!r}: its signals hold "
                                f"{sum(k for _, k in inputs)} inputs, the registration says "
                                f"{self.inputs}")
        return inputs


def circuit_id(key: bytes, artifacts: Artifacts) -> bytes:
    """The registry's id of a registration: ``keccak256(abi.encode(key, artifacts))``."""
    blob = abi_encode(["bytes", "(uint8,uint8,bytes32,bytes32,string,string,string)"],
                      [key, artifacts.as_tuple()])
    return bytes(keccak(blob))


@dataclass(frozen=True)
class Fetched:
    """A registration's artifacts on disk, hash-checked."""

    wasm: Path
    zkey: Path


def fetch_artifacts(art: Artifacts, *, cache: Path | None = None,
                    limits: Limits = DEFAULT_LIMITS) -> Fetched:
    """Both artifacts of a registration, fetched and hash-checked (:class:`ArtifactError`)."""
    return Fetched(fetch(art.wasm_uri, art.wasm_sha256, cache=cache, limits=limits),
                   fetch(art.zkey_uri, art.zkey_sha256, cache=cache, limits=limits))


def check_zkey(zkey: Path, key: bytes, name: str, limits: Limits = DEFAULT_LIMITS) -> None:
    """Refuse (:class:`ArtifactError`) a proving key whose verification key is not ``key``."""
    if key_bytes(zkey_key(zkey, limits)) != key:
        raise ArtifactError(f"circuit {name}: the proving key at its URI does not match the "
                            "registered verification key: proofs made with it would be refused")


PROBE_PROVER = "0x" + "00" * 19 + "01"
"""The prover address a task's provability check uses (the address 0x…01): the keeper's and the
audit's check must agree, and a circuit that accepts some inputs for one prover but not another is
outside the market's rules (docs/user/circuits.md)."""


def task_witness(art: Artifacts, fetched: Fetched, inputs: Sequence[int],
                 limits: Limits = DEFAULT_LIMITS) -> Witness:
    """Whether a task of this circuit on ``inputs`` can be proven: its witness computed with the
    registered generator for :data:`PROBE_PROVER`."""
    return task_witnesses(art, fetched, [inputs], limits)[0]


def task_witnesses(art: Artifacts, fetched: Fetched, tasks: Sequence[Sequence[int]],
                   limits: Limits = DEFAULT_LIMITS) -> list[Witness]:
    """:func:`task_witness` of many tasks of one circuit, in one process."""
    layout = art.layout()
    return check_witnesses(fetched.wasm, [witness_input(layout, inputs, PROBE_PROVER)
                                          for inputs in tasks], limits)


def verify_with_key(key: bytes, proof: dict[str, Any], public: Sequence[str],
                    limits: Limits = DEFAULT_LIMITS) -> bool:
    """``snarkjs groth16 verify`` of ``proof`` and ``public`` against a registered key."""
    return verify_groth16(vkey_json(key, len(public)), proof, public, limits.prove_seconds)


@dataclass(frozen=True)
class ArtifactBackend:
    """Proves tasks of a registered circuit with the artifacts its registration names: fetched by
    URI and hash-checked (cached), the witness and the proof run under the limits."""

    artifacts: Artifacts
    key: bytes
    cache: Path | None = None
    limits: Limits = DEFAULT_LIMITS
    name: str = "groth16"

    def fetched(self) -> Fetched:
        return fetch_artifacts(self.artifacts, cache=self.cache, limits=self.limits)

    def prove(self, task: bytes, prover: str, inputs: Sequence[int]) -> bytes:
        outputs, proof = self.prove_files(prover, inputs)
        return encode_proof(inputs, outputs, proof)

    def prove_files(self, prover: str, inputs: Sequence[int]) -> tuple[list[int], dict[str, Any]]:
        """``(outputs, proof.json)`` for ``inputs`` by ``prover``."""
        art = self.artifacts
        f = self.fetched()
        with tempfile.TemporaryDirectory() as tmp:
            w = compute_witness(f.wasm, witness_input(art.layout(), inputs, prover),
                                Path(tmp) / "w.wtns", self.limits)
            if w.path is None:
                raise ProvingError(f"circuit {art.label}: no witness for inputs "
                                   f"{list(inputs)}: {w.outcome.value}: {w.detail}")
            proof, public = prove(f.zkey, w.path, self.limits)
        outputs = public[:art.outputs]
        if public[art.outputs:] != [*[int(v) for v in inputs], int(prover, 16)]:
            raise ProvingError(f"circuit {art.label}: its public signals are not (outputs, "
                               "inputs, prover): it cannot serve a market")
        return outputs, proof


def find_provable_input(art: Artifacts, fetched: Fetched, limits: Limits = DEFAULT_LIMITS
                        ) -> list[int] | None:
    """Random inputs the circuit accepts, or ``None``: candidates of shrinking size (field
    elements, 64-, 16- and 1-bit numbers, then zeros), three of each, tried in one process; the
    first whose witness computes. A circuit that accepts none of them cannot be checked."""
    n = art.inputs
    candidates = [[secrets.randbelow(bound) for _ in range(n)]
                  for bound in (SNARK_SCALAR_FIELD, 1 << 64, 1 << 16, 2) for _ in range(3)]
    candidates.append([0] * n)
    outcomes = task_witnesses(art, fetched, candidates, limits)
    return next((c for c, w in zip(candidates, outcomes, strict=True) if w.outcome.provable),
                None)


def check_registration(art: Artifacts, key: bytes, *, cache: Path | None = None,
                       limits: Limits = DEFAULT_LIMITS) -> tuple[list[int], list[int]]:
    """What a prover checks before serving a circuit, each failure one line
    (:class:`ArtifactError`): the artifacts fetched with their registered hashes, the proving key
    made for the registered verification key, and one proof of a random input that verifies
    against the registered key. Returns ``(inputs, outputs)`` of that proof."""
    art.layout()
    fetched = fetch_artifacts(art, cache=cache, limits=limits)
    check_zkey(fetched.zkey, key, art.label, limits)
    inputs = find_provable_input(art, fetched, limits)
    if inputs is None:
        raise ArtifactError(f"circuit {art.label}: no random input (field elements down to "
                            "zeros) gives a witness, so it cannot be checked by a proof")
    backend = ArtifactBackend(art, key, cache, limits)
    prover = "0x" + "00" * 19 + "02"
    outputs, proof = backend.prove_files(prover, inputs)
    public = [str(v) for v in (*outputs, *inputs, int(prover, 16))]
    if not verify_with_key(key, proof, public, limits):
        raise ArtifactError(f"circuit {art.label}: a proof made with its artifacts does not "
                            "verify against the registered key")
    return inputs, outputs
