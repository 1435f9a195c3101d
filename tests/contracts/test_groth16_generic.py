"""The generic Groth16 verifier (``Groth16Registry``): circuits registered as data by anyone, the
circuits a market accepts, one proof through it, and batches of proofs (``submitProofs``) checked
with one randomised pairing product per circuit. Real proofs made with snarkjs from the committed
artifacts; each pairing costs ~1.7 s on py-evm, so batches here are small (bench/gas.py runs ten).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from py_ecc import optimized_bn128 as bn
from web3.contract import Contract

from bridge.chain.deploy import Mechanism, deploy_market, transact
from bridge.chain.groth16 import (
    accept_circuits,
    batch_abi,
    deploy_groth16_registry,
    manifest_artifacts,
    register_circuit,
    submit_proofs,
)
from bridge.chain.market import market_abi
from bridge.chain.revert import call_decoded
from bridge.chain.settlement import JobEntry
from bridge.chain.tester import TesterChain
from bridge.errors import SettlementRejected
from bridge.proving import SNARK_SCALAR_FIELD, Groth16Backend, circuit, decode_proof, task_word
from bridge.zkstore import circuit_id, key_bytes
from tests.contracts.conftest import Accounts, market_config
from tests.contracts.flow import Driver, Settled

MILLI = 10**15
CHAIN16, MERKLE8 = 1, 2  # registration indexes (the manifest's order)
NAMES = {CHAIN16: "poseidon-chain-16", MERKLE8: "merkle-root-8"}
BASE_FIELD = 21888242871839275222246405745257275088696311157297823662689037894645226208583


def rejected(name: str) -> Any:
    return pytest.raises(SettlementRejected, match=rf"^{name}\(")


@pytest.fixture(scope="module")
def _registry(_session_chain: TesterChain, accounts: Accounts
              ) -> tuple[Contract, dict[str, bytes]]:
    """The registry with the two circuits, deployed once for the module (each registration checks
    its key with a pairing: ~18 s on eth-tester); each test then starts from a snapshot after it
    (the ``chain`` fixture), so what one test registers or accepts is gone in the next."""
    return deploy_groth16_registry(_session_chain.w3, accounts.anyone)  # anyone registers


@pytest.fixture
def reg(chain: TesterChain, _registry: tuple[Contract, dict[str, bytes]]
        ) -> tuple[Contract, dict[str, bytes]]:
    return _registry


def _market(chain: TesterChain, accounts: Accounts, registry: Contract, accept: list[bytes]
            ) -> Driver:
    cfg = replace(market_config(accounts, registry.address, Mechanism.DARA), refund_cap=MILLI)
    m = deploy_market(chain.w3, cfg, accounts.owner)
    if accept:
        accept_circuits(registry, m.address, accept, accounts.owner)
    m = chain.w3.eth.contract(address=m.address, abi=market_abi())
    return Driver(chain, m, accounts.keeper, accounts.owner, 0)


def _proof(name: str, prover: str, inputs: list[int]) -> bytes:
    return Groth16Backend(circuit(name)).prove(b"", prover, inputs)


def _round(m: Driver, accounts: Accounts, tasks: list[tuple[int, list[int]]]
           ) -> tuple[Settled, list[bytes]]:
    """One round whose every bid (one per task) is served by p1 (a feasible DARA outcome written
    by hand); returns it and p1's proof of each job."""
    m.prover_ready(accounts.p1, len(tasks))
    r = m.next_round()
    for k, t in enumerate(tasks):
        m.commit_bid(r, (accounts.r1, accounts.r2)[k % 2], 10 * MILLI, circuit=t)
    m.commit_ask(r, accounts.p1, MILLI)
    m.close(r)
    bids, asks = m.reveals(r, charges={k: 8 * MILLI for k in range(len(tasks))})
    s = m.settle(r, bids, asks, [], [], [JobEntry(k, 0, 1, 4 * MILLI) for k in range(len(tasks))])
    proofs = []
    for job, (index, inputs) in zip(s.jobs, tasks, strict=True):
        assert job.prover == accounts.p1 and job.task == task_word(index, 1, inputs)
        proofs.append(_proof(NAMES[index], accounts.p1, inputs))
    return s, proofs


