"""Deploy a verifier and a market from a TOML network file, once, and record where they are.

A network file (``deploy/networks/*.toml``) names the node and the market's parameters::

    name = "anvil"
    rpc = "http://127.0.0.1:8545"
    chain_id = 31337
    mechanism = "fixedprice"          # or "proofphi", "dara"
    initial_price = "50gwei"          # fixedprice: per-unit price until the keeper posts one
    price_window = 64                 # fixedprice: settled rounds the price rule reads
    price_every = 1                   # fixedprice: re-fit the price every this many rounds
    price_step_bps = 200              # fixedprice: a re-fit moves the price at most ×1.02
    commit_period = 30                # seconds
    settle_period = 30
    proof_period = 60
    refund_cap = "200gwei"            # wei, or with a gwei/ether suffix
    capacity_interval = 1             # rounds between capacity changes
    capacity_factor = 4               # at most this-fold per change
    min_escrow = "0.0003ether"        # least escrow; an invalid order forfeits it to the keeper
    fill_cost = "25ether"             # burned fees to fill a round past a quarter of its cap
    max_bids_per_round = 8192         # per-round commitment caps (RoundFull beyond)
    max_asks_per_round = 512          # at most 699: every ask, even invalid, fits one transaction
    checkpoint_interval = 64          # bids between bid-chain checkpoints (page boundaries)
    confirmations = 1                 # what the keeper should wait for (recorded)
    [verifier]
    kind = "pow"                      # proof of work (difficulty_bits), "groth16-registry",
    difficulty_bits = 8               # "groth16" (generated verifiers) or "attestation"
    # kind = "groth16-registry": registry = "0x…" (default: a new Groth16Registry), circuits =
    # ["merkle-root-8", "0x<id>"] (manifest names, registered here, or registered ids) accepted

:func:`deploy_network` signs with a local key (:class:`~bridge.chain.sender.TxSender`: local nonce,
EIP-1559 fees, receipts), checks the chain id against the file, deploys the verifier and the market,
checks that code of the artifact's length is at both addresses, and writes
``deployments/<chain-id>/market.json`` (:class:`DeploymentRecord`). When that record exists and its
market's code is still on chain, nothing is deployed again (a fresh anvil without its state has no
code there: then it deploys and rewrites the record).

The keeper's public key is published at deployment (clients encrypt their sealed bids to it); it
must belong to the keeper address, which is checked here.
"""

from __future__ import annotations

import json
import logging
import os
import time
import tomllib
from dataclasses import MISSING, asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from eth_account.signers.local import LocalAccount
from eth_keys import keys as eth_keys
from eth_utils import keccak
from hexbytes import HexBytes
from web3 import Web3

from bridge.chain.artifacts import load_artifact
from bridge.chain.deploy import MarketConfig, Mechanism, contract_at
from bridge.chain.groth16 import manifest_artifacts
from bridge.chain.sender import TxSender
from bridge.errors import ChainError, ConfigError, InvalidInput
from bridge.keys import PASSWORD_ENV, load_account
from bridge.mechanisms.fixedprice import DEFAULT_RULE
from bridge.proving import circuits
from bridge.units import parse_amount
from bridge.zkstore import circuit_id

log = logging.getLogger(__name__)

NETWORKS_DIR = Path(__file__).resolve().parents[2] / "deploy" / "networks"
"""Where ``--network NAME`` looks for ``NAME.toml``."""

RECORD_NAME = "market.json"

MAX_BIDS_LIMIT = 65_535
"""``ProverMarket.MAX_BIDS_LIMIT``: a page settles ≥ 1 bid, so 16-bit page counters hold."""
MAX_ASKS_LIMIT = (128 * 1024 - 1024) // (25 + 32 + 129)
"""``ProverMarket.MAX_ASKS_LIMIT`` (699): invalid asks of 186 bytes in 127 KiB of calldata."""

_INT_KEYS = ("chain_id", "commit_period", "settle_period", "proof_period", "capacity_interval",
             "capacity_factor", "confirmations", "genesis", "max_bids_per_round",
             "max_asks_per_round", "checkpoint_interval", "price_window", "price_every",
             "price_step_bps")
