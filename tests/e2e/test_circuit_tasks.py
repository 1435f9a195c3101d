"""A requester names a circuit task from the CLI: the inputs are published, the size is the
circuit's, and mistakes are refused in one line before anything is sent."""

from __future__ import annotations

import json
from pathlib import Path

from bridge.proving import SNARK_SCALAR_FIELD, task_word
from tests.e2e.conftest import WorldFactory, cli


def test_a_circuit_bid_from_the_cli(make_world: WorldFactory, tmp_path: Path) -> None:
    world = make_world("dara", provers=2, requesters=1, seed=3, miss=False, proofs="groth16")
    q = world.requesters[0]
    key = bytes(q.account.key)
    world.next_round()
    leaves = tmp_path / "leaves.json"
    leaves.write_text(json.dumps({"leaves": list(range(10, 18))}))
    salts = str(tmp_path / "salts.json")
    out = cli(world, "requester", "bid", "--circuit", "merkle-root-8", "--input", str(leaves),
              "--value", "100gwei", "--escrow", "100gwei", "--salts", salts, "--json", key=key,
              from_block=False)
    assert out.exit_code == 0, out.output
    rec = json.loads(out.output)
    assert rec["quantity"] == 1 and rec["task"] == "0x" + task_word(2, 1, range(10, 18)).hex()
    log = world.market.contract.events.BidCommitted().get_logs(from_block=world.deploy_block)[-1]
    assert list(log["args"]["inputs"]) == list(range(10, 18))
    out = cli(world, "requester", "bid", "--circuit", "poseidon-chain-16", "--input", "7",
              "--value", "200gwei", "--escrow", "200gwei", "--salts", salts, "--json", key=key,
              from_block=False)
    assert out.exit_code == 0 and json.loads(out.output)["quantity"] == 1  # the circuit's unit
    refusals = [
        (["--circuit", "merkle-root-8", "--input", "1,2,3"], "takes 8 public inputs, got 3"),
        (["--circuit", "poseidon-chain-16", "--input", str(SNARK_SCALAR_FIELD)],
         "is not a field element"),
        (["--circuit", "poseidon-chain-16", "--input", "7", "--size", "2"],
         "tasks are 1 unit: omit --size or pass 1"),
        (["--circuit", "nope", "--input", "7"], "no circuit 'nope' in this market"),
        (["--task", "hello", "--size", "1"], "this market trades circuit tasks"),
    ]
    for args, message in refusals:
        out = cli(world, "requester", "bid", *args, "--value", "1gwei", "--escrow", "1gwei",
                  "--salts", salts, key=key, from_block=False)
        assert out.exit_code == 1 and message in out.output, (args, out.output)
