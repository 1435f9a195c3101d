"""``bridge circuit``: bring your own circuit to a market whose verifier is a ``Groth16Registry``.

- ``register --circom FILE``: build it (circom2, Groth16 setup from ``--ptau`` or a development
  powers of tau), register its key and artifacts (anyone may), optionally accept it for the
  market (its owner);
- ``list``: the registry's circuits and whether this market accepts each;
- ``check REF``: fetch its artifacts, check their hashes, the proving key against the registered
  key, and one proof of a random input against the registered key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from bridge.cli.apps import app
from bridge.cli.common import JsonOpt, KeystoreOpt, MarketOpt, RpcOpt, _emit, _session, guarded
from bridge.errors import ConfigError, InvalidInput

circuit_app = typer.Typer(help="Circuits as data: register, list and check circuits.",
                          no_args_is_help=True)
app.add_typer(circuit_app, name="circuit")

PATIENT = 300.0
"""Seconds a JSON-RPC request may take here: a registration checks its key with pairings, which
take seconds on the embedded chain's devnet (py-evm)."""

DEV_PTAU_WARNING = ("development setup: the powers of tau were generated on this machine, so "
                    "whoever ran it could forge proofs for this key; for real value, pass "
                    "--ptau with a public ceremony's file")


def _registry(s: Any, registry: str) -> Any:
    from web3 import Web3

    from bridge.chain.groth16 import generic_registry

    if registry and not Web3.is_address(registry):
        raise ConfigError(f"--registry {registry!r} is not an address (0x and 40 hex digits)")
    address = Web3.to_checksum_address(registry) if registry else s.market.params.verifier
    reg = generic_registry(s.market.w3, address)
    if reg is None:
        raise ConfigError(f"{address} is not a Groth16Registry (the market's verifier is "
                          f"{s.market.params.verifier}): circuits as data need a market deployed "
                          "with [verifier] kind = \"groth16-registry\", or pass --registry")
    return reg


def _summary(r: Any, accepted: bool) -> dict[str, Any]:
    """A registration as ``list --json`` prints it."""
    art = r.artifacts
    return {"index": r.index, "id": "0x" + r.id.hex(), "name": art.name, "label": art.label,
            "inputs": art.inputs, "outputs": art.outputs, "wasm_uri": art.wasm_uri,
            "zkey_uri": art.zkey_uri, "wasm_sha256": art.wasm_sha256.hex(),
            "zkey_sha256": art.zkey_sha256.hex(), "accepted": accepted}


def _find(reg: Any, ref: str) -> Any:
    """The registration ``ref`` names (:class:`bridge.chain.groth16.Registration`)."""
    from bridge.chain.groth16 import registrations

    every = registrations(reg)
    for r in every:
        if r.named_by(ref):
            return r
    listing = ", ".join(f"{r.index} {r.artifacts.label}" for r in every) or "none"
    raise InvalidInput(f"no circuit {ref!r} in the registry: registered are {listing} (give an "
                       "index, a 0x id or a name)")


