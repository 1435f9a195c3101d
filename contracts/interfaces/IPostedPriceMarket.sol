// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title IPostedPriceMarketTypes + IPostedPriceMarket
/// @notice The posted-price market mode (seed 002, docs/mechanisms.md "On-chain mode"): nobody
///         bids. Requests and node registrations are public; market makers post a bond `γ` with
///         each proposal; the keeper runs sequential improvement with tolerances off-chain (the
///         `bridge.mechanisms.posted_price` library) over the proposals in on-chain order and
///         settles the resulting book; participants accept (a requester pays its price, a node
///         locks collateral) or reject; allocated nodes prove or are slashed.
///
///         Registration carries a deposit of `γ` (the same `bond` a maker posts). The registered
///         terms (`maxPrice`, `minReward`) are binding offers: no proposal outside them is
///         accepted, so a posted term is always one the participant said it takes. A booked
///         participant who rejects, or lets the acceptance window pass without answering, has
///         failed the match and forfeits its deposit; the forfeit is burned (`burned`: held by
///         the contract, nobody's), so no account (maker, keeper, other participants, or the
///         failing participant's other accounts) gains from a failure. Makers always get their
///         bond back. Every other deposit comes back: on acceptance, or once it is known that
///         the participant cannot be asked any more (`releaseDeposit`).
/// @dev A round `r` opened at `start` has half-open windows, each closing at its deadline:
///      register `[start, registerEnd)`, propose `[registerEnd, proposeEnd)`, settle (keeper)
///      `[proposeEnd, settleEnd)`, accept `[settledAt, acceptEnd = settledAt + acceptPeriod)`,
///      prove `[trade, proofEnd = acceptEnd + proofPeriod)`; slashing from `proofEnd`.
///
///      Money (wei, exact): the contract's balance always equals `totalLocked` plus `burned` plus
///      the sum of the free balances (`balanceOf`), withdrawn with `withdraw`. Every lock has a
///      way out that anyone can trigger once its deadline has passed: `closeProposal` returns a
///      bond and the margin, refunds a voided part and resolves its participants' deposits;
///      `releaseDeposit` resolves any other deposit; `slash` resolves every unproven job after
///      `proofEnd`.
///
///      What this contract checks: at `propose`, every rule of the library's `validation` plus the
///      public registration limits (module docs); at `settle`, that the book is made of submitted
///      proposals (hash-checked), each at most once, with disjoint participants, every posted
///      price `≤ π̄` and reward `≥ ϕ̲` of its own proposal, and each part's posted margin equal to
///      the sum of its proposals' margins. What it does not check: that the book is the one
///      sequential improvement gives for the proposals in their on-chain order; anyone can
///      recompute that from the logs (`bridge posted-price audit`).
interface IPostedPriceMarketTypes {
    /// @notice Deployment parameters.
    /// @param keeper The only account that may settle.
    /// @param verifier The `IProofVerifier` every job's proof is checked with.
    /// @param registerPeriod Seconds requests and nodes may register after `openRound`.
    /// @param proposePeriod Seconds makers may propose after registration closes.
    /// @param settlePeriod Seconds the keeper has to settle after proposals close.
    /// @param acceptPeriod Seconds participants have to accept or reject after settlement.
    /// @param proofPeriod Seconds allocated nodes have to prove after acceptance closes.
    /// @param bond `γ`, the wei a maker posts with each proposal, and the deposit every
    ///        registration carries.
    /// @param collateralPerUnit Wei a node locks per unit of work it accepts; slashed to the
    ///        requester per missed job. A request's maximum price may not exceed
    ///        `collateralPerUnit · size`, so a missed job's collateral refunds its price.
    /// @param maxRequests Cap on requests per round (bounds settlement gas).
    /// @param maxNodes Cap on nodes per round.
    /// @param maxProposals Cap on proposals per round.
    struct Config {
        address keeper;
        address verifier;
        uint64 registerPeriod;
        uint64 proposePeriod;
        uint64 settlePeriod;
        uint64 acceptPeriod;
        uint64 proofPeriod;
        uint128 bond;
        uint128 collateralPerUnit;
        uint32 maxRequests;
        uint32 maxNodes;
        uint32 maxProposals;
    }