MECHANISMS = ("proofphi", "dara", "fixedprice")
_MECHANISM_ENUM = {"proofphi": Mechanism.PROOFPHI, "dara": Mechanism.DARA,
                   "fixedprice": Mechanism.FIXEDPRICE}


@dataclass(frozen=True)
class VerifierSpec:
    """Which proof verifier the market uses: ``pow`` (difficulty), ``groth16`` (a circuit registry
    with the circuits of ``zk/circuits.json``) or ``attestation`` (checker)."""

    kind: str = "pow"
    difficulty_bits: int = 8
    checker: str = ""
    registry: str = ""
    """``groth16-registry``: an existing ``Groth16Registry`` (default: deploy one)."""
    circuits: tuple[str, ...] | None = None
    """``groth16-registry``: circuits the market accepts, manifest names or registered ids
    (``None``: the manifest's on a network that allows test circuit keys, else none)."""


@dataclass(frozen=True)
class NetworkConfig:
    """A network file's contents, validated (see the module docstring)."""

    name: str
    rpc: str
    chain_id: int
    mechanism: str = "proofphi"
    commit_period: int = 60
    settle_period: int = 60
    proof_period: int = 120
    refund_cap: int = 200 * 10**9
    capacity_interval: int = 1
    capacity_factor: int = 4
    min_escrow: int = 3 * 10**14
    """What a bid must lock at least, and what an invalid order forfeits to the keeper: about
    the gas of settling it with its evidence (~12,600 gas at 20 gwei)."""
    fill_cost: int = 25 * 10**18
    """Burned congestion fees to fill one side of a round from a quarter of its cap to the cap:
    what halting a round costs an attacker (see docs/design/contract.md)."""
    max_bids_per_round: int = 8192
    max_asks_per_round: int = 512
    checkpoint_interval: int = 64
    initial_price: int = 0
    """fixedprice: wei per unit until the keeper's first post (required for fixedprice)."""
    price_window: int = DEFAULT_RULE.window
    price_every: int = DEFAULT_RULE.every
    price_step_bps: int = DEFAULT_RULE.step_bps
    confirmations: int = 1
    genesis: int = 0
    verifier: VerifierSpec = field(default_factory=VerifierSpec)
    allow_same_owner_and_keeper: bool = False
    """Development networks only: let the deployer (the owner) also be the keeper."""
    allow_test_circuit_keys: bool = False
    """Development networks only: register the committed circuits, whose keys come from a local
    test ceremony (whoever ran it could forge proofs)."""

    def parameters(self) -> dict[str, Any]:
        """The market's constructor parameters as recorded (keeper and owner excluded)."""
        return {"mechanism": self.mechanism, "commit_period": self.commit_period,
                "settle_period": self.settle_period, "proof_period": self.proof_period,
                "refund_cap": self.refund_cap, "capacity_interval": self.capacity_interval,
                "capacity_factor": self.capacity_factor, "genesis": self.genesis,
                "min_escrow": self.min_escrow, "fill_cost": self.fill_cost,
                "max_bids_per_round": self.max_bids_per_round,
                "max_asks_per_round": self.max_asks_per_round,
                "checkpoint_interval": self.checkpoint_interval,
                **({"initial_price": self.initial_price, "price_window": self.price_window,
                    "price_every": self.price_every, "price_step_bps": self.price_step_bps}
                   if self.mechanism == "fixedprice" else {}),
                "verifier": asdict(self.verifier)}


def resolve_network(ref: str) -> Path:
    """``ref`` as a file path, or ``deploy/networks/<ref>.toml``."""
    p = Path(ref)
    if p.is_file():
        return p
    named = NETWORKS_DIR / f"{ref}.toml"
    if named.is_file():
        return named
    known = ", ".join(sorted(x.stem for x in NETWORKS_DIR.glob("*.toml")))
    raise ConfigError(f"network {ref!r} is neither a file nor one of {known}: pass a TOML file "
                      "or a name from deploy/networks/")


