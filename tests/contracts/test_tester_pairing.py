"""The eth-tester chain remembers ecPairing results per input (``bridge.chain.tester``): the
precompile must still answer exactly as py-evm does, for a true, a false and a malformed input,
the first time and every time after."""

from __future__ import annotations

from py_ecc import optimized_bn128 as bn

from bridge.chain.tester import _pairing_of, make_tester_chain

PAIRING = "0x" + "00" * 19 + "08"


def _g1(p: tuple) -> bytes:
    x, y = bn.normalize(p)
    return int(x).to_bytes(32, "big") + int(y).to_bytes(32, "big")


def _g2(q: tuple) -> bytes:
    x, y = bn.normalize(q)
    return b"".join(int(c).to_bytes(32, "big") for c in (x.coeffs[1], x.coeffs[0],
                                                          y.coeffs[1], y.coeffs[0]))


def test_a_remembered_pairing_answers_as_py_evm_true_false_and_malformed() -> None:
    chain = make_tester_chain(accounts=1)
    p, q = bn.multiply(bn.G1, 5), bn.multiply(bn.G2, 7)
    balanced = _g1(p) + _g2(q) + _g1(bn.neg(p)) + _g2(q)  # e(P,Q)·e(-P,Q) = 1
    unbalanced = _g1(p) + _g2(q) + _g1(p) + _g2(q)
    off_curve = _g1(p)[:63] + bytes([_g1(p)[63] ^ 1]) + _g2(q)
    one, zero = (1).to_bytes(32, "big"), bytes(32)
    before = _pairing_of.cache_info()
    for _ in range(3):
        assert chain.w3.eth.call({"to": PAIRING, "data": "0x" + balanced.hex()}) == one
        assert chain.w3.eth.call({"to": PAIRING, "data": "0x" + unbalanced.hex()}) == zero
        try:
            chain.w3.eth.call({"to": PAIRING, "data": "0x" + off_curve.hex(), "gas": 200_000})
        except Exception:  # the precompile fails the call: web3 raises
            pass
        else:
            raise AssertionError("a point off the curve was accepted")
    after = _pairing_of.cache_info()
    assert after.currsize - before.currsize == 2  # the two valid inputs, computed once each
    assert after.hits - before.hits == 4  # ... and answered from memory twice each
