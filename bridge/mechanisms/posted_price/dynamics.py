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
lowest-id shared node or, if no node is shared, taken off the shared requests' prices, highest
price first (a request at price 0 could never be undercut again: a strict improvement needs a
lower price). Tolerances are posted truthfully (``π̄ = v``, ``ϕ̲ = c``): the strongest defence
that never prices a participant out. Proposals are individually rational by
construction, so nobody rejects and ``γ`` is never paid here. Each chosen proposal is then run
through :func:`~bridge.mechanisms.posted_price.improve`, and a verdict other than the intended
one raises :class:`~bridge.errors.ClearingError`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

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


@dataclass(frozen=True)
class _View:
    """What a challenger needs to know about a book, computed once per best response."""

    part_of_t: dict[int, int]
    part_of_n: dict[int, int]
    price: dict[int, int]
    reward: dict[int, int]
    slack_t: dict[int, int]
    slack_n: dict[int, int]
    part_slack: list[int]
    lost: list[int]

    @classmethod
    def of(cls, book: Book, maker: str) -> _View:
        part_of_t = {t: i for i, part in enumerate(book.parts) for t in part.requests}
        part_of_n = {n: i for i, part in enumerate(book.parts) for n in part.nodes}
        price, reward = book.prices, book.rewards
        slack_t = {
            t: part.max_prices[t] - part.prices[t] for part in book.parts for t in part.requests
        }
        slack_n = {
            n: part.rewards[n] - part.min_rewards[n] for part in book.parts for n in part.nodes
        }
        part_slack = [
            sum(slack_t[t] for t in part.requests) + sum(slack_n[n] for n in part.nodes)
            for part in book.parts
        ]
        lost = [sum(p.margin for p in part.proposals if p.maker == maker) for part in book.parts]
        return cls(part_of_t, part_of_n, price, reward, slack_t, slack_n, part_slack, lost)


def _lower_top(prices: dict[int, int], keys: list[int], need: int) -> None:
    """Take ``need`` off ``prices[keys]``, one unit at a time from the highest price (lowest id
    on ties), so no shared request reaches 0 (where it can never be undercut) before it must."""
    for _ in range(need):
        top = min(keys, key=lambda t: (-prices[t], t))
        prices[top] -= 1


def _offer(
    c: Candidate, private: Private, view: _View, mode: Mode, *, build: bool
) -> tuple[int, Proposal | None, bool] | None:
    """The best proposal on allocation ``c``: (gain, proposal if ``build``, conflicts?), or
    ``None`` if no valid, individually rational proposal on ``c`` can win."""
    hit = {view.part_of_t[t] for t in c.requests if t in view.part_of_t}
    hit |= {view.part_of_n[n] for n in c.nodes if n in view.part_of_n}
    ct = sorted(t for t in c.requests if t in view.part_of_t)
    cn = sorted(n for n in c.nodes if n in view.part_of_n)
    margin, delta, need = c.welfare, 0, 0
    caps: dict[int, int] = {}
    floors: dict[int, int] = {}
    for t in ct:
        caps[t] = min(private.values[t], view.price[t] - 1)
        if caps[t] < 0:
            return None
        margin -= private.values[t] - caps[t]
        delta += view.price[t] - caps[t]
    for n in cn:
        floors[n] = max(private.costs[n], view.reward[n] + 1)
        margin -= floors[n] - private.costs[n]
        delta += floors[n] - view.reward[n]
    if hit and mode is Mode.TOLERANCES:
        slack = sum(view.part_slack[i] for i in hit)
        slack -= sum(view.slack_t[t] for t in ct) + sum(view.slack_n[n] for n in cn)
        need = max(0, slack + 1 - delta)
        if not cn and need > sum(caps.values()):
            return None
        margin -= need
    if margin < 0:
        return None
    gain = margin - sum(view.lost[i] for i in hit)
    if not build:
        return gain, None, bool(hit)
    prices = {t: private.values[t] for t in c.requests} | caps
    rewards = {n: private.costs[n] for n in c.nodes} | floors
    if cn:
        rewards[cn[0]] += need
    else:
        _lower_top(prices, ct, need)
    if mode is Mode.TOLERANCES:
        tol_p = {t: private.values[t] for t in c.requests}
        tol_r = {n: private.costs[n] for n in c.nodes}
    else:
        tol_p, tol_r = prices, rewards
    return (
        gain,
        Proposal.make(c.allocation, prices, rewards, max_prices=tol_p, min_rewards=tol_r),
        bool(hit),
    )


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
        raise InvalidInput("best_response: MIN_MARGIN is not simulated; use TOLERANCES or PARETO")
    cands = candidates(market, private) if allocations is None else allocations
    view = _View.of(book, maker)
    best = (0, 0)  # (gain, welfare) of the best candidate so far; gains below 1 do not move
    chosen: Candidate | None = None
    for c in cands:
        got = _offer(c, private, view, mode, build=False)
        if got is not None and got[0] >= 1 and (chosen is None or (got[0], c.welfare) > best):
            best, chosen = (got[0], c.welfare), c
    if chosen is None:
        return None
    built = _offer(chosen, private, view, mode, build=True)
    if built is None or built[1] is None:
        raise ClearingError("best response vanished when built")
    proposal = replace(built[1], maker=maker)
    intended = Verdict.REPLACED if built[2] else Verdict.MERGED if book.parts else Verdict.FIRST
    _, step = improve(market, book, proposal, mode=mode)
    if (
        step.verdict is not intended
        or proposal.margin
        - sum(view.lost[i] for i in range(len(book.parts)) if i in set(book.conflicts(proposal)))
        != best[0]
    ):
        raise ClearingError(
            f"best response of {maker!r} was meant to be {intended.value} with gain {best[0]}, "
            f"the mechanism says {step.verdict.value} ({step.violation})"
        )
    return proposal


@dataclass(frozen=True)
class Dynamics:
    """One run of best responses: ``steps`` moves until it ``converged`` (all passed), ``cycled``
    (a state repeated, ``cycle_length`` moves after its first occurrence), or hit the step limit
    (neither). ``welfare``, ``margin`` and ``participants`` describe the final book; ``optimum``
    is the maximum welfare; ``margins``: the book's margin after each move."""

    converged: bool
    cycled: bool
    steps: int
    book: Book
    welfare: int
    optimum: int
    margin: int
    participants: int
    history: tuple[Step, ...]
    margins: tuple[int, ...] = ()
    cycle_length: int = 0

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
    seen = {_state(book, turn): 0}
    margins: list[int] = []
    steps = passes = cycle_length = 0
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
        margins.append(book.margin)
        key = _state(book, turn)
        if key in seen:
            cycled, cycle_length = True, steps - seen[key]
            break
        seen[key] = steps
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
        tuple(margins),
        cycle_length,
    )
