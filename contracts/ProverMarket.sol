// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {MarketStorage} from "./MarketStorage.sol";
import {SettlementModule} from "./SettlementModule.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {IProverMarket} from "./interfaces/IProverMarket.sol";
import {ICircuitRegistry} from "./interfaces/ICircuitRegistry.sol";
import {IProofVerifier} from "./interfaces/IProofVerifier.sol";
import {Commitments} from "./libraries/Commitments.sol";

/// @title ProverMarket
/// @notice Sealed-bid prover market (docs/protocol.md); see {IProverMarket} for the protocol.
/// @dev Storage layout is chosen for the gas targets (see docs/contract.md):
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
contract ProverMarket is MarketStorage, IProverMarket, ReentrancyGuardTransient {
    /// @notice The {SettlementModule} this market deployed and delegates settlement and voids to.
    address public immutable settlementModule;

    constructor(Config memory cfg) MarketStorage(cfg) {
        _checkConfig(cfg);
        _setKeeper(cfg.keeper, cfg.keeperPublicKey, 0);
        settlementModule = address(new SettlementModule(cfg));
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
        payable
    {
        if (_circuitTasks) revert OpaqueTaskRefused();
        _commitBid(round, commitment, ciphertext, escrow, task, new uint256[](0));
    }

    /// @inheritdoc IProverMarket
    function commitTask(
        uint256 round,
        bytes32 commitment,
        bytes calldata ciphertext,
        uint256 escrow,
        uint256 circuitId,
        uint256[] calldata inputs
    ) external payable {
        if (!_circuitTasks) revert CircuitTasksUnsupported();
        bytes32 task = ICircuitRegistry(address(_verifier)).taskOf(circuitId, inputs);
        // one-unit tasks only: a mechanism may split a bid's units across provers, and every part
        // of a multi-unit circuit task would have to prove the whole circuit
        uint256 units = uint256(task) >> 224;
        if (units != 1) revert TaskSizeNotOne(units);
        _commitBid(round, commitment, ciphertext, escrow, task, inputs);
    }

    function _commitBid(
        uint256 round,
        bytes32 commitment,
        bytes calldata ciphertext,
        uint256 escrow,
        bytes32 task,
        uint256[] memory inputs
    ) private {
        _checkCommitOpen(round);
        if (escrow < _minEscrow) revert EscrowTooSmall(escrow, _minEscrow);
        Account storage a = _accounts[msg.sender];
        uint256 free = a.free;
        Round storage r = _rounds[round];
        uint256 word = r.bidChain;
        uint256 n = Commitments.count(word);
        if (n >= _maxBidsPerRound) revert RoundFull(round, 0, _maxBidsPerRound);
        // below a quarter of the cap (every round but a crowded one) no fee: skip the formula
        uint256 fee = n < _maxBidsPerRound / 4 ? 0 : _congestionFee(0, n);
        // Amounts are wei the market holds (< 2^128 in all), fee < 2^128 · 2^32 / S and
        // n < maxBidsPerRound < 2^16, so the sums below cannot overflow; free ≥ escrow + fee is
        // checked before the subtraction.
        unchecked {
            if (msg.value != 0) {
                // deposit and bid in one transaction: the value joins the free balance first
                free += msg.value;
                a.marker = 1;
                emit Deposited(msg.sender, msg.value);
            }
            uint256 owed = escrow + fee;
            if (free < owed) revert InsufficientBalance(msg.sender, free, owed);
            a.free = uint128(free - owed);
            _ledger.nonFree += uint128(owed);
            if (fee != 0) _burn(round, 0, fee);
            uint256 next = Commitments.nextBid(word, commitment, msg.sender, escrow, task);
            r.bidChain = next;
            if ((n + 1) % _checkpointInterval == 0) _checkpoints[round][(n + 1) / _checkpointInterval] = next;
            emit BidCommitted(round, msg.sender, n, commitment, escrow, task, ciphertext, inputs);
        }
    }

    /// @dev Burns a congestion fee already moved into `nonFree`: it stays there for good.
    function _burn(uint256 round, uint8 side, uint256 fee) private {
        _burned += fee;
        emit CongestionFeeBurned(round, msg.sender, side, fee);
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
        (bool pending, uint256 askRound, uint256 unlocksBy) = _pendingAsk(p);
        if (pending) revert CapacityLockedByAsk(msg.sender, askRound, unlocksBy);
        uint256 required = _refundCap * units;
        if (p.collateral < required) revert InsufficientCollateral(msg.sender, p.collateral, required);
        uint256 cur = currentRound();
        if (units != 0 && p.capacityRound != 0) {
            uint256 allowedFrom = uint256(p.capacityRound) - 1 + _capacityInterval;
            if (cur < allowedFrom) revert CapacityChangeTooSoon(msg.sender, cur, allowedFrom);
            uint256 ref = p.refCapacity;
            if (units > ref * _capacityFactor || units * _capacityFactor < ref) {
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
        (bool pending, uint256 askRound, uint256 unlocksBy) = _pendingAsk(p);
        if (pending) revert CollateralLockedByAsk(msg.sender, askRound, unlocksBy);
        uint256 collateral = p.collateral;
        uint256 backing = _refundCap * p.outstanding;
        uint256 needed = backing + _refundCap * uint256(p.capacity) + amount;
        if (collateral < needed) {
            // enough once capacity is 0: say so (`exit` does both in one call)
            if (p.capacity != 0 && collateral >= backing + amount) {
                revert CollateralBacksCapacity(msg.sender, p.capacity, collateral - backing);
            }
            revert InsufficientCollateral(msg.sender, collateral, needed);
        }
        p.collateral = uint96(collateral - amount);
        _ledger.nonFree -= uint128(amount);
        emit CollateralWithdrawn(msg.sender, amount);
        _send(msg.sender, amount);
    }

    /// @inheritdoc IProverMarket
    function exit() external nonReentrant returns (uint256 amount) {
        ProverInfo storage p = _provers[msg.sender];
        (bool pending, uint256 askRound, uint256 unlocksBy) = _pendingAsk(p);
        if (pending) revert CapacityLockedByAsk(msg.sender, askRound, unlocksBy);
        uint256 cur = currentRound();
        p.capacity = 0;
        p.capacityRound = uint32(cur + 1);
        emit CapacitySet(cur, msg.sender, 0);
        uint256 collateral = p.collateral;
        uint256 backing = _refundCap * p.outstanding;
        if (collateral > backing) {
            amount = collateral - backing;
            p.collateral = uint96(backing);
            _ledger.nonFree -= uint128(amount);
            emit CollateralWithdrawn(msg.sender, amount);
            _send(msg.sender, amount);
        }
    }

    /// @inheritdoc IProverMarket
    function commitAsk(uint256 round, bytes32 commitment, bytes calldata ciphertext) external {
        _checkCommitOpen(round);
        ProverInfo storage p = _provers[msg.sender];
        uint256 capacity = p.capacity;
        if (capacity == 0) revert NoCapacity(msg.sender);
        if (p.lastAskRound == round + 1) revert AskAlreadyCommitted(round, msg.sender);
        // Reserve collateral for this ask, for every earlier ask that may still be settled (each
        // at most `capacity` units: capacity is frozen while one may) and for outstanding units.
        // Each of them may also be invalid and forfeit `minEscrow` to the keeper; this ask's
        // congestion fee is paid (burned) from the collateral above all that.
        Round storage r = _rounds[round];
        uint256 word = r.askChainOrJobRoot;
        uint256 n = Commitments.count(word);
        if (n >= _maxAsksPerRound) revert RoundFull(round, 1, _maxAsksPerRound);
        uint256 fee = _congestionFee(1, n);
        uint256 collateral = p.collateral;
        uint256 required = _refundCap * uint256(p.outstanding)
            + (_refundCap * capacity + _minEscrow) * (1 + _asksMaySettle(p)) + fee;
        if (collateral < required) revert InsufficientCollateral(msg.sender, collateral, required);
        if (fee != 0) {
            p.collateral = uint96(collateral - fee);
            _burn(round, 1, fee);
        }
        p.lastAskRound = uint32(round + 1);
        r.askChainOrJobRoot = Commitments.nextAsk(word, commitment, msg.sender, capacity);
        emit AskCommitted(round, msg.sender, n, commitment, capacity, ciphertext);
    }

    /// @dev Upper bound on the rounds before now in which `p` has an ask that may still be settled:
    ///      rounds from the first whose settlement deadline is still ahead up to its last ask's round
    ///      (that one excluded once it is final). Rounds past their deadline can no longer settle.
    function _asksMaySettle(ProverInfo storage p) private view returns (uint256) {
        uint256 lastAsk = p.lastAskRound;
        if (lastAsk == 0) return 0;
        uint256 last = lastAsk - 1;
        RoundStatus status = _rounds[last].status;
        if (status == RoundStatus.SETTLED || status == RoundStatus.VOIDED) {
            if (last == 0) return 0;
            --last;
        }
        uint256 elapsed = block.timestamp - _genesis;
        uint256 first = elapsed > _settlePeriod ? (elapsed - _settlePeriod) / _commitPeriod : 0;
        return last < first ? 0 : last - first + 1;
    }

    /// @dev True (with the last ask's round) while an ask of `p` may still be settled: its last
    ///      ask's round is neither final nor past its deadline, or an earlier round's deadline is
    ///      ahead. `unlocksBy`: the time from which it is false at the latest (earlier if the last
    ///      ask's round settles before its deadline).
    function _pendingAsk(ProverInfo storage p) private view returns (bool, uint256, uint256) {
        uint256 lastAsk = p.lastAskRound;
        if (lastAsk == 0) return (false, 0, 0);
        uint256 askRound = lastAsk - 1;
        uint256 deadline = _genesis + (askRound + 1) * _commitPeriod + _settlePeriod;
        RoundStatus status = _rounds[askRound].status;
        bool final_ = status == RoundStatus.SETTLED || status == RoundStatus.VOIDED;
        uint256 earlier = deadline > _commitPeriod ? deadline - _commitPeriod : 0;
        uint256 unlocksBy = final_ ? earlier : deadline;
        return (block.timestamp < unlocksBy, askRound, unlocksBy);
    }

    // ====================================================== settlement and voids

    /// @inheritdoc IProverMarket
    function beginSettlement(uint256, bytes calldata, uint256[] calldata, ProofPhiClaim calldata) external {
        _delegateToModule();
    }

    /// @inheritdoc IProverMarket
    function settleBids(uint256, bytes calldata, bytes calldata) external {
        _delegateToModule();
    }

    // ==================================================================== proofs

    /// @inheritdoc IProverMarket
    function submitProof(uint256 round, Job calldata job, bytes32[] calldata merkleProof, bytes calldata proof)
        external
    {
        // The market's verifier itself submits for a job's prover once it has checked the proof
        // in a batch of that prover's (`Groth16Registry.submitProofs`): it is trusted with
        // proofs either way.
        bool checked = msg.sender == address(_verifier);
        if (!checked && msg.sender != job.prover) revert NotJobProver(msg.sender, job.prover);
        if (block.timestamp >= job.proofDeadline) {
            revert ProofDeadlinePassed(round, job.jobIndex, job.proofDeadline);
        }
        (mapping(uint256 => uint256) storage bits, uint256 wordIndex, uint256 word, uint256 bit) =
            _openJob(round, job, merkleProof);
        if (!checked && !_verifier.verify(job.task, msg.sender, proof)) revert ProofRejected(round, job.jobIndex);
        uint256 margin = job.chargeShare - job.payment;
        bits[wordIndex] = (word | bit) + (margin << 128);
        ProverInfo storage p = _provers[job.prover];
        p.collateral = SafeCast.toUint96(p.collateral + job.payment);
        p.outstanding -= uint32(job.units);
        emit ProofAccepted(round, job.prover, job.jobIndex, job.payment, margin);
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
        uint256 compensation = _refundCap * job.units;
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
        if (!MerkleProof.verifyCalldata(merkleProof, root, leaf)) {
            revert JobNotInRound(round, job.jobIndex, _wrongJobField(round, job));
        }
        bits = _resolved[round];
        wordIndex = job.jobIndex / JOBS_PER_WORD;
        bit = 1 << (job.jobIndex % JOBS_PER_WORD);
        word = bits[wordIndex];
        if (word & bit != 0) revert JobAlreadyResolved(round, job.jobIndex);
    }

    /// @dev Which field of a job that is not in the round's root is wrong, when the chain can tell:
    ///      `jobIndex` beyond the round's jobs, `proofDeadline` not the round's; else `leaf` (one of
    ///      the other fields, or the Merkle proof, differs from the settlement's).
    function _wrongJobField(uint256 round, Job calldata job) private view returns (bytes32) {
        if (job.jobIndex >= _rounds[round].jobCount) return "jobIndex";
        uint256 due = _genesis + (round + 1) * _commitPeriod + _settlePeriod + _proofPeriod;
        if (job.proofDeadline != due) return "proofDeadline";
        return "leaf";
    }

    // ================================================================== liveness

    /// @inheritdoc IProverMarket
    function voidRound(uint256, BidCommit[] calldata) external {
        _delegateToModule();
    }

    /// @inheritdoc IProverMarket
    function unwindPage(uint256, ChargeEntry[] calldata) external {
        _delegateToModule();
    }

    /// @notice Every other selector (the configuration and fee views of {IMarketViews}) is served
    ///         by the module on this market's storage and immutables (the same configuration).
    fallback() external {
        _delegateToModule();
    }

    /// @dev Runs the call's own calldata in {SettlementModule} on this contract's storage and
    ///      returns or reverts with its result.
    function _delegateToModule() private {
        address module = settlementModule;
        assembly {
            calldatacopy(0, 0, calldatasize())
            let ok := delegatecall(gas(), module, 0, calldatasize(), 0, 0)
            returndatacopy(0, 0, returndatasize())
            if iszero(ok) { revert(0, returndatasize()) }
            return(0, returndatasize())
        }
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
        _setKeeper(newKeeper, publicKey, currentRound() + 1);
    }

    /// @notice Disabled: see {IProverMarket-RenounceDisabled}.
    function renounceOwnership() public pure override {
        revert RenounceDisabled();
    }

    /// @inheritdoc IProverMarket
    function keeperFor(uint256 round) public view returns (address, bytes memory) {
        (uint256 term, address k) = _keeperOf(round);
        return (k, _termKeys[term]);
    }

    /// @inheritdoc IProverMarket
    function keeper() external view returns (address k) {
        (, k) = _keeperOf(currentRound());
    }

    /// @inheritdoc IProverMarket
    function keeperPublicKey() external view returns (bytes memory key) {
        (, key) = keeperFor(currentRound());
    }

    /// @inheritdoc IProverMarket
    function postPrice(uint256, uint256) external {
        _delegateToModule();
    }

    /// @inheritdoc IProverMarket
    function roundPrice(uint256 round) external view returns (uint256) {
        return _roundPrice(round);
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
        return (block.timestamp - _genesis) / _commitPeriod;
    }

    /// @inheritdoc IProverMarket
    function roundTimes(uint256 round)
        external
        view
        returns (uint256 opensAt, uint256 closesAt, uint256 settleDeadline, uint256 proofDeadline)
    {
        opensAt = _genesis + round * _commitPeriod;
        closesAt = opensAt + _commitPeriod;
        settleDeadline = closesAt + _settlePeriod;
        proofDeadline = _rounds[round].settledAt == 0 ? 0 : settleDeadline + _proofPeriod;
    }

    /// @inheritdoc IProverMarket
    function roundPhase(uint256 round) external view returns (Phase) {
        Round storage r = _rounds[round];
        if (r.status == RoundStatus.VOIDED) return Phase.VOIDED;
        uint256 opensAt = _genesis + round * _commitPeriod;
        if (r.status == RoundStatus.SETTLED) {
            return block.timestamp < opensAt + _commitPeriod + _settlePeriod + _proofPeriod ? Phase.PROOF : Phase.SLASHABLE;
        }
        if (block.timestamp < opensAt) return Phase.UPCOMING;
        if (block.timestamp < opensAt + _commitPeriod) return Phase.COMMIT;
        if (block.timestamp < opensAt + _commitPeriod + _settlePeriod) return Phase.SETTLE;
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
    function settlementProgress(uint256 round)
        external
        view
        returns (uint256 bidsDone, uint256 pages, uint256 unwound, uint256 charged, uint256 paid, bytes32 askTableHash)
    {
        Progress memory pr = _progress[round];
        Totals memory t = _totals[round];
        return (pr.bidsDone, pr.pages, pr.unwound, t.charged, t.paid, _askTables[round]);
    }

    /// @inheritdoc IProverMarket
    function bidCheckpoint(uint256 round, uint256 index) external view returns (uint256) {
        return _checkpoints[round][index];
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

    function _send(address to, uint256 amount) private {
        // Every caller passes msg.sender and the amount its ledger entry owes it (pull payments);
        // `call` so contract wallets can receive. Callers update storage before sending.
        // slither-disable-next-line arbitrary-send-eth,low-level-calls
        (bool ok,) = payable(to).call{value: amount}("");
        if (!ok) revert TransferFailed(to, amount);
    }
}
