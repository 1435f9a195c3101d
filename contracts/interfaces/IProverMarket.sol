// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title IProverMarket
/// @notice A sealed-bid double auction for proving work, settled by a trusted keeper and checked
///         on-chain (SPEC §5). Rounds are time based: round `r` accepts commitments in
///         `[genesis + r·commitPeriod, genesis + (r+1)·commitPeriod)`; the keeper settles before
///         `close + settlePeriod`; assigned provers prove before `settledAt + proofPeriod`.
/// @dev Storage is kept off the commit path: each round keeps one rolling hash-chain word per side
///      (see `bidChain`), and `settle` re-derives it from the reveals, so a missing, extra,
///      reordered or altered reveal makes the settlement revert with `RevealsMismatch`.
///
///      Chain word (bids): `w_0 = 0`, `w_{k+1} = (uint256(keccak256(abi.encode(w_k, commitment,
///      requester, escrow, task))) & ~0xffffffff) | (k + 1)`; asks: `keccak256(abi.encode(w_k,
///      commitment, prover, capacityAtCommit))`, same masking. The low 32 bits hold the count.
///
///      Jobs are stored only as a Merkle root (OpenZeppelin `MerkleProof`, sorted-pair keccak256;
///      an odd node at the end of a level is carried up unchanged). Leaf for job `j` of round `r`:
///      `keccak256(abi.encode(uint256 r, Job job))`, i.e. the ten words
///      `(r, jobIndex, bidIndex, requester, task, prover, units, payment, chargeShare, proofDeadline)`.
///      Provers and requesters rebuild their jobs from logs alone: `BidCommitted` (requester,
///      escrow, task), `AskCommitted` (prover), `RoundSettled` (charges and packed jobs) and the
///      settle block's time plus `proofPeriod` give every leaf field (or decode the calldata of the
///      `settle` transaction). Per-bid refunds are `escrow − charges[i]`; no per-bid event is
///      emitted at settlement (gas: see README "Contract and gas").
///
///      Trust: the keeper alone decides which reveals are invalid (it could exclude a bid it can
///      open; its escrow is then released untouched) and, in a DARA market, which feasible outcome
///      to post; everything else is checked here.
interface IProverMarket {
    // ------------------------------------------------------------------ types

    /// @notice Which clearing rule `settle` enforces.
    /// @dev PROOFPHI: every valid bid has size 1, every valid ask sells exactly its capacity, and the
    ///      outcome is re-derived on-chain. DARA: only the generic feasibility checks.
    enum Mechanism {
        PROOFPHI,
        DARA
    }

    /// @notice Lifecycle of a round's settlement.
    enum RoundStatus {
        OPEN, // not settled or voided (commits accepted only while the round is current)
        SETTLED,
        VOIDED
    }

    /// @notice Where a round stands now (see `roundPhase`).
    enum Phase {
        UPCOMING, // before its commit window
        COMMIT, // accepting commitments
        SETTLE, // closed, the keeper may settle
        VOIDABLE, // settlement deadline passed unsettled: anyone may void
        PROOF, // settled, proofs accepted until the proof deadline
        SLASHABLE, // settled, proof deadline passed: unproven jobs may be slashed
        VOIDED
    }

    /// @notice One revealed bid, in commit order (index = position in `settle`'s array).
    /// @param requester Who committed it (from `BidCommitted`).
    /// @param escrow The escrow locked at commit.
    /// @param task The task named at commit.
    /// @param valid False when the keeper could not open it (ciphertext did not decrypt, commitment
    ///        mismatch, value > escrow): the contract trusts the keeper on invalidity and releases the
    ///        escrow; `commitment` then carries the raw commitment for the hash chain.
    /// @param value Sealed total value (valid bids only).
    /// @param size Sealed number of units (valid bids only).
    /// @param salt Sealed salt (valid bids only).
    /// @param commitment Raw commitment, read only when `valid` is false.
    /// @param charge Amount charged; 0 for losers and invalid bids.
    struct BidReveal {
        address requester;
        uint256 escrow;
        bytes32 task;
        bool valid;
        uint256 value;
        uint256 size;
        bytes32 salt;
        bytes32 commitment;
        uint256 charge;
    }

