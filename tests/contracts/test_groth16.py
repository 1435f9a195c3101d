"""Real Groth16 tasks on eth-tester: the circuit registry, circuit tasks, and proofs made with
snarkjs from the committed artifacts, verified by the generated Solidity verifiers.

Each pairing check costs ~1.7 s on py-evm, so this file proves a handful of times only.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from web3.contract import Contract

from bridge.chain.deploy import Mechanism, deploy, deploy_market
from bridge.chain.market import market_abi
from bridge.chain.revert import decode_revert
from bridge.chain.settlement import JobEntry
from bridge.chain.tester import TesterChain
from bridge.errors import SettlementRejected
from bridge.proving import (
    SNARK_SCALAR_FIELD,
    Groth16Backend,
    circuit,
    decode_proof,
    task_units,
    task_word,
)
from tests.contracts.conftest import Accounts, market_config
from tests.contracts.flow import Driver

MILLI = 10**15
CHAIN16, MERKLE8 = 1, 2


def _send(chain: TesterChain, fn: Any, sender: str) -> Any:
    from bridge.chain.deploy import transact

    return transact(fn, sender)


def rejected(name: str) -> Any:
    return pytest.raises(SettlementRejected, match=rf"^{name}\(")


@pytest.fixture
def registry(chain: TesterChain, accounts: Accounts) -> Contract:
    reg = deploy(chain.w3, "CircuitRegistry", accounts.owner, sender=accounts.owner)
    for name in ("poseidon-chain-16", "merkle-root-8"):
        c = circuit(name)
        verifier = deploy(chain.w3, c.verifier_contract, sender=accounts.owner)
        _send(chain, reg.functions.register(verifier.address, c.units, c.input_count,
                                            len(c.outputs), name), accounts.owner)
    return reg


def _market(chain: TesterChain, accounts: Accounts, registry: Contract, mech: Mechanism
            ) -> Driver:
    cfg = replace(market_config(accounts, registry.address, mech), refund_cap=MILLI)
    m = deploy_market(chain.w3, cfg, accounts.owner)
    m = chain.w3.eth.contract(address=m.address, abi=market_abi())
    return Driver(chain, m, accounts.keeper, accounts.owner, 0)


def test_the_registry_is_append_only_owner_managed_and_range_checks_inputs(
        chain: TesterChain, accounts: Accounts, registry: Contract) -> None:
    f = registry.functions
    assert f.circuitCount().call() == 2
    verifier, units, inputs, outputs, _selector = f.circuit(CHAIN16).call()
    assert (units, inputs, outputs) == (2, 1, 1)
    with rejected("OwnableUnauthorizedAccount"):
        _send(chain, f.register(verifier, 1, 1, 1, "x"), accounts.anyone)
    for args, field in (((accounts.anyone, 1, 1, 1), "verifier"), ((verifier, 0, 1, 1), "units"),
                        ((verifier, 2**32, 1, 1), "units"), ((verifier, 1, 0, 1), "inputs"),
                        ((verifier, 1, 17, 1), "inputs"), ((verifier, 1, 1, 17), "outputs")):
        with pytest.raises(SettlementRejected) as err:
            _send(chain, f.register(*args, "x"), accounts.owner)
        assert err.value.name == "CircuitInvalid"
        assert err.value.args_["field"].rstrip(b"\x00") == field.encode()
    _send(chain, f.register(verifier, 2**32 - 1, 16, 16, "widest"), accounts.owner)
    with rejected("RenounceDisabled"):
        _send(chain, f.renounceOwnership(), accounts.owner)
    # task words: the Python mirror, the boundaries of the field and of the input count
    seed = 12345
    assert bytes(f.taskOf(CHAIN16, [seed]).call()) == task_word(CHAIN16, 2, [seed])
    assert task_units(task_word(CHAIN16, 2, [seed])) == 2
    assert f.taskOf(CHAIN16, [SNARK_SCALAR_FIELD - 1]).call()
    for call, name in ((lambda: f.taskOf(CHAIN16, [SNARK_SCALAR_FIELD]).call(), "InputOutOfRange"),
                       (lambda: f.taskOf(CHAIN16, [1, 2]).call(), "InputCountMismatch"),
                       (lambda: f.taskOf(CHAIN16, []).call(), "InputCountMismatch"),
                       (lambda: f.taskOf(0, [1]).call(), "CircuitUnknown"),
                       (lambda: f.taskOf(4, [1]).call(), "CircuitUnknown")):
        from bridge.chain.revert import call_decoded

        with rejected(name):
            call_decoded(registry.abi, call)


def test_markets_take_the_tasks_their_verifier_can_check(
        chain: TesterChain, accounts: Accounts, registry: Contract, proofphi: Driver) -> None:
    with rejected("CircuitTasksUnsupported"):  # a proof-of-work market: opaque tasks only
        proofphi.commit_bid(proofphi.next_round(), accounts.r1, MILLI, circuit=(MERKLE8, [1] * 8))
    pp = _market(chain, accounts, registry, Mechanism.PROOFPHI)
    r = pp.next_round()
    with rejected("OpaqueTaskRefused"):  # a circuit market refuses a task nobody could prove
        pp.commit_bid(r, accounts.r1, MILLI)
    with rejected("TaskSizeNotOne"):  # Prooφ tasks are unit-size: the 2-unit chain is refused
        pp.commit_bid(r, accounts.r1, MILLI, circuit=(CHAIN16, [7]))
    with rejected("InputOutOfRange"):
        pp.commit_bid(r, accounts.r1, MILLI, circuit=(MERKLE8, [1] * 7 + [SNARK_SCALAR_FIELD]))
    bid = pp.commit_bid(r, accounts.r1, MILLI, circuit=(MERKLE8, list(range(8))))
    assert bid.task == task_word(MERKLE8, 1, list(range(8)))
    log = pp.market.events.BidCommitted().get_logs(from_block=0)[-1]["args"]
    assert list(log["inputs"]) == list(range(8)) and bytes(log["task"]) == bid.task


def _proof(name: str, prover: str, inputs: list[int]) -> bytes:
    return Groth16Backend(circuit(name)).prove(b"", prover, inputs)


def test_a_circuit_task_is_settled_at_its_size_and_proven_only_by_its_prover(
        chain: TesterChain, accounts: Accounts, registry: Contract) -> None:
    m = _market(chain, accounts, registry, Mechanism.DARA)
    m.prover_ready(accounts.p1, 2)
    r = m.next_round()
    seed = 424242
    bid = m.commit_bid(r, accounts.r1, 10 * MILLI, size=2, circuit=(CHAIN16, [seed]))
    wrong = m.commit_bid(r, accounts.r2, 10 * MILLI, size=1, circuit=(CHAIN16, [seed + 1]))
    m.commit_ask(r, accounts.p1, MILLI)
    m.close(r)
    # a feasible DARA outcome written by hand: bid 0's two units from p1
    trade = [JobEntry(bid.index, 0, 2, 4 * MILLI)]
    bids, asks = m.reveals(r, charges={bid.index: 8 * MILLI})
    with rejected("BidRevealUnacceptable"):  # bid 1 sealed size 1 for a 2-unit circuit
        m.settle(r, bids, asks, [], [], trade)
    bids, asks = m.reveals(r, invalid_bids=[wrong.index], charges={bid.index: 8 * MILLI})
    s = m.settle(r, bids, asks, [], [], trade)
    job = s.jobs[0]
    assert (job.bid_index, job.units, job.task) == (bid.index, 2, bid.task)

    def submit(proof: bytes, who: str = accounts.p1) -> Any:
        return m.send("submitProof", r, job.as_tuple(), s.proof(0), proof, sender=who)

    good = _proof("poseidon-chain-16", accounts.p1, [seed])
    by_other = _proof("poseidon-chain-16", accounts.p2, [seed])
    inputs, outputs, abc = decode_proof(good, 1, 1)

    def enc(i: list[int], o: list[int], a: list[int]) -> bytes:
        return b"".join(v.to_bytes(32, "big") for v in (*i, *o, *a))

    with rejected("ProofInvalid"):  # a proof made for another prover, copied
        submit(by_other)
    with rejected("TaskMismatch"):  # a tampered public input
        submit(enc([seed + 1], list(outputs), list(abc)))
    with rejected("ProofInvalid"):  # a tampered output
        submit(enc(list(inputs), [outputs[0] + 1], list(abc)))
    with rejected("ProofMalformed"):  # not the circuit's layout
        submit(enc(list(inputs), [], list(abc)))
    with rejected("ProofMalformed"):  # one word too long
        submit(good + bytes(32))
    with rejected("ProofMalformed"):  # an output outside the field
        submit(enc(list(inputs), [SNARK_SCALAR_FIELD], list(abc)))
    with rejected("NotJobProver"):
        submit(good, accounts.p2)
    rc = submit(good)
    assert m.events(rc, "ProofAccepted")[0]["args"]["jobIndex"] == 0
    # what the requester gets back verifies with snarkjs against the verification key
    from bridge.proving import to_snarkjs, verify_local

    tx = chain.w3.eth.get_transaction(rc["transactionHash"])
    data = m.market.decode_function_input(tx["input"])[1]["proof"]
    proof_json, public = to_snarkjs(bytes(data), accounts.p1, 1, 1)
    assert verify_local(circuit("poseidon-chain-16"), proof_json, public)
    assert decode_revert(m.market.abi, bytes.fromhex("00")) is None


def test_naming_an_unprovable_task_no_longer_pays(chain: TesterChain, accounts: Accounts,
                                                  registry: Contract) -> None:
    """Before: a requester named a task nobody could prove and collected its charge back plus the
    prover's collateral at the slash. Now a task is a registered (total) circuit on range-checked
    inputs: the out-of-field input is refused at commit, and any accepted task has a proof, so the
    prover proves it and there is nothing to slash."""
    m = _market(chain, accounts, registry, Mechanism.DARA)
    m.prover_ready(accounts.p1, 1)
    r = m.next_round()
    with rejected("InputOutOfRange"):
        m.commit_bid(r, accounts.r1, 10 * MILLI, circuit=(MERKLE8, [SNARK_SCALAR_FIELD] * 8))
    with rejected("OpaqueTaskRefused"):
        m.commit_bid(r, accounts.r1, 10 * MILLI, task=b"\xff" * 32, deposit=False)
    leaves = [SNARK_SCALAR_FIELD - 1 - k for k in range(8)]  # the extreme field elements
    m.commit_bid(r, accounts.r1, 10 * MILLI, circuit=(MERKLE8, leaves), deposit=False)
    m.commit_ask(r, accounts.p1, MILLI)
    m.close(r)
    bids, asks = m.reveals(r, charges={0: 5 * MILLI})
    s = m.settle(r, bids, asks, [], [], [JobEntry(0, 0, 1, 2 * MILLI)])
    job = s.jobs[0]
    collateral = m.collateral(accounts.p1)
    m.send("submitProof", r, job.as_tuple(), s.proof(0),
           _proof("merkle-root-8", accounts.p1, leaves), sender=accounts.p1)
    m.past_proof_deadline(s)
    with rejected("JobAlreadyResolved"):
        m.send("slash", r, job.as_tuple(), s.proof(0), sender=accounts.r1)
    assert m.collateral(accounts.p1) == collateral + job.payment
