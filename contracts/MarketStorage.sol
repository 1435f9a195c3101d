// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {IProverMarketTypes} from "./interfaces/IProverMarket.sol";
import {IProofVerifier} from "./interfaces/IProofVerifier.sol";
import {ICircuitRegistry} from "./interfaces/ICircuitRegistry.sol";

/// @title MarketStorage
/// @notice The state, configuration and constants shared by {ProverMarket} and the
///         {SettlementModule} it delegates paged settlement and voiding to (one storage layout).
abstract contract MarketStorage is IProverMarketTypes, Ownable2Step {
    /// @notice Deployment parameters.
    /// @param owner Owner (treasury withdrawals, keeper rotation, pausing); two-step transfer, never
    ///        renounced.
    /// @param keeper The keeper's address (the only account that may settle).
    /// @param keeperPublicKey The keeper's secp256k1 public key, 64 bytes `x || y`.
    /// @param verifier The proof verifier.
    /// @param mechanism PROOFPHI, DARA or FIXEDPRICE.
    /// @param genesis Start of round 0 (0 = deployment time); must not be in the future.
    /// @param commitPeriod Length of each round's commit window, seconds.
    /// @param settlePeriod Time after a round closes for the keeper to settle, seconds.
    /// @param proofPeriod Time after settlement for provers to prove, seconds.
    /// @param refundCap Collateral per unit of capacity and compensation per missed unit, wei (> 0).
    /// @param capacityInterval Rounds between capacity changes.
    /// @param capacityFactor Maximum fold of a capacity change (≥ 1).
    /// @param minEscrow Smallest escrow a bid may lock (≥ 1 wei), and what an invalid order (bid or
    ///        ask) forfeits to the keeper that settles it: its settlement's gas (an ask reserves it
    ///        in collateral).
    /// @param fillCost Congestion fees (wei, burned) that filling one side of a round from a quarter
    ///        of its cap to the cap costs in total; orders below a quarter pay none (0: no fee).
    /// @param maxBidsPerRound Commitments a round accepts on the bid side (≤ `MAX_BIDS_LIMIT`).
    /// @param maxAsksPerRound Commitments a round accepts on the ask side (≤ `MAX_ASKS_LIMIT`, so
    ///        the ask reveals fit one transaction even when every ask is invalid, and the ask table
    ///        rides along with every page).
    /// @param checkpointInterval Bids between stored checkpoints of the bid chain (64 in production:
    ///        one 22k-gas write per 64 commits; tests use small values to page small rounds).
    /// @param initialPrice FIXEDPRICE: the per-unit price (wei) until the keeper posts one (≥ 1).
    /// @param priceWindow FIXEDPRICE: settled rounds whose revealed orders the price rule reads
    ///        (the rule runs off-chain; stored so that anyone can recompute it from the chain).
    /// @param priceEvery FIXEDPRICE: prices are posted only for rounds that are multiples of it.
    /// @param priceStepBps FIXEDPRICE: a post moves the price at most by the factor
    ///        `(10_000 + priceStepBps) / 10_000`, up or down.
    ///        Other mechanisms ignore the four price parameters.
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
        uint256 minEscrow;
        uint256 fillCost;
        uint256 maxBidsPerRound;
        uint256 maxAsksPerRound;
        uint256 checkpointInterval;
        uint256 initialPrice;
        uint256 priceWindow;
        uint256 priceEvery;
        uint256 priceStepBps;
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

    /// @dev Progress of a paged settlement (or void) of one round, one slot.
    ///      `winners`/`beforeB`/`validBids`/`seenA`/`seenB` are the Prooφ counters the last page checks;
    ///      `eligibleUnits` is FIXEDPRICE's count of units of eligible bids that lost so far (< 2^48:
    ///      ≤ 2^16 bids of < 2^32 units).
    struct Progress {
        uint32 bidsDone;
        uint32 jobsDone;
        uint16 pages;
        uint16 unwound;
        uint32 validBids;
        uint32 winners;
        uint32 beforeB;
        bool seenA;
        bool seenB;
        uint48 eligibleUnits;
    }

    /// @dev Running totals of a paged settlement (the pot is `charged`; `paid` ≤ `charged`).
    struct Totals {
        uint128 charged;
        uint128 paid;
    }

    /// @dev The Prooφ outcome claimed at `beginSettlement` (see {IProverMarket-ProofPhiClaim}).
    struct Claim {
        uint128 pivotAValue;
        uint32 pivotAIndex;
        uint16 ell;
        bool hasA;
        bool hasB;
        uint32 pivotBIndex;
        uint128 pivotBValue;
    }

    /// @dev What one page works with (kept in memory to stay below the stack limit).
    struct PageCtx {
        uint256 round;
        uint256 start; // absolute calldata offset of the page's first byte (errors report from it)
        uint256 cursor; // absolute calldata offset of the next byte to read
        uint256 end; // absolute calldata offset one past the page
        uint256 firstBid;
        uint256 bidCount;
        uint256 jobCount;
        uint256 jobsDone;
        uint256 word; // bid chain word
        uint256 chargeDigest;
        uint256 charged;
        uint256 paid;
        uint256 released;
        uint256 deadline; // proof deadline of every job of the round
        uint256 jobsSoFar;
        uint256 tableLen;
        bool proofPhi;
        uint256 price; // FIXEDPRICE: the round's price (0 for the other mechanisms)
        uint256 eligibleUnits; // FIXEDPRICE: units of eligible bids that lost, this page
        uint256 kept; // the current bid's forfeit (`minEscrow` when it is invalid, else 0)
        uint256 invalids; // invalid bids on this page (each forfeits `minEscrow` to the keeper)
    }

    /// @dev Bytes of an invalid order's evidence after its commitment: reason (1) | shared point
    ///      S (64) | DLEQ c (32) | z (32).
    uint256 internal constant EVIDENCE = 129;
    /// @dev Bytes of one invalid ask in `beginSettlement` (the largest ask reveal): prover (20) |
    ///      capacity (4) | flag (1) | commitment (32) | evidence.
    uint256 internal constant INVALID_ASK = 25 + 32 + EVIDENCE;
    /// @dev Transaction bytes a `beginSettlement` may use: the pools' 128 KiB limit less 1 KiB for
    ///      the envelope (nonce, fees, signature) and the ABI head (selector, round, offsets,
    ///      Prooφ claim, lengths: 388 bytes).
    uint256 internal constant SETTLE_TX_BYTES = 128 * 1024 - 1024;
    /// @notice Largest `maxAsksPerRound` a deployment may choose: every ask fits the one
    ///         `beginSettlement` even when all are invalid with evidence (130,048 / 186 = 699).
    uint256 public constant MAX_ASKS_LIMIT = SETTLE_TX_BYTES / INVALID_ASK;
    /// @notice Largest `maxBidsPerRound` a deployment may choose: a page settles at least one bid,
    ///         so the 16-bit page counters (`Progress.pages`, `unwound`) cannot wrap.
    uint256 public constant MAX_BIDS_LIMIT = type(uint16).max;
    // The market and its delegatecalled SettlementModule share this layout: each writes fields the
    // other reads and uses its own share of the constants, which slither checks one at a time.
    // slither-disable-start uninitialized-state,unused-state,constable-states
    /// @dev Bytes of one ask-table entry: word 0 = prover (160) | index (16) | quantity (32) | sold (32)
    ///      | 16 zero bits; word 1 = cost.
    uint256 internal constant ENTRY = 64;
    /// @dev Largest invalid-mark reason code.
    uint256 internal constant MAX_REASON = 13;

    /// @dev Resolved-bitmap word layout (see contract NatSpec).
    uint256 internal constant SENTINEL = 1 << 255;
    uint256 internal constant JOBS_PER_WORD = 128;
    uint256 internal constant JOB_BITS = (1 << 128) - 1;
    uint256 internal constant MARGIN_MASK = ((1 << 127) - 1) << 128;
    uint256 internal constant MAX_SIZE = type(uint32).max;

    IProofVerifier internal immutable _verifier;
    Mechanism internal immutable _mechanism;
    uint256 internal immutable _genesis;
    uint256 internal immutable _commitPeriod;
    uint256 internal immutable _settlePeriod;
    uint256 internal immutable _proofPeriod;
    uint256 internal immutable _refundCap;
    uint256 internal immutable _capacityInterval;
    uint256 internal immutable _capacityFactor;
    uint256 internal immutable _minEscrow;
    /// @notice Congestion fees (wei, burned) to fill one side of a round from a quarter of its cap
    ///         to the cap (see `congestionFee`).
    uint256 internal immutable _fillCost;
    uint256 internal immutable _maxBidsPerRound;
    uint256 internal immutable _maxAsksPerRound;
    /// @notice Bids between two stored checkpoints of the bid chain: pages end on multiples of it.
    uint256 internal immutable _checkpointInterval;
    /// @notice FIXEDPRICE: the price of every round before the first post (0 for other mechanisms).
    uint256 internal immutable _initialPrice;
    /// @notice FIXEDPRICE: settled rounds the price rule reads (see `Config`).
    uint256 internal immutable _priceWindow;
    /// @notice FIXEDPRICE: prices are posted for rounds that are multiples of it.
    uint256 internal immutable _priceEvery;
    /// @notice FIXEDPRICE: largest move of one post, basis points of the factor (see `Config`).
    uint256 internal immutable _priceStepBps;
    /// @notice True when the verifier is a circuit registry: bids name a circuit and its inputs
    ///         (`commitTask`) and a bid's size must be its circuit's units.
    bool internal immutable _circuitTasks;

    /// @dev One keeper term: from round `fromRound` on (until the next term), `keeper` settles and
    ///      clients encrypt to the term's key. Terms only start in rounds that have not opened yet,
    ///      so a round's keeper and key never change once its first commitment may exist.
    struct KeeperTerm {
        address keeper;
        uint64 fromRound;
    }

    /// @dev Keeper terms in order; term 0 starts at round 0.
    KeeperTerm[] internal _terms;
    /// @dev Each term's 64-byte public key.
    mapping(uint256 term => bytes) internal _termKeys;

    Ledger internal _ledger;
    mapping(address account => Account) internal _accounts;
    mapping(address prover => ProverInfo) internal _provers;
    mapping(uint256 round => Round) internal _rounds;
    mapping(uint256 round => mapping(uint256 word => uint256 bits)) internal _resolved;
    mapping(uint256 round => mapping(uint256 index => uint256 word)) internal _checkpoints;
    mapping(uint256 round => Progress) internal _progress;
    mapping(uint256 round => Totals) internal _totals;
    mapping(uint256 round => Claim) internal _claims;
    mapping(uint256 round => bytes32) internal _askTables;
    mapping(uint256 round => mapping(uint256 page => bytes32)) internal _pageRoots;
    mapping(uint256 round => mapping(uint256 page => uint256)) internal _pageCharges;
    /// @dev FIXEDPRICE: rounds with a posted price, increasing, and each one's price.
    uint256[] internal _priceRounds;
    mapping(uint256 round => uint256) internal _prices;
    /// @dev Congestion fees burned so far (held by the market for good; counted in `nonFree`).
    uint256 internal _burned;
    // slither-disable-end uninitialized-state,unused-state,constable-states

    /// @dev Only sets the immutables: {ProverMarket}'s constructor checks the configuration
    ///      (`_checkConfig`) and names the first keeper; its {SettlementModule} needs neither.
    constructor(Config memory cfg) Ownable(cfg.owner) {
        _verifier = IProofVerifier(cfg.verifier);
        _mechanism = cfg.mechanism;
        _genesis = cfg.genesis == 0 ? block.timestamp : cfg.genesis;
        _commitPeriod = cfg.commitPeriod;
        _settlePeriod = cfg.settlePeriod;
        _proofPeriod = cfg.proofPeriod;
        _refundCap = cfg.refundCap;
        _capacityInterval = cfg.capacityInterval;
        _capacityFactor = cfg.capacityFactor;
        _minEscrow = cfg.minEscrow;
        _fillCost = cfg.fillCost;
        _maxBidsPerRound = cfg.maxBidsPerRound;
        _maxAsksPerRound = cfg.maxAsksPerRound;
        _checkpointInterval = cfg.checkpointInterval;
        bool fixedPrice = cfg.mechanism == Mechanism.FIXEDPRICE;
        _initialPrice = fixedPrice ? cfg.initialPrice : 0;
        _priceWindow = fixedPrice ? cfg.priceWindow : 0;
        _priceEvery = fixedPrice ? cfg.priceEvery : 0;
        _priceStepBps = fixedPrice ? cfg.priceStepBps : 0;
        bool circuits = false;
        if (cfg.verifier.code.length != 0) {
            try ICircuitRegistry(cfg.verifier).circuitRegistryMagic() returns (bytes32 magic) {
                circuits = magic == keccak256("ProverMarket.CircuitRegistry.v1");
            } catch {}
        }
        _circuitTasks = circuits;
    }

    /// @dev The deployment checks, run once by {ProverMarket}'s constructor (its module is
    ///      created from the same, already checked, configuration).
    function _checkConfig(Config memory cfg) internal view {
        if (cfg.verifier == address(0)) revert InvalidConfig("verifier");
        if (cfg.commitPeriod == 0) revert InvalidConfig("commitPeriod");
        if (cfg.settlePeriod == 0) revert InvalidConfig("settlePeriod");
        if (cfg.proofPeriod == 0) revert InvalidConfig("proofPeriod");
        if (cfg.capacityInterval == 0) revert InvalidConfig("capacityInterval");
        if (cfg.capacityFactor == 0) revert InvalidConfig("capacityFactor");
        if (cfg.genesis > block.timestamp) revert InvalidConfig("genesis");
        if (cfg.minEscrow == 0) revert InvalidConfig("minEscrow");
        if (cfg.refundCap == 0) revert InvalidConfig("refundCap");
        if (cfg.minEscrow > type(uint96).max) revert InvalidConfig("minEscrow");
        if (cfg.fillCost > type(uint128).max) revert InvalidConfig("fillCost");
        if (cfg.maxBidsPerRound == 0 || cfg.maxBidsPerRound > MAX_BIDS_LIMIT) revert InvalidConfig("maxBidsPerRound");
        if (cfg.checkpointInterval == 0 || cfg.checkpointInterval > 1024) revert InvalidConfig("checkpointInterval");
        if (cfg.maxAsksPerRound == 0 || cfg.maxAsksPerRound > MAX_ASKS_LIMIT) revert InvalidConfig("maxAsksPerRound");
        if (cfg.mechanism == Mechanism.FIXEDPRICE) {
            if (cfg.initialPrice == 0 || cfg.initialPrice > type(uint128).max) revert InvalidConfig("initialPrice");
            if (cfg.priceWindow == 0 || cfg.priceWindow > 1024) revert InvalidConfig("priceWindow");
            if (cfg.priceEvery == 0 || cfg.priceEvery > 1024) revert InvalidConfig("priceEvery");
            if (cfg.priceStepBps == 0 || cfg.priceStepBps > 1_000_000) revert InvalidConfig("priceStepBps");
        }
    }

    /// @dev The congestion fee of the order finding `position` orders on `side` (see
    ///      {IMarketViews-congestionFee}): the k-th paid order (k = 1 … M, M = cap − ⌊cap/4⌋)
    ///      pays ⌈fillCost · k² / S⌉ with S = Σ k² = M(M+1)(2M+1)/6, so the M paid orders
    ///      together pay at least fillCost (< 2^128 · 2^32: no overflow).
    function _congestionFee(uint256 side, uint256 position) internal view returns (uint256) {
        uint256 cap = side == 0 ? _maxBidsPerRound : _maxAsksPerRound;
        uint256 free = cap / 4;
        if (position < free || _fillCost == 0) return 0;
        uint256 m = cap - free;
        uint256 k = position - free + 1;
        uint256 s = m * (m + 1) * (2 * m + 1) / 6;
        return (_fillCost * k * k + s - 1) / s;
    }

    /// @dev The term governing `round` and its keeper (term 0 starts at round 0, so one exists).
    function _keeperOf(uint256 round) internal view returns (uint256 term, address keeper_) {
        term = _terms.length;
        while (true) {
            --term;
            KeeperTerm memory t = _terms[term];
            if (t.fromRound <= round) return (term, t.keeper);
        }
    }

    /// @dev FIXEDPRICE: the price of `round` (the last post at or before it, else `initialPrice`).
    ///      A round is settled while it is at most a couple of posts behind the latest, so the last
    ///      two posts are looked at first; older rounds take a binary search.
    function _roundPrice(uint256 round) internal view returns (uint256) {
        uint256 p = _prices[round];
        if (p != 0) return p;
        uint256 hi = _priceRounds.length;
        if (hi != 0) {
            uint256 last = _priceRounds[hi - 1];
            if (last <= round) return _prices[last];
            if (hi > 1) {
                last = _priceRounds[hi - 2];
                if (last <= round) return _prices[last];
                hi -= 2;
            } else {
                hi = 0;
            }
        }
        uint256 lo = 0;
        while (lo < hi) {
            uint256 mid = (lo + hi) / 2;
            if (_priceRounds[mid] <= round) lo = mid + 1;
            else hi = mid;
        }
        return lo == 0 ? _initialPrice : _prices[_priceRounds[lo - 1]];
    }

    /// @dev secp256k1: y² = x³ + 7 over the field of `P`.
    uint256 internal constant P = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEFFFFFC2F;


    /// @dev Starts a keeper term at `fromRound` (replacing a term that starts there too).
    function _setKeeper(address newKeeper, bytes memory publicKey, uint256 fromRound) internal {
        if (newKeeper == address(0)) revert InvalidConfig("keeper");
        if (publicKey.length != 64) revert InvalidPublicKey(publicKey.length);
        uint256 x;
        uint256 y;
        assembly ("memory-safe") {
            x := mload(add(publicKey, 0x20))
            y := mload(add(publicKey, 0x40))
        }
        if (x >= P || y >= P || mulmod(y, y, P) != addmod(mulmod(mulmod(x, x, P), x, P), 7, P)) {
            revert PublicKeyNotOnCurve();
        }
        uint256 n = _terms.length;
        uint256 term = n;
        // Round numbers, not balances or times: exact equality is the test wanted.
        // slither-disable-next-line incorrect-equality
        if (n != 0 && _terms[n - 1].fromRound == fromRound) {
            term = n - 1;
            _terms[term].keeper = newKeeper;
        } else {
            _terms.push(KeeperTerm(newKeeper, uint64(fromRound)));
        }
        _termKeys[term] = publicKey;
        emit KeeperRotated(newKeeper, publicKey, fromRound);
    }
}
