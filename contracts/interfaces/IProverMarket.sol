// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title IProverMarketTypes + IProverMarket
/// @notice A sealed-bid double auction for proving work, settled by a trusted keeper and checked
///         on-chain (docs/protocol.md). Rounds are time based: round `r` accepts commitments in
///         `[genesis + r·commitPeriod, genesis + (r+1)·commitPeriod)`; the keeper settles (in
///         pages) before `close + settlePeriod`; every job of the round is due before
///         `close + settlePeriod + proofPeriod`. A round not settled by then is voided (in pages)
///         by anyone, and every escrow returns.
/// @dev Storage is kept off the commit path: each round keeps one rolling hash-chain word per side
///      (see `bidChain`) and, every `checkpointInterval` bids, the bid-chain word reached so far.
///      Each settlement page re-derives the chain between two checkpoints from its reveals, so a
///      missing, extra, reordered or altered reveal makes it revert with `RevealsMismatch`.
///
///      Chain word (bids): `w_0 = 0`, `w_{k+1} = (uint256(keccak256(abi.encode(w_k, commitment,
///      requester, escrow, task))) & ~0xffffffff) | (k + 1)`; asks: `keccak256(abi.encode(w_k,
///      commitment, prover, capacityAtCommit))`, same masking. The low 32 bits hold the count.
///
///      Jobs are stored only as a Merkle root: one tree per page, the round's root is the tree
///      over the pages' roots (OpenZeppelin `MerkleProof`, sorted-pair keccak256; an odd node at the
///      end of a level is carried up unchanged; a job's proof is its page proof followed by its
///      page's top proof). Leaf for job `j` of round `r`: `keccak256(abi.encode(uint256 r, Job
///      job))`, i.e. the ten words `(r, jobIndex, bidIndex, requester, task, prover, units,
///      payment, chargeShare, proofDeadline)`. Provers and requesters rebuild their jobs from logs
///      alone: `BidCommitted` (requester, escrow, task), `AskCommitted` (prover), `BidsSettled`
///      (each page's charges and packed jobs) and the round's deadlines give every leaf field.
///      Per-bid refunds are `escrow − charge`; no per-bid event is emitted at settlement (gas: see
///      docs/contract.md).
///
///      Trust: the keeper decides which reveals are invalid and, in a DARA market, which feasible
///      outcome to post; everything else is checked here. Both decisions are checkable by anyone
///      off-chain: every invalid order carries evidence (reason, the envelope's ECDH shared point
///      and a DLEQ proof against the round's keeper key) that opens that one envelope, and the
///      outcome can be recomputed from the reveals (`bridge audit`, the watchtower).
interface IProverMarketTypes {
    // ------------------------------------------------------------------ types

    /// @notice Which clearing rule `settle` enforces.
    /// @dev PROOFPHI: every valid bid has size 1, every valid ask sells exactly its capacity, and the
    ///      outcome is re-derived on-chain. DARA: only the generic feasibility checks. FIXEDPRICE:
    ///      the round's price `p = roundPrice(round)` was public before the round opened; the
    ///      generic checks plus: every winning bid pays `≥ p·size` (so, paying at most its value,
    ///      it is eligible: `value ≥ p·size`), every job pays `≤ p` per unit (so every selling
    ///      ask has `cost ≤ p`), and when the eligible demand fits the eligible supply every
    ///      eligible bid wins.
    enum Mechanism {
        PROOFPHI,
        DARA,
        FIXEDPRICE
    }

    /// @notice Lifecycle of a round's settlement.
    enum RoundStatus {
        OPEN, // not settled or voided (commits accepted only while the round is current)
        SETTLED,
        VOIDED,
        SETTLING // the keeper began a paged settlement (`beginSettlement`), pages still to come
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