def load_network(ref: str, *, rpc: str | None = None) -> NetworkConfig:
    """Read and validate a network file (``rpc`` overrides the file's node URL)."""
    path = resolve_network(ref)
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"network file {path} is not valid TOML: {exc}") from None
    allowed = {f for f in NetworkConfig.__dataclass_fields__}
    unknown = set(data) - allowed
    if unknown:
        raise ConfigError(f"unknown setting(s) {', '.join(sorted(unknown))} in {path}: valid ones "
                          f"are {', '.join(sorted(allowed))}")
    values: dict[str, Any] = {"name": data.get("name", path.stem)}
    if rpc:
        values["rpc"] = rpc
    elif "rpc" in data:
        values["rpc"] = str(data["rpc"])
    else:
        raise ConfigError(f"{path}: rpc is missing: set rpc = \"http://host:port\" or pass --rpc")
    if "chain_id" not in data:
        raise ConfigError(f"{path}: chain_id is missing: set the chain id the node must report")
    for key in _INT_KEYS:
        if key in data:
            raw = data[key]
            if not isinstance(raw, int) or isinstance(raw, bool) or raw < 0:
                raise ConfigError(f"{path}: {key} = {raw!r} must be a non-negative integer")
            values[key] = raw
    if "mechanism" in data:
        values["mechanism"] = str(data["mechanism"]).lower()
    if values.get("mechanism", "proofphi") not in MECHANISMS:
        raise ConfigError(f"{path}: mechanism {data['mechanism']!r}: use \"fixedprice\", "
                          "\"proofphi\" or \"dara\"")
    for key in ("refund_cap", "min_escrow", "fill_cost", "initial_price"):
        if key in data:
            try:
                values[key] = parse_amount(str(data[key]), name=key)
            except InvalidInput as exc:
                raise ConfigError(f"{path}: {exc}") from None
    for key in ("commit_period", "settle_period", "proof_period", "capacity_factor",
                "min_escrow", "max_bids_per_round", "max_asks_per_round", "checkpoint_interval",
                "price_window", "price_every", "price_step_bps"):
        if key in values and values[key] == 0:
            raise ConfigError(f"{path}: {key} must be at least 1")
    for key, most, why in (
            ("max_bids_per_round", MAX_BIDS_LIMIT, "a settlement page counter is 16 bits"),
            ("max_asks_per_round", MAX_ASKS_LIMIT, "every ask, even invalid with its evidence, "
             "must fit the one beginSettlement transaction of 128 KiB"),
            ("checkpoint_interval", 1024, "the contract's bound")):
        if values.get(key, 0) > most:
            raise ConfigError(f"{path}: {key} = {values[key]} is above {most} ({why}): lower it")
    if values.get("mechanism") == "fixedprice" and not values.get("initial_price"):
        raise ConfigError(f"{path}: a fixedprice market needs initial_price (wei per unit, e.g. "
                          "initial_price = \"50gwei\"): the price until the keeper learns one; "
                          "see docs/design/mechanisms.md on choosing it")
    v = data.get("verifier", {})
    if not isinstance(v, dict):
        raise ConfigError(f"{path}: [verifier] must be a table with kind = \"pow\" or "
                          "\"attestation\"")
    kind = str(v.get("kind", "pow"))
    if kind == "pow":
        bits = v.get("difficulty_bits", 8)
        if not isinstance(bits, int) or not 0 <= bits <= 32:
            raise ConfigError(f"{path}: verifier.difficulty_bits = {bits!r}: use 0..32 "
                              "(each bit doubles the provers' work)")
        values["verifier"] = VerifierSpec(kind="pow", difficulty_bits=bits)
    elif kind == "groth16":
        values["verifier"] = VerifierSpec(kind="groth16", difficulty_bits=0)
    elif kind == "groth16-registry":
        registry = str(v.get("registry", ""))
        if registry and not Web3.is_address(registry):
            raise ConfigError(f"{path}: verifier.registry {registry!r} is not an address: give "
                              "a deployed Groth16Registry, or leave it out to deploy one")
        names = v.get("circuits")
        if names is not None and (not isinstance(names, list)
                                  or not all(isinstance(n, str) for n in names)):
            raise ConfigError(f"{path}: verifier.circuits = {names!r}: use a list of manifest "
                              "names or registered circuit ids (\"0x…\")")
        values["verifier"] = VerifierSpec(
            kind="groth16-registry", difficulty_bits=0,
            registry=Web3.to_checksum_address(registry) if registry else "",
            circuits=None if names is None else tuple(names))
    elif kind == "attestation":
        checker = str(v.get("checker", ""))
        if not Web3.is_address(checker):
            raise ConfigError(f"{path}: verifier.checker {checker!r} is not an address: set "
                              "the address whose signatures attest proofs")
        values["verifier"] = VerifierSpec(kind="attestation", difficulty_bits=0,
                                          checker=Web3.to_checksum_address(checker))
    else:
        raise ConfigError(f"{path}: verifier.kind {kind!r}: use \"pow\", "
                          "\"groth16-registry\", \"groth16\" or \"attestation\"")
    for key in ("allow_same_owner_and_keeper", "allow_test_circuit_keys"):
        if key in data:
            flag = data[key]
            if not isinstance(flag, bool):
                raise ConfigError(f"{path}: {key} = {flag!r} must be true or false")
            values[key] = flag
    values["chain_id"] = int(data["chain_id"])
    return NetworkConfig(**values)


