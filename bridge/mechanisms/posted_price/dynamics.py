"""Best-response dynamics of perfectly informed market makers (small markets, exact enumeration).

Makers know every value and cost. They move in turn (round robin); a maker's best response to
the current book is the proposal, appended after everything already processed, that raises its
own payoff the most — payoff being the margins of its proposals in the book, so displacing its
own part counts against it. It moves only for a gain of at least one unit (one price tick).
The dynamics have converged when every maker in a row passes; they have cycled when a state (book
and maker to move) repeats, for then they repeat forever.

For each valid allocation ``α`` the best proposal is computed exactly. Every participant not
shared with the parts ``α`` conflicts with is offered its full value or cost (``π = v``,
``ϕ = c``); a shared request gets ``min(v, π_b − 1)``, a shared node ``max(c, ϕ_b + 1)`` (strictly
better, by one tick). Against tolerances (``Mode.TOLERANCES``) the challenger must then also beat
the incumbent's slack, ``Δ ≥ ∇ + 1``: whatever ``Δ`` is missing is added to the reward of the
lowest-id shared node, or, if no node is shared, taken off the shared requests' prices in id
order (not below 0). Tolerances are posted truthfully (``π̄ = v``, ``ϕ̲ = c``): the strongest
defence that never prices a participant out. Proposals are individually rational by
construction, so nobody rejects and ``γ`` is never paid here. Each chosen proposal is then run
through :func:`~bridge.mechanisms.posted_price.improve`, and a verdict other than the intended
one raises :class:`~bridge.errors.ClearingError`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bridge.errors import ClearingError, InvalidInput
from bridge.mechanisms.posted_price.improvement import Book, Mode, Step, Verdict, improve
from bridge.mechanisms.posted_price.outcome import optimum, valid_allocations, welfare
from bridge.mechanisms.posted_price.types import Market, Private, Proposal

__all__ = ["Candidate", "Dynamics", "best_response", "candidates", "iterate_best_responses"]


@dataclass(frozen=True)
class Candidate:
    """A non-empty valid allocation with its participants and welfare, precomputed once."""

    allocation: dict[int, frozenset[int]]
    requests: frozenset[int]
    nodes: frozenset[int]
    welfare: int


def candidates(market: Market, private: Private) -> list[Candidate]:
    """Every non-empty valid allocation, in :func:`valid_allocations` order."""
    out = []
    for alloc in valid_allocations(market):
        if alloc:
            nodes = frozenset(n for ns in alloc.values() for n in ns)
            out.append(Candidate(alloc, frozenset(alloc), nodes, welfare(private, alloc)))
    return out


def _offer(
    c: Candidate, private: Private, book: Book, maker: str, mode: Mode
) -> tuple[int, Proposal, Verdict] | None:
    """The best proposal on allocation ``c`` for ``maker``: (gain, proposal, intended verdict)."""
    hit = [
        part
        for part in book.parts
        if not (part.requests.isdisjoint(c.requests) and part.nodes.isdisjoint(c.nodes))
    ]
    prices = {t: private.values[t] for t in c.requests}
    rewards = {n: private.costs[n] for n in c.nodes}
    verdict = Verdict.FIRST if not book.parts else Verdict.MERGED
    lost = 0
    if hit:
        verdict = Verdict.REPLACED
        cur_price = {t: x for part in hit for t, x in part.prices.items()}
        cur_reward = {n: x for part in hit for n, x in part.rewards.items()}
        ct = sorted(c.requests & cur_price.keys())
        cn = sorted(c.nodes & cur_reward.keys())
        for t in ct:
            prices[t] = min(prices[t], cur_price[t] - 1)
            if prices[t] < 0:
                return None
        for n in cn:
            rewards[n] = max(rewards[n], cur_reward[n] + 1)
        if mode is Mode.TOLERANCES:
            delta = sum(cur_price[t] - prices[t] for t in ct) + sum(
                rewards[n] - cur_reward[n] for n in cn
            )
            slack = sum(
                part.max_prices[t] - part.prices[t]
                for part in hit
                for t in part.requests
                if t not in c.requests
            ) + sum(
                part.rewards[n] - part.min_rewards[n]
                for part in hit
                for n in part.nodes
                if n not in c.nodes
            )
            need = max(0, slack + 1 - delta)
            if cn:
                rewards[cn[0]] += need
            else:
                for t in ct:
                    take = min(need, prices[t])
                    prices[t] -= take
                    need -= take
                if need:
                    return None
        lost = sum(p.margin for part in hit for p in part.proposals if p.maker == maker)
    margin = sum(prices.values()) - sum(rewards.values())
    if margin < 0:
        return None
    if mode is Mode.TOLERANCES:
        tol_p = {t: private.values[t] for t in c.requests}
        tol_r = {n: private.costs[n] for n in c.nodes}
    else:
        tol_p, tol_r = prices, rewards
    proposal = Proposal.make(
        c.allocation, prices, rewards, max_prices=tol_p, min_rewards=tol_r, maker=maker
    )
    return margin - lost, proposal, verdict


def best_response(
    market: Market,
    private: Private,
    book: Book,
    maker: str,
    *,
    mode: Mode = Mode.TOLERANCES,
    allocations: Sequence[Candidate] | None = None,
) -> Proposal | None:
    """``maker``'s most profitable proposal against ``book`` (gain >= 1), or ``None`` to pass.

    Ties go to the higher-welfare allocation, then to the first in enumeration order.
    ``Mode.MIN_MARGIN`` is not supported (its best response is to undercut by one tick).
    """
    if mode is Mode.MIN_MARGIN:
        raise InvalidInput(
            "best_response: mode MIN_MARGIN is not simulated; use TOLERANCES or PARETO"
        )
    cands = candidates(market, private) if allocations is None else allocations
    best: tuple[int, int, Proposal, Verdict] | None = None
    for c in cands:
        got = _offer(c, private, book, maker, mode)
        if got is not None and got[0] >= 1 and (best is None or (got[0], c.welfare) > best[:2]):
            best = (got[0], c.welfare, got[1], got[2])
    if best is None:
        return None
    _, _, proposal, verdict = best
    _, step = improve(market, book, proposal, mode=mode)
    if step.verdict is not verdict:
        raise ClearingError(
            f"best response of {maker!r} was meant to be {verdict.value}, the mechanism says "
            f"{step.verdict.value} ({step.violation})"
        )
    return proposal


@dataclass(frozen=True)
class Dynamics:
    """One run of best responses: ``steps`` moves until it ``converged`` (all passed), ``cycled``
    (a state repeated), or hit the step limit (neither). ``welfare``, ``margin`` and
    ``participants`` describe the final book; ``optimum`` is the maximum welfare."""

    converged: bool
    cycled: bool
    steps: int
    book: Book
    welfare: int
    optimum: int
    margin: int
    participants: int
    history: tuple[Step, ...]

    @property
    def reached_optimum(self) -> bool:
        """Converged on a welfare-maximizing allocation with a margin of at most one tick per
        participant (a strict improvement must give each shared participant at least one tick,
        so this is as close to zero as undercutting can push it)."""
        return self.converged and self.welfare == self.optimum and self.margin <= self.participants


def _state(book: Book, turn: int) -> tuple[object, ...]:
    return (
        turn,
        tuple(
            (
                tuple(
                    (p.maker, tuple(sorted(p.allocation.items())), p.margin) for p in part.proposals
                ),
                tuple(sorted(part.prices.items())),
                tuple(sorted(part.rewards.items())),
            )
            for part in book.parts
        ),
    )


def iterate_best_responses(
    market: Market,
    private: Private,
    makers: Sequence[str] = ("A", "B"),
    *,
    mode: Mode = Mode.TOLERANCES,
    start: Proposal | None = None,
    max_steps: int = 10_000,
) -> Dynamics:
    """Run best responses from ``start`` (by ``makers[0]``; none: ``makers[0]`` best-responds to
    an empty book, i.e. posts the monopoly proposal) until convergence, a cycle or ``max_steps``."""
    if len(makers) < 1 or len(set(makers)) != len(makers):
        raise InvalidInput(f"makers={list(makers)!r}; give one or more distinct maker names")
    cands = candidates(market, private)
    book, history, turn = Book(), [], 0
    if start is not None:
        book, step = improve(market, book, start, mode=mode)
        if step.verdict is not Verdict.FIRST:
            raise InvalidInput(f"start proposal refused: {step.violation}")
        history.append(step)
        turn = 1 % len(makers)
    seen = {_state(book, turn)}
    steps = passes = 0
    converged = cycled = False
    while steps < max_steps:
        proposal = best_response(market, private, book, makers[turn], mode=mode, allocations=cands)
        turn = (turn + 1) % len(makers)
        if proposal is None:
            passes += 1
            if passes == len(makers):
                converged = True
                break
            continue
        book, step = improve(market, book, proposal, mode=mode)
        history.append(step)
        steps += 1
        passes = 0
        key = _state(book, turn)
        if key in seen:
            cycled = True
            break
        seen.add(key)
    participants = len(book.prices) + len(book.rewards)
    return Dynamics(
        converged,
        cycled,
        steps,
        book,
        welfare(private, book.allocation),
        optimum(market, private)[0],
        book.margin,
        participants,
        tuple(history),
    )
