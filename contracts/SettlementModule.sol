// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {MarketStorage} from "./MarketStorage.sol";
import {Commitments} from "./libraries/Commitments.sol";
import {JobTree} from "./libraries/JobTree.sol";
import {Ranking} from "./libraries/Ranking.sol";
import {IMarketViews} from "./interfaces/IMarketViews.sol";
import {IProofVerifier} from "./interfaces/IProofVerifier.sol";

/// @title SettlementModule
/// @notice Paged settlement and voiding of {ProverMarket} rounds. The market deploys its own module
///         in its constructor (same configuration) and `delegatecall`s `beginSettlement`,
///         `settleBids`, `voidRound` and `unwindPage` to it, so this code runs on the market's
///         storage; it lives apart only to keep each contract under the 24,576-byte code limit.
///         It also serves the market's configuration and fee views ({IMarketViews}) through the
///         market's fallback.
///         Called directly it acts on its own empty storage and holds no funds.
///         See {IProverMarket} for the functions' documentation.
contract SettlementModule is MarketStorage, IMarketViews {
    constructor(Config memory cfg) MarketStorage(cfg) {}

    // ================================================================ settlement

    /// @notice See {IProverMarket}.
    function beginSettlement(
        uint256 round,
        bytes calldata asks,
        uint256[] calldata askOrder,
        ProofPhiClaim calldata claim
    ) external {
        _onlyKeeperOf(round);
        Round storage r = _rounds[round];
        // a settlement may begin again (new table, new claim) until its first page lands
        if (r.status != RoundStatus.OPEN && (r.status != RoundStatus.SETTLING || _progress[round].pages != 0)) {
            revert RoundAlreadyFinal(round, r.status);
        }
        _checkSettleWindow(round);
        bool proofPhi = _mechanism == Mechanism.PROOFPHI;
        // invalid asks forfeit once: at the first begin (a begin again reads the same reveals)
        (bytes memory table, uint256 nAsks, uint256 forfeited) =
            _readAsks(round, r.askChainOrJobRoot, asks, askOrder, proofPhi, r.status == RoundStatus.OPEN);
        if (forfeited != 0) _forfeit(round, nAsks - table.length / ENTRY, forfeited);
        if (proofPhi) {
            _storeClaim(round, table, claim);
        } else if (claim.ell != 0 || claim.hasPivotA || claim.hasPivotB) {
            revert ProofPhiClaimInvalid(round, 1);
        }
        bytes32 h = keccak256(table);
        _askTables[round] = h;
        r.askCount = uint32(nAsks);
        r.status = RoundStatus.SETTLING;
        emit SettlementBegun(round, nAsks, table.length / ENTRY, h);
        if (Commitments.count(r.bidChain) == 0) {
            _finish(round, r, table, _progress[round], _mechanism == Mechanism.FIXEDPRICE ? _roundPrice(round) : 0);
        }
    }

    /// @dev Checks the packed ask reveals against the ask chain; returns the ask table (valid asks,
    ///      DARA in commit order, Prooφ in `askOrder`, which must be the rank order) and the count.
    function _readAsks(
        uint256 round,
        uint256 stored,
        bytes calldata asks,
        uint256[] calldata askOrder,
        bool proofPhi,
        bool forfeit
    ) private returns (bytes memory table, uint256 n, uint256 forfeited) {
        uint256 off = _offsetOf(asks);
        uint256 end = off + asks.length;
        uint256 word = 0;
        n = Commitments.count(stored);
        uint256[] memory heads = new uint256[](n); // table word 0 per commit index, 0 = invalid
        uint256[] memory costs = new uint256[](n);
        uint256 valid = 0;
        for (uint256 i = 0; i < n; ++i) {
            if (off + 25 > end) revert PageMalformed(round, off - _offsetOf(asks));
            address prover = address(uint160(_rd(off, 20)));
            uint256 capacity = _rd(off + 20, 4);
            uint256 flag = _rd(off + 24, 1);
            off += 25;
            bytes32 c;
            if (flag == 1) {
                if (off + 52 > end) revert PageMalformed(round, off - _offsetOf(asks));
                uint256 cost = _rd(off, 16);
                uint256 quantity = _rd(off + 16, 4);
                if (quantity > capacity || (proofPhi && quantity != capacity)) revert AskRevealUnacceptable(round, i);
                c = Commitments.commitment(address(this), round, prover, 1, cost, quantity, _word(off + 20));
                heads[i] = (uint256(uint160(prover)) << 96) | (i << 80) | (quantity << 48);
                costs[i] = cost;
                ++valid;
                off += 52;
            } else if (flag == 0) {
                if (off + 32 + EVIDENCE > end) revert PageMalformed(round, off - _offsetOf(asks));
                c = _word(off);
                _checkMark(round, 1, i, off + 32);
                off += 32 + EVIDENCE;
                if (forfeit) forfeited += _forfeitAsk(prover);
            } else {
                revert PageMalformed(round, off - 1 - _offsetOf(asks));
            }
            word = Commitments.nextAsk(word, c, prover, capacity);
        }
        if (off != end) revert PageMalformed(round, off - _offsetOf(asks));
        if (word != stored) revert RevealsMismatch(round, 1);
        table = new bytes(valid * ENTRY);
        if (proofPhi) {
            if (askOrder.length != valid) revert AskOrderInvalid(round, askOrder.length < valid ? askOrder.length : valid);
            for (uint256 k = 0; k < valid; ++k) {
                uint256 a = askOrder[k];
                if (a >= n || heads[a] == 0) revert AskOrderInvalid(round, k);
                if (k > 0) {
                    uint256 p = askOrder[k - 1];
                    if (!Ranking.askBefore(costs[p], p, costs[a], a)) revert AskOrderInvalid(round, k);
                }
                _putEntry(table, k, heads[a], costs[a]);
            }
        } else {
            if (askOrder.length != 0) revert AskOrderInvalid(round, 0);
            uint256 k = 0;
            for (uint256 i = 0; i < n; ++i) {
                if (heads[i] != 0) _putEntry(table, k++, heads[i], costs[i]);
            }
        }
    }

    /// @dev Prooφ: checks what the ask table alone can confirm of the claim and stores it.
    function _storeClaim(uint256 round, bytes memory table, ProofPhiClaim calldata claim) private {
        uint256 nValid = table.length / ENTRY;
        uint256 ell = claim.ell;
        if (ell != 0 && ell >= nValid) revert ProofPhiClaimInvalid(round, 1);
        if (claim.pivotAValue > type(uint128).max || claim.pivotAIndex > type(uint32).max) {
            revert ProofPhiClaimInvalid(round, 2);
        }
        if (claim.pivotBValue > type(uint128).max || claim.pivotBIndex > type(uint32).max) {
            revert ProofPhiClaimInvalid(round, 3);
        }
        if (ell > 0) {
            // ask ell (0-based: the (ell+1)-th) still passes: p_{ell+1} ≤ f_{S_ell + 1}
            if (!claim.hasPivotA || _entryCost(table, ell) > claim.pivotAValue) revert ProofPhiClaimInvalid(round, 2);
        } else if (claim.hasPivotA) {
            revert ProofPhiClaimInvalid(round, 2);
        }
        if (claim.hasPivotB) {
            // ask ell + 1 fails: p_{ell+2} > f_{S_{ell+1} + 1}
            if (ell + 1 >= nValid || _entryCost(table, ell + 1) <= claim.pivotBValue) {
                revert ProofPhiClaimInvalid(round, 3);
            }
        }
        _claims[round] = Claim(
            uint128(claim.pivotAValue),
            uint32(claim.pivotAIndex),
            uint16(ell),
            claim.hasPivotA,
            claim.hasPivotB,
            uint32(claim.pivotBIndex),
            uint128(claim.pivotBValue)
        );
    }

    /// @notice See {IProverMarket}.
    function settleBids(uint256 round, bytes calldata askTable, bytes calldata page) external {
        _onlyKeeperOf(round);
        Round storage r = _rounds[round];
        if (r.status != RoundStatus.SETTLING) revert SettlementNotBegun(round);
        _checkSettleWindow(round);
        bytes memory table = askTable;
        if (keccak256(table) != _askTables[round]) revert AskTableMismatch(round);
        Progress memory pr = _progress[round];
        PageCtx memory c;
        c.round = round;
        c.proofPhi = _mechanism == Mechanism.PROOFPHI;
        if (_mechanism == Mechanism.FIXEDPRICE) c.price = _roundPrice(round);
        c.start = _offsetOf(page);
        c.cursor = c.start + 12;
        c.end = c.start + page.length;
        if (page.length < 12) revert PageMalformed(round, 0);
        c.firstBid = pr.bidsDone;
        uint256 declared = _rd(_offsetOf(page), 4);
        if (declared != c.firstBid) revert PageOutOfOrder(round, c.firstBid, declared);
        c.bidCount = _rd(_offsetOf(page) + 4, 4);
        c.jobCount = _rd(_offsetOf(page) + 8, 4);
        c.jobsDone = pr.jobsDone;
        uint256 total = Commitments.count(r.bidChain);
        uint256 last = c.firstBid + c.bidCount;
        if (c.bidCount == 0) revert PageMalformed(round, 0);
        if (last > total) revert RevealsMismatch(round, 0);
        c.word = c.firstBid == 0 ? 0 : _checkpoints[round][c.firstBid / _checkpointInterval];
        c.deadline = _genesis + (round + 1) * _commitPeriod + _settlePeriod + _proofPeriod;
        c.tableLen = table.length / ENTRY;
        uint256[] memory charges = new uint256[](c.bidCount);
        bytes32[] memory leaves = new bytes32[](c.jobCount);
        uint256[] memory packed = new uint256[](c.jobCount);
        if (c.proofPhi) {
            _proofPhiPage(c, pr, table, charges, leaves, packed);
        } else {
            for (uint256 i = 0; i < c.bidCount; ++i) {
                _daraBid(c, table, i, charges, leaves, packed);
            }
        }
        if (c.cursor != c.end || c.jobsSoFar != c.jobCount) revert PageMalformed(round, c.cursor - c.start);
        if (last == total) {
            if (c.word != r.bidChain) revert RevealsMismatch(round, 0);
        } else {
            if (last % _checkpointInterval != 0) revert PageMisaligned(round, last);
            if (c.word != _checkpoints[round][last / _checkpointInterval]) revert RevealsMismatch(round, 0);
        }
        _recordPage(c, pr, leaves);
        if (c.eligibleUnits != 0) pr.eligibleUnits += uint48(c.eligibleUnits);
        pr.bidsDone = uint32(last);
        pr.jobsDone = uint32(c.jobsDone + c.jobCount);
        _progress[round] = pr;
        if (!c.proofPhi) _askTables[round] = keccak256(table); // the `sold` counts moved
        emit BidsSettled(round, pr.pages - 1, c.firstBid, c.jobsDone, charges, packed);
        if (last == total) _finish(round, r, table, pr, c.price);
    }

    /// @dev Stores a page's effects on the ledger, its job root and its charges digest.
    function _recordPage(PageCtx memory c, Progress memory pr, bytes32[] memory leaves) private {
        if (c.released != 0) _ledger.nonFree -= uint128(c.released);
        if (c.invalids != 0) _forfeit(c.round, c.invalids, c.invalids * _minEscrow);
        Totals storage t = _totals[c.round];
        t.charged += uint128(c.charged);
        t.paid += uint128(c.paid);
        uint256 pageNo = pr.pages;
        _pageRoots[c.round][pageNo] = JobTree.root(leaves);
        if (c.chargeDigest != 0) _pageCharges[c.round][pageNo] = c.chargeDigest;
        pr.pages = uint16(pageNo + 1);
        if (c.jobCount != 0) {
            mapping(uint256 => uint256) storage bits = _resolved[c.round];
            uint256 lastWord = (c.jobsDone + c.jobCount - 1) / JOBS_PER_WORD;
            for (uint256 w = c.jobsDone / JOBS_PER_WORD; w <= lastWord; ++w) {
                bits[w] = SENTINEL;
            }
        }
    }

    /// @dev Reads one bid's common head: requester, escrow, task, validity flag.
    function _bidHead(PageCtx memory c)
        private
        pure
        returns (address requester, uint256 escrow, bytes32 task, uint256 flag)
    {
        uint256 off = c.cursor;
        if (off + 69 > c.end) revert PageMalformed(c.round, off - c.start);
        requester = address(uint160(_rd(off, 20)));
        escrow = _rd(off + 20, 16);
        task = _word(off + 36);
        flag = _rd(off + 68, 1);
        if (flag > 1) revert PageMalformed(c.round, off + 68 - c.start);
        c.cursor = off + 69;
    }

    /// @dev An invalid bid at calldata offset `off`: its commitment, after checking the mark's
    ///      reason and the page's length; the bid forfeits `minEscrow` to the keeper.
    function _invalidBid(PageCtx memory c, uint256 b, uint256 off) private view returns (bytes32 cm) {
        if (off + 32 + EVIDENCE > c.end) revert PageMalformed(c.round, off - c.start);
        cm = _word(off);
        _checkMark(c.round, 0, b, off + 32);
        c.cursor = off + 32 + EVIDENCE;
        c.kept = _minEscrow;
        ++c.invalids;
    }

    /// @dev Folds a settled bid into the chain and credits its refund.
    function _closeBid(
        PageCtx memory c,
        uint256 i,
        bytes32 commitment_,
        address requester,
        uint256 escrow,
        bytes32 task,
        uint256 charge,
        uint256[] memory charges
    ) private {
        c.word = Commitments.nextBid(c.word, commitment_, requester, escrow, task);
        // charge ≤ value ≤ escrow (checked by the callers); escrows and balances are wei of the
        // market's own balance (< 2^128), summed over < 2^16 bids: nothing here can overflow
        unchecked {
            // an invalid bid (charge 0) keeps back its forfeit, minEscrow ≤ escrow
            uint256 kept = c.kept;
            uint256 refund = escrow - charge - kept;
            if (kept != 0) c.kept = 0;
            if (refund != 0) _accounts[requester].free += uint128(refund);
            c.released += refund; // the forfeit leaves nonFree in `_forfeit`
            if (charge != 0) {
                charges[i] = charge;
                c.charged += charge;
                c.chargeDigest = _chargeDigest(c.chargeDigest, requester, charge);
            }
        }
    }

    /// @dev DARA: one bid and its jobs (generic feasibility: IR, units, quantities, per-job budget balance).
    function _daraBid(
        PageCtx memory c,
        bytes memory table,
        uint256 i,
        uint256[] memory charges,
        bytes32[] memory leaves,
        uint256[] memory packed
    ) private {
        (address requester, uint256 escrow, bytes32 task, uint256 flag) = _bidHead(c);
        uint256 b = c.firstBid + i;
        uint256 off = c.cursor;
        uint256 charge = 0;
        bytes32 cm;
        if (flag == 0) {
            cm = _invalidBid(c, b, off);
        } else {
            if (off + 70 > c.end) revert PageMalformed(c.round, off - c.start);
            uint256 value = _rd(off, 16);
            uint256 size = _rd(off + 16, 4);
            charge = _rd(off + 52, 16);
            uint256 nJobs = _rd(off + 68, 2);
            if (value > escrow || size == 0 || (_circuitTasks && size != uint256(task) >> 224)) {
                revert BidRevealUnacceptable(c.round, b);
            }
            if (charge > value) revert Overcharged(c.round, b);
            cm = Commitments.commitment(address(this), c.round, requester, 0, value, size, _word(off + 20));
            c.cursor = off + 70;
            uint256 price = c.price;
            if (price != 0) {
                // FIXEDPRICE: a winner pays at least the posted price for its units (so, with
                // charge ≤ value, it is eligible); an eligible loser's units are counted for the
                // last page's check (price < 2^128, size < 2^32, units < 2^48: no overflow)
                unchecked {
                    if (nJobs != 0) {
                        if (charge < price * size) revert ChargeBelowPrice(c.round, b);
                    } else if (value >= price * size) {
                        c.eligibleUnits += size;
                    }
                }
            }
            if (nJobs == 0) {
                if (charge != 0) revert ChargeWithoutAllocation(c.round, b);
            } else {
                _daraJobs(c, table, b, requester, task, size, charge, nJobs, leaves, packed);
            }
        }
        _closeBid(c, i, cm, requester, escrow, task, charge, charges);
    }

    function _daraJobs(
        PageCtx memory c,
        bytes memory table,
        uint256 b,
        address requester,
        bytes32 task,
        uint256 size,
        uint256 charge,
        uint256 nJobs,
        bytes32[] memory leaves,
        uint256[] memory packed
    ) private pure {
        uint256 units = 0;
        uint256 shares = 0;
        uint256 prevCost = 0;
        uint256 prevIndex = 0;
        for (uint256 q = 0; q < nJobs; ++q) {
            uint256 off = c.cursor;
            if (off + 22 > c.end || c.jobsSoFar >= c.jobCount) revert PageMalformed(c.round, off - c.start);
            uint256 pos = _rd(off, 2);
            uint256 u = _rd(off + 2, 4);
            uint256 payment = _rd(off + 6, 16);
            c.cursor = off + 22;
            uint256 k = c.jobsDone + c.jobsSoFar;
            if (pos >= c.tableLen || u == 0) revert JobInvalid(c.round, k);
            (uint256 head, uint256 cost) = _entry(table, pos);
            uint256 askIndex = (head >> 80) & 0xffff;
            if (q > 0 && !Ranking.askBefore(prevCost, prevIndex, cost, askIndex)) revert JobInvalid(c.round, k);
            prevCost = cost;
            prevIndex = askIndex;
            uint256 share;
            // u < 2^32 and < 2^16 jobs; charge, payment and price < 2^128; the shares before the
            // last job sum to at most charge (their units are below size): no overflow below
            unchecked {
                units += u;
                if (units > size) revert UnitsMismatch(c.round, b);
                uint256 sold = ((head >> 16) & 0xffffffff) + u;
                if (sold > ((head >> 48) & 0xffffffff)) revert AskOverAllocated(c.round, askIndex);
                _setSold(table, pos, head, sold);
                if (payment / u < cost) revert Underpaid(c.round, k);
                // FIXEDPRICE: at most the price per unit
                if (payment > c.price * u && c.price != 0) revert PaymentAbovePrice(c.round, k);
                share = q + 1 == nJobs ? charge - shares : (charge * u) / size;
                if (payment > share) revert PaymentExceedsCharge(c.round, k);
                shares += share;
                c.paid += payment;
            }
            leaves[c.jobsSoFar] = JobTree.leaf(
                c.round, k, b, requester, task, address(uint160(head >> 96)), u, payment, share, c.deadline
            );
            packed[c.jobsSoFar] = (b << 224) | (askIndex << 192) | (u << 160) | payment;
            ++c.jobsSoFar;
        }
        if (units != size) revert UnitsMismatch(c.round, b);
    }

    /// @dev Prooφ: a page of unit bids. A valid bid wins iff it ranks before pivot A (the claimed
    ///      bid at rank S_ell); winners take the asks of the table in order, S_j … S_{j+1} − 1 to
    ///      ask j, counted across pages in commit order; each pays pivot A's value, each unit is
    ///      paid ask ell's cost. The counts that pin the pivots' ranks are checked by the last page.
    function _proofPhiPage(
        PageCtx memory c,
        Progress memory pr,
        bytes memory table,
        uint256[] memory charges,
        bytes32[] memory leaves,
        uint256[] memory packed
    ) private {
        Claim memory cl = _claims[c.round];
        uint256 price = cl.ell == 0 ? 0 : _entryCost(table, cl.ell);
        uint256 sEll = 0;
        for (uint256 j = 0; j < cl.ell; ++j) {
            sEll += _entryQuantity(table, j);
        }
        // the ask the next winner goes to: position `pos`, whose units start at winner `start`
        uint256 pos = 0;
        uint256 start = 0;
        for (uint256 i = 0; i < c.bidCount; ++i) {
            (address requester, uint256 escrow, bytes32 task, uint256 flag) = _bidHead(c);
            uint256 b = c.firstBid + i;
            uint256 off = c.cursor;
            uint256 charge = 0;
            bytes32 cm;
            if (flag == 0) {
                cm = _invalidBid(c, b, off);
            } else {
                if (off + 48 > c.end) revert PageMalformed(c.round, off - c.start);
                uint256 value = _rd(off, 16);
                if (value > escrow) revert BidRevealUnacceptable(c.round, b);
                cm = Commitments.commitment(address(this), c.round, requester, 0, value, 1, _word(off + 16));
                c.cursor = off + 48;
                ++pr.validBids;
                if (_pivotCheck(c.round, pr, cl, b, value)) {
                    uint256 k = pr.winners++;
                    if (k >= sEll || c.jobsSoFar >= c.jobCount) revert ProofPhiClaimInvalid(c.round, 4);
                    uint256 head;
                    while (true) {
                        head = _entryHead(table, pos);
                        uint256 q = (head >> 48) & 0xffffffff;
                        if (k < start + q) break;
                        start += q;
                        ++pos;
                    }
                    charge = cl.pivotAValue;
                    uint256 jk = c.jobsDone + c.jobsSoFar;
                    leaves[c.jobsSoFar] = JobTree.leaf(
                        c.round, jk, b, requester, task, address(uint160(head >> 96)), 1, price, charge, c.deadline
                    );
                    packed[c.jobsSoFar] = (b << 224) | (((head >> 80) & 0xffff) << 192) | (1 << 160) | price;
                    ++c.jobsSoFar;
                    c.paid += price;
                }
            }
            _closeBid(c, i, cm, requester, escrow, task, charge, charges);
        }
    }

    /// @dev Prooφ: records whether bid `b` is a pivot and ranks before pivot B; returns whether it
    ///      ranks before pivot A (wins).
    function _pivotCheck(uint256 round, Progress memory pr, Claim memory cl, uint256 b, uint256 value)
        private
        pure
        returns (bool wins)
    {
        if (cl.hasB) {
            if (b == cl.pivotBIndex) {
                if (value != cl.pivotBValue) revert ProofPhiClaimInvalid(round, 3);
                pr.seenB = true;
            }
            if (value > cl.pivotBValue || (value == cl.pivotBValue && b < cl.pivotBIndex)) ++pr.beforeB;
        }
        if (!cl.hasA) return false;
        if (b == cl.pivotAIndex) {
            if (value != cl.pivotAValue) revert ProofPhiClaimInvalid(round, 2);
            pr.seenA = true;
        }
        return value > cl.pivotAValue || (value == cl.pivotAValue && b < cl.pivotAIndex);
    }

    /// @dev The last page: Prooφ rank counts, ask allocation, job root, status.
    /// @dev `price`: FIXEDPRICE's round price (0 for the other mechanisms).
    function _finish(uint256 round, Round storage r, bytes memory table, Progress memory pr, uint256 price)
        private
    {
        uint256 nValid = table.length / ENTRY;
        if (_mechanism == Mechanism.PROOFPHI) {
            Claim memory cl = _claims[round];
            uint256 s = 0;
            for (uint256 j = 0; j < cl.ell; ++j) {
                uint256 q = _entryQuantity(table, j);
                _allocate(_entryHead(table, j), q);
                s += q;
            }
            if (cl.hasA && (!pr.seenA || pr.winners != s)) revert ProofPhiClaimInvalid(round, 4);
            if (cl.ell + 1 < nValid) {
                // ask ell + 1 must fail: it needs a bid at rank S_{ell+1} (pivot B, p_{ell+2} above its value)
                uint256 sNext = s + _entryQuantity(table, cl.ell);
                if (cl.hasB) {
                    if (!pr.seenB || pr.beforeB != sNext) revert ProofPhiClaimInvalid(round, 4);
                } else if (pr.validBids > sNext) {
                    revert ProofPhiClaimInvalid(round, 4);
                }
            }
        } else {
            bool fixedPrice = price != 0;
            uint256 supply = 0;
            uint256 won = 0;
            for (uint256 j = 0; j < nValid; ++j) {
                (uint256 head, uint256 cost) = _entry(table, j);
                uint256 sold = (head >> 16) & 0xffffffff;
                if (sold != 0) _allocate(head, sold);
                if (fixedPrice && cost <= price) supply += (head >> 48) & 0xffffffff;
                won += sold;
            }
            // FIXEDPRICE: when the eligible demand (the units won plus the eligible losers')
            // fits the eligible supply, it trades whole: no eligible bid may lose
            if (fixedPrice && pr.eligibleUnits != 0 && won + pr.eligibleUnits <= supply) {
                revert EligibleDemandUnserved(round, won + pr.eligibleUnits, won);
            }
        }
        uint256 pages = pr.pages;
        bytes32 root = bytes32(0);
        if (pr.jobsDone != 0) {
            bytes32[] memory roots = new bytes32[](pages);
            for (uint256 p = 0; p < pages; ++p) {
                roots[p] = _pageRoots[round][p];
            }
            root = JobTree.root(roots);
        }
        Totals memory t = _totals[round];
        r.askChainOrJobRoot = uint256(root);
        r.settledAt = uint64(block.timestamp);
        r.jobCount = uint32(pr.jobsDone);
        r.status = RoundStatus.SETTLED;
        emit RoundSettled(round, root, t.charged, t.paid, pr.jobsDone, pages);
    }

    /// @dev Adds `units` to the outstanding units of the ask table entry's prover. Collateral for
    ///      them was reserved when the ask was committed (see `commitAsk`) and cannot leave while
    ///      the ask may settle, so the check below holds for every reachable settlement.
    function _allocate(uint256 head, uint256 units) private {
        address prover = address(uint160(head >> 96));
        ProverInfo storage p = _provers[prover];
        uint256 outstanding = p.outstanding + units;
        if (outstanding > MAX_SIZE) revert CapacityTooLarge(outstanding);
        p.outstanding = uint32(outstanding);
        uint256 collateral = p.collateral;
        if (_refundCap * outstanding > collateral) {
            revert InsufficientCollateral(prover, collateral, _refundCap * outstanding);
        }
    }

    /// @dev An invalid ask's forfeit: `minEscrow` of its prover's collateral (reserved by
    ///      `commitAsk`; all that is left should a slash have taken the rest).
    function _forfeitAsk(address prover) private returns (uint256 amount) {
        ProverInfo storage p = _provers[prover];
        uint256 collateral = p.collateral;
        amount = collateral < _minEscrow ? collateral : _minEscrow;
        p.collateral = uint96(collateral - amount);
    }

    /// @dev Pays `amount` forfeited by `orders` invalid orders of `round` to the settling keeper's
    ///      free balance (it leaves `nonFree`: escrow or collateral before).
    function _forfeit(uint256 round, uint256 orders, uint256 amount) private {
        _ledger.nonFree -= uint128(amount);
        Account storage a = _accounts[msg.sender];
        a.free += uint128(amount);
        a.marker = 1;
        emit InvalidForfeited(round, msg.sender, orders, amount);
    }

    /// @dev Only the keeper of `round`'s term may settle it.
    function _onlyKeeperOf(uint256 round) private view {
        (, address k) = _keeperOf(round);
        if (msg.sender != k) revert NotKeeper(msg.sender);
    }

    /// @dev An invalid order's evidence (reason, shared point, DLEQ proof) follows its commitment;
    ///      the reason code must be known. The proof is checked off-chain by anyone (`bridge audit`).
    function _checkMark(uint256 round, uint8 side, uint256 index, uint256 off) private pure {
        uint256 reason = _rd(off, 1);
        if (reason == 0 || reason > MAX_REASON) revert InvalidMark(round, side, index);
    }

    function _checkSettleWindow(uint256 round) private view {
        uint256 closesAt = _genesis + (round + 1) * _commitPeriod;
        if (block.timestamp < closesAt) revert RoundNotClosed(round, closesAt);
        if (block.timestamp >= closesAt + _settlePeriod) revert SettleDeadlinePassed(round, closesAt + _settlePeriod);
    }

    // ----------------------------------------------------------- byte helpers

    /// @dev `uint256(keccak256(abi.encode(digest, requester, charge)))`, hashed in the free memory
    ///      area without moving the free memory pointer (no memory growth per charged bid).
    function _chargeDigest(uint256 digest, address requester, uint256 charge) private pure returns (uint256 h) {
        assembly ("memory-safe") {
            let m := mload(0x40)
            mstore(m, digest)
            mstore(add(m, 0x20), and(requester, 0xffffffffffffffffffffffffffffffffffffffff))
            mstore(add(m, 0x40), charge)
            h := keccak256(m, 0x60)
        }
    }

    /// @dev Absolute calldata offset of `data`'s first byte.
    function _offsetOf(bytes calldata data) private pure returns (uint256 o) {
        assembly ("memory-safe") {
            o := data.offset
        }
    }

    /// @dev The `n` (≤ 32) bytes at calldata offset `off`, as a big-endian integer.
    function _rd(uint256 off, uint256 n) private pure returns (uint256 v) {
        assembly ("memory-safe") {
            v := shr(sub(256, mul(8, n)), calldataload(off))
        }
    }

    function _word(uint256 off) private pure returns (bytes32 v) {
        assembly ("memory-safe") {
            v := calldataload(off)
        }
    }

    function _putEntry(bytes memory table, uint256 pos, uint256 head, uint256 cost) private pure {
        assembly ("memory-safe") {
            let p := add(add(table, 0x20), mul(pos, 64))
            mstore(p, head)
            mstore(add(p, 0x20), cost)
        }
    }

    function _entry(bytes memory table, uint256 pos) private pure returns (uint256 head, uint256 cost) {
        assembly ("memory-safe") {
            let p := add(add(table, 0x20), mul(pos, 64))
            head := mload(p)
            cost := mload(add(p, 0x20))
        }
    }

    function _entryHead(bytes memory table, uint256 pos) private pure returns (uint256 head) {
        (head,) = _entry(table, pos);
    }

    function _entryCost(bytes memory table, uint256 pos) private pure returns (uint256 cost) {
        (, cost) = _entry(table, pos);
    }

    function _entryQuantity(bytes memory table, uint256 pos) private pure returns (uint256) {
        return (_entryHead(table, pos) >> 48) & 0xffffffff;
    }

    function _setSold(bytes memory table, uint256 pos, uint256 head, uint256 sold) private pure {
        uint256 updated = (head & ~(uint256(0xffffffff) << 16)) | (sold << 16);
        assembly ("memory-safe") {
            mstore(add(add(table, 0x20), mul(pos, 64)), updated)
        }
    }

    // ===================================================================== price

    /// @notice See {IProverMarket}.
    function postPrice(uint256 round, uint256 price) external {
        if (_mechanism != Mechanism.FIXEDPRICE) revert PriceNotUsed();
        (, address k) = _keeperOf(round);
        if (msg.sender != k) revert NotKeeper(msg.sender);
        uint256 cur = (block.timestamp - _genesis) / _commitPeriod;
        if (round <= cur) revert PriceTooLate(round, cur);
        if (round != cur + 1) revert PriceTooEarly(round, cur);
        if (round % _priceEvery != 0) revert PriceNotDue(round, _priceEvery);
        uint256 previous = _roundPrice(round - 1);
        uint256 factor = 10_000 + _priceStepBps;
        if (
            price == 0 || price > type(uint128).max || price * 10_000 > previous * factor
                || price * factor < previous * 10_000
        ) revert PriceStepTooLarge(round, previous, price);
        uint256 n = _priceRounds.length;
        if (n == 0 || _priceRounds[n - 1] != round) _priceRounds.push(round);
        _prices[round] = price;
        emit PricePosted(round, price, previous);
    }

    // ================================================================== liveness

    /// @notice See {IProverMarket}.
    function voidRound(uint256 round, BidCommit[] calldata bids) external {
        Round storage r = _rounds[round];
        _checkVoidable(round, r);
        Progress memory pr = _progress[round];
        uint256 first = pr.bidsDone;
        uint256 total = Commitments.count(r.bidChain);
        uint256 last = first + bids.length;
        if (last > total) revert RevealsMismatch(round, 0);
        uint256 word = first == 0 ? 0 : _checkpoints[round][first / _checkpointInterval];
        uint256 released = 0;
        for (uint256 i = 0; i < bids.length; ++i) {
            BidCommit calldata b = bids[i];
            word = Commitments.nextBid(word, b.commitment, b.requester, b.escrow, b.task);
            _accounts[b.requester].free += uint128(b.escrow);
            released += b.escrow;
        }
        if (last == total) {
            if (word != r.bidChain) revert RevealsMismatch(round, 0);
        } else {
            if (last % _checkpointInterval != 0) revert PageMisaligned(round, last);
            if (word != _checkpoints[round][last / _checkpointInterval]) revert RevealsMismatch(round, 0);
        }
        if (released != 0) _ledger.nonFree -= uint128(released);
        pr.bidsDone = uint32(last);
        _progress[round] = pr;
        if (bids.length != 0) emit BidsVoided(round, first, bids.length, released);
        _finishVoid(round, r, pr, total, released);
    }

    /// @notice See {IProverMarket}.
    function unwindPage(uint256 round, ChargeEntry[] calldata charged) external {
        Round storage r = _rounds[round];
        _checkVoidable(round, r);
        Progress memory pr = _progress[round];
        uint256 page = pr.unwound;
        if (page >= pr.pages) revert UnwindMismatch(round, page);
        uint256 digest = 0;
        uint256 refunded = 0;
        for (uint256 i = 0; i < charged.length; ++i) {
            ChargeEntry calldata e = charged[i];
            if (e.charge == 0) revert UnwindMismatch(round, page);
            digest = _chargeDigest(digest, e.requester, e.charge);
            _accounts[e.requester].free += uint128(e.charge);
            refunded += e.charge;
        }
        if (digest != _pageCharges[round][page]) revert UnwindMismatch(round, page);
        if (refunded != 0) {
            _ledger.nonFree -= uint128(refunded);
            _totals[round].charged -= uint128(refunded);
        }
        pr.unwound = uint16(page + 1);
        _progress[round] = pr;
        emit PageUnwound(round, page, refunded);
        _finishVoid(round, r, pr, Commitments.count(r.bidChain), refunded);
    }

    function _checkVoidable(uint256 round, Round storage r) private view {
        RoundStatus status = r.status;
        if (status == RoundStatus.SETTLED || status == RoundStatus.VOIDED) revert RoundAlreadyFinal(round, status);
        uint256 deadline = _genesis + (round + 1) * _commitPeriod + _settlePeriod;
        if (block.timestamp < deadline) revert VoidTooEarly(round, deadline);
    }

    /// @dev The round is void once every bid has its escrow back and every settled page is unwound.
    function _finishVoid(uint256 round, Round storage r, Progress memory pr, uint256 total, uint256 released)
        private
    {
        if (pr.bidsDone == total && pr.unwound == pr.pages) {
            r.status = RoundStatus.VOIDED;
            emit RoundVoided(round, msg.sender, total, released);
        }
    }

    // ===================================================================== views

    /// @inheritdoc IMarketViews
    function verifier() external view returns (IProofVerifier) {
        return _verifier;
    }

    /// @inheritdoc IMarketViews
    function mechanism() external view returns (Mechanism) {
        return _mechanism;
    }

    /// @inheritdoc IMarketViews
    function genesis() external view returns (uint256) {
        return _genesis;
    }

    /// @inheritdoc IMarketViews
    function commitPeriod() external view returns (uint256) {
        return _commitPeriod;
    }

    /// @inheritdoc IMarketViews
    function settlePeriod() external view returns (uint256) {
        return _settlePeriod;
    }

    /// @inheritdoc IMarketViews
    function proofPeriod() external view returns (uint256) {
        return _proofPeriod;
    }

    /// @inheritdoc IMarketViews
    function refundCap() external view returns (uint256) {
        return _refundCap;
    }

    /// @inheritdoc IMarketViews
    function capacityInterval() external view returns (uint256) {
        return _capacityInterval;
    }

    /// @inheritdoc IMarketViews
    function capacityFactor() external view returns (uint256) {
        return _capacityFactor;
    }

    /// @inheritdoc IMarketViews
    function minEscrow() external view returns (uint256) {
        return _minEscrow;
    }

    /// @inheritdoc IMarketViews
    function fillCost() external view returns (uint256) {
        return _fillCost;
    }

    /// @inheritdoc IMarketViews
    function maxBidsPerRound() external view returns (uint256) {
        return _maxBidsPerRound;
    }

    /// @inheritdoc IMarketViews
    function maxAsksPerRound() external view returns (uint256) {
        return _maxAsksPerRound;
    }

    /// @inheritdoc IMarketViews
    function checkpointInterval() external view returns (uint256) {
        return _checkpointInterval;
    }

    /// @inheritdoc IMarketViews
    function initialPrice() external view returns (uint256) {
        return _initialPrice;
    }

    /// @inheritdoc IMarketViews
    function priceWindow() external view returns (uint256) {
        return _priceWindow;
    }

    /// @inheritdoc IMarketViews
    function priceEvery() external view returns (uint256) {
        return _priceEvery;
    }

    /// @inheritdoc IMarketViews
    function priceStepBps() external view returns (uint256) {
        return _priceStepBps;
    }

    /// @inheritdoc IMarketViews
    function circuitTasks() external view returns (bool) {
        return _circuitTasks;
    }

    /// @inheritdoc IMarketViews
    function congestionFee(uint256 side, uint256 position) external view returns (uint256) {
        return _congestionFee(side, position);
    }

    /// @inheritdoc IMarketViews
    function burned() external view returns (uint256) {
        return _burned;
    }
}