@dataclass(frozen=True)
class KeeperIdentity:
    """The keeper's address and the 64-byte public key bids are encrypted to."""

    address: str
    public_key: bytes

    @classmethod
    def of_account(cls, account: LocalAccount) -> KeeperIdentity:
        """The identity of a local key."""
        return cls(account.address, account._key_obj.public_key.to_bytes())

    @classmethod
    def parse(cls, address: str, public_key: str) -> KeeperIdentity:
        """From ``--keeper-address`` and ``--keeper-public-key`` (checked to belong together)."""
        if not Web3.is_address(address):
            raise ConfigError(f"--keeper-address {address!r} is not an address")
        raw = public_key[2:] if public_key.startswith("0x") else public_key
        try:
            pub = bytes.fromhex(raw)
        except ValueError:
            raise ConfigError("--keeper-public-key is not hex: give the 64-byte uncompressed "
                              "public key (0x…, 128 hex digits)") from None
        if len(pub) == 65 and pub[0] == 4:
            pub = pub[1:]
        if len(pub) != 64:
            raise ConfigError(f"--keeper-public-key has {len(pub)} bytes: give the 64-byte "
                              "uncompressed public key (0x…, 128 hex digits)")
        try:
            derived = eth_keys.PublicKey(pub).to_checksum_address()
        except Exception:
            raise ConfigError("--keeper-public-key is not a point on secp256k1") from None
        if derived != Web3.to_checksum_address(address):
            raise ConfigError(f"--keeper-public-key belongs to {derived}, not to --keeper-address "
                              f"{address}: pass the keeper key's own public key")
        return cls(derived, pub)


@dataclass(frozen=True)
class DeploymentRecord:
    """``deployments/<chain-id>/market.json``: what the keeper and the CLI read."""

    network: str
    chain_id: int
    market: str
    verifier: str
    block: int
    owner: str
    keeper: dict[str, str]
    parameters: dict[str, Any]
    abi_hash: str
    code_hash: str
    transactions: dict[str, str]
    deployed_at: int
    start_block: int = 0
    """First block to read the market's logs from (its deployment block): clients read logs
    in bounded ranges from here, never from block 0."""
    rpc: str = ""
    """The node URL the market was deployed through: a hint for clients, which may use any node
    of ``chain_id``."""

    def to_json(self) -> str:
        """The record as pretty JSON."""
        return json.dumps(asdict(self), indent=2, sort_keys=True) + "\n"

    @classmethod
    def read(cls, path: Path) -> DeploymentRecord:
        """Read a record written by :func:`deploy_network`."""
        try:
            data = json.loads(path.read_text())
            required = [k for k, f in cls.__dataclass_fields__.items()
                        if f.default is MISSING]
            record = cls(**{k: data[k] for k in cls.__dataclass_fields__
                            if k in data or k in required})
            if "start_block" not in data:  # a record from before start_block: the same block
                record = replace(record, start_block=record.block)
            return record
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ConfigError(f"{path} is not a deployment record ({exc}): move it away and "
                              "deploy again") from None


