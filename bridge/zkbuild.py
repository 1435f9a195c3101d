"""Build a circom circuit into what a market registers: witness generator, proving key and
verification key (``bridge circuit register --circom FILE``).

1. **Compile** with circom2 (npm's WASI build; it sees paths through its working directory, so it
   runs from ``/`` with absolute paths), keeping the ``.r1cs`` and ``.sym``.
2. **Read the public signals** from the r1cs header (how many outputs and public inputs) and the
   ``.sym`` file (their names, witness positions 1… are the outputs, then the public inputs in
   order). A market circuit's last public input is ``prover``; the others name the layout
   (``range32(x)``).
3. **Phase-2 setup** (Groth16) from a powers-of-tau file: the one the user gives (a public
   ceremony's, e.g. Perpetual Powers of Tau), or a small development one generated here (then
   whoever ran it could forge proofs: for tests and devnets only), then one contribution with
   fresh randomness, and the verification key.

Every step runs under a time limit; a failure is one line (:class:`BuildError`).
"""

from __future__ import annotations

import secrets
import shutil
import struct
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from bridge.errors import InvalidInput
from bridge.proving import REPO_ROOT, SNARKJS
from bridge.zkstore import default_cache, layout_name

CIRCOM = REPO_ROOT / "node_modules" / "circom2" / "cli.js"
NODE_MODULES = REPO_ROOT / "node_modules"
MIN_POWER = 8


class BuildError(InvalidInput):
    """A circuit could not be built; the message names the step and the fix."""


@dataclass(frozen=True)
class Built:
    """A built circuit, ready to register."""

    label: str
    inputs: tuple[tuple[str, int], ...]
    """Public input signals by name and length, ``prover`` excluded."""
    outputs: int
    constraints: int
    wasm: Path
    zkey: Path
    vkey: Path
    ptau: Path
    dev_ptau: bool
    """The setup used a powers-of-tau file generated here (not a public ceremony's)."""

    @property
    def name(self) -> str:
        """The registration name: the label and the input layout."""
        return layout_name(self.label, self.inputs)

    @property
    def input_count(self) -> int:
        return sum(k for _, k in self.inputs)


def _run(args: list[str], what: str, timeout: float, cwd: Path | None = None) -> str:
    if shutil.which("node") is None:
        raise BuildError("node is not installed: install Node.js ≥ 18 to build circuits")
    try:
        done = subprocess.run(["node", *args], capture_output=True, text=True, timeout=timeout,
                              check=False, cwd=cwd)
    except subprocess.TimeoutExpired:
        raise BuildError(f"{what} took over {timeout:g} s") from None
    if done.returncode != 0:
        text = " ".join((done.stderr or done.stdout).split())
        raise BuildError(f"{what} failed: {text[-300:]}")
    return done.stdout


def r1cs_header(path: Path) -> dict[str, int]:
    """The header of an ``.r1cs`` file: ``wires``, ``outputs``, ``public_inputs``,
    ``private_inputs``, ``constraints``."""
    data = path.read_bytes()
    if data[:4] != b"r1cs":
        raise BuildError(f"{path.name} is not an r1cs file")
    n_sections = struct.unpack_from("<I", data, 8)[0]
    at = 12
    for _ in range(n_sections):
        kind, size = struct.unpack_from("<IQ", data, at)
        at += 12
        if kind == 1:
            field_size = struct.unpack_from("<I", data, at)[0]
            p = at + 4 + field_size
            wires, outs, pub, prv = struct.unpack_from("<IIII", data, p)
            constraints = struct.unpack_from("<I", data, p + 16 + 8)[0]
            return {"wires": wires, "outputs": outs, "public_inputs": pub,
                    "private_inputs": prv, "constraints": constraints}
        at += size
    raise BuildError(f"{path.name} has no header section")


def public_signals(sym: Path, outputs: int, public_inputs: int) -> list[tuple[str, int]]:
    """The public input signals (name, length) in order, from the ``.sym`` file: witness
    positions ``outputs + 1 … outputs + public_inputs`` are ``main.<name>`` or
    ``main.<name>[i]``."""
    by_wire: dict[int, str] = {}
    for line in sym.read_text().splitlines():
        parts = line.split(",", 3)
        if len(parts) == 4 and parts[1].lstrip("-").isdigit():
            by_wire.setdefault(int(parts[1]), parts[3])
    out: list[tuple[str, int]] = []
    for wire in range(outputs + 1, outputs + public_inputs + 1):
        full = by_wire.get(wire, "")
        if not full.startswith("main."):
            raise BuildError(f"public signal {wire} has no name in {sym.name}")
        base = full[len("main."):].split("[", 1)[0]
        if "." in base:
            raise BuildError(f"public input {full} is not a signal of the main template")
        if out and out[-1][0] == base:
            out[-1] = (base, out[-1][1] + 1)
        else:
            out.append((base, 1))
    return out