def _submit_batch(m: Driver, registry: Contract, s: Settled, ks: list[int], proofs: list[bytes],
                  who: str) -> Any:
    return submit_proofs(registry, m.market.address, s.round, [s.jobs[k].as_tuple() for k in ks],
                         [s.proof(k) for k in ks], proofs, who)


def test_anyone_registers_a_circuit_once_and_its_record_is_readable(
        chain: TesterChain, accounts: Accounts, reg: tuple[Contract, dict[str, bytes]]) -> None:
    registry, ids = reg
    f = registry.functions
    assert f.circuitCount().call() == 2
    key, art = manifest_artifacts(circuit("poseidon-chain-16"))
    cid = ids["poseidon-chain-16"]
    assert cid == circuit_id(key, art)  # the id is the hash of the key and its artifacts
    index, pointer, record = f.circuit(cid).call()
    assert index == CHAIN16 and f.circuitId(CHAIN16).call() == cid
    assert tuple(record) == art.as_tuple()
    assert bytes(f.verificationKey(cid).call()) == key
    assert chain.w3.eth.get_code(pointer)[1:] == key  # SSTORE2: the key is the pointer's code
    # append-only, and nobody owns the registry: nothing alters or removes a record
    with rejected("CircuitExists"):
        register_circuit(registry, key, art, accounts.owner)
    names = {e["name"] for e in registry.abi if e["type"] == "function"}
    assert not names & {"owner", "transferOwnership", "setCircuit", "removeCircuit"}
    # a market's owner, and only it, extends the circuits that market accepts
    m = _market(chain, accounts, registry, [])
    with rejected("NotMarketOwner"):
        accept_circuits(registry, m.market.address, [cid], accounts.anyone)
    with rejected("CircuitIdUnknown"):
        accept_circuits(registry, m.market.address, [b"\x01" * 32], accounts.owner)
    assert not f.accepts(m.market.address, cid).call()
    accept_circuits(registry, m.market.address, [cid], accounts.owner)
    assert f.accepts(m.market.address, cid).call()
    assert not f.accepts(m.market.address, ids["merkle-root-8"]).call()


def test_registration_refuses_unusable_keys_and_artifacts(
        chain: TesterChain, accounts: Accounts, reg: tuple[Contract, dict[str, bytes]]) -> None:
    registry, _ = reg
    key, art = manifest_artifacts(circuit("poseidon-chain-16"))
    words = [key[i:i + 32] for i in range(0, len(key), 32)]

    def bad(field: str, k: bytes = key, **kw: Any) -> None:
        with pytest.raises(SettlementRejected) as err:
            register_circuit(registry, k, replace(art, **kw), accounts.anyone)
        assert err.value.name == "CircuitInvalid"
        assert err.value.args_["field"].rstrip(b"\x00") == field.encode()

    bad("inputs", inputs=0)
    bad("inputs", inputs=17)
    bad("outputs", outputs=17)
    bad("key", inputs=2)  # the key has one IC point fewer than 2 inputs + 1 output + prover need
    bad("key", key[:-32])
    bad("key", b"".join([BASE_FIELD.to_bytes(32, "big"), *words[1:]]))  # a coordinate ≥ q
    bad("point", b"".join([(1).to_bytes(32, "big"), *words[1:]]))  # alpha off the curve
    bad("point", b"".join([*words[:2], (1).to_bytes(32, "big"), *words[3:]]))  # beta off it
    bad("point", b"".join([*words[:-1], (words[-1][:-1] + b"\x00")]))  # IC_3 off it
    bad("wasmSha256", wasm_sha256=bytes(32))
    bad("zkeySha256", zkey_sha256=bytes(32))
    bad("name", name="")
    bad("name", name="x" * 65)
    # the widest circuit: 16 inputs, 16 outputs (its key read back whole)
    wide_ic = [bn.normalize(bn.multiply(bn.G1, k + 2)) for k in range(34)]
    wide = key[:14 * 32] + b"".join(int(c).to_bytes(32, "big") for p in wide_ic for c in p)
    cid, index = register_circuit(registry, wide, replace(art, inputs=16, outputs=16,
                                                          name="x" * 64), accounts.anyone)
    assert index == 3 and bytes(registry.functions.verificationKey(cid).call()) == wide
    assert key_bytes({"protocol": "groth16", "curve": "bn128", **_vk_json("poseidon-chain-16")}
                     ) == key


