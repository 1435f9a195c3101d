"""Verifiers, the reentrancy guard, deployment checks, revert decoding and artifact freshness."""

from __future__ import annotations

import os
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
from eth_abi import encode as abi_encode
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_utils import keccak
from web3.contract import Contract

from bridge.chain import compile as compile_module
from bridge.chain.artifacts import load_artifact
from bridge.chain.compile import artifacts_behind_sources, compile_contracts, stale_artifacts
from bridge.chain.deploy import Mechanism, deploy, deploy_market, transact
from bridge.chain.revert import decode_revert, error_table
from bridge.chain.tester import TesterChain
from bridge.errors import SettlementRejected
from tests.contracts.conftest import Accounts, market_config
from tests.contracts.flow import Driver, pow_nonce


def test_proof_of_work_verifier_checks_leading_zero_bits(chain: TesterChain,
                                                         pow_verifier: Contract,
                                                         accounts: Accounts) -> None:
    task = os.urandom(32)
    nonce = pow_nonce(task, accounts.p1, 8)
    f = pow_verifier.functions
    assert f.verify(task, accounts.p1, nonce).call()
    h = int.from_bytes(keccak(abi_encode(["bytes32", "address", "bytes32"],
                                         [task, accounts.p2, nonce])), "big")
    assert f.verify(task, accounts.p2, nonce).call() == (h >> 248 == 0)
    assert not f.verify(task, accounts.p1, nonce + b"\x00").call()  # not 32 bytes
    assert f.difficultyBits().call() == 8
    with pytest.raises(SettlementRejected) as info:
        deploy(chain.w3, "ProofOfWorkVerifier", 256, sender=accounts.owner)
    assert info.value.name == "DifficultyOutOfRange"


def test_attestation_verifier_accepts_only_the_checkers_signature(chain: TesterChain,
                                                                  accounts: Accounts) -> None:
    checker = Account.create()
    verifier = deploy(chain.w3, "AttestationVerifier", checker.address, sender=accounts.owner)
    task, proof_hash = os.urandom(32), os.urandom(32)
    digest = verifier.functions.digest(task, accounts.p1, proof_hash).call()
    assert digest == keccak(abi_encode(["bytes32", "address", "bytes32"],
                                       [task, accounts.p1, proof_hash]))
    sig = Account.sign_message(encode_defunct(primitive=digest), checker.key).signature
    good = abi_encode(["bytes32", "bytes"], [proof_hash, bytes(sig)])
    assert verifier.functions.verify(task, accounts.p1, good).call()
    assert not verifier.functions.verify(task, accounts.p2, good).call()
    other = Account.create()
    bad_sig = Account.sign_message(encode_defunct(primitive=digest), other.key).signature
    bad = abi_encode(["bytes32", "bytes"], [proof_hash, bytes(bad_sig)])
    assert not verifier.functions.verify(task, accounts.p1, bad).call()


def test_withdraw_to_a_reentrant_receiver_cannot_reenter(proofphi: Driver, accounts: Accounts
                                                         ) -> None:
    m = proofphi
    receiver = deploy(m.chain.w3, "ReentrantReceiver", m.market.address, sender=accounts.r1)
    transact(receiver.functions.deposit(), accounts.r1, value=10**16)
    market_abi = load_artifact("ProverMarket").abi
    with pytest.raises(SettlementRejected) as info:
        transact(receiver.functions.withdraw(10**16), accounts.r1,
                 abi=[*market_abi, *receiver.abi])
    assert info.value.name == "TransferFailed"
    assert m.balance(receiver.address) == 10**16
    transact(receiver.functions.setReenter(False), accounts.r1)
    transact(receiver.functions.withdraw(10**16), accounts.r1)
    assert m.balance(receiver.address) == 0
    assert m.chain.w3.eth.get_balance(receiver.address) == 10**16


def test_market_constructor_rejects_unusable_parameters(chain: TesterChain, accounts: Accounts,
                                                        pow_verifier: Contract) -> None:
    cfg = market_config(accounts, pow_verifier.address, Mechanism.DARA)
    for bad in (
        {"commit_period": 0}, {"capacity_factor": 0}, {"verifier": "0x" + "00" * 20},
    ):
        with pytest.raises(SettlementRejected) as info:
            deploy_market(chain.w3, replace(cfg, **bad), accounts.owner)
        assert info.value.name == "InvalidConfig"


def test_error_table_covers_every_interface_error() -> None:
    abi = load_artifact("ProverMarket").abi
    names = {e["name"] for e in error_table(abi).values()}
    assert {"RevealsMismatch", "ProofPhiMismatch", "JobAlreadyResolved", "NotKeeper"} <= names
    assert decode_revert(abi, b"\x00\x00") is None
    panic = bytes.fromhex("4e487b71") + (0x11).to_bytes(32, "big")
    decoded = decode_revert(abi, panic)
    assert decoded is not None and decoded.name == "Panic" and decoded.args_["code"] == 0x11


@pytest.mark.realtime  # a whole solc-js compilation (~40 s); make check checks the hashes below
def test_committed_artifacts_match_a_fresh_compilation() -> None:
    assert stale_artifacts(compile_contracts()) == [], "run `make artifacts` and commit"


def test_committed_artifacts_were_compiled_from_todays_sources(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch
                                                               ) -> None:
    assert artifacts_behind_sources() == [], "run `make artifacts` and commit"
    # one character of one source, or of the settings, makes every artifact stale
    copy = tmp_path / "contracts"
    shutil.copytree(compile_module.CONTRACTS_DIR, copy)
    monkeypatch.setattr(compile_module, "CONTRACTS_DIR", copy)
    monkeypatch.setattr(compile_module, "REPO_ROOT", tmp_path)
    behind_nothing = compile_module.sources_hash()
    ledger = copy / "libraries" / "JobTree.sol"
    ledger.write_text(ledger.read_text(encoding="utf-8") + " ", encoding="utf-8")
    assert compile_module.sources_hash() != behind_nothing
    assert artifacts_behind_sources() == list(compile_module.ARTIFACT_SOURCES)