    /// @notice One revealed ask, in commit order.
    /// @param prover Who committed it.
    /// @param capacity The prover's declared capacity when it committed (from `AskCommitted`).
    /// @param valid False when the keeper could not open it (see `BidReveal.valid`).
    /// @param cost Sealed cost per unit (valid asks only).
    /// @param quantity Sealed number of units offered (valid asks only); must not exceed `capacity`
    ///        and, in a PROOFPHI market, must equal it.
    /// @param salt Sealed salt (valid asks only).
    /// @param commitment Raw commitment, read only when `valid` is false.
    struct AskReveal {
        address prover;
        uint256 capacity;
        bool valid;
        uint256 cost;
        uint256 quantity;
        bytes32 salt;
        bytes32 commitment;
    }

    /// @notice One assignment of `units` of bid `bidIndex` to ask `askIndex`, paid `payment` in total.
    /// @dev Jobs are listed grouped by bid in ascending `bidIndex`, and within a bid in ask rank order
    ///      (cost ascending, then ask index ascending). A job's `chargeShare` is
    ///      `charge · units / size` rounded down, except the bid's last job, which gets the remainder
    ///      `charge − Σ other shares`. Each job needs `cost · units ≤ payment ≤ chargeShare`.
    struct JobEntry {
        uint256 bidIndex;
        uint256 askIndex;
        uint256 units;
        uint256 payment;
    }

    /// @notice A settled job as committed to in the round's Merkle root (see the leaf encoding above).
    struct Job {
        uint256 jobIndex;
        uint256 bidIndex;
        address requester;
        bytes32 task;
        address prover;
        uint256 units;
        uint256 payment;
        uint256 chargeShare;
        uint256 proofDeadline;
    }

    /// @notice A committed bid as needed by `voidRound` (commit order, from `BidCommitted`).
    struct BidCommit {
        address requester;
        uint256 escrow;
        bytes32 task;
        bytes32 commitment;
    }

    // ----------------------------------------------------------------- errors