@dataclass(frozen=True)
class DeployResult:
    """The record, where it is, and whether this call deployed anything."""

    record: DeploymentRecord
    path: Path
    deployed: bool


def abi_hash(abi: list[dict[str, Any]]) -> str:
    """keccak256 of the ABI's canonical JSON (tells a client its bindings match)."""
    return "0x" + keccak(text=json.dumps(abi, sort_keys=True, separators=(",", ":"))).hex()


def same_parameters(recorded: dict[str, Any], wanted: dict[str, Any]) -> bool:
    """True when a record's parameters are what a network file asks for: a file's genesis 0
    (deployment time) matches whatever genesis the chain recorded."""
    if wanted.get("genesis") == 0:
        recorded = {k: v for k, v in recorded.items() if k != "genesis"}
        wanted = {k: v for k, v in wanted.items() if k != "genesis"}
    return recorded == wanted


def record_path(out_dir: str | Path, chain_id: int) -> Path:
    """``<out_dir>/<chain-id>/market.json``."""
    return Path(out_dir) / str(chain_id) / RECORD_NAME


def _code_hash(w3: Web3, address: str) -> str:
    return "0x" + keccak(bytes(w3.eth.get_code(Web3.to_checksum_address(address)))).hex()


def record_is_live(w3: Web3, record: DeploymentRecord) -> bool:
    """True when the record's market code (same hash) is on this chain."""
    code = bytes(w3.eth.get_code(Web3.to_checksum_address(record.market)))
    return bool(code) and "0x" + keccak(code).hex() == record.code_hash


def _create(sender: TxSender, w3: Web3, name: str, *args: Any) -> tuple[str, int, str]:
    """Deploy artifact ``name``; (address, block, tx hash) after checking the code landed."""
    artifact = load_artifact(name)
    factory = w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
    data = factory.constructor(*args).data_in_transaction
    receipt = sender.send({"data": data})
    address = receipt.get("contractAddress")
    tx_hash = HexBytes(receipt["transactionHash"]).to_0x_hex()
    if receipt.get("status") != 1 or not address:
        raise ChainError(f"deployment of {name} failed in {tx_hash}")
    code = bytes(w3.eth.get_code(Web3.to_checksum_address(address)))
    expected = len(bytes(HexBytes(artifact.deployed_bytecode)))
    if len(code) != expected:
        raise ChainError(f"{name} at {address}: {len(code)} bytes of code on chain, the artifact "
                         f"has {expected}: the node did not run the deployment as compiled")
    log.info("deployed %s at %s in block %s (tx %s)", name, address, receipt["blockNumber"],
             tx_hash)
    return Web3.to_checksum_address(address), int(receipt["blockNumber"]), tx_hash


def _register_circuits(sender: TxSender, w3: Web3, registry: str, unit_only: bool) -> None:
    """Deploy each manifest circuit's Groth16 verifier and register it (``zk/circuits.json``)."""
    reg = contract_at(w3, "CircuitRegistry", registry)
    for c in circuits().values():
        if unit_only and c.units != 1:
            continue  # a Prooφ market trades one-unit tasks
        address, _, _ = _create(sender, w3, c.verifier_contract)
        sender.send({"to": registry, "data": reg.encode_abi(
            "register", [address, c.units, c.input_count, len(c.outputs), c.name])})


def _circuit_names(net: NetworkConfig) -> tuple[str, ...]:
    names = net.verifier.circuits
    if names is None:
        return tuple(circuits()) if net.allow_test_circuit_keys else ()
    return names