    /// @notice The Prooφ outcome the keeper claims (see docs/contract.md, "Paged settlement"): `ell` is the
    ///         number of asks that sell (0 = no trade); pivot A is the valid bid at rank `S_ell` (the
    ///         best loser, whose value is the fee; required when `ell > 0`), pivot B the valid bid at
    ///         rank `S_{ell+1}` (present when such a bid exists and ask `ell + 1` is in the table).
    struct ProofPhiClaim {
        uint256 ell;
        bool hasPivotA;
        uint256 pivotAIndex;
        uint256 pivotAValue;
        bool hasPivotB;
        uint256 pivotBIndex;
        uint256 pivotBValue;
    }

    /// @notice A charged bid of a settled page, as `unwindPage` needs it.
    struct ChargeEntry {
        address requester;
        uint256 charge;
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
    /// @notice `postPrice` on a market whose mechanism is not FIXEDPRICE.
    error PriceNotUsed();
    /// @notice A price may only be posted for a round that has not opened yet.
    error PriceTooLate(uint256 round, uint256 current);
    /// @notice Prices are re-fitted only in rounds that are multiples of `priceEvery`.
    error PriceNotDue(uint256 round, uint256 every);
    /// @notice A price is posted during the round before the one it is for (so the rounds the
    ///         price rule reads are final), not earlier.
    error PriceTooEarly(uint256 round, uint256 current);
    /// @notice `price` is 0, above 2^128 − 1 or moves more than `priceStepBps` from `previous`.
    error PriceStepTooLarge(uint256 round, uint256 previous, uint256 price);
    /// @notice FIXEDPRICE: winning bid `index` is charged less than the round's price times its
    ///         size (a winner whose value is below that, i.e. not eligible, fails this too: its
    ///         charge is at most its value).
    error ChargeBelowPrice(uint256 round, uint256 index);
    /// @notice FIXEDPRICE: job `jobIndex` pays more than the round's price per unit.
    error PaymentAbovePrice(uint256 round, uint256 jobIndex);
    /// @notice FIXEDPRICE: the eligible demand (`demand` units) fits the eligible supply, yet only
    ///         `won` units won: the short side must trade whole.
    error EligibleDemandUnserved(uint256 round, uint256 demand, uint256 won);
    /// @notice The keeper public key is not 64 bytes (uncompressed x || y).
    error InvalidPublicKey(uint256 length);
    /// @notice The keeper public key is 64 bytes but not a point on secp256k1.
    error PublicKeyNotOnCurve();
    /// @notice This market's verifier is a circuit registry: tasks name a circuit (`commitTask`).
    error OpaqueTaskRefused();
    /// @notice This market's verifier takes opaque tasks (`commitBid`), not circuits.
    error CircuitTasksUnsupported();
    /// @notice Markets trade one-unit circuit tasks (a mechanism may split a bid's units across
    ///         provers, and each part would have to prove the whole circuit); this circuit's are
    ///         `units` units.
    error TaskSizeNotOne(uint256 units);
    /// @notice Ownership can be transferred (two steps) but never renounced: the treasury and keeper
    ///         rotation would be stranded.
    error RenounceDisabled();
    /// @notice An order settled as invalid carries an unknown reason code (1–12, see the protocol
    ///         document): `side` 0 bid, 1 ask; `index` its commit index.
    error InvalidMark(uint256 round, uint8 side, uint256 index);
    /// @notice Only the keeper may call this.
    error NotKeeper(address caller);
    /// @notice New commitments are paused by the owner.
    error CommitsPaused();
    /// @notice `round` is not the round currently accepting commitments.
    error RoundNotOpen(uint256 round, uint256 current);
    /// @notice The round already holds its maximum number of commitments on this side (0 bids, 1 asks).
    error RoundFull(uint256 round, uint8 side, uint256 cap);
    /// @notice A bid's escrow is below the market's minimum.
    error EscrowTooSmall(uint256 escrow, uint256 minimum);
    /// @notice Capacity may not change while the prover's ask in `round` may still be settled: at
    ///         the latest from time `unlocksBy` it may (earlier if that round settles sooner).
    error CapacityLockedByAsk(address prover, uint256 round, uint256 unlocksBy);
    /// @notice The round's paged settlement is not in progress (`beginSettlement` first).
    error SettlementNotBegun(uint256 round);
    /// @notice The ask table passed with a page is not the one the settlement stored.
    error AskTableMismatch(uint256 round);
    /// @notice A page is malformed at byte `offset` (truncated, trailing bytes, counts that disagree),
    ///         counted from the start of the page (`settleBids`) or of the packed ask reveals
    ///         (`beginSettlement`).
    error PageMalformed(uint256 round, uint256 offset);
    /// @notice Pages settle in order: this one starts at bid `given`, the settlement stands at `expected`.
    error PageOutOfOrder(uint256 round, uint256 expected, uint256 given);
    /// @notice A page that does not end the round must end on a checkpoint (a multiple of
    ///         `checkpointInterval` bids).
    error PageMisaligned(uint256 round, uint256 end);
    /// @notice The Prooφ outcome claimed in `beginSettlement` is not the one the reveals give; `code`
    ///         names the condition: 1 ell/asks, 2 pivot A, 3 pivot B, 4 counts at the last page.
    error ProofPhiClaimInvalid(uint256 round, uint256 code);
    /// @notice The charges given to unwind settled page `page` are not the ones it recorded.
    error UnwindMismatch(uint256 round, uint256 page);
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
    /// @notice Collateral stays put while the prover's ask in `round` awaits settlement: at the
    ///         latest from time `unlocksBy` it may move (earlier if that round settles sooner).
    error CollateralLockedByAsk(address prover, uint256 round, uint256 unlocksBy);
    /// @notice The amount is free only once capacity is lowered: `capacity` units hold collateral;
    ///         at capacity 0, `withdrawable` could be withdrawn. Call `exit` (capacity 0 and
    ///         withdraw in one call) or `setCapacity` lower first.
    error CollateralBacksCapacity(address prover, uint256 capacity, uint256 withdrawable);
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
    /// @notice The job is not in the round's Merkle root; `field` names what is wrong when the
    ///         chain can tell: `jobIndex` (beyond the round's job count), `proofDeadline` (not the
    ///         round's), else `leaf` (another field of the job, or the Merkle proof, differs from
    ///         the settlement's: rebuild the job from the `BidsSettled` logs).
    error JobNotInRound(uint256 round, uint256 jobIndex, bytes32 field);
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
    /// @dev `inputs`: a circuit task's public inputs (empty for an opaque task).
    event BidCommitted(
        uint256 indexed round,
        address indexed requester,
        uint256 index,
        bytes32 commitment,
        uint256 escrow,
        bytes32 task,
        bytes ciphertext,
        uint256[] inputs
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
    /// @notice The keeper began settling `round`: `askCount` asks checked against the ask chain,
    ///         the ask table (see `beginSettlement`) stored as `askTableHash`.
    event SettlementBegun(uint256 indexed round, uint256 askCount, uint256 validAsks, bytes32 askTableHash);
    /// @notice Page `page` of `round` settled bids `firstBid … firstBid + charges.length − 1`:
    ///         `charges[i]` is bid `firstBid + i`'s charge (its refund `escrow − charge` went to the
    ///         requester's free balance); `jobs[k]` packs job `firstJob + k`:
    ///         `bidIndex << 224 | askIndex << 192 | units << 160 | payment`.
    event BidsSettled(
        uint256 indexed round, uint256 page, uint256 firstBid, uint256 firstJob, uint256[] charges, uint256[] jobs
    );
    /// @notice The last page of `round` landed: jobs are provable under Merkle root `jobRoot`
    ///         (the root over the pages' roots, see the leaf encoding above).
    event RoundSettled(
        uint256 indexed round, bytes32 jobRoot, uint256 totalCharged, uint256 totalPaid, uint256 jobCount, uint256 pages
    );
    /// @notice Bids `firstBid … firstBid + count − 1` of an unsettled part of `round` got their escrow back.
    event BidsVoided(uint256 indexed round, uint256 firstBid, uint256 count, uint256 released);
    /// @notice Settled page `page` of a round being voided was unwound: its charges (`refunded`) went back.
    event PageUnwound(uint256 indexed round, uint256 page, uint256 refunded);
    /// @notice The round is void: every bid got its escrow back (`released` by the last void page;
    ///         earlier pages logged `BidsVoided` / `PageUnwound`).
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
    /// @notice From round `fromRound` on, `keeper` settles and clients encrypt to `publicKey`.
    event KeeperRotated(address indexed keeper, bytes publicKey, uint256 fromRound);
    /// @notice New commitments were paused (`paused`) or resumed.
    event CommitsPausedSet(bool paused);
    /// @notice FIXEDPRICE: `round` (and the rounds after it, until the next post) trades at `price`
    ///         wei per unit; `previous` is the price it replaces (that of `round − 1`).
    event PricePosted(uint256 indexed round, uint256 price, uint256 previous);
    /// @notice `payer` burned a congestion fee of `fee` wei committing on `side` (0 bid, 1 ask) of `round`.
    event CongestionFeeBurned(uint256 indexed round, address indexed payer, uint8 side, uint256 fee);
    /// @notice Invalid orders of `round` forfeited `amount` (`minEscrow` each) to `keeper`'s free balance.
    event InvalidForfeited(uint256 indexed round, address indexed keeper, uint256 orders, uint256 amount);

}

/// @notice The market's external functions (see {IProverMarketTypes} for the protocol).
interface IProverMarket is IProverMarketTypes {
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