def dev_ptau(power: int, *, timeout: float = 900) -> Path:
    """A development powers-of-tau file of ``2^power`` (generated once, cached under
    ``$BRIDGE_HOME/ptau``). Whoever generated it knows its toxic waste: never for real money."""
    home = default_cache().parent / "ptau"
    target = home / f"dev_pot{power}.ptau"
    if target.exists():
        return target
    home.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=home) as tmp:
        d = Path(tmp)
        _run([str(SNARKJS), "powersoftau", "new", "bn128", str(power), str(d / "0.ptau")],
             "powers of tau (new)", timeout)
        _run([str(SNARKJS), "powersoftau", "contribute", str(d / "0.ptau"), str(d / "1.ptau"),
              "--name=bridge development", f"-e={secrets.token_hex(32)}"],
             "powers of tau (contribute)", timeout)
        _run([str(SNARKJS), "powersoftau", "prepare", "phase2", str(d / "1.ptau"),
              str(d / "final.ptau")], "powers of tau (prepare phase 2)", timeout)
        (d / "final.ptau").replace(target)
    return target


def ptau_power(path: Path) -> int:
    """The power of a prepared powers-of-tau file (its header section)."""
    data = path.read_bytes()[:4096]
    if data[:4] != b"ptau":
        raise BuildError(f"{path} is not a powers-of-tau file (.ptau)")
    at = 12
    kind, _size = struct.unpack_from("<IQ", data, at)
    if kind != 1:
        raise BuildError(f"{path} has no header section")
    n8 = struct.unpack_from("<I", data, at + 12)[0]
    power: int = struct.unpack_from("<I", data, at + 12 + 4 + n8)[0]
    return power


def build(circom: Path, out: Path, *, ptau: Path | None = None, label: str | None = None,
          timeout: float = 900) -> Built:
    """Compile and set up ``circom`` into ``out`` (see the module docstring)."""
    circom = circom.resolve()
    if not circom.is_file():
        raise BuildError(f"{circom} does not exist: pass the circuit's .circom file")
    if not CIRCOM.exists() or not SNARKJS.exists():
        raise BuildError(f"circom2 and snarkjs are not installed in {NODE_MODULES}: run `npm ci`")
    label = label or circom.stem.replace("_", "-")
    out = out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp).resolve()
        _run([str(CIRCOM), str(circom), "-l", str(NODE_MODULES), "-l", str(circom.parent),
              "--r1cs", "--wasm", "--sym", "-o", str(work)], f"compiling {circom.name}",
             timeout, cwd=Path("/"))
        stem = circom.stem
        header = r1cs_header(work / f"{stem}.r1cs")
        signals = public_signals(work / f"{stem}.sym", header["outputs"],
                                 header["public_inputs"])
        if not signals or signals[-1] != ("prover", 1):
            raise BuildError(f"{circom.name}: the main component's last public input must be "
                             "`prover` (a scalar bound into the proof, so a proof serves only "
                             f"its prover); its public inputs are {signals}")
        inputs = tuple(signals[:-1])
        if not inputs:
            raise BuildError(f"{circom.name}: a market circuit takes at least one public input "
                             "besides `prover` (the task's inputs)")
        if header["outputs"] > 255 or sum(k for _, k in inputs) > 255:
            raise BuildError(f"{circom.name}: at most 255 public inputs and 255 outputs")
        need = header["constraints"] + header["public_inputs"] + header["outputs"] + 1
        power = max(MIN_POWER, (need - 1).bit_length())
        dev = ptau is None
        if ptau is None:
            ptau = dev_ptau(power, timeout=timeout)
        elif not ptau.is_file():
            raise BuildError(f"--ptau {ptau} does not exist")
        elif ptau_power(ptau) < power:
            raise BuildError(f"{ptau.name} holds 2^{ptau_power(ptau)} powers; {circom.name} "
                             f"needs 2^{power}: use a larger powers-of-tau file")
        zkey0 = work / "0.zkey"
        _run([str(SNARKJS), "groth16", "setup", str(work / f"{stem}.r1cs"), str(ptau),
              str(zkey0)], "groth16 setup", timeout)
        _run([str(SNARKJS), "zkey", "contribute", str(zkey0), str(out / f"{label}.zkey"),
              f"--name={label} phase 2", f"-e={secrets.token_hex(32)}"], "zkey contribute",
             timeout)
        _run([str(SNARKJS), "zkey", "export", "verificationkey", str(out / f"{label}.zkey"),
              str(out / f"{label}_vk.json")], "export verification key", timeout)
        shutil.copyfile(work / f"{stem}_js" / f"{stem}.wasm", out / f"{label}.wasm")
    return Built(label, inputs, header["outputs"], header["constraints"], out / f"{label}.wasm",
                 out / f"{label}.zkey", out / f"{label}_vk.json", ptau, dev)
