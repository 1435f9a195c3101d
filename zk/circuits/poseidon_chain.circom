pragma circom 2.1.6;

include "circomlib/circuits/poseidon.circom";

// A Poseidon hash chain: out = H(H(...H(seed)...)) with N applications of Poseidon(1).
// Total by construction: every field element `seed` has exactly one witness (the output is
// computed, never asserted). `prover` is a public input bound into the proof (squared so the
// compiler keeps it), so a proof is worthless to anyone but the prover it names.
template PoseidonChain(N) {
    signal input seed;
    signal input prover;
    signal output out;

    signal chain[N + 1];
    component h[N];
    chain[0] <== seed;
    for (var i = 0; i < N; i++) {
        h[i] = Poseidon(1);
        h[i].inputs[0] <== chain[i];
        chain[i + 1] <== h[i].out;
    }
    out <== chain[N];

    signal proverSquared;
    proverSquared <== prover * prover;
}

component main {public [seed, prover]} = PoseidonChain(16);
