"""Many witnesses of one circuit in one node process (``bridge.zkstore.check_witnesses``): the
outcome of each input in order, limits stated per input, and the same answers as one process per
input. Real snarkjs/circom runtime on the prebuilt range32 circuit (x must fit 32 bits)."""

from __future__ import annotations

from pathlib import Path

from bridge.zkstore import Limits, WitnessOutcome, check_witnesses, compute_witness

WASM = Path(__file__).resolve().parents[2] / "examples" / "circuits" / "range32" / "range32.wasm"
C, R = WitnessOutcome.COMPUTED, WitnessOutcome.REJECTED


def x(v: int) -> dict[str, str]:
    return {"x": str(v), "prover": "1"}


def test_each_input_gets_its_own_outcome_in_order(tmp_path: Path) -> None:
    xs = [0, 2**32 - 1, 2**32, 5, 2**40, 2**32 + 1, 7]
    got = check_witnesses(WASM, [x(v) for v in xs])
    assert [w.outcome for w in got] == [C, C, R, C, R, R, C]
    assert got[2].detail.startswith("Assert Failed. Error in template Num2Bits")
    # the same as one process per input (what `snarkjs wtns calculate` says)
    assert [compute_witness(WASM, x(v), tmp_path / f"{v}.wtns").outcome
            for v in (2**32 - 1, 2**32)] == [C, R]


def test_an_input_the_circuit_does_not_name_is_rejected_and_the_rest_go_on() -> None:
    got = check_witnesses(WASM, [x(1), {"y": "1", "prover": "1"}, x(2)])
    assert [w.outcome for w in got] == [C, R, C]
    assert "y" in got[1].detail


def test_over_the_time_limit_is_stated_for_each_input() -> None:
    got = check_witnesses(WASM, [x(1), x(2)], Limits(witness_seconds=0.001))
    assert [w.outcome for w in got] == [WitnessOutcome.TIME_LIMIT] * 2
    assert got[0].detail == "the witness took over 0.001 s"


def test_over_the_memory_limit_is_a_stated_outcome_not_a_hang() -> None:
    """Starved of memory, node either dies (memory_limit) or stalls retrying its allocations
    (then the time limit ends it): either way an outcome within the limits."""
    [w] = check_witnesses(WASM, [x(1)], Limits(witness_memory=16 << 20, witness_seconds=3))
    assert (w.outcome, w.detail) in [(WitnessOutcome.MEMORY_LIMIT, "the witness needs over 16 MiB"),
                                     (WitnessOutcome.TIME_LIMIT, "the witness took over 3 s")]
    [w] = check_witnesses(WASM, [x(1)], Limits(witness_memory=256 << 20, witness_seconds=30))
    assert w.outcome is C  # and with room it computes


def test_no_inputs_start_no_process() -> None:
    assert check_witnesses(Path("/nonexistent.wasm"), []) == []
