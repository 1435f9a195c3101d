"""The circuit registries' guards and a prover's withdrawal boundary, pinned: the exact custom error
and its arguments, on both sides of each rule (``bench/mutate.py`` drops each ``if (…) revert``
and moves each comparison by one; these tests are what notices).

``Groth16Registry``: one registry with ``poseidon-chain-16`` (index 1) for the module, and one real
snarkjs proof (p1's, input 77) from which the malformed and the invalid proofs are made; each
pairing costs ~1.7 s on py-evm the first time (``bridge.chain.tester`` remembers its result per
input), so the file checks few distinct ones. ``CircuitRegistry``: deployed per test (cheap), with
a circuit whose verifier is any contract.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from web3.contract import Contract
from web3.types import TxParams

from bridge.chain.deploy import deploy, transact
from bridge.chain.groth16 import manifest_artifacts, register_circuit
from bridge.chain.revert import call_decoded
from bridge.chain.tester import TesterChain
from bridge.errors import SettlementRejected
from bridge.proving import Groth16Backend, circuit, decode_proof, task_word
from tests.contracts.conftest import REFUND_CAP, Accounts
from tests.contracts.flow import Driver
from tests.contracts.test_guards import ZERO, reverts
from tests.contracts.test_market import two_task_round

CHAIN16 = 1  # the module registry's only circuit: 1 input, 1 output
INPUT = 77
WORD = 32


def _enc(*words: int) -> bytes:
    return b"".join(w.to_bytes(WORD, "big") for w in words)


def _call(contract: Contract, fn_name: str, *args: Any, tx: TxParams | None = None) -> Any:
    """``fn_name(*args)`` called on ``contract`` (``eth_call``), its custom errors decoded."""
    fn = getattr(contract.functions, fn_name)(*args)
    return call_decoded([dict(e) for e in contract.abi], lambda: fn.call(tx or {}))


def _outcome(contract: Contract, fn_name: str, *args: Any, tx: TxParams
             ) -> tuple[str, dict[str, Any]]:
    """``(error name, arguments)`` of a call, ``("", {})`` for a revert without data (out of
    gas), ``("ok", {"result": …})`` when it returns."""
    try:
        return "ok", {"result": _call(contract, fn_name, *args, tx=tx)}
    except SettlementRejected as err:
        return err.name, err.args_
    except Exception:  # a bare revert: out of gas, no data to decode
        return "", {}


# ------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def _g16(_session_chain: TesterChain, accounts: Accounts) -> Contract:
    """A ``Groth16Registry`` with ``poseidon-chain-16`` only, deployed once for the module (each
    test reverts to a snapshot after it: what one registers is gone in the next)."""
    registry = deploy(_session_chain.w3, "Groth16Registry", sender=accounts.anyone)
    key, art = manifest_artifacts(circuit("poseidon-chain-16"))
    _, index = register_circuit(registry, key, art, accounts.anyone)
    assert index == CHAIN16
    return registry


@pytest.fixture
def g16(chain: TesterChain, _g16: Contract) -> Contract:
    return _g16


@pytest.fixture(scope="module")
def good_proof(accounts: Accounts) -> bytes:
    """p1's proof of ``poseidon-chain-16`` on ``[INPUT]`` (snarkjs, ~3 s: once)."""
    return Groth16Backend(circuit("poseidon-chain-16")).prove(b"", accounts.p1, [INPUT])


def _tampered(proof: bytes) -> bytes:
    """The proof with its output moved by one: well formed (points on the curve, signals in the
    field), but false."""
    inputs, [out], abc = decode_proof(proof, 1, 1)
    return _enc(*inputs, out + 1, *abc)


def _c_off_curve(proof: bytes) -> bytes:
    """The proof with C = (1, 1), not on BN254 (1 ≠ 1 + 3)."""
    inputs, outputs, abc = decode_proof(proof, 1, 1)
    return _enc(*inputs, *outputs, *abc[:6], 1, 1)


# ----------------------------------------------------- ProverMarket.withdrawCollateral