def _check_circuit_names(net: NetworkConfig) -> None:
    """Refuse, before anything is sent, circuits a ``groth16-registry`` market cannot accept."""
    manifest = circuits()
    for name in _circuit_names(net):
        if name.startswith("0x"):
            if not net.verifier.registry:
                raise ConfigError(f"verifier.circuits names {name}, but a new registry holds no "
                                  "circuits: give verifier.registry, or accept it after "
                                  "deploying (`bridge circuit register --accept`)")
            continue
        if name not in manifest:
            raise ConfigError(f"verifier.circuits names {name!r}, which is not in zk/circuits.json"
                              f" ({', '.join(manifest)}): give a registered circuit's 0x id")
        if not net.allow_test_circuit_keys:
            raise ConfigError(
                f"{net.name}: {name}'s committed key comes from a local test ceremony, so whoever "
                "ran it could forge proofs: accept circuits from a public ceremony (their 0x ids) "
                "on a real network, or set allow_test_circuit_keys = true on a development chain")


def _is_registered(reg: Any, cid: bytes) -> bool:
    try:
        reg.functions.circuitIndex(cid).call()
    except Exception:  # CircuitIdUnknown
        return False
    return True


def _registry_circuits(sender: TxSender, w3: Web3, registry: str, net: NetworkConfig
                       ) -> list[bytes]:
    """The ids of the circuits a ``groth16-registry`` market accepts: manifest circuits are
    registered here unless they already are; ids must be registered."""
    reg = contract_at(w3, "Groth16Registry", registry)
    manifest = circuits()
    out = []
    for name in _circuit_names(net):
        if name.startswith("0x"):
            cid = bytes.fromhex(name[2:])
            if len(cid) != 32 or not _is_registered(reg, cid):
                raise ConfigError(f"verifier.circuits names {name}, which registry {registry} "
                                  "does not hold: register it first (`bridge circuit register`)")
            out.append(cid)
            continue
        key, art = manifest_artifacts(manifest[name])
        cid = circuit_id(key, art)
        if not _is_registered(reg, cid):
            sender.send({"to": registry, "data": reg.encode_abi(
                "registerCircuit", [key, art.as_tuple()])})
        out.append(cid)
    return out