def _vk_json(name: str) -> dict[str, Any]:
    import json

    return dict(json.loads(circuit(name).vkey.read_text()))


def test_a_market_takes_only_the_circuits_it_accepts(
        chain: TesterChain, accounts: Accounts, reg: tuple[Contract, dict[str, bytes]]) -> None:
    registry, ids = reg
    m = _market(chain, accounts, registry, [ids["poseidon-chain-16"]])
    r = m.next_round()
    with rejected("CircuitNotAccepted"):  # registered, but not this market's
        m.commit_bid(r, accounts.r1, MILLI, circuit=(MERKLE8, list(range(8))))
    with rejected("OpaqueTaskRefused"):
        m.commit_bid(r, accounts.r1, MILLI)
    for bad, name in (((0, [1]), "CircuitUnknown"), ((3, [1]), "CircuitUnknown"),
                      ((CHAIN16, [SNARK_SCALAR_FIELD]), "InputOutOfRange"),
                      ((CHAIN16, [1, 2]), "InputCountMismatch"), ((CHAIN16, []),
                                                                  "InputCountMismatch")):
        with rejected(name):
            m.commit_bid(r, accounts.r1, MILLI, circuit=bad)
    bid = m.commit_bid(r, accounts.r1, MILLI, circuit=(CHAIN16, [SNARK_SCALAR_FIELD - 1]))
    assert bid.task == task_word(CHAIN16, 1, [SNARK_SCALAR_FIELD - 1])
    # by id as well as by index; and once its owner accepts it, the other circuit too
    by_id = m.commit_bid(r, accounts.r1, MILLI,
                         circuit=(int.from_bytes(ids["poseidon-chain-16"], "big"), [5]))
    assert by_id.task == task_word(CHAIN16, 1, [5])
    accept_circuits(registry, m.market.address, [ids["merkle-root-8"]], accounts.owner)
    m.commit_bid(r, accounts.r1, MILLI, circuit=(MERKLE8, list(range(8))))
    f = registry.functions
    assert bytes(f.taskFor(m.market.address, CHAIN16, [5]).call()) == task_word(CHAIN16, 1, [5])
    with rejected("CircuitNotAccepted"):  # no market asking
        call_decoded([dict(e) for e in registry.abi], lambda: f.taskOf(CHAIN16, [5]).call())


def test_one_proof_through_the_generic_verifier(
        chain: TesterChain, accounts: Accounts, reg: tuple[Contract, dict[str, bytes]]) -> None:
    registry, ids = reg
    m = _market(chain, accounts, registry, list(ids.values()))
    s, [good] = _round(m, accounts, [(CHAIN16, [4242])])
    job = s.jobs[0]
    inputs, outputs, abc = decode_proof(good, 1, 1)

    def submit(proof: bytes) -> Any:
        return m.send("submitProof", s.round, job.as_tuple(), s.proof(0), proof,
                      sender=accounts.p1)

    def enc(i: list[int], o: list[int], a: list[int]) -> bytes:
        return b"".join(v.to_bytes(32, "big") for v in (*i, *o, *a))

    with rejected("ProofInvalid"):  # a tampered output
        submit(enc(list(inputs), [outputs[0] + 1], list(abc)))
    with rejected("TaskMismatch"):
        submit(enc([4243], list(outputs), list(abc)))
    with rejected("ProofMalformed"):
        submit(good + bytes(32))
    with rejected("ProofMalformed"):
        submit(enc(list(inputs), [SNARK_SCALAR_FIELD], list(abc)))
    with rejected("ProofInvalid"):  # A off the curve: the precompile refuses it
        submit(enc(list(inputs), list(outputs), [1, 1, *abc[2:]]))
    collateral = m.collateral(accounts.p1)
    rc = submit(good)
    assert m.events(rc, "ProofAccepted")[0]["args"]["jobIndex"] == 0
    assert m.collateral(accounts.p1) == collateral + job.payment