    /// @notice A maker's proposal `(α, π, ϕ, π̄, ϕ̲)` over allocated participants only.
    /// @param requests Request indices of the round, strictly increasing.
    /// @param prices `π`, aligned with `requests`.
    /// @param maxPrices `π̄ ≥ π`, aligned with `requests`, each at most the request's `maxPrice`.
    /// @param assignment For each request in order, its `replicas` node indices, strictly increasing.
    /// @param nodes Node indices, strictly increasing: exactly the nodes in `assignment`.
    /// @param rewards `ϕ` of each node's whole bundle, aligned with `nodes`.
    /// @param minRewards `ϕ̲ ≤ ϕ`, aligned with `nodes`, each at least the node's `minReward`.
    struct Proposal {
        uint256[] requests;
        uint256[] prices;
        uint256[] maxPrices;
        uint256[] assignment;
        uint256[] nodes;
        uint256[] rewards;
        uint256[] minRewards;
    }

    /// @notice One proposal of the settled book with the terms posted to its participants.
    /// @param index The proposal's index in the round.
    /// @param part The part it belongs to: 1 for the first part, then each entry either repeats
    ///        the previous entry's part or starts the next one.
    /// @param proposal The proposal as submitted (hash-checked).
    /// @param prices The posted prices, aligned with `proposal.requests`.
    /// @param rewards The posted rewards, aligned with `proposal.nodes`.
    struct BookEntry {
        uint256 index;
        uint256 part;
        Proposal proposal;
        uint256[] prices;
        uint256[] rewards;
    }

    /// @notice A participant's answer to the posted terms.
    enum Response {
        NONE,
        ACCEPTED,
        REJECTED
    }

    /// @notice Where a participant's registration deposit (`bond` wei) is.
    enum DepositState {
        NONE, // no such registration
        HELD, // locked: the participant may still be asked
        RETURNED, // credited back to the participant
        FORFEITED // the participant failed its booked match (rejected, or never answered): burned
    }

    /// @notice A job's state (one per allocated request and node).
    enum JobState {
        NONE,
        ASSIGNED,
        PROVEN,
        SLASHED
    }

    /// @notice How `closeProposal` ended a proposal (`ProposalClosed.outcome`).
    enum Outcome {
        NOT_BOOKED, // not in the book, or the round was never settled: bond back to the maker
        TRADED, // its part traded: bond and margin to the maker
        VOIDED, // its part was voided without a rejection of this proposal: bond back, refunds
        REJECTED // a participant of this proposal rejected: bond back (the rejecter forfeited its
            // deposit), refunds
    }

    // ----------------------------------------------------------------- errors

    /// @notice A deployment parameter is unusable; `field` names it.
    error InvalidConfig(bytes32 field);
    /// @notice Round `round` has not been opened.
    error NoSuchRound(uint256 round);
    /// @notice The round's registration window closed at `closedAt`.
    error RegistrationClosed(uint256 round, uint256 closedAt);
    /// @notice The round's proposal window is `[opensAt, closesAt)`.
    error ProposalWindowNotOpen(uint256 round, uint256 opensAt, uint256 closesAt);
    /// @notice The round's settlement window is `[opensAt, closesAt)`.
    error SettleWindowNotOpen(uint256 round, uint256 opensAt, uint256 closesAt);
    /// @notice The round already holds `cap` of this kind (0 requests, 1 nodes, 2 proposals).
    error RoundFull(uint256 round, uint8 kind, uint256 cap);
    /// @notice A registration field is unusable (`size`, `replicas`, `maxPrice`, `capacity`).
    error InvalidRegistration(bytes32 field);
    /// @notice The call must carry exactly `expected` wei.
    error WrongPayment(uint256 expected, uint256 given);
    /// @notice A proposal breaks rule `code` (docs/mechanisms.md, 1–14) at array position `at`.
    error ProposalInvalid(uint256 round, uint8 code, uint256 at);
    /// @notice Only the keeper may call this.
    error NotKeeper(address caller);
    /// @notice The round is already settled.
    error RoundAlreadySettled(uint256 round);
    /// @notice The round is not settled.
    error RoundNotSettled(uint256 round);
    /// @notice The book breaks rule `code` (docs/mechanisms.md, 1–8) at entry `entry`.
    error BookInvalid(uint256 round, uint8 code, uint256 entry);
    /// @notice Proposal `index` does not exist or its data is not what was submitted.
    error ProposalMismatch(uint256 round, uint256 index);
    /// @notice The caller is not the participant (`side` 0 request, 1 node) at `index`.
    error NotParticipant(uint256 round, uint8 side, uint256 index, address caller);
    /// @notice The participant is not allocated in the settled book.
    error NotAllocated(uint256 round, uint8 side, uint256 index);
    /// @notice The participant already accepted or rejected.
    error AlreadyResponded(uint256 round, uint8 side, uint256 index);
    /// @notice The acceptance window closed at `closedAt`.
    error AcceptanceClosed(uint256 round, uint256 closedAt);
    /// @notice The acceptance window is still open until `closesAt` (the part may still trade).
    error AcceptanceOpen(uint256 round, uint256 closesAt);
    /// @notice Part `part` was voided by a rejection: it can no longer be accepted or rejected.
    error PartVoided(uint256 round, uint256 part);
    /// @notice Part `part` has not traded (not every participant accepted).
    error PartNotTraded(uint256 round, uint256 part);
    /// @notice Job (`request`, `node`) is not assigned or is already proven or slashed.
    error JobNotOpen(uint256 round, uint256 request, uint256 node);
    /// @notice The proof window closed at `closedAt`.
    error ProofWindowClosed(uint256 round, uint256 closedAt);
    /// @notice The proof window is open until `closesAt`: no slashing yet.
    error ProofWindowOpen(uint256 round, uint256 closesAt);
    /// @notice The verifier refused the proof.
    error ProofInvalid(uint256 round, uint256 request, uint256 node);
    /// @notice Proposal `index` is already closed.
    error ProposalAlreadyClosed(uint256 round, uint256 index);
    /// @notice The participant (`side` 0 request, 1 node) at `index` holds no deposit (no such
    ///         registration, or its deposit was already returned or forfeited).
    error NoDeposit(uint256 round, uint8 side, uint256 index);
    /// @notice The caller has no free balance.
    error NothingToWithdraw(address account);
    /// @notice Sending `amount` wei to `to` failed.
    error TransferFailed(address to, uint256 amount);

