"""The proving backends and proof formats, without a chain: snarkjs through node for real."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from bridge.client.tasks import read_inputs
from bridge.errors import InvalidInput
from bridge.proving import (
    CommandBackend,
    Groth16Backend,
    PowBackend,
    ProvingError,
    circuit,
    decode_proof,
    encode_proof,
    to_snarkjs,
    verify_local,
)

PROVER = "0x" + "ab" * 20


def test_a_groth16_proof_round_trips_through_the_chain_format_and_snarkjs() -> None:
    c = circuit("merkle-root-8")
    leaves = list(range(1, 9))
    assert c.witness_input(leaves, PROVER) == {
        "leaves": [str(v) for v in leaves], "prover": str(int(PROVER, 16))}
    outputs, proof = Groth16Backend(c).prove_files(PROVER, leaves)
    data = encode_proof(leaves, outputs, proof)
    assert len(data) == (8 + 1 + 8) * 32
    assert decode_proof(data, 8, 1)[:2] == (leaves, outputs)
    proof_json, public = to_snarkjs(data, PROVER, 8, 1)
    assert public == [str(outputs[0]), *map(str, leaves), str(int(PROVER, 16))]
    assert proof_json["pi_a"][:2] == proof["pi_a"][:2] and proof_json["pi_b"][:2] == \
        proof["pi_b"][:2]
    assert verify_local(c, proof_json, public)
    other = [public[0], *public[1:-1], str(int(PROVER, 16) + 1)]  # another prover
    assert not verify_local(c, proof_json, other)
    with pytest.raises(ProvingError, match="takes 8 inputs"):
        Groth16Backend(c).prove(b"", PROVER, leaves[:7])
    with pytest.raises(ProvingError, match="a proof of this circuit is"):
        decode_proof(data[:-32], 8, 1)


def test_the_command_backend_runs_an_external_prover(tmp_path: Path) -> None:
    script = tmp_path / "prove.py"
    script.write_text("import sys; open(sys.argv[4], 'wb').write("
                      "(sys.argv[1] + '|' + sys.argv[2] + '|' + sys.argv[3]).encode())")
    backend = CommandBackend(f"{sys.executable} {script} {{task}} {{prover}} {{inputs}} {{out}}")
    assert backend.prove(b"\x01" * 32, PROVER, [5, 6]) == \
        f"0x{'01' * 32}|{PROVER}|5,6".encode()
    failing = CommandBackend(f"{sys.executable} -c \"import sys; sys.exit(3)\" {{out}}")
    with pytest.raises(ProvingError, match="failed \\(3\\)"):
        failing.prove(b"\x01" * 32, PROVER, [])


def test_the_pow_backend_finds_a_nonce_the_verifier_accepts() -> None:
    from eth_abi import encode as abi_encode
    from eth_utils import keccak

    nonce = PowBackend(8).prove(b"\x02" * 32, PROVER)
    digest = keccak(abi_encode(["bytes32", "address"], [b"\x02" * 32, PROVER]) + nonce)
    assert digest[0] == 0


def test_task_inputs_are_read_from_json_or_a_list(tmp_path: Path) -> None:
    f = tmp_path / "in.json"
    f.write_text(json.dumps({"leaves": [1, 2, 3], "x": "0x10"}))
    assert read_inputs(str(f)) == [1, 2, 3, 16]
    f.write_text(json.dumps([4, "5"]))
    assert read_inputs(str(f)) == [4, 5]
    assert read_inputs("7, 8,0x9") == [7, 8, 9]
    with pytest.raises(InvalidInput, match="must be an integer"):
        read_inputs("7,x")
    f.write_text("{not json")
    with pytest.raises(InvalidInput, match="not valid JSON"):
        read_inputs(str(f))