@circuit_app.command("register")
def register(
    circom: Annotated[str, typer.Option("--circom", help="The circuit's .circom file.")],
    rpc: RpcOpt = "http://127.0.0.1:8545", market: MarketOpt = "", keystore: KeystoreOpt = "",
    ptau: Annotated[str, typer.Option(
        "--ptau", help="A powers-of-tau file from a public ceremony (default: a development "
                       "one generated here; see the trust model in docs/user/circuits.md).")] = "",
    name: Annotated[str, typer.Option("--name", help="Its label (default: the file name).")] = "",
    out: Annotated[str, typer.Option(
        "--out", help="Where to write NAME.wasm, NAME.zkey, NAME_vk.json "
                      "(default $BRIDGE_HOME/circuits/NAME).")] = "",
    base_uri: Annotated[str, typer.Option(
        "--base-uri", help="The URL you serve --out at (http://host/dir/); default: file:// "
                           "URIs of the files here.")] = "",
    registry: Annotated[str, typer.Option(
        "--registry", help="A Groth16Registry address (default: the market's verifier).")] = "",
    accept: Annotated[bool, typer.Option(
        "--accept", help="Also accept it for the market (its owner only).")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Build a circom circuit and register it: print its id."""
    def run() -> None:
        import json

        from bridge.errors import SettlementRejected
        from bridge.zkbuild import build
        from bridge.zkstore import Artifacts, circuit_id, default_cache, key_bytes, sha256_file

        s = _session(rpc, market, keystore, timeout=PATIENT)
        reg = _registry(s, registry)
        label = name or Path(circom).stem.replace("_", "-")
        where = Path(out) if out else default_cache().parent / "circuits" / label
        built = build(Path(circom), where, ptau=Path(ptau) if ptau else None, label=label)

        def uri(p: Path) -> str:
            return (base_uri.rstrip("/") + "/" + p.name) if base_uri else p.resolve().as_uri()

        key = key_bytes(json.loads(built.vkey.read_text()))
        art = Artifacts(built.input_count, built.outputs, sha256_file(built.wasm),
                        sha256_file(built.zkey), uri(built.wasm), uri(built.zkey), built.name)
        send = s.participant.sender.send
        try:
            receipt = send({"to": reg.address, "value": 0, "data": reg.encode_abi(
                "registerCircuit", args=[key, art.as_tuple()])})
        except SettlementRejected as exc:
            if exc.name == "CircuitExists":
                cid = circuit_id(key, art)
                raise InvalidInput(f"this key and these artifacts are already registered as "
                                   f"0x{cid.hex()}: nothing sent") from None
            raise
        [log] = reg.events.CircuitRegistered().process_receipt(receipt)
        cid, index = bytes(log["args"]["id"]), int(log["args"]["index"])
        accepted = False
        if accept:
            send({"to": reg.address, "value": 0, "data": reg.encode_abi(
                "acceptCircuits", args=[s.market.address, [cid]])})
            accepted = True
        lines = [f"registered {built.name} as circuit {index}, id 0x{cid.hex()}",
                 f"  {built.constraints:,} constraints, {built.input_count} inputs, "
                 f"{built.outputs} outputs; files in {where}",
                 f"  wasm {art.wasm_uri}", f"  zkey {art.zkey_uri}",
                 "  accepted by the market" if accepted else
                 "  the market's owner accepts it with --accept (or `acceptCircuits`)"]
        if built.dev_ptau:
            lines.append(f"  warning: {DEV_PTAU_WARNING}")
        _emit(as_json, {"id": "0x" + cid.hex(), "index": index, "name": built.name,
                        "constraints": built.constraints, "inputs": built.input_count,
                        "outputs": built.outputs, "wasm_uri": art.wasm_uri,
                        "zkey_uri": art.zkey_uri, "accepted": accepted,
                        "dev_ptau": built.dev_ptau, "dir": str(where)}, lines)

    guarded(run)


@circuit_app.command("accept")
def accept_circuit(ref: Annotated[str, typer.Argument(help="Index, 0x id or name.")],
                   rpc: RpcOpt = "http://127.0.0.1:8545", market: MarketOpt = "",
                   keystore: KeystoreOpt = "",
                   registry: Annotated[str, typer.Option("--registry")] = "",
                   as_json: JsonOpt = False) -> None:
    """The market's owner: accept a registered circuit's tasks from now on."""
    def run() -> None:
        s = _session(rpc, market, keystore, timeout=PATIENT)
        reg = _registry(s, registry)
        r = _find(reg, ref)
        already = bool(reg.functions.accepts(s.market.address, r.id).call())
        if not already:
            s.participant.sender.send({"to": reg.address, "value": 0, "data": reg.encode_abi(
                "acceptCircuits", args=[s.market.address, [r.id]])})
        _emit(as_json, {"index": r.index, "id": "0x" + r.id.hex(), "accepted": True},
              [f"the market accepts circuit {r.index} ({r.artifacts.name})"
               + (" (it already did)" if already else "")])

    guarded(run)


@circuit_app.command("list")
def list_circuits(rpc: RpcOpt = "http://127.0.0.1:8545", market: MarketOpt = "",
                  registry: Annotated[str, typer.Option("--registry")] = "",
                  as_json: JsonOpt = False) -> None:
    """The registry's circuits, and which this market accepts."""
    def run() -> None:
        s = _session(rpc, market, needs_key=False)
        reg = _registry(s, registry)
        from bridge.chain.groth16 import registrations

        records = [_summary(r, bool(reg.functions.accepts(s.market.address, r.id).call()))
                   for r in registrations(reg)]
        lines = [f"{r['index']:>3}  {r['id'][:10]}…  {r['name']}  {r['inputs']} in, "
                 f"{r['outputs']} out  {'accepted' if r['accepted'] else 'not accepted'}"
                 for r in records] or ["no circuits registered"]
        _emit(as_json, {"circuits": records}, lines)

    guarded(run)


@circuit_app.command("check")
def check(ref: Annotated[str, typer.Argument(help="Index, 0x id or name.")],
          rpc: RpcOpt = "http://127.0.0.1:8545", market: MarketOpt = "",
          registry: Annotated[str, typer.Option("--registry")] = "",
          as_json: JsonOpt = False) -> None:
    """Check a circuit's artifacts: hashes, key match, one proof (sends nothing)."""
    def run() -> None:
        from bridge.zkstore import check_registration

        s = _session(rpc, market, needs_key=False)
        reg = _registry(s, registry)
        r = _find(reg, ref)
        inputs, outputs = check_registration(r.artifacts, r.key)
        _emit(as_json, {"index": r.index, "id": "0x" + r.id.hex(), "name": r.artifacts.name,
                        "ok": True, "inputs": inputs, "outputs": outputs},
              [f"circuit {r.index} ({r.artifacts.name}) checks out: artifacts match their "
               "registered sha-256, the proving key matches the registered key, a proof of "
               f"input {inputs} (outputs {outputs}) verifies"])

    guarded(run)