    /// @notice A deployment parameter is unusable; `field` names it.
    error InvalidConfig(bytes32 field);
    /// @notice The keeper public key is not 64 bytes (uncompressed x || y).
    error InvalidPublicKey(uint256 length);
    /// @notice Only the keeper may call this.
    error NotKeeper(address caller);
    /// @notice New commitments are paused by the owner.
    error CommitsPaused();
    /// @notice `round` is not the round currently accepting commitments.
    error RoundNotOpen(uint256 round, uint256 current);
    /// @notice An amount must be positive.
    error ZeroAmount();
    /// @notice `account`'s free balance `available` is below `required`.
    error InsufficientBalance(address account, uint256 available, uint256 required);
    /// @notice The prover has no declared capacity.
    error NoCapacity(address prover);
    /// @notice The prover already committed an ask in `round`.
    error AskAlreadyCommitted(uint256 round, address prover);
    /// @notice `prover`'s collateral is below the `required` amount.
    error InsufficientCollateral(address prover, uint256 collateral, uint256 required);
    /// @notice Collateral stays put while the prover's ask in `round` awaits settlement.
    error CollateralLockedByAsk(address prover, uint256 round);
    /// @notice Capacity may change again only from round `allowedFrom`.
    error CapacityChangeTooSoon(address prover, uint256 round, uint256 allowedFrom);
    /// @notice Capacity may change at most `capacityFactor`-fold (except to 0).
    error CapacityChangeTooLarge(address prover, uint256 from, uint256 to);
    /// @notice The capacity does not fit the market's storage (32 bits).
    error CapacityTooLarge(uint256 units);
    /// @notice The round's commit window has not closed yet.
    error RoundNotClosed(uint256 round, uint256 closesAt);
    /// @notice The settlement deadline of `round` has passed.
    error SettleDeadlinePassed(uint256 round, uint256 deadline);
    /// @notice The round is already settled or voided.
    error RoundAlreadyFinal(uint256 round, RoundStatus status);
    /// @notice The reveals of `side` (0 bids, 1 asks) do not reproduce the round's commitments.
    error RevealsMismatch(uint256 round, uint8 side);
    /// @notice Valid bid `index` has value above its escrow, or size 0 (or ≠ 1 under PROOFPHI).
    error BidRevealUnacceptable(uint256 round, uint256 index);
    /// @notice Valid ask `index` offers more than its capacity (or ≠ capacity under PROOFPHI).
    error AskRevealUnacceptable(uint256 round, uint256 index);
    /// @notice Bid `index` is charged above its value or escrow, or is invalid and charged.
    error Overcharged(uint256 round, uint256 index);
    /// @notice Bid `index` is charged but has no jobs.
    error ChargeWithoutAllocation(uint256 round, uint256 index);
    /// @notice Winning bid `index`'s job units do not sum to its size.
    error UnitsMismatch(uint256 round, uint256 index);
    /// @notice Job `jobIndex` is malformed (index out of range, invalid reveal, 0 units, order).
    error JobInvalid(uint256 round, uint256 jobIndex);
    /// @notice Ask `askIndex` is assigned more units than its revealed quantity.
    error AskOverAllocated(uint256 round, uint256 askIndex);
    /// @notice Job `jobIndex` pays less than cost × units.
    error Underpaid(uint256 round, uint256 jobIndex);
    /// @notice Job `jobIndex` pays more than its share of the bid's charge.
    error PaymentExceedsCharge(uint256 round, uint256 jobIndex);
    /// @notice Total charges are below total payments (defensive: implied by the per-job checks).
    error BudgetDeficit(uint256 round, uint256 charged, uint256 paid);
    /// @notice `bidOrder` is not a rank-sorted permutation of the valid bids (first bad position).
    error BidOrderInvalid(uint256 round, uint256 position);
    /// @notice `askOrder` is not a rank-sorted permutation of the valid asks (first bad position).
    error AskOrderInvalid(uint256 round, uint256 position);
    /// @notice The outcome differs from the Prooφ re-derivation at bid rank `position`.
    error ProofPhiMismatch(uint256 round, uint256 position);
    /// @notice The round cannot be voided before its settlement deadline.
    error VoidTooEarly(uint256 round, uint256 deadline);
    /// @notice The round has not been settled.
    error RoundNotSettled(uint256 round);
    /// @notice The job is not in the round's Merkle root.
    error JobNotInRound(uint256 round, uint256 jobIndex);
    /// @notice Only the job's prover may submit its proof.
    error NotJobProver(address caller, address prover);
    /// @notice The proof deadline of the job has passed.
    error ProofDeadlinePassed(uint256 round, uint256 jobIndex, uint256 deadline);
    /// @notice The job cannot be slashed before its proof deadline.
    error ProofDeadlineNotReached(uint256 round, uint256 jobIndex, uint256 deadline);
    /// @notice The job was already proven or slashed.
    error JobAlreadyResolved(uint256 round, uint256 jobIndex);
    /// @notice The verifier rejected the proof.
    error ProofRejected(uint256 round, uint256 jobIndex);
    /// @notice An ETH transfer to `to` failed.
    error TransferFailed(address to, uint256 amount);

    // ----------------------------------------------------------------- events

