"""Posted-price market makers (docs/design/mechanisms.md): nobody bids; makers propose, participants
accept or reject.

Requests (size, tag, replicas) and nodes (capacity, tags) are public (:class:`Market`); values
and costs are private (:class:`Private`). Market makers submit proposals ``(α, π, ϕ, π̄, ϕ̲)``
(:class:`Proposal`): an allocation, prices, rewards, and tolerances saying how far the mechanism
may move each participant's terms to defend the proposal. Modules, one concern each:

- ``types``: the value types; ``errors``: the mechanism's error types (:class:`ProposalFault`,
  :class:`InvalidProposal`); ``validation``: every rule a proposal must keep;
- ``improvement``: sequential improvement with tolerances (and, for comparison, without them and
  by minimum margin), including the re-pricing of the incumbent and the merging of
  non-conflicting proposals;
- ``outcome``: welfare, margin, surplus, the valid allocations, acceptance and the penalty ``γ``
  (the seed's rule, paid by the maker, and the on-chain rule, a rejecter's burned deposit);
- ``dynamics``: best responses of perfectly informed makers, for the benchmark.

Pure Python on exact integers; no web3.
"""

from bridge.mechanisms.posted_price.dynamics import (
    Candidate,
    Dynamics,
    best_response,
    candidates,
    iterate_best_responses,
)
from bridge.mechanisms.posted_price.errors import InvalidProposal
from bridge.mechanisms.posted_price.improvement import (
    Book,
    Mode,
    Part,
    Step,
    Verdict,
    check_book,
    improve,
    run,
)
from bridge.mechanisms.posted_price.outcome import (
    Penalty,
    Settlement,
    margin,
    monopoly,
    optimum,
    settle,
    surplus,
    valid_allocations,
    welfare,
)
from bridge.mechanisms.posted_price.types import Market, Node, Private, Proposal, Request
from bridge.mechanisms.posted_price.validation import (
    FIXES,
    ProposalFault,
    Violation,
    check_proposal,
    violations,
)

__all__ = [
    "FIXES",
    "Book",
    "Candidate",
    "Dynamics",
    "InvalidProposal",
    "Market",
    "Mode",
    "Node",
    "Part",
    "Penalty",
    "Private",
    "Proposal",
    "ProposalFault",
    "Request",
    "Settlement",
    "Step",
    "Verdict",
    "Violation",
    "best_response",
    "candidates",
    "check_book",
    "check_proposal",
    "improve",
    "iterate_best_responses",
    "margin",
    "monopoly",
    "optimum",
    "run",
    "settle",
    "surplus",
    "valid_allocations",
    "violations",
    "welfare",
]