def test_a_batch_of_two_circuits_is_verified_and_credited_at_once(
        chain: TesterChain, accounts: Accounts, reg: tuple[Contract, dict[str, bytes]]) -> None:
    registry, ids = reg
    m = _market(chain, accounts, registry, list(ids.values()))
    s, proofs = _round(m, accounts, [(CHAIN16, [11]), (MERKLE8, list(range(8))), (CHAIN16, [12])])
    snap = chain.snapshot()
    # one proof in the batch for another prover: the whole call fails, naming it
    bad = [proofs[0], _proof("merkle-root-8", accounts.p2, list(range(8))), proofs[2]]
    with pytest.raises(SettlementRejected) as err:
        _submit_batch(m, registry, s, [0, 1, 2], bad, accounts.p1)
    assert err.value.name == "ProofInvalid" and err.value.args_["index"] == 1
    chain.revert(snap)
    snap = chain.snapshot()
    # shapes: a proof missing or left over, a job twice, a job of another prover
    with rejected("ProofMalformed"):
        _submit_batch(m, registry, s, [0, 1, 2], [proofs[0], proofs[1], proofs[2][:-32]],
                      accounts.p1)
    with rejected("ProofMalformed"):
        _submit_batch(m, registry, s, [0, 1], [proofs[0], proofs[1] + proofs[2]], accounts.p1)
    with rejected("JobNotInRound"):  # a job the settlement did not make (its task is its own)
        forged_job = (*s.jobs[0].as_tuple()[:5], 1, 1, 1, s.jobs[0].as_tuple()[8])
        submit_proofs(registry, m.market.address, s.round, [forged_job], [s.proof(0)],
                      proofs[:1], accounts.p1)
    with rejected("TaskMismatch"):  # proofs in another order than the jobs
        _submit_batch(m, registry, s, [0, 2], [proofs[2], proofs[0]], accounts.p1)
    with rejected("JobAlreadyResolved"):
        _submit_batch(m, registry, s, [0, 0], [proofs[0], proofs[0]], accounts.p1)
    with rejected("NotJobProver"):
        _submit_batch(m, registry, s, [0], [proofs[0]], accounts.p2)
    with rejected("BatchShape"):
        transact(registry.functions.submitProofs(m.market.address, s.round, [s.jobs[0].as_tuple()],
                                                 [], proofs[0]), accounts.p1, abi=batch_abi())
    with rejected("BatchEmpty"):
        transact(registry.functions.submitProofs(m.market.address, s.round, [], [], b""),
                 accounts.p1, abi=batch_abi())
    with rejected("NotJobProver"):  # only the verifier of a market may submit for its provers
        transact(m.market.functions.submitProof(s.round, s.jobs[0].as_tuple(), s.proof(0), b""),
                 accounts.p2, abi=market_abi())
    # another market trusting the same registry still checks the jobs are its own
    other = _market(chain, accounts, registry, [])
    with rejected("RoundNotSettled"):
        submit_proofs(registry, other.market.address, s.round, [s.jobs[0].as_tuple()],
                      [s.proof(0)], proofs[:1], accounts.p1)
    chain.revert(snap)
    collateral, outstanding = m.collateral(accounts.p1), m.outstanding(accounts.p1)
    rc = _submit_batch(m, registry, s, [0, 1, 2], proofs, accounts.p1)
    assert [e["args"]["jobIndex"] for e in m.events(rc, "ProofAccepted")] == [0, 1, 2]
    assert all(m.market.functions.isResolved(s.round, k).call() for k in range(3))
    assert m.collateral(accounts.p1) == collateral + sum(j.payment for j in s.jobs)
    assert m.outstanding(accounts.p1) == outstanding - 3
    m.past_proof_deadline(s)
    with rejected("JobAlreadyResolved"):
        m.send("slash", s.round, s.jobs[1].as_tuple(), s.proof(1), sender=accounts.r1)


