"""When the prover agent sends its proofs: in batches per round (``Groth16Registry.submitProofs``
checks n proofs with n + 3 pairings instead of 4n), without ever risking a deadline.

A round's ready proofs wait while other jobs of the same round are still being proven, so they
can go together; they go at once when the earliest deadline among them is within twice the
safety margin, or when nothing of the round is left to prove. Pure: the agent calls it each tick.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Ready:
    """A proven job not yet submitted."""

    round: int
    job_index: int
    deadline: int


def batches(ready: Sequence[Ready], proving_rounds: set[int], now: int, margin: float
            ) -> list[list[Ready]]:
    """The batches to send now, one per round, each earliest deadline first; a round left out
    waits for the rest of its jobs (see the module docstring)."""
    by_round: dict[int, list[Ready]] = {}
    for r in ready:
        by_round.setdefault(r.round, []).append(r)
    out = []
    for rnd in sorted(by_round):
        group = sorted(by_round[rnd], key=lambda r: (r.deadline, r.job_index))
        slack = group[0].deadline - now
        if rnd in proving_rounds and slack > 2 * margin:
            continue
        out.append(group)
    return out
