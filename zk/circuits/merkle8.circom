pragma circom 2.1.6;

include "circomlib/circuits/poseidon.circom";

// The Poseidon Merkle root of 8 leaves (binary tree, Poseidon(2) per node). Total: every 8
// field elements have exactly one root (computed, never asserted). `prover` is bound into the
// proof as in the hash chain.
template MerkleRoot8() {
    signal input leaves[8];
    signal input prover;
    signal output root;

    component h[7];
    signal level1[4];
    signal level2[2];
    for (var i = 0; i < 4; i++) {
        h[i] = Poseidon(2);
        h[i].inputs[0] <== leaves[2 * i];
        h[i].inputs[1] <== leaves[2 * i + 1];
        level1[i] <== h[i].out;
    }
    for (var i = 0; i < 2; i++) {
        h[4 + i] = Poseidon(2);
        h[4 + i].inputs[0] <== level1[2 * i];
        h[4 + i].inputs[1] <== level1[2 * i + 1];
        level2[i] <== h[4 + i].out;
    }
    h[6] = Poseidon(2);
    h[6].inputs[0] <== level2[0];
    h[6].inputs[1] <== level2[1];
    root <== h[6].out;

    signal proverSquared;
    proverSquared <== prover * prover;
}

component main {public [leaves, prover]} = MerkleRoot8();
