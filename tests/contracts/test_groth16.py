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
    assert (units, inputs, outputs) == (1, 1, 1)
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
    assert bytes(f.taskOf(CHAIN16, [seed]).call()) == task_word(CHAIN16, 1, [seed])
    assert task_units(task_word(CHAIN16, 1, [seed])) == 1
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
    two_units = registry.functions.circuit(CHAIN16).call()[0]  # the same verifier, 2 units
    _send(chain, registry.functions.register(two_units, 2, 1, 1, "chain-as-2"), accounts.owner)
    for market in (pp, _market(chain, accounts, registry, Mechanism.DARA)):
        with rejected("TaskSizeNotOne"):  # a mechanism may split units: one-unit tasks only
            market.commit_bid(market.current_round(), accounts.r1, MILLI, circuit=(3, [7]))
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
    bid = m.commit_bid(r, accounts.r1, 10 * MILLI, size=1, circuit=(CHAIN16, [seed]))
    wrong = m.commit_bid(r, accounts.r2, 10 * MILLI, size=2, circuit=(CHAIN16, [seed + 1]))
    m.commit_ask(r, accounts.p1, MILLI)
    m.close(r)
    # a feasible DARA outcome written by hand: bid 0's unit from p1
    trade = [JobEntry(bid.index, 0, 1, 4 * MILLI)]
    bids, asks = m.reveals(r, charges={bid.index: 8 * MILLI})
    with rejected("BidRevealUnacceptable"):  # bid 1 sealed size 2 for a 1-unit circuit
        m.settle(r, bids, asks, [], [], trade)
    bids, asks = m.reveals(r, invalid_bids=[wrong.index], charges={bid.index: 8 * MILLI})
    s = m.settle(r, bids, asks, [], [], trade)
    job = s.jobs[0]
    assert (job.bid_index, job.units, job.task) == (bid.index, 1, bid.task)

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


def test_a_verifier_whose_fallback_returns_a_word_is_not_taken_for_a_registry(
        chain: TesterChain, accounts: Accounts) -> None:
    w3 = chain.w3
    runtime = bytes([0x60, 0x05, 0x5F, 0x52, 0x60, 0x20, 0x5F, 0xF3])  # mstore(0, 5) return(0,32)
    init = bytes([0x60, len(runtime), 0x80, 0x60, 0x09, 0x5F, 0x39, 0x5F, 0xF3]) + runtime
    tx = w3.eth.send_transaction({"from": accounts.owner, "data": init, "gas": 200_000})
    fake = w3.eth.get_transaction_receipt(tx)["contractAddress"]
    cfg = replace(market_config(accounts, fake, Mechanism.DARA), refund_cap=MILLI)
    assert deploy_market(w3, cfg, accounts.owner).functions.circuitTasks().call() is False


def test_a_requester_is_never_handed_a_decoy_proof(
        chain: TesterChain, accounts: Accounts, registry: Contract,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The proof a requester gets back is read only from a direct submitProof call for its job,
    and its inputs must hash to the job's task: a decoy (a valid proof of other inputs, as a
    prover contract could put in its outer calldata) is refused, never shown as verified."""
    from bridge.chain.market import Market
    from bridge.client.tasks import delivered_proofs
    from bridge.errors import BridgeError

    m = _market(chain, accounts, registry, Mechanism.DARA)
    m.prover_ready(accounts.p1, 1)
    r = m.next_round()
    seed = 4242
    bid = m.commit_bid(r, accounts.r1, 10 * MILLI, circuit=(CHAIN16, [seed]))
    m.commit_ask(r, accounts.p1, MILLI)
    m.close(r)
    bids, asks = m.reveals(r, charges={bid.index: 8 * MILLI})
    s = m.settle(r, bids, asks, [], [], [JobEntry(bid.index, 0, 1, 4 * MILLI)])
    job = s.jobs[0]
    m.send("submitProof", r, job.as_tuple(), s.proof(0),
           _proof("poseidon-chain-16", accounts.p1, [seed]), sender=accounts.p1)
    market = Market(chain.w3, m.market.address)
    [honest] = delivered_proofs(market, r, bid.index, 0)
    assert honest.verified and honest.public[1] == str(seed)
    decoy = m.market.encode_abi("submitProof", [r, job.as_tuple(), s.proof(0), _proof(
        "poseidon-chain-16", accounts.p1, [seed + 1])])
    real_get = chain.w3.eth.get_transaction

    def with_decoy(h: Any) -> Any:
        return {**real_get(h), "input": decoy}

    monkeypatch.setattr(chain.w3.eth, "get_transaction", with_decoy)
    with pytest.raises(BridgeError, match="for other inputs than job"):
        delivered_proofs(market, r, bid.index, 0)


def test_a_circuit_this_checkout_does_not_know_breaks_only_its_own_tasks(
        chain: TesterChain, accounts: Accounts, registry: Contract) -> None:
    from bridge.chain.market import Market
    from bridge.client.tasks import backend_for, registered
    from bridge.errors import ConfigError

    m = _market(chain, accounts, registry, Mechanism.DARA)
    market = Market(chain.w3, m.market.address)
    verifier = registry.functions.circuit(CHAIN16).call()[0]
    _send(chain, registry.functions.register(verifier, 1, 1, 1, "brand-new"), accounts.owner)
    known = registered(market)
    assert known[3].name == "brand-new" and known[3].spec is None
    backend, c = backend_for(market, task_word(CHAIN16, 1, [7]))  # existing jobs still prove
    assert backend.name == "groth16" and c is not None and c.name == "poseidon-chain-16"
    with pytest.raises(ConfigError, match="brand-new"):
        backend_for(market, task_word(3, 1, [7]))
