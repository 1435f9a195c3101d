// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IBatchVerifier} from "../interfaces/IBatchVerifier.sol";
import {ICircuitRegistry} from "../interfaces/ICircuitRegistry.sol";
import {IProofVerifier} from "../interfaces/IProofVerifier.sol";
import {IProverMarket} from "../interfaces/IProverMarket.sol";

/// @dev What the registry needs of a market: who may extend the circuits it accepts.
interface IOwnedMarket {
    function owner() external view returns (address);
}

/// @title Groth16Registry
/// @notice Circuits as data: one generic Groth16 (BN254) verifier for every registered circuit.
///         Anyone registers a circuit (`registerCircuit`): its verification key is written once to
///         chain code (SSTORE2: a contract whose code is `0x00 ‖ key`, read back with one
///         EXTCODECOPY) next to the sha-256 of its witness generator (`.wasm`) and proving key
///         (`.zkey`), where to fetch them, its public input and output counts and a name. A record
///         never changes and nobody (there is no owner) can alter or remove it. Each market names
///         the circuits it accepts (`acceptCircuits`, by its owner, append-only); a task of another
///         circuit is refused at commit (`taskOf`, called by the market).
/// @dev Task word (as {CircuitRegistry}'s, units always 1):
///      `1 (32) | index (32) | uint192(keccak256(abi.encode(index, inputs)))` where `index` is the
///      circuit's registration number (1, 2, …; the id is a hash, too wide for the word).
///      Proof bytes (as {CircuitRegistry}'s): the task's inputs, the circuit's outputs and
///      `a.x, a.y, b.x1, b.x0, b.y1, b.y0, c.x, c.y`, 32-byte words, packed. Public signals in
///      snarkjs's order: outputs, inputs, then the prover's address (a proof is bound to one prover
///      and, through the inputs hashed into the task, to the job).
///      Verification key bytes: `alpha (2) | beta (4) | gamma (4) | delta (4) | IC_0 … IC_n (2 each)`
///      words, G2 points in the precompile's order `x.im, x.re, y.im, y.re`, n = outputs + inputs + 1.
///      Batches (`verifyBatch`): with weights r_0 = 1 and r_i = the top 128 bits of
///      keccak256(seed, i), seed = keccak256(prover, tasks, proofs) (fixed by the proofs, so a
///      prover cannot choose them), the n checks e(A_i, B_i) = e(α, β)·e(L_i, γ)·e(C_i, δ) of each
///      circuit become one product
///      Π e(r_i·A_i, B_i) · e(−(Σr_i)·α, β) · e(−Σ_j (Σ_i r_i·s_ij)·IC_j, γ) · e(−Σ r_i·C_i, δ) = 1,
///      all circuits in one pairing call: n + 3 per circuit pairings, one MSM term per input position.
contract Groth16Registry is IProofVerifier, IBatchVerifier, ICircuitRegistry {
    /// @notice The BN254 scalar field: public signals are elements of it.
    uint256 public constant SNARK_SCALAR_FIELD =
        21888242871839275222246405745257275088548364400416034343698204186575808495617;
    /// @dev The BN254 base field (point coordinates).
    uint256 internal constant BASE_FIELD =
        21888242871839275222246405745257275088696311157297823662689037894645226208583;
    /// @notice Most public inputs (and most outputs) a circuit may have.
    uint256 public constant MAX_SIGNALS = 16;

    /// @notice What a registration names besides the key: the public input and output counts, the
    ///         sha-256 of the witness generator and of the proving key, where to fetch them, a name.
    struct Artifacts {
        uint8 inputs;
        uint8 outputs;
        bytes32 wasmSha256;
        bytes32 zkeySha256;
        string wasmURI;
        string zkeyURI;
        string name;
    }

    /// @dev By index - 1: key pointer (160) | inputs (8) | outputs (8).
    uint256[] internal _slots;
    /// @dev By index - 1: the circuit's id.
    bytes32[] internal _ids;
    mapping(bytes32 id => uint256 index) internal _indexOf;
    mapping(bytes32 id => Artifacts) internal _artifacts;
    mapping(address market => mapping(uint256 index => bool)) internal _accepted;

    /// @notice Circuit `id` (= keccak256(abi.encode(key, artifacts))) was registered as `index`.
    event CircuitRegistered(
        bytes32 indexed id,
        uint256 indexed index,
        bytes32 keyHash,
        uint256 inputs,
        uint256 outputs,
        bytes32 wasmSha256,
        bytes32 zkeySha256,
        string wasmURI,
        string zkeyURI,
        string name
    );
    /// @notice `market`'s owner added circuit `id` to the circuits the market accepts.
    event CircuitAccepted(address indexed market, bytes32 indexed id, uint256 index);

    /// @notice No circuit has index `index`.
    error CircuitUnknown(uint256 index);
    /// @notice No circuit has id `id`.
    error CircuitIdUnknown(bytes32 id);
    /// @notice Circuit `id` is registered already (a record is written once).
    error CircuitExists(bytes32 id);
    /// @notice A registration parameter is unusable; `field` names it.
    error CircuitInvalid(bytes32 field);
    /// @notice `market` does not accept circuit `index` (its owner extends the list).
    error CircuitNotAccepted(address market, uint256 index);
    /// @notice Only `market`'s owner extends the circuits it accepts; `caller` is not.
    error NotMarketOwner(address market, address caller);
    /// @notice A task of circuit `index` needs `expected` public inputs, `given` were passed.
    error InputCountMismatch(uint256 index, uint256 given, uint256 expected);
    /// @notice Public input `position` is not below the BN254 scalar field.
    error InputOutOfRange(uint256 position);
    /// @notice A batch without proofs.
    error BatchEmpty();
    /// @notice `submitProofs` takes one Merkle proof per job: `jobs` jobs, `merkleProofs` proofs.
    error BatchShape(uint256 jobs, uint256 merkleProofs);
    /// @notice Job `index` of a batch is `prover`'s, not the caller's.
    error NotJobProver(uint256 index, address caller, address prover);
    /// @notice Proof `index`'s inputs do not hash to its job's task word.
    error TaskMismatch(uint256 index);
    /// @notice Proof `index`'s bytes are not its circuit's inputs, outputs and 8 proof words (or an
    ///         output is not a field element; or bytes are left after the last proof).
    error ProofMalformed(uint256 index);
    /// @notice Proof `index` (0 for a single proof) fails the Groth16 check: a wrong proof, or a
    ///         proof for other inputs or another prover.
    error ProofInvalid(uint256 index);

    /// @notice `keccak256("ProverMarket.CircuitRegistry.v1")`: markets take circuit tasks.
    function circuitRegistryMagic() external pure returns (bytes32) {
        return keccak256("ProverMarket.CircuitRegistry.v1");
    }

    // ============================================================== registration

    /// @notice Registers a circuit: anyone, once per (key, artifacts); returns its id.
    /// @param key The verification key (layout in the contract's notes), e.g. from snarkjs's
    ///        `verification_key.json` of the circuit's `.zkey`.
    /// @dev The key's G1 points are checked on the curve and its G2 points on the curve and in the
    ///      subgroup (by the precompiles); what the key proves is for markets to judge (they accept
    ///      circuits one by one): a key from a ceremony someone controls lets that someone forge.
    function registerCircuit(bytes calldata key, Artifacts calldata artifacts) external returns (bytes32 id) {
        uint256 nIn = artifacts.inputs;
        uint256 nOut = artifacts.outputs;
        if (nIn == 0 || nIn > MAX_SIGNALS) revert CircuitInvalid("inputs");
        if (nOut > MAX_SIGNALS) revert CircuitInvalid("outputs");
        uint256 nPub = nIn + nOut + 1;
        if (key.length != (16 + 2 * nPub) * 32) revert CircuitInvalid("key");
        if (artifacts.wasmSha256 == 0) revert CircuitInvalid("wasmSha256");
        if (artifacts.zkeySha256 == 0) revert CircuitInvalid("zkeySha256");
        if (bytes(artifacts.name).length == 0 || bytes(artifacts.name).length > 64) revert CircuitInvalid("name");
        id = keccak256(abi.encode(key, artifacts));
        if (_indexOf[id] != 0) revert CircuitExists(id);
        _checkKey(key, nPub);
        bytes memory init = abi.encodePacked(hex"61", uint16(key.length + 1), hex"80600a3d393df300", key);
        address pointer;
        assembly ("memory-safe") {
            pointer := create(0, add(init, 32), mload(init))
        }
        if (pointer == address(0)) revert CircuitInvalid("store");
        _slots.push(uint256(uint160(pointer)) | (nIn << 160) | (nOut << 168));
        _ids.push(id);
        uint256 index = _slots.length;
        _indexOf[id] = index;
        _artifacts[id] = artifacts;
        emit CircuitRegistered(
            id,
            index,
            keccak256(key),
            nIn,
            nOut,
            artifacts.wasmSha256,
            artifacts.zkeySha256,
            artifacts.wasmURI,
            artifacts.zkeyURI,
            artifacts.name
        );
    }

    /// @dev Coordinates below the base field, G1 points on the curve (ecAdd with the identity
    ///      fails otherwise), G2 points on the curve and in the subgroup (one pairing call with
    ///      (alpha, beta), (alpha, gamma), (alpha, delta): the precompile fails otherwise).
    function _checkKey(bytes calldata key, uint256 nPub) private view {
        for (uint256 w = 0; w < key.length / 32; ++w) {
            if (uint256(bytes32(key[w * 32:w * 32 + 32])) >= BASE_FIELD) revert CircuitInvalid("key");
        }
        bool ok = true;
        assembly ("memory-safe") {
            let m := mload(0x40)
            for { let j := 0 } lt(j, add(nPub, 2)) { j := add(j, 1) } {
                // j = 0: alpha (word 0); j ≥ 1: IC_(j-1) (word 14 + 2(j-1))
                let at := mul(32, add(12, mul(2, j)))
                if iszero(j) { at := 0 }
                calldatacopy(m, add(key.offset, at), 64)
                mstore(add(m, 64), 0)
                mstore(add(m, 96), 0)
                ok := and(ok, staticcall(gas(), 6, m, 128, m, 64))
            }
            // G2: beta, gamma, delta, each paired with alpha
            for { let j := 0 } lt(j, 3) { j := add(j, 1) } {
                let p := add(m, mul(j, 192))
                calldatacopy(p, key.offset, 64)
                calldatacopy(add(p, 64), add(key.offset, add(64, mul(j, 128))), 128)
            }
            ok := and(ok, staticcall(gas(), 8, m, 576, m, 32))
        }
        if (!ok) revert CircuitInvalid("point");
    }

    /// @notice Market owner only: adds circuits to those `market` accepts (never removes one).
    function acceptCircuits(address market, bytes32[] calldata ids) external {
        if (msg.sender != IOwnedMarket(market).owner()) revert NotMarketOwner(market, msg.sender);
        for (uint256 i = 0; i < ids.length; ++i) {
            uint256 index = _indexOf[ids[i]];
            if (index == 0) revert CircuitIdUnknown(ids[i]);
            if (!_accepted[market][index]) {
                _accepted[market][index] = true;
                emit CircuitAccepted(market, ids[i], index);
            }
        }
    }

    // ===================================================================== views

    /// @notice Circuits registered so far (their indexes are 1 … count).
    function circuitCount() external view returns (uint256) {
        return _slots.length;
    }

    /// @notice The id of the circuit registered as `index`.
    function circuitId(uint256 index) public view returns (bytes32) {
        if (index == 0 || index > _slots.length) revert CircuitUnknown(index);
        return _ids[index - 1];
    }

    /// @notice The registration index of circuit `id` (what task words name).
    function circuitIndex(bytes32 id) public view returns (uint256 index) {
        index = _indexOf[id];
        if (index == 0) revert CircuitIdUnknown(id);
    }

    /// @notice Circuit `id`'s record: its index, where its key is stored, and its artifacts.
    function circuit(bytes32 id) external view returns (uint256 index, address keyPointer, Artifacts memory) {
        index = circuitIndex(id);
        keyPointer = address(uint160(_slots[index - 1]));
        return (index, keyPointer, _artifacts[id]);
    }

    /// @notice Circuit `id`'s verification key, as registered.
    function verificationKey(bytes32 id) external view returns (bytes memory key) {
        address pointer = address(uint160(_slots[circuitIndex(id) - 1]));
        uint256 size = pointer.code.length - 1;
        key = new bytes(size);
        assembly ("memory-safe") {
            extcodecopy(pointer, add(key, 32), 1, size)
        }
    }

    /// @notice Whether `market` accepts circuit `id`.
    function accepts(address market, bytes32 id) external view returns (bool) {
        return _accepted[market][_indexOf[id]] && _indexOf[id] != 0;
    }

    /// @notice The task word of circuit `ref` (an index, or an id) on `inputs`, for the calling
    ///         market: reverts unless the market accepts the circuit, every input is a field element
    ///         and their number is the circuit's.
    function taskOf(uint256 ref, uint256[] calldata inputs) external view returns (bytes32) {
        return taskFor(msg.sender, ref, inputs);
    }

    /// @notice {taskOf} as `market` calls it.
    function taskFor(address market, uint256 ref, uint256[] calldata inputs) public view returns (bytes32) {
        uint256 index = ref <= _slots.length ? ref : _indexOf[bytes32(ref)];
        if (index == 0) revert CircuitUnknown(ref);
        if (!_accepted[market][index]) revert CircuitNotAccepted(market, index);
        uint256 nIn = (_slots[index - 1] >> 160) & 0xff;
        if (inputs.length != nIn) revert InputCountMismatch(index, inputs.length, nIn);
        for (uint256 i = 0; i < inputs.length; ++i) {
            if (inputs[i] >= SNARK_SCALAR_FIELD) revert InputOutOfRange(i);
        }
        uint256 digest = uint256(keccak256(abi.encode(index, inputs))) & type(uint192).max;
        return bytes32((uint256(1) << 224) | (index << 192) | digest);
    }

    // ============================================================== verification

    /// @inheritdoc IProofVerifier
    /// @dev Reverts with a typed error (index 0) instead of returning false.
    function verify(bytes32 task, address prover, bytes calldata proof) external view returns (bool) {
        bytes32[] memory tasks = new bytes32[](1);
        tasks[0] = task;
        _verify(tasks, prover, proof);
        return true;
    }

    /// @inheritdoc IBatchVerifier
    function verifyBatch(bytes32[] calldata tasks, address prover, bytes calldata proofs) external view {
        _verify(tasks, prover, proofs);
    }

    /// @notice Many jobs' proofs by their prover (the caller) in one transaction: checks them all
    ///         at once (one randomised pairing product per circuit; `ProofInvalid(i)` names the
    ///         first bad one), then hands each job to `market`'s `submitProof`, which takes this
    ///         registry's word for the proof when it is the market's verifier (it still checks the
    ///         job is the round's, unresolved and before its deadline, and credits its prover).
    /// @param proofs The jobs' proofs in order, each as `submitProof` takes it, concatenated.
    function submitProofs(
        address market,
        uint256 round,
        IProverMarket.Job[] calldata jobs,
        bytes32[][] calldata merkleProofs,
        bytes calldata proofs
    ) external {
        uint256 n = jobs.length;
        if (merkleProofs.length != n) revert BatchShape(n, merkleProofs.length);
        bytes32[] memory tasks = new bytes32[](n);
        for (uint256 i = 0; i < n; ++i) {
            if (jobs[i].prover != msg.sender) revert NotJobProver(i, msg.sender, jobs[i].prover);
            tasks[i] = jobs[i].task;
        }
        _verify(tasks, msg.sender, proofs);
        if (market.code.length == 0) revert NotJobProver(0, msg.sender, address(0));
        bytes4 selector = IProverMarket.submitProof.selector;
        for (uint256 i = 0; i < n; ++i) {
            IProverMarket.Job calldata job = jobs[i];
            bytes32[] calldata merkleProof = merkleProofs[i];
            // submitProof(round, job, merkleProof, "") encoded by hand (the job copied whole)
            assembly ("memory-safe") {
                let m := mload(0x40)
                mstore(m, selector)
                mstore(add(m, 4), round)
                calldatacopy(add(m, 36), job, 288)
                mstore(add(m, 324), 0x180)
                mstore(add(m, 356), add(0x1a0, mul(merkleProof.length, 32)))
                mstore(add(m, 388), merkleProof.length)
                calldatacopy(add(m, 420), merkleProof.offset, mul(merkleProof.length, 32))
                let end := add(add(m, 420), mul(merkleProof.length, 32))
                mstore(end, 0)
                if iszero(call(gas(), market, 0, m, sub(add(end, 32), m), 0, 0)) {
                    returndatacopy(0, 0, returndatasize())
                    revert(0, returndatasize())
                }
            }
        }
    }

    /// @dev The accumulated check of one circuit's proofs in a batch.
    struct Group {
        uint256 slot;
        uint256 first;
        uint256 sumR;
        uint256 cx;
        uint256 cy;
        uint256[] s;
    }

    function _verify(bytes32[] memory tasks, address prover, bytes calldata proofs) private view {
        uint256 n = tasks.length;
        if (n == 0) revert BatchEmpty();
        // the weights' seed: every proof, input, output and task, and the prover
        bytes32 seed = n == 1 ? bytes32(0) : keccak256(abi.encode(prover, tasks, proofs));
        uint256[] memory pairs = new uint256[](24 * n);
        uint256[] memory offsets = new uint256[](n);
        Group[] memory groups = new Group[](n);
        uint256 ng = 0;
        uint256 off = 0;
        for (uint256 i = 0; i < n; ++i) {
            offsets[i] = off;
            uint256 index = (uint256(tasks[i]) >> 192) & 0xffffffff;
            uint256 slot = _slotOf(index);
            uint256 len = (((slot >> 160) & 0xff) + ((slot >> 168) & 0xff) + 8) * 32;
            if (proofs.length < off + len) revert ProofMalformed(i);
            if (!_matches(tasks[i], index, proofs[off:off + len], (slot >> 160) & 0xff)) revert TaskMismatch(i);
            uint256 r = i == 0 ? 1 : uint256(keccak256(abi.encode(seed, i))) >> 128;
            ng = _addProof(groups, ng, pairs, i, slot, r, prover, proofs[off:off + len]);
            off += len;
        }
        if (off != proofs.length) revert ProofMalformed(n - 1);
        // per circuit: (−Σr·α, β), (−Σ_j S_j·IC_j, γ), (−Σr·C, δ)
        for (uint256 g = 0; g < ng; ++g) {
            if (!_closeGroup(groups[g], pairs, n + 3 * g)) revert ProofInvalid(groups[g].first);
        }
        bool valid;
        uint256 size = (n + 3 * ng) * 192;
        assembly ("memory-safe") {
            valid := staticcall(gas(), 8, add(pairs, 32), size, 0, 32)
            valid := and(valid, eq(mload(0), 1))
        }
        if (valid) return;
        if (n == 1) revert ProofInvalid(0);
        // find the first bad proof (each checked alone; a batch fails only when one does)
        for (uint256 i = 0; i < n; ++i) {
            uint256 end = i + 1 < n ? offsets[i + 1] : proofs.length;
            // an external call to itself in a loop, on the failure path only: `verify` reverts on
            // a malformed proof, which a try can catch and an internal call could not
            // slither-disable-next-line calls-loop
            try this.verify(tasks[i], prover, proofs[offsets[i]:end]) returns (bool ok) {
                if (!ok) revert ProofInvalid(i);
            } catch {
                revert ProofInvalid(i);
            }
        }
        revert ProofInvalid(0);
    }

    /// @dev Proof `i` (weight `r`) into the batch: (r·A, B) as pair `i`, its weighted signals and
    ///      r·C into its circuit's group (created when new); returns the number of groups.
    function _addProof(
        Group[] memory groups,
        uint256 ng,
        uint256[] memory pairs,
        uint256 i,
        uint256 slot,
        uint256 r,
        address prover,
        bytes calldata p
    ) private view returns (uint256) {
        uint256 nIn = (slot >> 160) & 0xff;
        uint256 nOut = (slot >> 168) & 0xff;
        uint256 g = 0;
        while (g < ng && groups[g].slot != slot) ++g;
        if (g == ng) {
            groups[g] = Group(slot, i, 0, 0, 0, new uint256[](nIn + nOut + 1));
            ++ng;
        }
        Group memory grp = groups[g];
        grp.sumR = addmod(grp.sumR, r, SNARK_SCALAR_FIELD);
        // signals: outputs, inputs, prover
        uint256[] memory s = grp.s;
        uint256 last = nIn + nOut;
        bool inField = true;
        // s_k += r · signal_k (mod the scalar field): outputs, inputs, prover (the slice `p` is
        // the proof's exact length, checked by the caller)
        assembly ("memory-safe") {
            let f := SNARK_SCALAR_FIELD
            let sk := add(s, 32)
            for { let k := 0 } lt(k, nOut) { k := add(k, 1) } {
                let v := calldataload(add(p.offset, mul(add(nIn, k), 32)))
                inField := and(inField, lt(v, f))
                let at := add(sk, mul(k, 32))
                mstore(at, addmod(mload(at), mulmod(r, v, f), f))
            }
            for { let k := 0 } lt(k, nIn) { k := add(k, 1) } {
                let v := calldataload(add(p.offset, mul(k, 32)))
                let at := add(sk, mul(add(nOut, k), 32))
                mstore(at, addmod(mload(at), mulmod(r, v, f), f))
            }
            let at := add(sk, mul(last, 32))
            mstore(at, addmod(mload(at), mulmod(r, prover, f), f))
        }
        if (!inField) revert ProofMalformed(i);
        // (r·A, B) into pair i; r·C into the group's sum
        bool ok = true;
        uint256 po = last * 32;
        assembly ("memory-safe") {
            let dst := add(add(pairs, 32), mul(i, 192))
            calldatacopy(dst, add(p.offset, po), 192)
            let m := mload(0x40)
            if iszero(eq(r, 1)) {
                mstore(add(dst, 64), r)
                ok := staticcall(gas(), 7, dst, 96, dst, 64)
                calldatacopy(add(dst, 64), add(p.offset, add(po, 64)), 128)
            }
            calldatacopy(m, add(p.offset, add(po, 192)), 64)
            if iszero(eq(r, 1)) {
                mstore(add(m, 64), r)
                ok := and(ok, staticcall(gas(), 7, m, 96, m, 64))
            }
            mstore(add(m, 64), mload(add(grp, 96)))
            mstore(add(m, 96), mload(add(grp, 128)))
            ok := and(ok, staticcall(gas(), 6, m, 128, m, 64))
            mstore(add(grp, 96), mload(m))
            mstore(add(grp, 128), mload(add(m, 32)))
        }
        if (!ok) revert ProofInvalid(i);
        return ng;
    }

    /// @dev Writes the group's three pairs at pair position `at`; false when a precompile fails.
    function _closeGroup(Group memory grp, uint256[] memory pairs, uint256 at) private view returns (bool ok) {
        address pointer = address(uint160(grp.slot));
        uint256 nPub = grp.s.length;
        uint256[] memory s = grp.s;
        uint256 sumR = grp.sumR;
        uint256 cx = grp.cx;
        uint256 cy = grp.cy;
        ok = true;
        assembly ("memory-safe") {
            let key := mload(0x40)
            let keyLen := mul(32, add(16, mul(2, nPub)))
            extcodecopy(pointer, key, 1, keyLen)
            let m := add(key, keyLen)
            let dst := add(add(pairs, 32), mul(at, 192))
            // −Σr·α, β
            mstore(m, mload(key))
            mstore(add(m, 32), mload(add(key, 32)))
            if iszero(eq(sumR, 1)) {
                mstore(add(m, 64), sumR)
                ok := staticcall(gas(), 7, m, 96, m, 64)
            }
            mstore(dst, mload(m))
            mstore(add(dst, 32), mod(sub(BASE_FIELD, mload(add(m, 32))), BASE_FIELD))
            mcopy(add(dst, 64), add(key, 64), 128)
            // −(Σr·IC_0 + Σ_j S_j·IC_(j+1)), γ
            let acc := add(m, 128)
            mstore(acc, mload(add(key, 448)))
            mstore(add(acc, 32), mload(add(key, 480)))
            if iszero(eq(sumR, 1)) {
                mstore(add(acc, 64), sumR)
                ok := and(ok, staticcall(gas(), 7, acc, 96, acc, 64))
            }
            for { let j := 0 } lt(j, nPub) { j := add(j, 1) } {
                let v := mload(add(add(s, 32), mul(j, 32)))
                if v {
                    let ic := add(key, add(512, mul(j, 64)))
                    mstore(m, mload(ic))
                    mstore(add(m, 32), mload(add(ic, 32)))
                    mstore(add(m, 64), v)
                    ok := and(ok, staticcall(gas(), 7, m, 96, m, 64))
                    mstore(add(m, 64), mload(acc))
                    mstore(add(m, 96), mload(add(acc, 32)))
                    ok := and(ok, staticcall(gas(), 6, m, 128, acc, 64))
                }
            }
            dst := add(dst, 192)
            mstore(dst, mload(acc))
            mstore(add(dst, 32), mod(sub(BASE_FIELD, mload(add(acc, 32))), BASE_FIELD))
            mcopy(add(dst, 64), add(key, 192), 128)
            // −Σr·C, δ
            dst := add(dst, 192)
            mstore(dst, cx)
            mstore(add(dst, 32), mod(sub(BASE_FIELD, cy), BASE_FIELD))
            mcopy(add(dst, 64), add(key, 320), 128)
        }
    }

    /// @dev Circuit `index`'s slot, read directly (one cold read, no length read); reverts for an
    ///      unknown index (an index past the end reads an unwritten slot, zero).
    function _slotOf(uint256 index) private view returns (uint256 slot) {
        if (index == 0) revert CircuitUnknown(0);
        assembly ("memory-safe") {
            mstore(0, _slots.slot)
            slot := sload(add(keccak256(0, 32), sub(index, 1)))
        }
        if (slot == 0) revert CircuitUnknown(index);
    }

    /// @dev Whether the proof's inputs (its first `nIn` words) hash to the task word.
    function _matches(bytes32 task, uint256 index, bytes calldata p, uint256 nIn) private pure returns (bool m) {
        assembly ("memory-safe") {
            let b := mload(0x40)
            mstore(b, index)
            mstore(add(b, 0x20), 0x40)
            mstore(add(b, 0x40), nIn)
            calldatacopy(add(b, 0x60), p.offset, mul(nIn, 32))
            let digest := and(keccak256(b, add(0x60, mul(nIn, 32))), sub(shl(192, 1), 1))
            m := eq(or(or(shl(224, 1), shl(192, index)), digest), task)
        }
    }
}