    /// @notice Leaves in one call: sets the caller's capacity to 0 and withdraws all collateral
    ///         not backing outstanding units (`refundCap · outstandingUnits` stays). Refused, like
    ///         `setCapacity`, while the prover's latest ask may still be settled.
    /// @return amount The collateral sent to the caller (0 when all of it backs outstanding units).
    function exit() external returns (uint256 amount);

    /// @notice Commits a sealed bid for the current round and locks `escrow` from the free balance,
    ///         after adding `msg.value` to it (deposit and bid in one transaction; `Deposited` is
    ///         emitted for the value). Once a quarter of the round's bid cap is taken, the bid also
    ///         pays `congestionFee(0, index)` from the free balance, burned. An invalid bid (its
    ///         reveal fails) forfeits `minEscrow` of its escrow to the keeper that settles it.
    /// @param commitment The commitment (docs/protocol.md) (see `commitmentOf`, side 0, price = value, quantity = size).
    /// @param ciphertext ECIES(keeper key, abi.encode(value, size, salt)), only logged.
    /// @param escrow Public upper bound on the sealed value.
    /// @param task The task to be proven (an opaque word; markets whose verifier is a circuit
    ///        registry refuse it: `OpaqueTaskRefused`, use `commitTask`).
    function commitBid(uint256 round, bytes32 commitment, bytes calldata ciphertext, uint256 escrow, bytes32 task)
        external
        payable;