    // ----------------------------------------------------------------- events

    /// @notice Round `round` opened; its windows close at the given times.
    event RoundOpened(uint256 indexed round, uint256 start, uint256 registerEnd, uint256 proposeEnd,
        uint256 settleEnd);
    /// @notice A request registered (public; its deposit `bond` is held, and it pays its price
    ///         only when it accepts).
    event RequestRegistered(uint256 indexed round, uint256 index, address indexed requester,
        uint256 size, uint8 tag, uint256 replicas, uint256 maxPrice, bytes32 task);
    /// @notice A node registered (public; its deposit `bond` is held, and it locks collateral
    ///         only when it accepts). `tags` is a bitmask: bit `k` set supports tag `k`.
    event NodeRegistered(uint256 indexed round, uint256 index, address indexed node,
        uint256 capacity, uint256 tags, uint256 minReward);
    /// @notice A maker submitted proposal `index` with bond `bond`; the data is in the event.
    event ProposalSubmitted(uint256 indexed round, uint256 index, address indexed maker,
        uint256 bond, Proposal proposal);
    /// @notice Proposal `index` is in the settled book, in part `part`, at these posted terms.
    event ProposalBooked(uint256 indexed round, uint256 indexed index, uint256 part,
        uint256[] prices, uint256[] rewards);
    /// @notice The keeper settled the round: `parts` parts; acceptance closes at `acceptEnd`.
    event RoundSettled(uint256 indexed round, uint256 parts, uint256 acceptEnd, uint256 proofEnd);
    /// @notice A participant answered (`side` 0 request, 1 node); `amount` is the price paid or
    ///         the collateral locked (0 on a rejection).
    event Responded(uint256 indexed round, uint8 side, uint256 index, address indexed account,
        Response response, uint256 amount);
    /// @notice Every participant of part `part` accepted: it trades.
    event PartTraded(uint256 indexed round, uint256 part);
    /// @notice Node `node` proved request `request`; `released` collateral and `reward` (on its
    ///         last job) credited to `prover`.
    event ProofAccepted(uint256 indexed round, uint256 request, uint256 node,
        address indexed prover, uint256 released, uint256 reward);
    /// @notice Job (`request`, `node`) was missed: `compensation` (the job's collateral, plus the
    ///         node's forfeited reward on its first miss) credited to `requester`.
    event Slashed(uint256 indexed round, uint256 request, uint256 node, address indexed requester,
        uint256 compensation);
    /// @notice Proposal `index` closed with `outcome`; `makerCredit` went to the maker.
    event ProposalClosed(uint256 indexed round, uint256 index, address indexed maker,
        Outcome outcome, uint256 makerCredit);
    /// @notice The registration deposit of the participant (`side` 0 request, 1 node) at `index`
    ///         was credited back to `account`.
    event DepositReturned(uint256 indexed round, uint8 side, uint256 index,
        address indexed account, uint256 amount);
    /// @notice The participant at `index` failed its booked match (rejected, or never answered):
    ///         its deposit `amount` is burned.
    event DepositForfeited(uint256 indexed round, uint8 side, uint256 index,
        address indexed account, uint256 amount);
    /// @notice A voided part returned `amount` (price or collateral) to `account`.
    event Refunded(uint256 indexed round, address indexed account, uint256 amount);
    /// @notice `account` withdrew `amount`.
    event Withdrawn(address indexed account, uint256 amount);
}

