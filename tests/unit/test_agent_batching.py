"""The prover agent's batching rule (``bridge.agents.batching``): boundaries exact."""

from __future__ import annotations

from bridge.agents.batching import MAX_BATCH, Ready, batches


def test_a_round_still_proving_waits_until_its_slack_is_twice_the_margin() -> None:
    ready = [Ready(3, 1, 100), Ready(3, 0, 120)]
    assert batches(ready, {3}, now=100 - 11, margin=5) == []  # slack 11 > 10: wait
    assert batches(ready, {3}, now=100 - 10, margin=5) == [[Ready(3, 1, 100), Ready(3, 0, 120)]]
    assert batches(ready, {3}, now=100 - 9, margin=5) == [[Ready(3, 1, 100), Ready(3, 0, 120)]]


def test_a_round_with_nothing_left_to_prove_goes_at_once_whatever_the_slack() -> None:
    ready = [Ready(3, 0, 10_000)]
    assert batches(ready, set(), now=0, margin=5) == [[Ready(3, 0, 10_000)]]
    assert batches(ready, {4}, now=0, margin=5) == [[Ready(3, 0, 10_000)]]  # another round busy


def test_one_batch_per_round_each_earliest_deadline_first() -> None:
    ready = [Ready(5, 2, 50), Ready(4, 0, 90), Ready(5, 0, 40), Ready(4, 1, 80)]
    assert batches(ready, set(), now=0, margin=1) == [
        [Ready(4, 1, 80), Ready(4, 0, 90)], [Ready(5, 0, 40), Ready(5, 2, 50)]]
    # round 5 still proving with room: only round 4 goes
    assert batches(ready, {5}, now=0, margin=1) == [[Ready(4, 1, 80), Ready(4, 0, 90)]]


def test_nothing_ready_sends_nothing() -> None:
    assert batches([], {1}, now=0, margin=5) == []


def test_a_large_round_is_cut_into_batches_of_at_most_max_batch() -> None:
    ready = [Ready(1, k, 100 + k) for k in range(2 * MAX_BATCH + 1)]
    got = batches(ready, set(), now=0, margin=5)
    assert [len(b) for b in got] == [MAX_BATCH, MAX_BATCH, 1]
    assert [r.job_index for b in got for r in b] == list(range(2 * MAX_BATCH + 1))
    assert [len(b) for b in batches(ready[:MAX_BATCH], set(), now=0, margin=5)] == [MAX_BATCH]