    /// @notice Commits a sealed bid for a circuit task (`msg.value` deposited first, as in
    ///         `commitBid`): `task = registry.taskOf(circuitId, inputs)`
    ///         (range-checked inputs; one-unit circuits only, so the bid's size is 1, checked at
    ///         settlement). The inputs are public: they are logged in
    ///         `BidCommitted` so any prover can read them; the price stays sealed.
    function commitTask(
        uint256 round,
        bytes32 commitment,
        bytes calldata ciphertext,
        uint256 escrow,
        uint256 circuitId,
        uint256[] calldata inputs
    ) external payable;

    /// @notice Commits a sealed ask for the current round (one per prover per round, capacity > 0).
    ///         Needs collateral for the ask's capacity, for every earlier ask that may still settle
    ///         and for outstanding units, plus `minEscrow` per such ask (an invalid ask forfeits it
    ///         to the keeper that settles it); once a quarter of the round's ask cap is taken, the
    ///         ask also pays `congestionFee(1, index)` from that collateral, burned.
    function commitAsk(uint256 round, bytes32 commitment, bytes calldata ciphertext) external;

    /// @notice Keeper only, between the round's close and its settlement deadline: starts a paged
    ///         settlement (again, replacing table and claim, as long as no page has landed). Checks every ask against the ask chain and stores the ask table that
    ///         every page of bids carries (byte formats: docs/protocol.md).
    /// @param asks Every ask in commit order, packed: `prover (20) | capacity (4) | valid (1)`, then
    ///        `cost (16) | quantity (4) | salt (32)` if valid, else `commitment (32) | evidence (129)`
    ///        (reason code 1–12, ECDH shared point, DLEQ proof: docs/protocol.md).
    /// @param askOrder PROOFPHI: the valid asks' indices in rank order (cost asc, index asc); the
    ///        table lists asks in this order. DARA: empty; the table lists valid asks in commit order.
    /// @param claim PROOFPHI: the outcome the pages must confirm (`ell`, pivot bids); DARA: zeros.
    function beginSettlement(
        uint256 round,
        bytes calldata asks,
        uint256[] calldata askOrder,
        ProofPhiClaim calldata claim
    ) external;

