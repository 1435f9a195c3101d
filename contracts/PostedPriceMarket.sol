// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {IPostedPriceMarket} from "./interfaces/IPostedPriceMarket.sol";
import {IProofVerifier} from "./interfaces/IProofVerifier.sol";

/// @title PostedPriceMarket
/// @notice The posted-price market mode; see {IPostedPriceMarket} for the protocol.
/// @dev Not gas-tuned like `ProverMarket`: rounds are capped (`maxRequests`, `maxNodes`) so the
///      settlement loop is bounded, and amounts are kept in full words. Proposals are stored as a
///      hash; their data is in `ProposalSubmitted` and is passed back (hash-checked) to `settle`
///      and `closeProposal`.
contract PostedPriceMarket is IPostedPriceMarket, ReentrancyGuardTransient {
    /// @notice A round: its opening time, counts and settlement.
    struct Round {
        uint64 start;
        uint64 acceptEnd; // 0 until settled
        uint32 requests;
        uint32 nodes;
        uint32 proposals;
        uint32 parts;
        bool settled;
    }

    /// @notice A registered request and, once booked, its terms and answer.
    struct Request {
        address requester;
        uint32 size;
        uint8 tag;
        uint32 replicas;
        uint32 part; // 0: not in the book
        Response response;
        uint32 proposal; // the booked proposal holding it
        uint256 maxPrice;
        uint256 price; // posted price
        bytes32 task;
        DepositState deposit; // the registration deposit (`bond`)
    }

    /// @notice A registered node and, once booked, its terms, load and progress.
    struct NodeInfo {
        address account;
        uint32 capacity;
        uint32 part;
        Response response;
        bool forfeited; // missed a job: its reward went to a requester
        uint32 proposal;
        uint32 load; // units of its bundle
        uint32 jobs; // requests in its bundle
        uint32 proven;
        uint256 tags;
        uint256 minReward;
        uint256 reward; // posted reward
        DepositState deposit; // the registration deposit (`bond`)
    }

    /// @notice A proposal: its maker, data hash and fate.
    struct ProposalInfo {
        address maker;
        uint32 part; // 0: not in the book
        uint32 rejecters; // 0 or 1: a part is rejected once
        bool closed;
        bytes32 hash;
    }

    /// @notice A part of the settled book.
    struct Part {
        uint32 size; // participants
        uint32 accepted;
        bool voided; // someone rejected
    }

    IProofVerifier public immutable verifier;
    address public immutable keeper;
    uint64 public immutable registerPeriod;
    uint64 public immutable proposePeriod;
    uint64 public immutable settlePeriod;
    uint64 public immutable acceptPeriod;
    uint64 public immutable proofPeriod;
    uint128 public immutable bond;
    uint128 public immutable collateralPerUnit;
    uint32 public immutable maxRequests;
    uint32 public immutable maxNodes;
    uint32 public immutable maxProposals;

    /// @notice Rounds opened so far (ids `0 .. roundCount - 1`).
    uint256 public roundCount;
    /// @notice Wei held for bonds, deposits, paid prices and collateral (not yet anyone's free
    ///         balance).
    uint256 public totalLocked;
    /// @notice Wei of forfeited registration deposits: held by the contract for ever, nobody's
    ///         (a forfeit paid to anyone could be paid to the participant's own other account).
    uint256 public burned;
    /// @notice Free balance of each account (withdraw with `withdraw`).
    mapping(address account => uint256) public balanceOf;

    mapping(uint256 round => Round) internal _rounds;
    mapping(uint256 round => mapping(uint256 index => Request)) internal _requests;
    mapping(uint256 round => mapping(uint256 index => NodeInfo)) internal _nodes;
    mapping(uint256 round => mapping(uint256 index => ProposalInfo)) internal _proposals;
    mapping(uint256 round => mapping(uint256 part => Part)) internal _parts;
    mapping(uint256 round => mapping(uint256 request => mapping(uint256 node => JobState))) public jobState;

    constructor(Config memory cfg) {
        if (cfg.keeper == address(0)) revert InvalidConfig("keeper");
        if (cfg.verifier.code.length == 0) revert InvalidConfig("verifier");
        if (cfg.registerPeriod == 0) revert InvalidConfig("registerPeriod");
        if (cfg.proposePeriod == 0) revert InvalidConfig("proposePeriod");
        if (cfg.settlePeriod == 0) revert InvalidConfig("settlePeriod");
        if (cfg.acceptPeriod == 0) revert InvalidConfig("acceptPeriod");
        if (cfg.proofPeriod == 0) revert InvalidConfig("proofPeriod");
        if (cfg.bond == 0) revert InvalidConfig("bond");
        if (cfg.collateralPerUnit == 0) revert InvalidConfig("collateralPerUnit");
        if (cfg.maxRequests == 0 || cfg.maxRequests > 256) revert InvalidConfig("maxRequests");
        if (cfg.maxNodes == 0 || cfg.maxNodes > 256) revert InvalidConfig("maxNodes");
        if (cfg.maxProposals == 0) revert InvalidConfig("maxProposals");
        keeper = cfg.keeper;
        verifier = IProofVerifier(cfg.verifier);
        registerPeriod = cfg.registerPeriod;
        proposePeriod = cfg.proposePeriod;
        settlePeriod = cfg.settlePeriod;
        acceptPeriod = cfg.acceptPeriod;
        proofPeriod = cfg.proofPeriod;
        bond = cfg.bond;
        collateralPerUnit = cfg.collateralPerUnit;
        maxRequests = cfg.maxRequests;
        maxNodes = cfg.maxNodes;
        maxProposals = cfg.maxProposals;
    }

    // ================================================================ views

    /// @notice The round's windows: registration, proposal and settlement deadlines, and (0
    ///         until settled) the acceptance and proof deadlines.
    function deadlines(uint256 round) public view returns (uint256 registerEnd, uint256 proposeEnd,
        uint256 settleEnd, uint256 acceptEnd, uint256 proofEnd)
    {
        Round storage r = _round(round);
        registerEnd = uint256(r.start) + registerPeriod;
        proposeEnd = registerEnd + proposePeriod;
        settleEnd = proposeEnd + settlePeriod;
        if (r.settled) {
            acceptEnd = r.acceptEnd;
            proofEnd = acceptEnd + proofPeriod;
        }
    }

    /// @notice The round's counts and settlement state.
    function roundInfo(uint256 round) external view returns (Round memory) {
        return _round(round);
    }

    /// @notice Request `index` of `round`.
    function requestInfo(uint256 round, uint256 index) external view returns (Request memory) {
        return _requests[round][index];
    }

    /// @notice Node `index` of `round`.
    function nodeInfo(uint256 round, uint256 index) external view returns (NodeInfo memory) {
        return _nodes[round][index];
    }

    /// @notice Proposal `index` of `round`.
    function proposalInfo(uint256 round, uint256 index) external view returns (ProposalInfo memory) {
        return _proposals[round][index];
    }

    /// @notice Part `part` of `round`'s book.
    function partInfo(uint256 round, uint256 part) external view returns (Part memory) {
        return _parts[round][part];
    }

    // ================================================================ registration

    /// @inheritdoc IPostedPriceMarket
    function openRound() external returns (uint256 round) {
        round = roundCount++;
        uint64 start = uint64(block.timestamp);
        _rounds[round].start = start;
        uint256 registerEnd = uint256(start) + registerPeriod;
        emit RoundOpened(round, start, registerEnd, registerEnd + proposePeriod,
            registerEnd + proposePeriod + settlePeriod);
    }

    /// @inheritdoc IPostedPriceMarket
    function registerRequest(uint256 round, uint256 size, uint8 tag, uint256 replicas,
        uint256 maxPrice, bytes32 task) external payable returns (uint256 index)
    {
        Round storage r = _registering(round);
        if (r.requests >= maxRequests) revert RoundFull(round, 0, maxRequests);
        if (msg.value != bond) revert WrongPayment(bond, msg.value);
        if (size == 0 || size > type(uint32).max) revert InvalidRegistration("size");
        if (replicas == 0 || replicas > maxNodes) revert InvalidRegistration("replicas");
        if (maxPrice > uint256(collateralPerUnit) * size) revert InvalidRegistration("maxPrice");
        index = r.requests++;
        Request storage q = _requests[round][index];
        q.requester = msg.sender;
        q.size = uint32(size);
        q.tag = tag;
        q.replicas = uint32(replicas);
        q.maxPrice = maxPrice;
        q.task = task;
        q.deposit = DepositState.HELD;
        totalLocked += msg.value;
        emit RequestRegistered(round, index, msg.sender, size, tag, replicas, maxPrice, task);
    }

    /// @inheritdoc IPostedPriceMarket
    function registerNode(uint256 round, uint256 capacity, uint256 tags, uint256 minReward)
        external payable returns (uint256 index)
    {
        Round storage r = _registering(round);
        if (r.nodes >= maxNodes) revert RoundFull(round, 1, maxNodes);
        if (msg.value != bond) revert WrongPayment(bond, msg.value);
        if (capacity == 0 || capacity > type(uint32).max) revert InvalidRegistration("capacity");
        index = r.nodes++;
        NodeInfo storage n = _nodes[round][index];
        n.account = msg.sender;
        n.capacity = uint32(capacity);
        n.tags = tags;
        n.minReward = minReward;
        n.deposit = DepositState.HELD;
        totalLocked += msg.value;
        emit NodeRegistered(round, index, msg.sender, capacity, tags, minReward);
    }

    // ================================================================ proposals

    /// @inheritdoc IPostedPriceMarket
    function propose(uint256 round, Proposal calldata p) external payable returns (uint256 index) {
        Round storage r = _round(round);
        uint256 opensAt = uint256(r.start) + registerPeriod;
        uint256 closesAt = opensAt + proposePeriod;
        if (block.timestamp < opensAt || block.timestamp >= closesAt) {
            revert ProposalWindowNotOpen(round, opensAt, closesAt);
        }
        if (r.proposals >= maxProposals) revert RoundFull(round, 2, maxProposals);
        if (msg.value != bond) revert WrongPayment(bond, msg.value);
        _validate(round, r, p);
        index = r.proposals++;
        ProposalInfo storage info = _proposals[round][index];
        info.maker = msg.sender;
        info.hash = keccak256(abi.encode(p));
        totalLocked += msg.value;
        emit ProposalSubmitted(round, index, msg.sender, msg.value, p);
    }

    /// @dev Every rule of the library's validation plus the registration limits; reverts with
    ///      `ProposalInvalid(round, code, at)` (codes in docs/mechanisms.md).
    function _validate(uint256 round, Round storage r, Proposal calldata p) private view {
        uint256 nt = p.requests.length;
        uint256 nn = p.nodes.length;
        if (nt == 0) revert ProposalInvalid(round, 1, 0);
        if (p.prices.length != nt || p.maxPrices.length != nt || p.rewards.length != nn
            || p.minRewards.length != nn) revert ProposalInvalid(round, 2, 0);
        uint256 charged;
        uint256 replicasTotal;
        for (uint256 i; i < nt; ++i) {
            uint256 t = p.requests[i];
            if (t >= r.requests || (i > 0 && t <= p.requests[i - 1])) revert ProposalInvalid(round, 3, i);
            if (p.maxPrices[i] < p.prices[i]) revert ProposalInvalid(round, 4, i);
            Request storage q = _requests[round][t];
            if (p.maxPrices[i] > q.maxPrice) revert ProposalInvalid(round, 5, i);
            charged += p.prices[i];
            replicasTotal += q.replicas;
        }
        uint256 paid;
        for (uint256 j; j < nn; ++j) {
            uint256 n = p.nodes[j];
            if (n >= r.nodes || (j > 0 && n <= p.nodes[j - 1])) revert ProposalInvalid(round, 6, j);
            if (p.minRewards[j] > p.rewards[j]) revert ProposalInvalid(round, 7, j);
            if (p.minRewards[j] < _nodes[round][n].minReward) revert ProposalInvalid(round, 8, j);
            paid += p.rewards[j];
        }
        if (p.assignment.length != replicasTotal) revert ProposalInvalid(round, 9, 0);
        uint256[] memory load = new uint256[](nn);
        uint256 k;
        for (uint256 i; i < nt; ++i) {
            Request storage q = _requests[round][p.requests[i]];
            uint256 end = k + q.replicas;
            for (uint256 first = k; k < end; ++k) {
                uint256 n = p.assignment[k];
                if (k > first && n <= p.assignment[k - 1]) revert ProposalInvalid(round, 9, k);
                uint256 j = _find(p.nodes, n);
                if (j == type(uint256).max) revert ProposalInvalid(round, 10, k);
                if ((_nodes[round][n].tags >> q.tag) & 1 == 0) revert ProposalInvalid(round, 11, k);
                load[j] += q.size;
            }
        }
        for (uint256 j; j < nn; ++j) {
            if (load[j] > _nodes[round][p.nodes[j]].capacity) revert ProposalInvalid(round, 12, j);
            if (load[j] == 0) revert ProposalInvalid(round, 13, j);
        }
        if (paid > charged) revert ProposalInvalid(round, 14, 0);
    }

    /// @dev Position of `x` in the strictly increasing `xs`, or `type(uint256).max`.
    function _find(uint256[] calldata xs, uint256 x) private pure returns (uint256) {
        uint256 lo;
        uint256 hi = xs.length;
        while (lo < hi) {
            uint256 mid = (lo + hi) / 2;
            uint256 v = xs[mid];
            if (v == x) return mid;
            if (v < x) lo = mid + 1;
            else hi = mid;
        }
        return type(uint256).max;
    }

    // ================================================================ settlement

    /// @inheritdoc IPostedPriceMarket
    function settle(uint256 round, BookEntry[] calldata book) external {
        if (msg.sender != keeper) revert NotKeeper(msg.sender);
        Round storage r = _round(round);
        if (r.settled) revert RoundAlreadySettled(round);
        uint256 opensAt = uint256(r.start) + registerPeriod + proposePeriod;
        uint256 closesAt = opensAt + settlePeriod;
        if (block.timestamp < opensAt || block.timestamp >= closesAt) {
            revert SettleWindowNotOpen(round, opensAt, closesAt);
        }
        uint256 part;
        int256 partBalance; // posted margin minus the proposals' margins of the current part
        for (uint256 e; e < book.length; ++e) {
            BookEntry calldata entry = book[e];
            if (entry.part == part + 1) {
                if (partBalance != 0) revert BookInvalid(round, 8, e - 1);
                part = entry.part;
            } else if (entry.part != part || part == 0) {
                revert BookInvalid(round, 1, e);
            }
            partBalance += _book(round, entry, e);
        }
        if (partBalance != 0) revert BookInvalid(round, 8, book.length - 1);
        r.settled = true;
        r.parts = uint32(part);
        uint256 acceptEnd = block.timestamp + acceptPeriod;
        r.acceptEnd = uint64(acceptEnd);
        emit RoundSettled(round, part, acceptEnd, acceptEnd + proofPeriod);
    }

    /// @dev Book one entry; returns its posted margin minus its own margin.
    function _book(uint256 round, BookEntry calldata entry, uint256 e) private returns (int256) {
        Proposal calldata p = entry.proposal;
        ProposalInfo storage info = _proposals[round][entry.index];
        if (entry.index >= _rounds[round].proposals || info.hash != keccak256(abi.encode(p))) {
            revert ProposalMismatch(round, entry.index);
        }
        if (info.part != 0) revert BookInvalid(round, 2, e);
        uint256 nt = p.requests.length;
        uint256 nn = p.nodes.length;
        if (entry.prices.length != nt || entry.rewards.length != nn) revert BookInvalid(round, 3, e);
        uint32 part = uint32(entry.part);
        info.part = part;
        int256 balance;
        uint256 k;
        for (uint256 i; i < nt; ++i) {
            uint256 price = entry.prices[i];
            if (price > p.maxPrices[i]) revert BookInvalid(round, 4, e);
            Request storage q = _requests[round][p.requests[i]];
            if (q.part != 0) revert BookInvalid(round, 6, e);
            q.part = part;
            q.price = price;
            q.proposal = uint32(entry.index);
            balance += SafeCast.toInt256(price) - SafeCast.toInt256(p.prices[i]);
            for (uint256 end = k + q.replicas; k < end; ++k) {
                uint256 n = p.assignment[k];
                jobState[round][p.requests[i]][n] = JobState.ASSIGNED;
                NodeInfo storage node = _nodes[round][n];
                node.load += q.size;
                node.jobs += 1;
            }
        }
        for (uint256 j; j < nn; ++j) {
            uint256 reward = entry.rewards[j];
            if (reward < p.minRewards[j]) revert BookInvalid(round, 5, e);
            NodeInfo storage node = _nodes[round][p.nodes[j]];
            if (node.part != 0) revert BookInvalid(round, 7, e);
            node.part = part;
            node.reward = reward;
            node.proposal = uint32(entry.index);
            balance -= SafeCast.toInt256(reward) - SafeCast.toInt256(p.rewards[j]);
        }
        _parts[round][part].size += uint32(nt + nn);
        emit ProposalBooked(round, entry.index, part, entry.prices, entry.rewards);
        return balance;
    }

    // ================================================================ acceptance

    /// @inheritdoc IPostedPriceMarket
    function acceptRequest(uint256 round, uint256 index) external payable {
        Request storage q = _requests[round][index];
        if (q.requester != msg.sender) revert NotParticipant(round, 0, index, msg.sender);
        Part storage part = _answering(round, 0, index, q.part, q.response);
        if (part.voided) revert PartVoided(round, q.part);
        if (msg.value != q.price) revert WrongPayment(q.price, msg.value);
        q.response = Response.ACCEPTED;
        q.deposit = DepositState.RETURNED;
        totalLocked += msg.value;
        emit Responded(round, 0, index, msg.sender, Response.ACCEPTED, msg.value);
        _returnDeposit(round, 0, index, msg.sender);
        _accepted(round, q.part, part);
    }

    /// @inheritdoc IPostedPriceMarket
    function acceptNode(uint256 round, uint256 index) external payable {
        NodeInfo storage n = _nodes[round][index];
        if (n.account != msg.sender) revert NotParticipant(round, 1, index, msg.sender);
        Part storage part = _answering(round, 1, index, n.part, n.response);
        if (part.voided) revert PartVoided(round, n.part);
        uint256 collateral = uint256(collateralPerUnit) * n.load;
        if (msg.value != collateral) revert WrongPayment(collateral, msg.value);
        n.response = Response.ACCEPTED;
        n.deposit = DepositState.RETURNED;
        totalLocked += msg.value;
        emit Responded(round, 1, index, msg.sender, Response.ACCEPTED, msg.value);
        _returnDeposit(round, 1, index, msg.sender);
        _accepted(round, n.part, part);
    }

    /// @inheritdoc IPostedPriceMarket
    function rejectRequest(uint256 round, uint256 index) external {
        Request storage q = _requests[round][index];
        if (q.requester != msg.sender) revert NotParticipant(round, 0, index, msg.sender);
        Part storage part = _answering(round, 0, index, q.part, q.response);
        if (part.voided) revert PartVoided(round, q.part);
        q.response = Response.REJECTED;
        q.deposit = DepositState.FORFEITED;
        part.voided = true;
        _proposals[round][q.proposal].rejecters += 1;
        emit Responded(round, 0, index, msg.sender, Response.REJECTED, 0);
        _forfeitDeposit(round, 0, index, msg.sender);
    }

    /// @inheritdoc IPostedPriceMarket
    function rejectNode(uint256 round, uint256 index) external {
        NodeInfo storage n = _nodes[round][index];
        if (n.account != msg.sender) revert NotParticipant(round, 1, index, msg.sender);
        Part storage part = _answering(round, 1, index, n.part, n.response);
        if (part.voided) revert PartVoided(round, n.part);
        n.response = Response.REJECTED;
        n.deposit = DepositState.FORFEITED;
        part.voided = true;
        _proposals[round][n.proposal].rejecters += 1;
        emit Responded(round, 1, index, msg.sender, Response.REJECTED, 0);
        _forfeitDeposit(round, 1, index, msg.sender);
    }

    /// @dev Common checks of an answer; returns the participant's part.
    function _answering(uint256 round, uint8 side, uint256 index, uint32 partId, Response response)
        private view returns (Part storage)
    {
        Round storage r = _round(round);
        if (!r.settled) revert RoundNotSettled(round);
        if (block.timestamp >= r.acceptEnd) revert AcceptanceClosed(round, r.acceptEnd);
        if (partId == 0) revert NotAllocated(round, side, index);
        if (response != Response.NONE) revert AlreadyResponded(round, side, index);
        return _parts[round][partId];
    }

    function _accepted(uint256 round, uint32 partId, Part storage part) private {
        part.accepted += 1;
        if (part.accepted == part.size) emit PartTraded(round, partId);
    }

    // ================================================================ proofs

    /// @inheritdoc IPostedPriceMarket
    function submitProof(uint256 round, uint256 request, uint256 node, bytes calldata proof)
        external
    {
        NodeInfo storage n = _nodes[round][node];
        if (n.account != msg.sender) revert NotParticipant(round, 1, node, msg.sender);
        if (jobState[round][request][node] != JobState.ASSIGNED) revert JobNotOpen(round, request, node);
        Part storage part = _parts[round][n.part];
        if (part.accepted != part.size) revert PartNotTraded(round, n.part);
        uint256 proofEnd = uint256(_rounds[round].acceptEnd) + proofPeriod;
        if (block.timestamp >= proofEnd) revert ProofWindowClosed(round, proofEnd);
        Request storage q = _requests[round][request];
        if (!verifier.verify(q.task, msg.sender, proof)) revert ProofInvalid(round, request, node);
        jobState[round][request][node] = JobState.PROVEN;
        uint256 released = uint256(collateralPerUnit) * q.size;
        uint256 reward;
        n.proven += 1;
        if (n.proven == n.jobs) reward = n.reward; // all of its jobs proven: never forfeited
        _credit(msg.sender, released + reward);
        emit ProofAccepted(round, request, node, msg.sender, released, reward);
    }

    /// @inheritdoc IPostedPriceMarket
    function slash(uint256 round, uint256 request, uint256 node) external {
        if (jobState[round][request][node] != JobState.ASSIGNED) revert JobNotOpen(round, request, node);
        NodeInfo storage n = _nodes[round][node];
        Part storage part = _parts[round][n.part];
        if (part.accepted != part.size) revert PartNotTraded(round, n.part);
        uint256 proofEnd = uint256(_rounds[round].acceptEnd) + proofPeriod;
        if (block.timestamp < proofEnd) revert ProofWindowOpen(round, proofEnd);
        jobState[round][request][node] = JobState.SLASHED;
        Request storage q = _requests[round][request];
        uint256 compensation = uint256(collateralPerUnit) * q.size;
        if (!n.forfeited) {
            n.forfeited = true;
            compensation += n.reward;
        }
        _credit(q.requester, compensation);
        emit Slashed(round, request, node, q.requester, compensation);
    }

    // ================================================================ closing

    /// @inheritdoc IPostedPriceMarket
    function closeProposal(uint256 round, uint256 index, Proposal calldata p) external {
        Round storage r = _round(round);
        ProposalInfo storage info = _proposals[round][index];
        if (index >= r.proposals || info.hash != keccak256(abi.encode(p))) {
            revert ProposalMismatch(round, index);
        }
        if (info.closed) revert ProposalAlreadyClosed(round, index);
        address maker = info.maker;
        if (!r.settled) {
            uint256 settleEnd = uint256(r.start) + registerPeriod + proposePeriod + settlePeriod;
            if (block.timestamp < settleEnd) revert RoundNotSettled(round);
            _closed(round, index, info, maker, Outcome.NOT_BOOKED, bond);
            return;
        }
        if (info.part == 0) {
            _closed(round, index, info, maker, Outcome.NOT_BOOKED, bond);
            return;
        }
        Part storage part = _parts[round][info.part];
        if (part.accepted == part.size) {
            uint256 margin;
            for (uint256 i; i < p.prices.length; ++i) margin += p.prices[i];
            for (uint256 j; j < p.rewards.length; ++j) margin -= p.rewards[j];
            _closed(round, index, info, maker, Outcome.TRADED, bond + margin);
            return;
        }
        if (block.timestamp < r.acceptEnd) revert AcceptanceOpen(round, r.acceptEnd);
        _void(round, p, part.voided);
        _closed(round, index, info, maker,
            info.rejecters == 0 ? Outcome.VOIDED : Outcome.REJECTED, bond);
    }

    /// @dev Proposal `p`'s part is void and its acceptance window closed: refund its accepted
    ///      participants and resolve its silent participants' deposits (returned when a rejection
    ///      voided the part, forfeited when the window ran out). A rejecter's deposit was
    ///      forfeited when it rejected, an acceptor's returned when it accepted.
    function _void(uint256 round, Proposal calldata p, bool rejected) private {
        for (uint256 i; i < p.requests.length; ++i) {
            uint256 t = p.requests[i];
            Request storage q = _requests[round][t];
            if (q.response == Response.ACCEPTED) {
                _credit(q.requester, q.price);
                emit Refunded(round, q.requester, q.price);
            } else if (q.deposit == DepositState.HELD) {
                q.deposit = _resolve(round, 0, t, q.requester, rejected);
            }
        }
        for (uint256 j; j < p.nodes.length; ++j) {
            uint256 k = p.nodes[j];
            NodeInfo storage n = _nodes[round][k];
            if (n.response == Response.ACCEPTED) {
                uint256 collateral = uint256(collateralPerUnit) * n.load;
                _credit(n.account, collateral);
                emit Refunded(round, n.account, collateral);
            } else if (n.deposit == DepositState.HELD) {
                n.deposit = _resolve(round, 1, k, n.account, rejected);
            }
        }
    }

    // ================================================================ deposits

    /// @inheritdoc IPostedPriceMarket
    function releaseDeposit(uint256 round, uint8 side, uint256 index) external {
        Round storage r = _round(round);
        if (side == 0) {
            Request storage q = _requests[round][index];
            if (q.deposit != DepositState.HELD) revert NoDeposit(round, side, index);
            q.deposit = _resolve(round, 0, index, q.requester, _mayReturn(round, r, q.part));
        } else {
            NodeInfo storage n = _nodes[round][index];
            if (side != 1 || n.deposit != DepositState.HELD) revert NoDeposit(round, side, index);
            n.deposit = _resolve(round, 1, index, n.account, _mayReturn(round, r, n.part));
        }
    }

    /// @dev Whether the held deposit of a participant in part `partId` (0: not booked) that has
    ///      not answered is returned (true) or forfeited (false); reverts while it may still be
    ///      asked: before `settleEnd` of an unsettled round, or while its part may still trade.
    function _mayReturn(uint256 round, Round storage r, uint32 partId) private view returns (bool) {
        if (!r.settled) {
            uint256 settleEnd = uint256(r.start) + registerPeriod + proposePeriod + settlePeriod;
            if (block.timestamp < settleEnd) revert RoundNotSettled(round);
            return true; // never settled: nobody was asked
        }
        if (partId == 0) return true; // not in the book
        if (_parts[round][partId].voided) return true; // a rejection voided it before it answered
        if (block.timestamp < r.acceptEnd) revert AcceptanceOpen(round, r.acceptEnd);
        return false; // booked, and let the acceptance window pass
    }

    /// @dev Return (`back`) or forfeit a held deposit; returns its new state.
    function _resolve(uint256 round, uint8 side, uint256 index, address account, bool back)
        private returns (DepositState)
    {
        if (back) {
            _returnDeposit(round, side, index, account);
            return DepositState.RETURNED;
        }
        _forfeitDeposit(round, side, index, account);
        return DepositState.FORFEITED;
    }

    function _returnDeposit(uint256 round, uint8 side, uint256 index, address account) private {
        _credit(account, bond);
        emit DepositReturned(round, side, index, account, bond);
    }

    /// @dev Burn a deposit: out of `totalLocked`, into `burned` (nobody's).
    function _forfeitDeposit(uint256 round, uint8 side, uint256 index, address account) private {
        totalLocked -= bond;
        burned += bond;
        emit DepositForfeited(round, side, index, account, bond);
    }

    function _closed(uint256 round, uint256 index, ProposalInfo storage info, address maker,
        Outcome outcome, uint256 makerCredit) private
    {
        info.closed = true;
        if (makerCredit != 0) _credit(maker, makerCredit);
        emit ProposalClosed(round, index, maker, outcome, makerCredit);
    }

    // ================================================================ money

    /// @inheritdoc IPostedPriceMarket
    function withdraw() external nonReentrant {
        uint256 amount = balanceOf[msg.sender];
        if (amount == 0) revert NothingToWithdraw(msg.sender);
        balanceOf[msg.sender] = 0;
        emit Withdrawn(msg.sender, amount);
        // Pull payment of the caller's own zeroed balance; `call` so contract wallets can receive.
        // slither-disable-next-line low-level-calls
        (bool ok,) = payable(msg.sender).call{value: amount}("");
        if (!ok) revert TransferFailed(msg.sender, amount);
    }

    /// @dev Move `amount` from the locked total to `account`'s free balance.
    function _credit(address account, uint256 amount) private {
        totalLocked -= amount;
        balanceOf[account] += amount;
    }

    // ================================================================ helpers

    function _round(uint256 round) private view returns (Round storage r) {
        if (round >= roundCount) revert NoSuchRound(round);
        r = _rounds[round];
    }

    function _registering(uint256 round) private view returns (Round storage r) {
        r = _round(round);
        uint256 closesAt = uint256(r.start) + registerPeriod;
        if (block.timestamp >= closesAt) revert RegistrationClosed(round, closesAt);
    }
}