def test_withdrawing_exactly_down_to_the_backing_says_lower_capacity_first(
        proofphi: Driver, accounts: Accounts) -> None:
    """At capacity ≠ 0 and short of what capacity needs, an amount that leaves exactly the
    backing of the outstanding units is `CollateralBacksCapacity` (it would be free at capacity
    0, all of it: `withdrawable` = collateral − backing); one wei more is not free at any
    capacity: `InsufficientCollateral`. At capacity 0 the same amount goes, and not one wei more."""
    m = proofphi
    p = accounts.p1
    two_task_round(m, accounts)  # p1: capacity 2, 2 units outstanding
    m.send("stake", sender=p, value=REFUND_CAP + 7)
    collateral = m.collateral(p)
    backing = 2 * REFUND_CAP
    free = collateral - backing
    assert free == REFUND_CAP + 7 + m.min_escrow and m.outstanding(p) == 2
    with reverts("CollateralBacksCapacity", prover=p, capacity=2, withdrawable=free):
        m.send("withdrawCollateral", free, sender=p)
    with reverts("InsufficientCollateral", prover=p, collateral=collateral,
                 required=backing + 2 * REFUND_CAP + free + 1):
        m.send("withdrawCollateral", free + 1, sender=p)
    m.send("setCapacity", 0, sender=p)
    with reverts("InsufficientCollateral", prover=p, collateral=collateral,
                 required=backing + free + 1):
        m.send("withdrawCollateral", free + 1, sender=p)
    rc = m.send("withdrawCollateral", free, sender=p)
    assert m.events(rc, "CollateralWithdrawn")[0]["args"]["amount"] == free
    assert m.collateral(p) == backing


# ------------------------------------------------------------------ CircuitRegistry


def test_circuit_registry_verify_refuses_a_task_of_an_unregistered_circuit(
        chain: TesterChain, accounts: Accounts, pow_verifier: Contract) -> None:
    """`verify` reads the circuit's slot directly: id 0 and an id past the last registered one
    are `CircuitUnknown(id)`, not a proof checked against an empty record; the last id is
    known (its proof goes on to the verifier, which refuses this one)."""
    registry = deploy(chain.w3, "CircuitRegistry", accounts.owner, sender=accounts.owner)
    transact(registry.functions.register(pow_verifier.address, 1, 1, 0, "any-contract"),
             accounts.owner)
    assert registry.functions.circuitCount().call() == 1
    for cid in (0, 2):
        task = task_word(cid, 1, [])
        for proof in (b"", bytes(8 * WORD)):  # the length an empty record would take
            with reverts("CircuitUnknown", id=cid):
                _call(registry, "verify", task, accounts.p1, proof)
    task = task_word(1, 1, [5])
    with reverts("ProofInvalid", task=task, prover=accounts.p1):
        _call(registry, "verify", task, accounts.p1, _enc(5, *[0] * 8))


# ------------------------------------------------------------------ Groth16Registry views


def test_groth16_registry_views_name_the_unknown_index_or_id(
        g16: Contract, accounts: Accounts) -> None:
    assert g16.functions.circuitCount().call() == 1
    cid = bytes(_call(g16, "circuitId", 1))
    assert _call(g16, "circuitIndex", cid) == 1
    for index in (0, 2):
        with reverts("CircuitUnknown", index=index):
            _call(g16, "circuitId", index)
    unknown = b"\x01" * 32
    for fn_name in ("circuitIndex", "circuit", "verificationKey"):
        with reverts("CircuitIdUnknown", id=unknown):
            _call(g16, fn_name, unknown)


def test_groth16_verify_refuses_a_task_of_an_unregistered_index(
        g16: Contract, accounts: Accounts) -> None:
    """A task naming index 0 or an index past the last is `CircuitUnknown(index)`: its slot is
    empty, and an empty record's key (all zeros: points at infinity) would take the all-zero
    "proof" below. The last index is known: the same zeros are checked, and fail."""
    zeros = bytes(8 * WORD)  # a circuit without inputs or outputs: A, B, C only
    for index in (0, 2):
        task = task_word(index, 1, [])
        with reverts("CircuitUnknown", index=index):
            _call(g16, "verify", task, accounts.p1, zeros)
        with reverts("CircuitUnknown", index=index):
            _call(g16, "verifyBatch", [task], accounts.p1, zeros)
    with reverts("ProofInvalid", index=0):
        _call(g16, "verify", task_word(CHAIN16, 1, [0]), accounts.p1, bytes(10 * WORD))


