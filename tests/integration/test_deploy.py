"""``bridge deploy``: network files, the record, no second deployment, refusals that say why."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import Web3

from bridge.chain.artifacts import load_artifact
from bridge.chain.deployment import (
    KeeperIdentity,
    abi_hash,
    deploy_network,
    keeper_identity,
    load_network,
    record_is_live,
)
from bridge.chain.market import Market
from bridge.chain.tester import make_tester_chain
from bridge.errors import ConfigError
from bridge.keys import write_keystore
from tests.integration.conftest import DEV_KEYS


def _funded(w3: Web3, accounts: list[str], key: str) -> LocalAccount:
    acct: LocalAccount = Account.from_key(key)
    tx = w3.eth.send_transaction({"from": accounts[0], "to": acct.address,  # type: ignore[typeddict-item]
                                  "value": 10**21})
    w3.eth.wait_for_transaction_receipt(tx)
    return acct


def test_shipped_network_files_load() -> None:
    for name in ("local", "anvil", "sepolia-example"):
        net = load_network(name)
        assert net.chain_id > 0 and net.commit_period > 0
    assert load_network("anvil", rpc="http://127.0.0.1:9").rpc == "http://127.0.0.1:9"
    assert load_network("sepolia-example").refund_cap == 10**15
    example = load_network("sepolia-example")
    assert (example.min_escrow, example.fill_cost) == (3 * 10**14, 25 * 10**18)


@pytest.mark.parametrize(("key", "most"), [("max_asks_per_round", 699),
                                           ("max_bids_per_round", 65_535),
                                           ("checkpoint_interval", 1024)])
def test_a_network_file_above_a_contract_limit_is_refused_in_one_line(
        tmp_path: Path, key: str, most: int) -> None:
    """The constructor would revert: the file is refused first, naming the limit and the fix."""
    base = 'name = "x"\nrpc = "http://127.0.0.1:9"\nchain_id = 1\n'
    ok = tmp_path / "ok.toml"
    ok.write_text(base + f"{key} = {most}\n")
    assert getattr(load_network(str(ok)), key) == most
    bad = tmp_path / "bad.toml"
    bad.write_text(base + f"{key} = {most + 1}\n")
    with pytest.raises(ConfigError, match=f"{key} = {most + 1} is above {most} .*: lower it"):
        load_network(str(bad))


def test_deploy_writes_a_record_and_does_not_deploy_twice(tmp_path: Path) -> None:
    chain = make_tester_chain(accounts=2)
    deployer = _funded(chain.w3, chain.accounts, DEV_KEYS[0])
    keeper = Account.from_key(DEV_KEYS[1])
    net = load_network("local")
    first = deploy_network(net, deployer, w3=chain.w3, out_dir=tmp_path,
                           keeper=KeeperIdentity.of_account(keeper))
    assert first.deployed and first.path == tmp_path / str(net.chain_id) / "market.json"
    data = json.loads(first.path.read_text())
    assert data["keeper"]["address"] == keeper.address
    assert data["keeper"]["public_key"] == "0x" + keeper._key_obj.public_key.to_bytes().hex()
    assert data["abi_hash"] == abi_hash(load_artifact("ProverMarket").abi)
    assert data["parameters"]["mechanism"] == "proofphi"
    assert data["block"] <= chain.w3.eth.block_number
    market = Market(chain.w3, data["market"])
    # where clients start reading logs, which node was used, and the chain's genesis (the file
    # says 0: the deployment block's time, which the record must hold, not 0)
    assert data["start_block"] == data["block"] == chain.w3.eth.get_transaction_receipt(
        data["transactions"]["market"])["blockNumber"]
    assert data["rpc"] == net.rpc
    assert net.genesis == 0
    assert data["parameters"]["genesis"] == market.params.genesis == chain.w3.eth.get_block(
        data["block"])["timestamp"] > 0
    assert market.keeper() == keeper.address
    assert market.params.commit_period == net.commit_period
    assert record_is_live(chain.w3, first.record)

    block = chain.w3.eth.block_number
    second = deploy_network(net, deployer, w3=chain.w3, out_dir=tmp_path,
                            keeper=KeeperIdentity.of_account(keeper))
    assert not second.deployed and second.record == first.record
    assert chain.w3.eth.block_number == block, "nothing was sent"

    with pytest.raises(ConfigError, match="--force"):
        deploy_network(net, deployer, w3=chain.w3, out_dir=tmp_path)  # another keeper
    forced = deploy_network(net, deployer, w3=chain.w3, out_dir=tmp_path, force=True)
    assert forced.deployed and forced.record.market != first.record.market


def test_deploy_again_when_the_recorded_code_is_not_on_this_chain(tmp_path: Path) -> None:
    net = load_network("local")
    a = make_tester_chain(accounts=2)
    first = deploy_network(net, _funded(a.w3, a.accounts, DEV_KEYS[0]), w3=a.w3, out_dir=tmp_path)
    b = make_tester_chain(accounts=2)  # "a fresh node"
    again = deploy_network(net, _funded(b.w3, b.accounts, DEV_KEYS[2]), w3=b.w3,
                           out_dir=tmp_path)
    assert again.deployed, "the recorded market has no code on the new chain"
    assert json.loads(again.path.read_text())["transactions"] != first.record.transactions


def test_deploy_refuses_wrong_chain_and_unfunded_key(tmp_path: Path) -> None:
    chain = make_tester_chain(accounts=1)
    net = load_network("anvil")  # chain 31337, the tester is not
    with pytest.raises(ConfigError, match="expects 31337"):
        deploy_network(net, Account.from_key(DEV_KEYS[0]), w3=chain.w3, out_dir=tmp_path)
    with pytest.raises(ConfigError, match="fund it"):
        deploy_network(load_network("local"), Account.create(), w3=chain.w3, out_dir=tmp_path)


def test_owner_and_keeper_must_differ_outside_development_networks(tmp_path: Path) -> None:
    """The owner collects DARA's margin: a deployer that is also the keeper is refused unless the
    network file or the flag says it is a development chain (the public example must not)."""
    assert load_network("local").allow_same_owner_and_keeper
    assert load_network("anvil").allow_same_owner_and_keeper
    assert not load_network("sepolia-example").allow_same_owner_and_keeper
    chain = make_tester_chain(accounts=2)
    deployer = _funded(chain.w3, chain.accounts, DEV_KEYS[0])
    strict = replace(load_network("local"), allow_same_owner_and_keeper=False)
    with pytest.raises(ConfigError, match="own the market and also be its keeper"):
        deploy_network(strict, deployer, w3=chain.w3, out_dir=tmp_path)
    block = chain.w3.eth.block_number
    with pytest.raises(ConfigError, match="--allow-same-owner-and-keeper"):
        deploy_network(strict, deployer, w3=chain.w3, out_dir=tmp_path,
                       keeper=KeeperIdentity.of_account(deployer))
    assert chain.w3.eth.block_number == block, "refused before sending anything"
    allowed = deploy_network(strict, deployer, w3=chain.w3, out_dir=tmp_path,
                             allow_same_owner_and_keeper=True)
    assert Market(chain.w3, allowed.record.market).keeper() == deployer.address
    separate = deploy_network(strict, deployer, w3=chain.w3, out_dir=tmp_path / "b",
                              keeper=KeeperIdentity.of_account(Account.from_key(DEV_KEYS[1])))
    assert separate.deployed


def test_keeper_identity_from_flags_or_keystore(tmp_path: Path) -> None:
    acct = Account.from_key(DEV_KEYS[3])
    pub = "0x" + acct._key_obj.public_key.to_bytes().hex()
    assert keeper_identity(address=acct.address, public_key=pub) == \
        KeeperIdentity.of_account(acct)
    with pytest.raises(ConfigError, match="belongs to"):
        keeper_identity(address=Account.from_key(DEV_KEYS[4]).address, public_key=pub)
    with pytest.raises(ConfigError, match="needs --keeper-public-key"):
        keeper_identity(address=acct.address)
    with pytest.raises(ConfigError, match="64-byte"):
        keeper_identity(address=acct.address, public_key="0x1234")
    ks = str(tmp_path / "keeper.json")
    write_keystore(ks, bytes.fromhex(DEV_KEYS[3][2:]), "pw")
    got = keeper_identity(keystore=ks, env={"BRIDGE_KEEPER_KEYSTORE_PASSWORD": "pw"})
    assert got == KeeperIdentity.of_account(acct)
    assert keeper_identity() is None


def test_bad_network_files_name_the_setting(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('rpc = "http://x"\nchain_id = 1\nmechanism = "vickrey"\n')
    with pytest.raises(ConfigError, match="mechanism"):
        load_network(str(bad))
    bad.write_text('rpc = "http://x"\nchain_id = 1\ncommit_perod = 5\n')
    with pytest.raises(ConfigError, match="commit_perod"):
        load_network(str(bad))
    bad.write_text('rpc = "http://x"\nchain_id = 1\n[verifier]\nkind = "attestation"\n')
    with pytest.raises(ConfigError, match="checker"):
        load_network(str(bad))
    with pytest.raises(ConfigError, match="deploy/networks"):
        load_network("no-such-network")


def test_a_groth16_network_deploys_a_registry_with_the_manifest_circuits(tmp_path: Path) -> None:
    from bridge.client.tasks import registered

    chain = make_tester_chain(accounts=2)
    deployer = _funded(chain.w3, chain.accounts, DEV_KEYS[0])
    text = (Path(__file__).resolve().parents[2] / "deploy/networks/local.toml").read_text()
    path = tmp_path / "g16.toml"
    path.write_text(text.replace('kind = "pow"', 'kind = "groth16"')
                    .replace('mechanism = "proofphi"', 'mechanism = "dara"'))
    net = load_network(str(path))
    assert net.verifier.kind == "groth16"
    block = chain.w3.eth.block_number
    with pytest.raises(ConfigError, match="local test ceremony"):
        deploy_network(net, deployer, w3=chain.w3, out_dir=tmp_path)
    assert chain.w3.eth.block_number == block, "refused before sending anything"
    path.write_text(path.read_text().replace("[verifier]",
                                             "allow_test_circuit_keys = true\n\n[verifier]"))
    net = load_network(str(path))
    result = deploy_network(net, deployer, w3=chain.w3, out_dir=tmp_path)
    market = Market(chain.w3, result.record.market)
    assert market.circuit_tasks
    circuits = registered(market)
    assert [(c.name, c.units, c.inputs, c.outputs) for c in circuits.values()] == [
        ("poseidon-chain-16", 1, 1, 1), ("merkle-root-8", 1, 8, 1)]


def test_a_groth16_registry_network_deploys_one_generic_verifier_and_accepts_its_circuits(
        tmp_path: Path) -> None:
    """``kind = "groth16-registry"``: one Groth16Registry, the named manifest circuits registered
    in it (keys as data), the market accepting exactly those; test keys refused on a real network
    before anything is sent."""
    from bridge.chain.groth16 import generic_registry
    from bridge.client.tasks import registered

    chain = make_tester_chain(accounts=2)
    deployer = _funded(chain.w3, chain.accounts, DEV_KEYS[0])
    text = (Path(__file__).resolve().parents[2] / "deploy/networks/local.toml").read_text()
    path = tmp_path / "g16r.toml"
    path.write_text(text.replace('kind = "pow"', 'kind = "groth16-registry"\ncircuits = '
                                 '["merkle-root-8"]')
                    .replace('mechanism = "proofphi"', 'mechanism = "dara"'))
    net = load_network(str(path))
    assert (net.verifier.kind, net.verifier.circuits) == ("groth16-registry", ("merkle-root-8",))
    block = chain.w3.eth.block_number
    with pytest.raises(ConfigError, match="merkle-root-8's committed key comes from a local test "
                                          "ceremony"):
        deploy_network(net, deployer, w3=chain.w3, out_dir=tmp_path)
    assert chain.w3.eth.block_number == block, "refused before sending anything"
    path.write_text(path.read_text().replace("[verifier]",
                                             "allow_test_circuit_keys = true\n\n[verifier]"))
    result = deploy_network(load_network(str(path)), deployer, w3=chain.w3, out_dir=tmp_path)
    market = Market(chain.w3, result.record.market)
    assert market.circuit_tasks
    assert generic_registry(chain.w3, result.record.verifier) is not None
    assert [(c.id, c.name, c.inputs, c.outputs, c.spec is not None)
            for c in registered(market).values()] == [(1, "merkle-root-8", 8, 1, True)]
    bad = tmp_path / "bad.toml"
    bad.write_text(path.read_text().replace('["merkle-root-8"]', '["sha-9000"]'))
    with pytest.raises(ConfigError, match=r"names 'sha-9000', which is not in zk/circuits\.json"):
        deploy_network(load_network(str(bad)), deployer, w3=chain.w3, out_dir=tmp_path / "b")