def _point(words: tuple[int, ...], at: int) -> Any:
    return (bn.FQ(words[at]), bn.FQ(words[at + 1]), bn.FQ.one())


def test_the_weights_depend_on_every_proof(
        chain: TesterChain, accounts: Accounts, reg: tuple[Contract, dict[str, bytes]]) -> None:
    """Two valid proofs whose C points are moved by +D and −D: each is now invalid, but their
    errors cancel in any check with equal weights (Π e(A_i, B_i) = e(2α, β)·e(L_1 + L_2, γ)·
    e(C_1 + C_2, δ) sees only the sum of the C points, unchanged). The registry's weights are a
    hash of the proofs, fixed after them: the batch fails, naming the first forged proof."""
    registry, ids = reg
    m = _market(chain, accounts, registry, list(ids.values()))
    s, proofs = _round(m, accounts, [(CHAIN16, [21]), (CHAIN16, [22])])
    d = bn.multiply(bn.G1, 123456789)
    forged = []
    for k, move in enumerate((d, bn.neg(d))):
        i, o, abc = decode_proof(proofs[k], 1, 1)
        c = bn.normalize(bn.add(_point(tuple(abc), 6), move))
        forged.append(b"".join(v.to_bytes(32, "big")
                               for v in (*i, *o, *abc[:6], int(c[0].n), int(c[1].n))))
    sums = []
    for batch in (proofs, forged):
        total = None
        for p in batch:
            _, _, abc = decode_proof(p, 1, 1)
            total = _point(tuple(abc), 6) if total is None else bn.add(total, _point(tuple(abc), 6))
        assert total is not None
        sums.append(bn.normalize(total))
    assert sums[0] == sums[1] and forged != proofs  # what equal weights would check: unchanged
    with pytest.raises(SettlementRejected) as err:
        _submit_batch(m, registry, s, [0, 1], forged, accounts.p1)
    assert err.value.name == "ProofInvalid" and err.value.args_["index"] == 0
    _submit_batch(m, registry, s, [0, 1], proofs, accounts.p1)


def test_clients_list_the_circuits_a_generic_market_accepts(
        chain: TesterChain, accounts: Accounts, reg: tuple[Contract, dict[str, bytes]]) -> None:
    """``bridge.client.tasks`` on a market whose verifier is the generic registry: the accepted
    circuits by index, their manifest entries only when the registered key is the manifest's."""
    from bridge.chain.market import Market
    from bridge.client.tasks import backend_for, registered, resolve

    registry, ids = reg
    m = _market(chain, accounts, registry, [ids["merkle-root-8"]])
    market = Market(chain.w3, m.market.address)
    known = registered(market)
    assert list(known) == [MERKLE8] and known[MERKLE8].name == "merkle-root-8"
    assert known[MERKLE8].spec is not None and known[MERKLE8].inputs == 8
    assert resolve(market, "merkle-root-8").id == MERKLE8
    backend, c = backend_for(market, task_word(MERKLE8, 1, list(range(8))))
    assert backend.name == "groth16" and c is not None
    # a registration under a known name with another key is listed without the manifest's files
    key, art = manifest_artifacts(circuit("poseidon-chain-16"))
    words = bytearray(key)
    words[14 * 32:16 * 32] = b"".join(int(v).to_bytes(32, "big")
                                      for v in bn.normalize(bn.multiply(bn.G1, 7)))
    squat, index = register_circuit(registry, bytes(words), art, accounts.anyone)
    accept_circuits(registry, m.market.address, [squat], accounts.owner)
    assert registered(market)[index].spec is None