# ------------------------------------------------------------- Groth16Registry proofs


def test_a_false_proof_costs_one_check(
        g16: Contract, accounts: Accounts, good_proof: bytes) -> None:
    """A single false proof is `ProofInvalid(0)` at the cost of its one pairing check, as much
    gas as a true one: the search for the bad proof of a batch (each proof checked alone,
    through `verify`) is for batches only; a single proof sent to it would have `verify` call
    itself until the gas ran out, to end in the same `ProofInvalid(0)`."""
    w3 = g16.w3
    f = g16.functions
    task = task_word(CHAIN16, 1, [INPUT])
    bad = _tampered(good_proof)
    with reverts("ProofInvalid", index=0):
        _call(g16, "verify", task, accounts.p1, bad)
    gas = 3_000_000
    used = {}
    for name, proof in (("good", good_proof), ("bad", bad)):
        tx = f.verify(task, accounts.p1, proof).transact({"from": accounts.p1, "gas": gas})
        rc = w3.eth.wait_for_transaction_receipt(tx)
        assert rc["status"] == (1 if name == "good" else 0)
        used[name] = rc["gasUsed"]
    assert used["bad"] <= used["good"] + 5_000, used


def test_a_point_off_the_curve_is_named_as_it_is_read(
        g16: Contract, accounts: Accounts, good_proof: bytes) -> None:
    """A proof whose C is not on the curve is refused when it joins the batch's sum,
    `ProofInvalid` naming it, before any pairing: in a batch whose first proof is false (but well
    formed), the error names the second, off the curve."""
    task = task_word(CHAIN16, 1, [INPUT])
    off = _c_off_curve(good_proof)
    with reverts("ProofInvalid", index=0):
        _call(g16, "verify", task, accounts.p1, off)
    with reverts("ProofInvalid", index=1):
        _call(g16, "verifyBatch", [task, task], accounts.p1, _tampered(good_proof) + off)
    # the same batch with both proofs well formed: the first (false) one is named
    with reverts("ProofInvalid", index=0):
        _call(g16, "verifyBatch", [task, task], accounts.p1,
              _tampered(good_proof) + good_proof)


def test_submit_proofs_needs_a_market_with_code(
        g16: Contract, accounts: Accounts, good_proof: bytes) -> None:
    """Proofs checked, the jobs go to `market`'s `submitProof`; an address without code would
    take the calls silently: `NotJobProver(0, caller, 0)` instead."""
    task = task_word(CHAIN16, 1, [INPUT])
    job = (0, 0, accounts.r1, task, accounts.p1, 1, 0, 0, 0)
    fn = g16.functions.submitProofs(accounts.anyone, 1, [job], [[]], good_proof)
    with reverts("NotJobProver", index=0, caller=accounts.p1, prover=ZERO):
        transact(fn, accounts.p1, gas=3_000_000)


def test_registration_that_cannot_store_its_key_is_refused(
        g16: Contract, accounts: Accounts) -> None:
    """The key is written as a contract's code (CREATE). With too little gas for that code, the
    CREATE fails and 1/64 of the gas is left: registration stops with `CircuitInvalid("store")`
    (and records nothing), never with a circuit whose key pointer is 0. The gas is found by
    stepping down from what registration needs (the window is ~100k gas wide)."""
    key, art = manifest_artifacts(circuit("poseidon-chain-16"))
    args = (key, replace(art, name="store-probe").as_tuple())
    fn = g16.functions.registerCircuit(*args)
    needed = fn.estimate_gas({"from": accounts.anyone})
    seen = []
    found = None
    for gas in range(needed, needed - 800_000, -16_000):
        name, err = _outcome(g16, "registerCircuit", *args,
                             tx={"from": accounts.anyone, "gas": gas})
        seen.append(name)
        if name == "CircuitInvalid":
            assert err["field"].rstrip(b"\x00") == b"store", err
            found = gas
            break
    assert found is not None, seen
    assert seen[0] == "ok"  # with the gas it needs, it registers
    tx = fn.transact({"from": accounts.anyone, "gas": found})
    assert g16.w3.eth.wait_for_transaction_receipt(tx)["status"] == 0
    assert g16.functions.circuitCount().call() == 1
