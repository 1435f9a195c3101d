#!/usr/bin/env bash
# Regenerate the committed zero-knowledge artifacts of the registered circuits:
#   zk/build/<circuit>_js/<circuit>.wasm   witness generator (what a prover runs)
#   zk/build/<circuit>.zkey                final proving key
#   zk/build/<circuit>_vk.json             verification key (what a requester checks against)
#   contracts/verifiers/groth16/<Name>Verifier.sol   snarkjs's Solidity verifier
#
# Never run in CI. The powers-of-tau file (2^13 constraints, ~2 minutes here) is generated when
# missing and not committed. THIS IS A LOCAL, SINGLE-PARTY CEREMONY: whoever runs it could forge
# proofs for these keys. It exists for testing. A production deployment downloads a public
# ceremony's file instead (e.g. the Polygon Hermez / Perpetual Powers of Tau
# `powersOfTau28_hez_final_13.ptau`, or the Ethereum KZG/PPoT transcripts converted with snarkjs),
# runs its own multi-party phase-2 contributions per circuit (`snarkjs zkey contribute` by several
# independent parties, `snarkjs zkey beacon` at the end), and publishes the transcript.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=node_modules/.bin
POWER=13
PTAU=zk/ptau/pot${POWER}_final.ptau
mkdir -p zk/ptau zk/build contracts/verifiers/groth16

if [ ! -f "$PTAU" ]; then
  "$BIN/snarkjs" powersoftau new bn128 $POWER zk/ptau/pot${POWER}_0000.ptau
  "$BIN/snarkjs" powersoftau contribute zk/ptau/pot${POWER}_0000.ptau zk/ptau/pot${POWER}_0001.ptau \
    --name="bridge local test ceremony" -e="bridge-local-test-entropy-not-secret"
  "$BIN/snarkjs" powersoftau prepare phase2 zk/ptau/pot${POWER}_0001.ptau "$PTAU"
fi

build() {  # circuit file stem, Solidity contract name
  local c=$1 name=$2
  "$BIN/circom2" zk/circuits/$c.circom -l node_modules --r1cs --wasm -o zk/build
  "$BIN/snarkjs" groth16 setup zk/build/$c.r1cs "$PTAU" zk/build/${c}_0000.zkey
  "$BIN/snarkjs" zkey contribute zk/build/${c}_0000.zkey zk/build/$c.zkey \
    --name="bridge local test" -e="bridge-local-not-secret-$c"
  "$BIN/snarkjs" zkey export verificationkey zk/build/$c.zkey zk/build/${c}_vk.json
  "$BIN/snarkjs" zkey export solidityverifier zk/build/$c.zkey \
    contracts/verifiers/groth16/${name}Verifier.sol
  # one contract name per circuit, and the repository's pragma
  sed -i -e "s/contract Groth16Verifier/contract ${name}Verifier/" \
    -e "s/pragma solidity .*;/pragma solidity ^0.8.28;/" \
    contracts/verifiers/groth16/${name}Verifier.sol
  rm -f zk/build/${c}_0000.zkey zk/build/$c.r1cs zk/build/$c.sym
}

build poseidon_chain PoseidonChain16
build merkle8 MerkleRoot8
echo "regenerated; now run: .venv/bin/python -m bridge.chain.compile --write"