    /// @notice Keeper only, before the settlement deadline: settles the next page of bids (commit
    ///         order, starting where the previous page ended). A page that does not end the round
    ///         ends on a multiple of `checkpointInterval`; its bids are checked against the bid chain
    ///         between the two checkpoints. The last page allocates the asks' units and publishes the
    ///         job root (`RoundSettled`).
    /// @param askTable The ask table as stored (`beginSettlement`), with DARA's running `sold` counts.
    /// @param page `firstBid (4) | bidCount (4) | jobCount (4)` then the bids, each `requester (20) | escrow (16) |
    ///        task (32) | valid (1)`; invalid: `commitment (32) | evidence (129)`; valid PROOFPHI: `value (16) | salt (32)`;
    ///        valid DARA: `value (16) | size (4) | salt (32) | charge (16) | jobs (2)` and per job
    ///        `askTablePosition (2) | units (4) | payment (16)`.
    function settleBids(uint256 round, bytes calldata askTable, bytes calldata page) external;

    /// @notice The job's prover, before the proof deadline: verifies `proof` with the market's
    ///         verifier, credits `payment` to the prover's collateral (withdrawable with
    ///         `withdrawCollateral` once it backs neither capacity nor outstanding units) and keeps
    ///         `chargeShare − payment` as margin for the treasury. The market's verifier may call
    ///         it for the job's prover, without a proof, once it has checked one itself (a batch:
    ///         `Groth16Registry.submitProofs`).
    function submitProof(uint256 round, Job calldata job, bytes32[] calldata merkleProof, bytes calldata proof)
        external;

    /// @notice Anyone, after the proof deadline, once per unproven job: the requester gets
    ///         `chargeShare` plus `min(refundCap · units, collateral)` from the prover's collateral.
    function slash(uint256 round, Job calldata job, bytes32[] calldata merkleProof) external;

    /// @notice Anyone, after the settlement deadline of a round not (fully) settled: returns the
    ///         escrow of the next segment of unsettled bids (commit order, from where settlement or
    ///         the previous void page stopped; it ends on a checkpoint unless it ends the round).
    ///         The round is void once every bid is returned and every settled page unwound.
    /// @param bids The segment's bids, checked against the bid chain.
    function voidRound(uint256 round, BidCommit[] calldata bids) external;