def deploy_network(net: NetworkConfig, account: LocalAccount, *, w3: Web3,
                   keeper: KeeperIdentity | None = None, out_dir: str | Path = "deployments",
                   force: bool = False, receipt_timeout: float = 120.0,
                   allow_same_owner_and_keeper: bool = False) -> DeployResult:
    """Deploy ``net``'s verifier and market from ``account`` unless a live record exists.

    ``keeper`` defaults to ``account`` itself (a single-key development setup), which is refused
    unless ``allow_same_owner_and_keeper`` or the network file allows it. Raises
    :class:`ConfigError` when the node's chain id is not the file's, when the record exists with
    other parameters (pass ``force`` to deploy a new market), or when the key cannot pay.
    """
    chain_id = int(w3.eth.chain_id)
    if chain_id != net.chain_id:
        raise ConfigError(f"the node at {net.rpc} is on chain {chain_id}, network "
                          f"{net.name!r} expects {net.chain_id}: point --rpc at the right node "
                          "or fix chain_id in the network file")
    keeper = keeper or KeeperIdentity.of_account(account)
    if keeper.address == account.address and not (allow_same_owner_and_keeper
                                                   or net.allow_same_owner_and_keeper):
        raise ConfigError(
            f"the deployer {account.address} would own the market and also be its keeper: the "
            "owner receives the treasury (DARA's margin), so one person could both choose "
            "outcomes and keep their surplus. Give the keeper its own key (--keeper-keystore, "
            "or --keeper-address with --keeper-public-key), or pass "
            "--allow-same-owner-and-keeper for a development chain")
    path = record_path(out_dir, chain_id)
    if path.exists() and not force:
        existing = DeploymentRecord.read(path)
        if record_is_live(w3, existing):
            if (not same_parameters(existing.parameters, net.parameters())
                    or existing.keeper["address"] != keeper.address):
                raise ConfigError(f"{path} records a market with other parameters or another "
                                  "keeper: pass --force to deploy a new market (the old record "
                                  "is overwritten) or --out to keep both")
            log.info("market already deployed at %s (record %s): nothing to do",
                     existing.market, path)
            return DeployResult(existing, path, deployed=False)
        log.warning("%s names %s but its code is not on chain %s (a fresh node?): deploying "
                    "again", path, existing.market, chain_id)
    if int(w3.eth.get_balance(account.address)) == 0:
        raise ConfigError(f"deployer {account.address} has no ETH on chain {chain_id}: fund it "
                          "(anvil: use one of its dev keys) and retry")
    sender = TxSender(w3, account, receipt_timeout=receipt_timeout, poll_interval=0.1)
    spec = net.verifier
    if spec.kind == "pow":
        verifier, _, v_tx = _create(sender, w3, "ProofOfWorkVerifier", spec.difficulty_bits)
    elif spec.kind == "groth16":
        if not net.allow_test_circuit_keys:
            raise ConfigError(
                f"{net.name}: the committed circuits' keys come from a local test ceremony, so "
                "whoever ran it could forge proofs: register circuits from a public ceremony "
                "for a real network, or set allow_test_circuit_keys = true on a development chain")
        verifier, _, v_tx = _create(sender, w3, "CircuitRegistry", account.address)
        _register_circuits(sender, w3, verifier, unit_only=net.mechanism == "proofphi")
    elif spec.kind == "groth16-registry":
        _check_circuit_names(net)
        if spec.registry:
            verifier, v_tx = spec.registry, ""
        else:
            verifier, _, v_tx = _create(sender, w3, "Groth16Registry")
        accept = _registry_circuits(sender, w3, verifier, net)
    else:
        verifier, _, v_tx = _create(sender, w3, "AttestationVerifier", spec.checker)
    config = MarketConfig(
        owner=account.address, keeper=keeper.address, keeper_public_key=keeper.public_key,
        verifier=verifier,
        mechanism=_MECHANISM_ENUM[net.mechanism],
        commit_period=net.commit_period, settle_period=net.settle_period,
        proof_period=net.proof_period, refund_cap=net.refund_cap,
        capacity_interval=net.capacity_interval, capacity_factor=net.capacity_factor,
        genesis=net.genesis, min_escrow=net.min_escrow, fill_cost=net.fill_cost,
        max_bids_per_round=net.max_bids_per_round, max_asks_per_round=net.max_asks_per_round,
        checkpoint_interval=net.checkpoint_interval, initial_price=net.initial_price,
        price_window=net.price_window, price_every=net.price_every,
        price_step_bps=net.price_step_bps)
    market, block, m_tx = _create(sender, w3, "ProverMarket", config.as_tuple())
    if spec.kind == "groth16-registry" and accept:
        reg = contract_at(w3, "Groth16Registry", verifier)
        sender.send({"to": verifier, "data": reg.encode_abi("acceptCircuits",
                                                            [market, accept])})
        log.info("the market accepts %s circuits of registry %s", len(accept), verifier)
    artifact = load_artifact("ProverMarket")
    # genesis 0 in the file means "the deployment block's time": record the chain's real value
    deployed = w3.eth.contract(address=Web3.to_checksum_address(market), abi=artifact.abi)
    genesis = int(deployed.functions.genesis().call())
    record = DeploymentRecord(
        network=net.name, chain_id=chain_id, market=market, verifier=verifier, block=block,
        owner=account.address,
        keeper={"address": keeper.address, "public_key": "0x" + keeper.public_key.hex()},
        parameters={**net.parameters(), "genesis": genesis}, abi_hash=abi_hash(artifact.abi),
        code_hash=_code_hash(w3, market), transactions={"verifier": v_tx, "market": m_tx},
        deployed_at=int(time.time()), start_block=block, rpc=net.rpc)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(record.to_json())
    tmp.replace(path)
    log.info("deployment record written to %s", path)
    return DeployResult(record, path, deployed=True)


def read_market_ref(market: str) -> tuple[str, int | None]:
    """(address, deployment block or None) from an address or a deployment record file."""
    if market.startswith("0x"):
        return Web3.to_checksum_address(market), None
    try:
        record = json.loads(Path(market).read_text())
        return (Web3.to_checksum_address(record["market"]),
                int(record.get("start_block", record["block"])))
    except (OSError, KeyError, ValueError) as exc:
        raise ConfigError(f"{market!r} is not a deployment record with 'market' and 'block': "
                          f"{exc}") from None