    /// @notice `account`'s free balance grew by `amount` from a deposit.
    event Deposited(address indexed account, uint256 amount);
    /// @notice `account` withdrew `amount` from its free balance.
    event Withdrawn(address indexed account, uint256 amount);
    /// @notice `prover`'s collateral grew by `amount`.
    event Staked(address indexed prover, uint256 amount);
    /// @notice `prover` withdrew `amount` of unencumbered collateral.
    event CollateralWithdrawn(address indexed prover, uint256 amount);
    /// @notice `prover` declared `capacity` units during `round`.
    event CapacitySet(uint256 indexed round, address indexed prover, uint256 capacity);
    /// @notice A sealed bid: `escrow` moved from free balance to the round; `index` is its commit order.
    event BidCommitted(
        uint256 indexed round,
        address indexed requester,
        uint256 index,
        bytes32 commitment,
        uint256 escrow,
        bytes32 task,
        bytes ciphertext
    );
    /// @notice A sealed ask by a prover whose declared capacity was `capacity`.
    event AskCommitted(
        uint256 indexed round,
        address indexed prover,
        uint256 index,
        bytes32 commitment,
        uint256 capacity,
        bytes ciphertext
    );
    /// @notice The round settled under Merkle root `jobRoot`. `charges[i]` is bid `i`'s charge
    ///         (commit order; its refund `escrow − charge` went to the requester's free balance).
    ///         `jobs[k]` packs job `k`: `bidIndex << 224 | askIndex << 192 | units << 160 | payment`.
    ///         With `BidCommitted`/`AskCommitted` and the block time this rebuilds every leaf.
    event RoundSettled(
        uint256 indexed round, bytes32 jobRoot, uint256 totalCharged, uint256 totalPaid, uint256[] charges, uint256[] jobs
    );
    /// @notice The round was voided; `bidCount` bids got their escrow (`released` in total) back.
    event RoundVoided(uint256 indexed round, address indexed caller, uint256 bidCount, uint256 released);
    /// @notice Job `jobIndex` was proven: `payment` added to the prover's collateral, `margin`
    ///         kept for the treasury (moved there by `collectMargins`).
    event ProofAccepted(
        uint256 indexed round, address indexed prover, uint256 indexed jobIndex, uint256 payment, uint256 margin
    );
    /// @notice Job `jobIndex` was slashed: `requester` got `refund` (its charge share) plus
    ///         `compensation` taken from `prover`'s collateral.
    event JobSlashed(
        uint256 indexed round,
        address indexed prover,
        uint256 indexed jobIndex,
        address requester,
        uint256 refund,
        uint256 compensation
    );
    /// @notice `amount` of proven jobs' margins of `round` moved to the treasury.
    event MarginsCollected(uint256 indexed round, address indexed caller, uint256 amount);
    /// @notice The owner withdrew `amount` of treasury.
    event TreasuryWithdrawn(address indexed to, uint256 amount);
    /// @notice The keeper address and encryption key changed.
    event KeeperRotated(address indexed keeper, bytes publicKey);
    /// @notice New commitments were paused (`paused`) or resumed.
    event CommitsPausedSet(bool paused);

    // -------------------------------------------------------------- functions

    /// @notice Adds `msg.value` to the caller's free balance.
    function deposit() external payable;

    /// @notice Sends `amount` of the caller's free balance (deposits, refunds, slash compensation).
    function withdraw(uint256 amount) external;

    /// @notice Adds `msg.value` to the caller's collateral (proof payments are added there too).
    function stake() external payable;

    /// @notice Declares the caller's capacity. Needs `collateral ≥ refundCap · units`. After the
    ///         first declaration, changes are allowed only every `capacityInterval` rounds and by at
    ///         most `capacityFactor`-fold (relative to the last non-zero capacity); 0 (exit) is always allowed.
    function setCapacity(uint256 units) external;

    /// @notice Withdraws collateral backing neither capacity nor outstanding units:
    ///         afterwards `collateral ≥ refundCap · (capacity + outstandingUnits)`. Refused while the
    ///         prover's latest ask awaits settlement (so lowering capacity cannot strand it).
    function withdrawCollateral(uint256 amount) external;

    /// @notice Commits a sealed bid for the current round and locks `escrow` from the free balance.
    /// @param commitment The SPEC §4 commitment (see `commitmentOf`, side 0, price = value, quantity = size).
    /// @param ciphertext ECIES(keeper key, abi.encode(value, size, salt)), only logged.
    /// @param escrow Public upper bound on the sealed value.
    /// @param task The task to be proven.
    function commitBid(uint256 round, bytes32 commitment, bytes calldata ciphertext, uint256 escrow, bytes32 task)
        external;

    /// @notice Commits a sealed ask for the current round (one per prover per round, capacity > 0).
    function commitAsk(uint256 round, bytes32 commitment, bytes calldata ciphertext) external;

    /// @notice Keeper only, once, between the round's close and its settlement deadline.
    /// @param bids Every bid of the round in commit order.
    /// @param asks Every ask of the round in commit order.
    /// @param bidOrder PROOFPHI: the valid bids' indices in rank order (value/size desc, size asc,
    ///        index asc). DARA: ignored (pass empty).
    /// @param askOrder PROOFPHI: the valid asks' indices in rank order (cost asc, index asc). DARA: ignored.
    /// @param jobs The assignment (see `JobEntry` for ordering and the charge-share rule).
    function settle(
        uint256 round,
        BidReveal[] calldata bids,
        AskReveal[] calldata asks,
        uint256[] calldata bidOrder,
        uint256[] calldata askOrder,
        JobEntry[] calldata jobs
    ) external;