    /// @notice Anyone, after the settlement deadline of a round whose settlement did not finish:
    ///         gives back the charges of the next settled page (its refunds were already paid).
    /// @param charged Page's charged bids in order: `(requester, charge)` for every bid with charge > 0.
    function unwindPage(uint256 round, ChargeEntry[] calldata charged) external;

    /// @notice Anyone: moves the margins of `round`'s proven jobs into the treasury.
    function collectMargins(uint256 round) external;

    /// @notice Owner only: sends `amount` of treasury (collected margins) to the owner.
    function withdrawTreasury(uint256 amount) external;

    /// @notice Owner only: names the keeper and its 64-byte secp256k1 public key for the rounds that
    ///         open after this call (from `currentRound() + 1`). Rounds already open keep the
    ///         keeper and key their commitments were made for: the old keeper settles them, or
    ///         anyone voids them after their settle deadline. A second rotation in the same round
    ///         replaces the first.
    function rotateKeeper(address newKeeper, bytes calldata publicKey) external;

    /// @notice The keeper who settles `round` and the key its sealed orders are encrypted to.
    // `keeper` names the ABI output clients decode; it shadows nothing in an implementation.
    // slither-disable-next-line shadowing-local
    function keeperFor(uint256 round) external view returns (address keeper, bytes memory publicKey);

    /// @notice The keeper of the current round.
    function keeper() external view returns (address);

    /// @notice The key the current round's orders are encrypted to (64 bytes, x || y).
    function keeperPublicKey() external view returns (bytes memory);

    /// @notice Owner only: pauses or resumes new commitments (withdrawals are never paused).
    function setCommitsPaused(bool paused) external;

    /// @notice The round currently accepting commitments.
    function currentRound() external view returns (uint256);

    /// @notice FIXEDPRICE, the keeper of `round` only, during round `round − 1` (again to replace
    ///         it), for a round that is a multiple of `priceEvery`: `round` and the rounds
    ///         after it trade at `price` (wei per unit) until the next post. The price moves at most
    ///         by the factor `(10_000 + priceStepBps) / 10_000` from `roundPrice(round − 1)`. Which
    ///         price the keeper should post is a public rule of the revealed orders of past rounds
    ///         (docs/mechanisms.md); `bridge audit` and the watchtower recompute every post.
    function postPrice(uint256 round, uint256 price) external;

    /// @notice FIXEDPRICE: the per-unit price of `round` (the last price posted for a round at or
    ///         before it, else `initialPrice`); fixed once `round` opens. Other mechanisms: 0.
    function roundPrice(uint256 round) external view returns (uint256);

    /// @notice Deadlines of `round`: commit window close, settle deadline, and proof deadline
    ///         (0 until settled).
    function roundTimes(uint256 round)
        external
        view
        returns (uint256 opensAt, uint256 closesAt, uint256 settleDeadline, uint256 proofDeadline);

    /// @notice The phase `round` is in at the current block.
    function roundPhase(uint256 round) external view returns (Phase);

    /// @notice The commitment (docs/protocol.md) for this market and chain.
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
    ///         margins) + collateral + treasury + burned congestion fees; `treasury` (part of `nonFree`). The contract's ETH
    ///         balance equals `nonFree` plus the sum of all free balances (`balanceOf`).
    function liabilities() external view returns (uint256 nonFree, uint256 treasury);


    /// @notice Progress of `round`'s paged settlement or void: bids settled or voided so far (commit
    ///         order), pages settled, pages unwound, totals charged and paid so far, the stored ask table hash.
    function settlementProgress(uint256 round)
        external
        view
        returns (uint256 bidsDone, uint256 pages, uint256 unwound, uint256 charged, uint256 paid, bytes32 askTableHash);

    /// @notice The bid-chain word after `index · checkpointInterval` bids of `round` (0 for index 0).
    function bidCheckpoint(uint256 round, uint256 index) external view returns (uint256);

    /// @notice Margins of `round`'s proven jobs not yet moved to the treasury.
    function uncollectedMargin(uint256 round) external view returns (uint256);
}