interface IPostedPriceMarket is IPostedPriceMarketTypes {
    /// @notice Open a new round now (anyone); returns its id.
    function openRound() external returns (uint256 round);

    /// @notice Register a request in `round`'s registration window, with exactly `bond` wei as
    ///         its deposit.
    /// @param size Units of work per replica (≥ 1).
    /// @param tag The kind of work (0–255); a node must support it.
    /// @param replicas Distinct nodes that must each run it (≥ 1).
    /// @param maxPrice The most it will pay (public cap, ≤ `collateralPerUnit · size`): a binding
    ///        offer, since a booked requester that rejects forfeits its deposit.
    /// @param task The task the verifier checks proofs against.
    function registerRequest(uint256 round, uint256 size, uint8 tag, uint256 replicas,
        uint256 maxPrice, bytes32 task) external payable returns (uint256 index);

    /// @notice Register a node in `round`'s registration window, with exactly `bond` wei as its
    ///         deposit.
    /// @param capacity Units of work it can run this round (≥ 1).
    /// @param tags Bitmask of supported tags.
    /// @param minReward The least it accepts for any non-empty bundle (public floor, binding as
    ///        `maxPrice` is).
    function registerNode(uint256 round, uint256 capacity, uint256 tags, uint256 minReward)
        external payable returns (uint256 index);

    /// @notice Submit a proposal with exactly `bond` wei, in the proposal window; it must keep
    ///         every rule (else `ProposalInvalid`).
    function propose(uint256 round, Proposal calldata p) external payable returns (uint256 index);

    /// @notice Keeper only, in the settlement window, once: post the book (see the entry rules).
    function settle(uint256 round, BookEntry[] calldata book) external;

    /// @notice Accept as the requester at `index`, paying exactly its posted price; its deposit
    ///         is credited back.
    function acceptRequest(uint256 round, uint256 index) external payable;

    /// @notice Accept as the node at `index`, locking exactly `collateralPerUnit · load`; its
    ///         deposit is credited back.
    function acceptNode(uint256 round, uint256 index) external payable;

    /// @notice Reject as the requester at `index`: voids its part and forfeits (burns) its
    ///         deposit. Refused once the part is void (`PartVoided`): nothing is left to reject.
    function rejectRequest(uint256 round, uint256 index) external;

    /// @notice Reject as the node at `index` (as `rejectRequest`).
    function rejectNode(uint256 round, uint256 index) external;

    /// @notice Node `node` proves request `request` (its part traded, before `proofEnd`).
    function submitProof(uint256 round, uint256 request, uint256 node, bytes calldata proof)
        external;

    /// @notice Anyone, from `proofEnd`: resolve an unproven job in favour of its requester.
    function slash(uint256 round, uint256 request, uint256 node) external;

    /// @notice Anyone: close proposal `index` (data as submitted) once its fate is known: bond
    ///         back to the maker (always), margin paid if it traded; in a voided part its
    ///         accepting participants are refunded and its silent participants' deposits resolved
    ///         (returned if a rejection voided the part, forfeited if the window ran out).
    function closeProposal(uint256 round, uint256 index, Proposal calldata p) external;

    /// @notice Anyone: resolve the held deposit of the participant (`side` 0 request, 1 node) at
    ///         `index` once it can no longer be asked to answer: returned if the round was never
    ///         settled (from `settleEnd`), if it is not in the book, or if a rejection voided its
    ///         part before it answered; forfeited if it is booked and let `acceptEnd` pass.
    function releaseDeposit(uint256 round, uint8 side, uint256 index) external;

    /// @notice Withdraw the caller's whole free balance.
    function withdraw() external;
}