    /// @notice The job's prover, before the proof deadline: verifies `proof` with the market's
    ///         verifier, credits `payment` to the prover's collateral (withdrawable with
    ///         `withdrawCollateral` once it backs neither capacity nor outstanding units) and keeps
    ///         `chargeShare − payment` as margin for the treasury.
    function submitProof(uint256 round, Job calldata job, bytes32[] calldata merkleProof, bytes calldata proof)
        external;

    /// @notice Anyone, after the proof deadline, once per unproven job: the requester gets
    ///         `chargeShare` plus `min(refundCap · units, collateral)` from the prover's collateral.
    function slash(uint256 round, Job calldata job, bytes32[] calldata merkleProof) external;

    /// @notice Anyone, once the settlement deadline passed without settlement: all escrow returns.
    /// @param bids Every bid of the round in commit order (checked against the hash chain).
    function voidRound(uint256 round, BidCommit[] calldata bids) external;

    /// @notice Anyone: moves the margins of `round`'s proven jobs into the treasury.
    function collectMargins(uint256 round) external;

    /// @notice Owner only: sends `amount` of treasury (collected margins) to the owner.
    function withdrawTreasury(uint256 amount) external;

    /// @notice Owner only: replaces the keeper address and its 64-byte secp256k1 public key.
    function rotateKeeper(address newKeeper, bytes calldata publicKey) external;

    /// @notice Owner only: pauses or resumes new commitments (withdrawals are never paused).
    function setCommitsPaused(bool paused) external;

    /// @notice The round currently accepting commitments.
    function currentRound() external view returns (uint256);

    /// @notice Deadlines of `round`: commit window close, settle deadline, and proof deadline
    ///         (0 until settled).
    function roundTimes(uint256 round)
        external
        view
        returns (uint256 opensAt, uint256 closesAt, uint256 settleDeadline, uint256 proofDeadline);

    /// @notice The phase `round` is in at the current block.
    function roundPhase(uint256 round) external view returns (Phase);

    /// @notice The SPEC §4 commitment for this market and chain.
    function commitmentOf(
        uint256 round,
        address participant,
        uint8 side,
        uint256 price,
        uint256 quantity,
        bytes32 salt
    ) external view returns (bytes32);

    /// @notice Free balance of `account` (deposits, refunds, compensation), withdrawable.
    function balanceOf(address account) external view returns (uint256);

    /// @notice Units allocated to `prover` and neither proven nor slashed yet.
    function outstandingUnits(address prover) external view returns (uint256);

    /// @notice A prover's collateral and capacity state. Rounds are stored plus one (0 = never).
    /// @return collateral Staked collateral.
    /// @return capacity Declared capacity (0 = none / exited).
    /// @return refCapacity Last non-zero capacity, the base of the `capacityFactor` rule.
    /// @return capacityRoundPlusOne Round of the last capacity change plus one.
    /// @return lastAskRoundPlusOne Round of the last ask plus one.
    function proverInfo(address prover)
        external
        view
        returns (
            uint256 collateral,
            uint256 capacity,
            uint256 refCapacity,
            uint256 capacityRoundPlusOne,
            uint256 lastAskRoundPlusOne
        );

    /// @notice Round state: commit counts, settlement data and status.
    function roundInfo(uint256 round)
        external
        view
        returns (
            uint256 bidCount,
            uint256 askCount,
            uint256 bidChain,
            uint256 askChain,
            bytes32 jobRoot,
            uint256 settledAt,
            uint256 jobCount,
            RoundStatus status
        );

    /// @notice True when job `jobIndex` of `round` was proven or slashed.
    function isResolved(uint256 round, uint256 jobIndex) external view returns (bool);

    /// @notice Global counters: `nonFree` = locked escrow + round pots (including uncollected
    ///         margins) + collateral + treasury; `treasury` (part of `nonFree`). The contract's ETH
    ///         balance equals `nonFree` plus the sum of all free balances (`balanceOf`).
    function liabilities() external view returns (uint256 nonFree, uint256 treasury);

    /// @notice Margins of `round`'s proven jobs not yet moved to the treasury.
    function uncollectedMargin(uint256 round) external view returns (uint256);
}
