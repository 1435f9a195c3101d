// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {IProverMarket} from "./interfaces/IProverMarket.sol";
import {IProofVerifier} from "./interfaces/IProofVerifier.sol";
import {Commitments} from "./libraries/Commitments.sol";
import {JobTree} from "./libraries/JobTree.sol";
import {Ranking} from "./libraries/Ranking.sol";

/// @title ProverMarket
/// @notice Sealed-bid prover market (SPEC §5); see {IProverMarket} for the protocol.
/// @dev Storage layout is chosen for the gas targets (see README "Contract and gas"):
///      - `Account` (one slot): the free balance plus a non-zero marker, so a balance drained by a
///        commit is refilled at settlement with a non-zero to non-zero write;
///      - `ProverInfo` (one slot): collateral, outstanding units and capacity state. A proof's
///        payment is credited to the prover's collateral (withdraw it with `withdrawCollateral`),
///        so `submitProof` writes only this slot and the round's bitmap word;
///      - resolved bitmap words: bits 0..127 mark jobs proven or slashed, bits 128..254 accumulate
///        the margins of proven jobs (moved to the treasury by `collectMargins`), bit 255 is a
///        sentinel set at settlement;
///      - `_ledger` (one slot): `nonFree` = locked escrow + round pots (incl. uncollected
///        margins) + collateral + treasury, and `treasury`. Free balances have no global counter
///        (deposits and withdrawals touch one slot); the contract's ETH balance equals the sum
///        of all free balances plus `nonFree`.
///      The keeper is trusted for (a) which reveals are invalid and (b) DARA outcomes beyond the
///      generic feasibility checks; everything else is checked here.
contract ProverMarket is IProverMarket, Ownable, ReentrancyGuardTransient {
    /// @notice Deployment parameters.
    /// @param owner Owner (treasury withdrawals, keeper rotation, pausing).
    /// @param keeper The keeper's address (the only account that may settle).
    /// @param keeperPublicKey The keeper's secp256k1 public key, 64 bytes `x || y`.
    /// @param verifier The proof verifier.
    /// @param mechanism PROOFPHI or DARA.
    /// @param genesis Start of round 0 (0 = deployment time); must not be in the future.
    /// @param commitPeriod Length of each round's commit window, seconds.
    /// @param settlePeriod Time after a round closes for the keeper to settle, seconds.
    /// @param proofPeriod Time after settlement for provers to prove, seconds.
    /// @param refundCap Collateral per unit of capacity and compensation per missed unit, wei.
    /// @param capacityInterval Rounds between capacity changes.
    /// @param capacityFactor Maximum fold of a capacity change (≥ 1).
    struct Config {
        address owner;
        address keeper;
        bytes keeperPublicKey;
        address verifier;
        Mechanism mechanism;
        uint256 genesis;
        uint256 commitPeriod;
        uint256 settlePeriod;
        uint256 proofPeriod;
        uint256 refundCap;
        uint256 capacityInterval;
        uint256 capacityFactor;
    }

    /// @dev Packed: free (128) | marker (8, set to 1 on first credit so the slot never returns to 0).
    struct Account {
        uint128 free;
        uint8 marker;
    }

    /// @dev One slot: collateral (96) | outstanding units (32) | capacity (32) | refCapacity (32) |
    ///      capacityRound + 1 (32) | lastAskRound + 1 (32).
    struct ProverInfo {
        uint96 collateral;
        uint32 outstanding;
        uint32 capacity;
        uint32 refCapacity;
        uint32 capacityRound;
        uint32 lastAskRound;
    }

    /// @dev `bidChain`: see {IProverMarket}. `askChainOrJobRoot` holds the ask chain until settlement
    ///      and the job root after it (re-using a non-zero slot saves a 20k zero-to-non-zero write).
    ///      Meta slot: settledAt (64) | jobCount (32) | status (8).
    struct Round {
        uint256 bidChain;
        uint256 askChainOrJobRoot;
        uint64 settledAt;
        uint32 jobCount;
        uint32 askCount;
        RoundStatus status;
    }

    /// @dev Packed counters (see contract NatSpec).
    struct Ledger {
        uint128 nonFree;
        uint120 treasury;
        bool commitsPaused;
    }

    /// @dev Running totals of one settlement.
    struct Totals {
        uint256 charged;
        uint256 paid;
        uint256 released;
    }

    /// @dev Resolved-bitmap word layout (see contract NatSpec).
    uint256 private constant SENTINEL = 1 << 255;
    uint256 private constant JOBS_PER_WORD = 128;
    uint256 private constant JOB_BITS = (1 << 128) - 1;
    uint256 private constant MARGIN_MASK = ((1 << 127) - 1) << 128;
    uint256 private constant MAX_SIZE = type(uint32).max;

    IProofVerifier public immutable verifier;
    Mechanism public immutable mechanism;
    uint256 public immutable genesis;
    uint256 public immutable commitPeriod;
    uint256 public immutable settlePeriod;
    uint256 public immutable proofPeriod;
    uint256 public immutable refundCap;
    uint256 public immutable capacityInterval;
    uint256 public immutable capacityFactor;

    /// @notice The keeper's address.
    address public keeper;
    /// @notice The keeper's secp256k1 public key (64 bytes, x || y) that clients encrypt to.
    bytes public keeperPublicKey;

    Ledger private _ledger;
    mapping(address account => Account) private _accounts;
    mapping(address prover => ProverInfo) private _provers;
    mapping(uint256 round => Round) private _rounds;
    mapping(uint256 round => mapping(uint256 word => uint256 bits)) private _resolved;

    constructor(Config memory cfg) Ownable(cfg.owner) {
        if (cfg.verifier == address(0)) revert InvalidConfig("verifier");
        if (cfg.commitPeriod == 0) revert InvalidConfig("commitPeriod");
        if (cfg.settlePeriod == 0) revert InvalidConfig("settlePeriod");
        if (cfg.proofPeriod == 0) revert InvalidConfig("proofPeriod");
        if (cfg.capacityInterval == 0) revert InvalidConfig("capacityInterval");
        if (cfg.capacityFactor == 0) revert InvalidConfig("capacityFactor");
        if (cfg.genesis > block.timestamp) revert InvalidConfig("genesis");
        verifier = IProofVerifier(cfg.verifier);
        mechanism = cfg.mechanism;
        genesis = cfg.genesis == 0 ? block.timestamp : cfg.genesis;
        commitPeriod = cfg.commitPeriod;
        settlePeriod = cfg.settlePeriod;
        proofPeriod = cfg.proofPeriod;
        refundCap = cfg.refundCap;
        capacityInterval = cfg.capacityInterval;
        capacityFactor = cfg.capacityFactor;
        _setKeeper(cfg.keeper, cfg.keeperPublicKey);
    }

    // ================================================================ requesters

    /// @inheritdoc IProverMarket
    function deposit() external payable {
        if (msg.value == 0) revert ZeroAmount();
        Account storage a = _accounts[msg.sender];
        a.free += uint128(msg.value);
        a.marker = 1;
        emit Deposited(msg.sender, msg.value);
    }

    /// @inheritdoc IProverMarket
    function withdraw(uint256 amount) external nonReentrant {
        if (amount == 0) revert ZeroAmount();
        Account storage a = _accounts[msg.sender];
        uint256 free = a.free;
        if (free < amount) revert InsufficientBalance(msg.sender, free, amount);
        a.free = uint128(free - amount);
        emit Withdrawn(msg.sender, amount);
        _send(msg.sender, amount);
    }

    /// @inheritdoc IProverMarket
    function commitBid(uint256 round, bytes32 commitment, bytes calldata ciphertext, uint256 escrow, bytes32 task)
        external
    {
        _checkCommitOpen(round);
        if (escrow == 0) revert ZeroAmount();
        Account storage a = _accounts[msg.sender];
        uint256 free = a.free;
        if (free < escrow) revert InsufficientBalance(msg.sender, free, escrow);
        a.free = uint128(free - escrow);
        _ledger.nonFree += uint128(escrow);
        Round storage r = _rounds[round];
        uint256 word = r.bidChain;
        r.bidChain = Commitments.nextBid(word, commitment, msg.sender, escrow, task);
        emit BidCommitted(round, msg.sender, Commitments.count(word), commitment, escrow, task, ciphertext);
    }

    // =================================================================== provers

    /// @inheritdoc IProverMarket
    function stake() external payable {
        if (msg.value == 0) revert ZeroAmount();
        ProverInfo storage p = _provers[msg.sender];
        p.collateral = SafeCast.toUint96(p.collateral + msg.value);
        _ledger.nonFree += uint128(msg.value);
        emit Staked(msg.sender, msg.value);
    }

    /// @inheritdoc IProverMarket
    function setCapacity(uint256 units) external {
        if (units > MAX_SIZE) revert CapacityTooLarge(units);
        ProverInfo storage p = _provers[msg.sender];
        uint256 required = refundCap * units;
        if (p.collateral < required) revert InsufficientCollateral(msg.sender, p.collateral, required);
        uint256 cur = currentRound();
        if (units != 0 && p.capacityRound != 0) {
            uint256 allowedFrom = uint256(p.capacityRound) - 1 + capacityInterval;
            if (cur < allowedFrom) revert CapacityChangeTooSoon(msg.sender, cur, allowedFrom);
            uint256 ref = p.refCapacity;
            if (units > ref * capacityFactor || units * capacityFactor < ref) {
                revert CapacityChangeTooLarge(msg.sender, ref, units);
            }
        }
        p.capacity = uint32(units);
        if (units != 0) p.refCapacity = uint32(units);
        p.capacityRound = uint32(cur + 1);
        emit CapacitySet(cur, msg.sender, units);
    }

    /// @inheritdoc IProverMarket
    function withdrawCollateral(uint256 amount) external nonReentrant {
        if (amount == 0) revert ZeroAmount();
        ProverInfo storage p = _provers[msg.sender];
        uint256 lastAsk = p.lastAskRound;
        if (lastAsk != 0) {
            uint256 askRound = lastAsk - 1;
            uint256 deadline = genesis + (askRound + 1) * commitPeriod + settlePeriod;
            if (_rounds[askRound].status == RoundStatus.OPEN && block.timestamp < deadline) {
                revert CollateralLockedByAsk(msg.sender, askRound);
            }
        }
        uint256 collateral = p.collateral;
        uint256 needed = refundCap * (uint256(p.capacity) + p.outstanding) + amount;
        if (collateral < needed) revert InsufficientCollateral(msg.sender, collateral, needed);
        p.collateral = uint96(collateral - amount);
        _ledger.nonFree -= uint128(amount);
        emit CollateralWithdrawn(msg.sender, amount);
        _send(msg.sender, amount);
    }

    /// @inheritdoc IProverMarket
    function commitAsk(uint256 round, bytes32 commitment, bytes calldata ciphertext) external {
        _checkCommitOpen(round);
        ProverInfo storage p = _provers[msg.sender];
        uint256 capacity = p.capacity;
        if (capacity == 0) revert NoCapacity(msg.sender);
        if (p.lastAskRound == round + 1) revert AskAlreadyCommitted(round, msg.sender);
        uint256 required = refundCap * capacity;
        if (p.collateral < required) revert InsufficientCollateral(msg.sender, p.collateral, required);
        p.lastAskRound = uint32(round + 1);
        Round storage r = _rounds[round];
        uint256 word = r.askChainOrJobRoot;
        r.askChainOrJobRoot = Commitments.nextAsk(word, commitment, msg.sender, capacity);
        emit AskCommitted(round, msg.sender, Commitments.count(word), commitment, capacity, ciphertext);
    }

    // ================================================================ settlement

    /// @inheritdoc IProverMarket
    function settle(
        uint256 round,
        BidReveal[] calldata bids,
        AskReveal[] calldata asks,
        uint256[] calldata bidOrder,
        uint256[] calldata askOrder,
        JobEntry[] calldata jobs
    ) external {
        if (msg.sender != keeper) revert NotKeeper(msg.sender);
        Round storage r = _rounds[round];
        if (r.status != RoundStatus.OPEN) revert RoundAlreadyFinal(round, r.status);
        uint256 closesAt = genesis + (round + 1) * commitPeriod;
        if (block.timestamp < closesAt) revert RoundNotClosed(round, closesAt);
        if (block.timestamp >= closesAt + settlePeriod) revert SettleDeadlinePassed(round, closesAt + settlePeriod);

        Totals memory t;
        uint256[] memory charges = new uint256[](bids.length);
        (t.charged, t.released) = _settleBids(round, r.bidChain, bids, charges);
        _checkAsks(round, r.askChainOrJobRoot, asks);
        uint256[] memory askUnits = new uint256[](asks.length);
        uint256[] memory jobOfBid = new uint256[](bids.length);
        bytes32[] memory leaves = new bytes32[](jobs.length);
        uint256[] memory packedJobs = new uint256[](jobs.length);
        t.paid = _checkJobs(round, bids, asks, jobs, askUnits, jobOfBid, leaves, packedJobs);
        if (t.charged < t.paid) revert BudgetDeficit(round, t.charged, t.paid);
        if (mechanism == Mechanism.PROOFPHI) _checkProofPhi(round, bids, asks, bidOrder, askOrder, jobs, jobOfBid);
        _allocateAsks(asks, askUnits);

        if (t.released != 0) _ledger.nonFree -= uint128(t.released);
        bytes32 root = JobTree.root(leaves);
        r.askChainOrJobRoot = uint256(root);
        r.settledAt = uint64(block.timestamp);
        r.jobCount = uint32(jobs.length);
        r.askCount = uint32(asks.length);
        r.status = RoundStatus.SETTLED;
        uint256 words = (jobs.length + JOBS_PER_WORD - 1) / JOBS_PER_WORD;
        for (uint256 w = 0; w < words; ++w) {
            _resolved[round][w] = SENTINEL;
        }
        emit RoundSettled(round, root, t.charged, t.paid, charges, packedJobs);
    }

    /// @dev Re-derives the bid chain, checks each bid's charge, releases unused escrow.
    function _settleBids(uint256 round, uint256 stored, BidReveal[] calldata bids, uint256[] memory charges)
        private
        returns (uint256 charged, uint256 released)
    {
        uint256 word = 0;
        bool proofPhi = mechanism == Mechanism.PROOFPHI;
        for (uint256 i = 0; i < bids.length; ++i) {
            BidReveal calldata b = bids[i];
            bytes32 c;
            uint256 charge = b.charge;
            uint256 escrow = b.escrow;
            address requester = b.requester;
            if (b.valid) {
                uint256 size = b.size;
                uint256 value = b.value;
                if (value > escrow || size == 0 || size > MAX_SIZE || (proofPhi && size != 1)) {
                    revert BidRevealUnacceptable(round, i);
                }
                if (charge > value) revert Overcharged(round, i);
                c = Commitments.commitment(address(this), round, requester, 0, value, size, b.salt);
            } else {
                if (charge != 0) revert Overcharged(round, i);
                c = b.commitment;
            }
            word = Commitments.nextBid(word, c, requester, escrow, b.task);
            uint256 refund = escrow - charge;
            if (refund != 0) _accounts[requester].free += uint128(refund);
            charges[i] = charge;
            charged += charge;
            released += refund;
        }
        if (word != stored) revert RevealsMismatch(round, 0);
    }

    /// @dev Re-derives the ask chain and checks each valid ask's quantity.
    function _checkAsks(uint256 round, uint256 stored, AskReveal[] calldata asks) private view {
        uint256 word = 0;
        bool proofPhi = mechanism == Mechanism.PROOFPHI;
        for (uint256 i = 0; i < asks.length; ++i) {
            AskReveal calldata a = asks[i];
            bytes32 c;
            if (a.valid) {
                if (a.quantity > a.capacity || (proofPhi && a.quantity != a.capacity)) {
                    revert AskRevealUnacceptable(round, i);
                }
                c = Commitments.commitment(address(this), round, a.prover, 1, a.cost, a.quantity, a.salt);
            } else {
                c = a.commitment;
            }
            word = Commitments.nextAsk(word, c, a.prover, a.capacity);
        }
        if (word != stored) revert RevealsMismatch(round, 1);
    }

    /// @dev Generic feasibility of the jobs; fills per-ask units, each bid's (last) job + 1, leaves.
    function _checkJobs(
        uint256 round,
        BidReveal[] calldata bids,
        AskReveal[] calldata asks,
        JobEntry[] calldata jobs,
        uint256[] memory askUnits,
        uint256[] memory jobOfBid,
        bytes32[] memory leaves,
        uint256[] memory packedJobs
    ) private view returns (uint256 paid) {
        uint256 deadline = block.timestamp + proofPeriod;
        uint256 nextBid = 0; // every bid below this index has been checked
        uint256 unitsSoFar = 0;
        uint256 shareSoFar = 0;
        uint256 prevAskCost = 0;
        uint256 prevAsk = 0;
        for (uint256 k = 0; k < jobs.length; ++k) {
            JobEntry calldata j = jobs[k];
            uint256 b = j.bidIndex;
            uint256 a = j.askIndex;
            uint256 units = j.units;
            if (b >= bids.length || a >= asks.length || units == 0) revert JobInvalid(round, k);
            BidReveal calldata bid = bids[b];
            AskReveal calldata ask = asks[a];
            if (!bid.valid || !ask.valid) revert JobInvalid(round, k);
            uint256 cost = ask.cost;
            if (b + 1 == nextBid && k > 0) {
                // same bid as the previous job: asks must follow in rank order
                if (!Ranking.askBefore(prevAskCost, prevAsk, cost, a)) revert JobInvalid(round, k);
            } else {
                if (b < nextBid) revert JobInvalid(round, k);
                // bids skipped over have no jobs and must not be charged
                for (; nextBid < b; ++nextBid) {
                    if (bids[nextBid].charge != 0) revert ChargeWithoutAllocation(round, nextBid);
                }
                nextBid = b + 1;
                unitsSoFar = 0;
                shareSoFar = 0;
            }
            prevAsk = a;
            prevAskCost = cost;
            uint256 size = bid.size;
            unitsSoFar += units;
            if (unitsSoFar > size) revert UnitsMismatch(round, b);
            uint256 sold = askUnits[a] + units;
            if (sold > ask.quantity) revert AskOverAllocated(round, a);
            askUnits[a] = sold;
            uint256 payment = j.payment;
            if (payment / units < cost) revert Underpaid(round, k);
            uint256 charge = bid.charge;
            uint256 share;
            if (k + 1 == jobs.length || jobs[k + 1].bidIndex != b) {
                if (unitsSoFar != size) revert UnitsMismatch(round, b);
                share = charge - shareSoFar;
                jobOfBid[b] = k + 1;
            } else {
                share = (charge * units) / size;
            }
            if (payment > share) revert PaymentExceedsCharge(round, k);
            shareSoFar += share;
            paid += payment;
            leaves[k] = JobTree.leaf(round, k, b, bid.requester, bid.task, ask.prover, units, payment, share, deadline);
            packedJobs[k] = (b << 224) | (a << 192) | (units << 160) | payment;
        }
        for (; nextBid < bids.length; ++nextBid) {
            if (bids[nextBid].charge != 0) revert ChargeWithoutAllocation(round, nextBid);
        }
    }

    /// @dev Prooφ: `bidOrder`/`askOrder` must be rank-sorted permutations of the valid reveals, and
    ///      the jobs, charges and payments must equal the re-derived outcome (SPEC §3.1).
    function _checkProofPhi(
        uint256 round,
        BidReveal[] calldata bids,
        AskReveal[] calldata asks,
        uint256[] calldata bidOrder,
        uint256[] calldata askOrder,
        JobEntry[] calldata jobs,
        uint256[] memory jobOfBid
    ) private pure {
        _checkBidOrder(round, bids, bidOrder);
        _checkAskOrder(round, asks, askOrder);
        uint256 n = bidOrder.length;
        uint256 nAsks = askOrder.length;
        // ℓ = largest j with S_j < n and p_{j+1} ≤ f_{S_j+1}; winners = S_ℓ (0 when ℓ = 0)
        uint256 ell = 0;
        uint256 winners = 0;
        uint256 sj = 0;
        for (uint256 j = 0; j < nAsks && sj < n; ++j) {
            if (asks[askOrder[j]].cost > bids[bidOrder[sj]].value) break;
            ell = j;
            winners = sj;
            sj += asks[askOrder[j]].quantity;
        }
        uint256 fee = winners == 0 ? 0 : bids[bidOrder[winners]].value;
        uint256 price = winners == 0 ? 0 : asks[askOrder[ell]].cost;
        uint256 askPos = 0;
        uint256 used = 0;
        for (uint256 k = 0; k < n; ++k) {
            uint256 b = bidOrder[k];
            uint256 pos = jobOfBid[b];
            if (k < winners) {
                while (used == asks[askOrder[askPos]].quantity) {
                    ++askPos;
                    used = 0;
                }
                if (pos == 0) revert ProofPhiMismatch(round, k);
                JobEntry calldata job = jobs[pos - 1];
                if (job.askIndex != askOrder[askPos] || job.payment != price || bids[b].charge != fee) {
                    revert ProofPhiMismatch(round, k);
                }
                ++used;
            } else if (pos != 0) {
                revert ProofPhiMismatch(round, k);
            }
        }
    }

    function _checkBidOrder(uint256 round, BidReveal[] calldata bids, uint256[] calldata order) private pure {
        bool[] memory seen = new bool[](bids.length);
        uint256 valid = 0;
        for (uint256 i = 0; i < bids.length; ++i) {
            if (bids[i].valid) ++valid;
        }
        if (order.length != valid) revert BidOrderInvalid(round, order.length < valid ? order.length : valid);
        for (uint256 k = 0; k < order.length; ++k) {
            uint256 b = order[k];
            if (b >= bids.length || !bids[b].valid || seen[b]) revert BidOrderInvalid(round, k);
            seen[b] = true;
            if (k > 0) {
                uint256 p = order[k - 1];
                if (!Ranking.bidBefore(bids[p].value, bids[p].size, p, bids[b].value, bids[b].size, b)) {
                    revert BidOrderInvalid(round, k);
                }
            }
        }
    }

    function _checkAskOrder(uint256 round, AskReveal[] calldata asks, uint256[] calldata order) private pure {
        bool[] memory seen = new bool[](asks.length);
        uint256 valid = 0;
        for (uint256 i = 0; i < asks.length; ++i) {
            if (asks[i].valid) ++valid;
        }
        if (order.length != valid) revert AskOrderInvalid(round, order.length < valid ? order.length : valid);
        for (uint256 k = 0; k < order.length; ++k) {
            uint256 a = order[k];
            if (a >= asks.length || !asks[a].valid || seen[a]) revert AskOrderInvalid(round, k);
            seen[a] = true;
            if (k > 0) {
                uint256 p = order[k - 1];
                if (!Ranking.askBefore(asks[p].cost, p, asks[a].cost, a)) revert AskOrderInvalid(round, k);
            }
        }
    }

    /// @dev Adds allocated units to each prover's outstanding units and checks its collateral.
    function _allocateAsks(AskReveal[] calldata asks, uint256[] memory askUnits) private {
        for (uint256 i = 0; i < asks.length; ++i) {
            uint256 units = askUnits[i];
            if (units == 0) continue;
            address prover = asks[i].prover;
            ProverInfo storage p = _provers[prover];
            uint256 outstanding = p.outstanding + units;
            if (outstanding > MAX_SIZE) revert CapacityTooLarge(outstanding);
            p.outstanding = uint32(outstanding);
            uint256 collateral = p.collateral;
            if (refundCap * outstanding > collateral) {
                revert InsufficientCollateral(prover, collateral, refundCap * outstanding);
            }
        }
    }

    // ==================================================================== proofs

    /// @inheritdoc IProverMarket
    function submitProof(uint256 round, Job calldata job, bytes32[] calldata merkleProof, bytes calldata proof)
        external
    {
        if (msg.sender != job.prover) revert NotJobProver(msg.sender, job.prover);
        if (block.timestamp >= job.proofDeadline) {
            revert ProofDeadlinePassed(round, job.jobIndex, job.proofDeadline);
        }
        (mapping(uint256 => uint256) storage bits, uint256 wordIndex, uint256 word, uint256 bit) =
            _openJob(round, job, merkleProof);
        if (!verifier.verify(job.task, msg.sender, proof)) revert ProofRejected(round, job.jobIndex);
        uint256 margin = job.chargeShare - job.payment;
        bits[wordIndex] = (word | bit) + (margin << 128);
        ProverInfo storage p = _provers[msg.sender];
        p.collateral = SafeCast.toUint96(p.collateral + job.payment);
        p.outstanding -= uint32(job.units);
        emit ProofAccepted(round, msg.sender, job.jobIndex, job.payment, margin);
    }

    /// @inheritdoc IProverMarket
    function slash(uint256 round, Job calldata job, bytes32[] calldata merkleProof) external {
        if (block.timestamp < job.proofDeadline) {
            revert ProofDeadlineNotReached(round, job.jobIndex, job.proofDeadline);
        }
        (mapping(uint256 => uint256) storage bits, uint256 wordIndex, uint256 word, uint256 bit) =
            _openJob(round, job, merkleProof);
        bits[wordIndex] = word | bit;
        ProverInfo storage p = _provers[job.prover];
        uint256 collateral = p.collateral;
        uint256 compensation = refundCap * job.units;
        if (compensation > collateral) compensation = collateral;
        p.collateral = uint96(collateral - compensation);
        p.outstanding -= uint32(job.units);
        uint256 credit = job.chargeShare + compensation;
        if (credit != 0) {
            _ledger.nonFree -= uint128(credit);
            Account storage a = _accounts[job.requester];
            a.free += uint128(credit);
            a.marker = 1;
        }
        emit JobSlashed(round, job.prover, job.jobIndex, job.requester, job.chargeShare, compensation);
    }

    /// @dev Checks the job is in the round's root and unresolved; returns its bitmap position.
    function _openJob(uint256 round, Job calldata job, bytes32[] calldata merkleProof)
        private
        view
        returns (mapping(uint256 => uint256) storage bits, uint256 wordIndex, uint256 word, uint256 bit)
    {
        // Before settlement the slot holds the ask chain word: no Merkle proof can reach it
        // (that would need a keccak preimage), so the status need not be read here.
        bytes32 root = bytes32(_rounds[round].askChainOrJobRoot);
        if (root == bytes32(0)) revert RoundNotSettled(round);
        bytes32 leaf = keccak256(abi.encode(round, job));
        if (!MerkleProof.verifyCalldata(merkleProof, root, leaf)) revert JobNotInRound(round, job.jobIndex);
        bits = _resolved[round];
        wordIndex = job.jobIndex / JOBS_PER_WORD;
        bit = 1 << (job.jobIndex % JOBS_PER_WORD);
        word = bits[wordIndex];
        if (word & bit != 0) revert JobAlreadyResolved(round, job.jobIndex);
    }

    // ================================================================== liveness

    /// @inheritdoc IProverMarket
    function voidRound(uint256 round, BidCommit[] calldata bids) external {
        Round storage r = _rounds[round];
        if (r.status != RoundStatus.OPEN) revert RoundAlreadyFinal(round, r.status);
        uint256 deadline = genesis + (round + 1) * commitPeriod + settlePeriod;
        if (block.timestamp < deadline) revert VoidTooEarly(round, deadline);
        uint256 word = 0;
        uint256 released = 0;
        for (uint256 i = 0; i < bids.length; ++i) {
            BidCommit calldata b = bids[i];
            word = Commitments.nextBid(word, b.commitment, b.requester, b.escrow, b.task);
            _accounts[b.requester].free += uint128(b.escrow);
            released += b.escrow;
        }
        if (word != r.bidChain) revert RevealsMismatch(round, 0);
        if (released != 0) _ledger.nonFree -= uint128(released);
        r.status = RoundStatus.VOIDED;
        emit RoundVoided(round, msg.sender, bids.length, released);
    }

    // ===================================================================== owner

    /// @inheritdoc IProverMarket
    function withdrawTreasury(uint256 amount) external onlyOwner nonReentrant {
        if (amount == 0) revert ZeroAmount();
        Ledger memory l = _ledger;
        if (l.treasury < amount) revert InsufficientBalance(address(this), l.treasury, amount);
        _ledger = Ledger(l.nonFree - uint128(amount), l.treasury - uint120(amount), l.commitsPaused);
        emit TreasuryWithdrawn(msg.sender, amount);
        _send(msg.sender, amount);
    }

    /// @inheritdoc IProverMarket
    function collectMargins(uint256 round) external {
        uint256 words = (uint256(_rounds[round].jobCount) + JOBS_PER_WORD - 1) / JOBS_PER_WORD;
        mapping(uint256 => uint256) storage bits = _resolved[round];
        uint256 total = 0;
        for (uint256 w = 0; w < words; ++w) {
            uint256 word = bits[w];
            uint256 margin = (word & MARGIN_MASK) >> 128;
            if (margin != 0) {
                bits[w] = word & ~MARGIN_MASK;
                total += margin;
            }
        }
        if (total != 0) _ledger.treasury += SafeCast.toUint120(total);
        emit MarginsCollected(round, msg.sender, total);
    }

    /// @inheritdoc IProverMarket
    function rotateKeeper(address newKeeper, bytes calldata publicKey) external onlyOwner {
        _setKeeper(newKeeper, publicKey);
    }

    /// @inheritdoc IProverMarket
    function setCommitsPaused(bool paused) external onlyOwner {
        _ledger.commitsPaused = paused;
        emit CommitsPausedSet(paused);
    }

    // ===================================================================== views

    /// @notice True while new commitments are paused (packed with the ledger counters).
    function commitsPaused() external view returns (bool) {
        return _ledger.commitsPaused;
    }

    /// @inheritdoc IProverMarket
    function currentRound() public view returns (uint256) {
        return (block.timestamp - genesis) / commitPeriod;
    }

    /// @inheritdoc IProverMarket
    function roundTimes(uint256 round)
        external
        view
        returns (uint256 opensAt, uint256 closesAt, uint256 settleDeadline, uint256 proofDeadline)
    {
        opensAt = genesis + round * commitPeriod;
        closesAt = opensAt + commitPeriod;
        settleDeadline = closesAt + settlePeriod;
        uint256 settledAt = _rounds[round].settledAt;
        proofDeadline = settledAt == 0 ? 0 : settledAt + proofPeriod;
    }

    /// @inheritdoc IProverMarket
    function roundPhase(uint256 round) external view returns (Phase) {
        Round storage r = _rounds[round];
        if (r.status == RoundStatus.VOIDED) return Phase.VOIDED;
        if (r.status == RoundStatus.SETTLED) {
            return block.timestamp < uint256(r.settledAt) + proofPeriod ? Phase.PROOF : Phase.SLASHABLE;
        }
        uint256 opensAt = genesis + round * commitPeriod;
        if (block.timestamp < opensAt) return Phase.UPCOMING;
        if (block.timestamp < opensAt + commitPeriod) return Phase.COMMIT;
        if (block.timestamp < opensAt + commitPeriod + settlePeriod) return Phase.SETTLE;
        return Phase.VOIDABLE;
    }

    /// @inheritdoc IProverMarket
    function commitmentOf(
        uint256 round,
        address participant,
        uint8 side,
        uint256 price,
        uint256 quantity,
        bytes32 salt
    ) external view returns (bytes32) {
        return Commitments.commitment(address(this), round, participant, side, price, quantity, salt);
    }

    /// @inheritdoc IProverMarket
    function liabilities() external view returns (uint256 nonFree, uint256 treasury) {
        Ledger memory l = _ledger;
        return (l.nonFree, l.treasury);
    }

    /// @inheritdoc IProverMarket
    function uncollectedMargin(uint256 round) external view returns (uint256 total) {
        uint256 words = (uint256(_rounds[round].jobCount) + JOBS_PER_WORD - 1) / JOBS_PER_WORD;
        for (uint256 w = 0; w < words; ++w) {
            total += (_resolved[round][w] & MARGIN_MASK) >> 128;
        }
    }

    /// @inheritdoc IProverMarket
    function balanceOf(address account) external view returns (uint256) {
        return _accounts[account].free;
    }

    /// @inheritdoc IProverMarket
    function outstandingUnits(address prover) external view returns (uint256) {
        return _provers[prover].outstanding;
    }

    /// @inheritdoc IProverMarket
    function proverInfo(address prover)
        external
        view
        returns (
            uint256 collateral,
            uint256 capacity,
            uint256 refCapacity,
            uint256 capacityRoundPlusOne,
            uint256 lastAskRoundPlusOne
        )
    {
        ProverInfo memory p = _provers[prover];
        return (p.collateral, p.capacity, p.refCapacity, p.capacityRound, p.lastAskRound);
    }

    /// @inheritdoc IProverMarket
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
        )
    {
        Round memory r = _rounds[round];
        bool settled = r.status == RoundStatus.SETTLED;
        return (
            Commitments.count(r.bidChain),
            settled ? r.askCount : Commitments.count(r.askChainOrJobRoot),
            r.bidChain,
            settled ? 0 : r.askChainOrJobRoot,
            settled ? bytes32(r.askChainOrJobRoot) : bytes32(0),
            r.settledAt,
            r.jobCount,
            r.status
        );
    }

    /// @inheritdoc IProverMarket
    function isResolved(uint256 round, uint256 jobIndex) external view returns (bool) {
        return _resolved[round][jobIndex / JOBS_PER_WORD] & (1 << (jobIndex % JOBS_PER_WORD)) != 0;
    }

    // ================================================================== internal

    function _checkCommitOpen(uint256 round) private view {
        if (_ledger.commitsPaused) revert CommitsPaused();
        uint256 cur = currentRound();
        if (round != cur) revert RoundNotOpen(round, cur);
    }

    function _setKeeper(address newKeeper, bytes memory publicKey) private {
        if (newKeeper == address(0)) revert InvalidConfig("keeper");
        if (publicKey.length != 64) revert InvalidPublicKey(publicKey.length);
        keeper = newKeeper;
        keeperPublicKey = publicKey;
        emit KeeperRotated(newKeeper, publicKey);
    }

    function _send(address to, uint256 amount) private {
        (bool ok,) = payable(to).call{value: amount}("");
        if (!ok) revert TransferFailed(to, amount);
    }
}
