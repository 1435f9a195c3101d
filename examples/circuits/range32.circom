pragma circom 2.1.6;

include "circomlib/circuits/bitify.circom";

// A range proof: `x` fits in 32 bits, and `ones` is how many of its bits are set. Not total:
// Num2Bits(32) asserts x = Σ bits·2^i, so for x ≥ 2^32 no witness exists, and a market's keeper
// marks such a task `unprovable` before it trades. `prover` is bound into the proof (squared so
// the compiler keeps it), as every market circuit's last public input.
template Range32() {
    signal input x;
    signal input prover;
    signal output ones;

    component bits = Num2Bits(32);
    bits.in <== x;
    var sum = 0;
    for (var i = 0; i < 32; i++) {
        sum += bits.out[i];
    }
    ones <== sum;

    signal proverSquared;
    proverSquared <== prover * prover;
}

component main {public [x, prover]} = Range32();