def deployment_block(w3: Web3, address: str) -> int:
    """First block with code at ``address`` (binary search over history)."""
    lo, hi = 0, int(w3.eth.block_number)
    address = Web3.to_checksum_address(address)
    if not w3.eth.get_code(address, hi):
        raise ChainError(f"no contract code at {address}")
    while lo < hi:
        mid = (lo + hi) // 2
        if w3.eth.get_code(address, mid):
            hi = mid
        else:
            lo = mid + 1
    return lo


KEEPER_PASSWORD_ENV = "BRIDGE_KEEPER_KEYSTORE_PASSWORD"


def keeper_identity(*, address: str | None = None, public_key: str | None = None,
                    keystore: str | None = None,
                    env: dict[str, str] | None = None) -> KeeperIdentity | None:
    """The keeper from flags (address + public key) or its keystore; None: the deployer."""
    if keystore:
        if address or public_key:
            raise ConfigError("give either --keeper-keystore or --keeper-address with "
                              "--keeper-public-key, not both")
        env = dict(os.environ) if env is None else dict(env)
        if KEEPER_PASSWORD_ENV in env:
            env[PASSWORD_ENV] = env[KEEPER_PASSWORD_ENV]
        return KeeperIdentity.of_account(load_account(keystore, env=env))
    if address or public_key:
        if not (address and public_key):
            raise ConfigError("--keeper-address needs --keeper-public-key (and the other way "
                              "round): clients encrypt their bids to the keeper's public key")
        return KeeperIdentity.parse(address, public_key)
    return None


def run_deploy(network: str, *, rpc: str | None = None, keystore: str | None = None,
               keeper_address: str | None = None, keeper_public_key: str | None = None,
               keeper_keystore: str | None = None, out_dir: str | Path = "deployments",
               force: bool = False, allow_same_owner_and_keeper: bool = False,
               mechanism: str | None = None, initial_price: int | None = None) -> DeployResult:
    """What ``bridge deploy`` does: load the file, the keys and the node, then deploy once
    (``mechanism`` / ``initial_price`` override the file's)."""
    from bridge.chain.connect import EMBEDDED, connect, embedded_chain  # eth-tester: heavy

    net = load_network(network, rpc=rpc)
    if mechanism is not None:
        if mechanism not in MECHANISMS:
            raise ConfigError(f"--mechanism {mechanism!r}: use fixedprice, proofphi or dara")
        net = replace(net, mechanism=mechanism)
    if initial_price is not None:
        net = replace(net, initial_price=initial_price)
    if net.mechanism == "fixedprice" and not net.initial_price:
        raise ConfigError(f"{network}: a fixedprice market needs initial_price (wei per unit): "
                          "set initial_price in the network file or pass --initial-price, e.g. "
                          "50gwei; see docs/design/mechanisms.md on choosing it")
    keeper = keeper_identity(address=keeper_address, public_key=keeper_public_key,
                             keystore=keeper_keystore)
    account = load_account(keystore)
    w3 = connect(net.rpc)
    try:
        w3.eth.chain_id  # noqa: B018 - reachability probe
    except Exception as exc:
        raise ConfigError(f"cannot reach the node at {net.rpc} ({exc}): start it or fix rpc / "
                          "--rpc") from None
    if net.rpc == EMBEDDED and int(w3.eth.get_balance(account.address)) == 0:
        chain = embedded_chain()
        tx = w3.eth.send_transaction({"from": chain.accounts[0], "to": account.address,
                                      "value": 10**21})  # type: ignore[typeddict-item]
        w3.eth.wait_for_transaction_receipt(tx)
    return deploy_network(net, account, w3=w3, keeper=keeper, out_dir=out_dir, force=force,
                          allow_same_owner_and_keeper=allow_same_owner_and_keeper)

__all__ = [
    "DeployResult",
    "DeploymentRecord",
    "KeeperIdentity",
    "NetworkConfig",
    "VerifierSpec",
    "abi_hash",
    "deploy_network",
    "deployment_block",
    "keeper_identity",
    "load_network",
    "read_market_ref",
    "record_is_live",
    "record_path",
    "resolve_network",
    "run_deploy",
]
