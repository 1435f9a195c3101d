"""When the prover agent sends its proofs: in batches per round (``Groth16Registry.submitProofs``
checks n proofs with n + 3 pairings instead of 4n), without ever risking a deadline.

A round's ready proofs wait while other jobs of the same round are still being proven, so they
can go together; they go at once when the earliest deadline among them is within twice the
safety margin, or when nothing of the round is left to prove. Pure: the agent calls it each tick.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

MAX_BATCH = 32
"""Most proofs in one ``submitProofs``: ≤ 32 × ~110k gas (two circuits) stays far below a
block's 2^24-gas transaction cap and 32 × ~1.3 KB of calldata below 128 KiB."""


@dataclass(frozen=True)
class Ready:
    """A proven job not yet submitted."""

    round: int
    job_index: int
    deadline: int


def batches(ready: Sequence[Ready], proving_rounds: set[int], now: int, margin: float
            ) -> list[list[Ready]]:
    """The batches to send now, per round, each earliest deadline first and at most
    :data:`MAX_BATCH` long; a round left out waits for the rest of its jobs (module docstring)."""
    by_round: dict[int, list[Ready]] = {}
    for r in ready:
        by_round.setdefault(r.round, []).append(r)
    out = []
    for rnd in sorted(by_round):
        group = sorted(by_round[rnd], key=lambda r: (r.deadline, r.job_index))
        slack = group[0].deadline - now
        if rnd in proving_rounds and slack > 2 * margin:
            continue
        out += [group[k:k + MAX_BATCH] for k in range(0, len(group), MAX_BATCH)]
    return out
