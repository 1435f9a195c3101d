// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {ICircuitRegistry} from "../interfaces/ICircuitRegistry.sol";
import {IProofVerifier} from "../interfaces/IProofVerifier.sol";

/// @title CircuitRegistry
/// @notice The Groth16 circuits a market trades, and the verifier that checks their proofs.
///         Owner-managed and append-only: a registered circuit (its verifier contract, units per
///         task and public-input layout) never changes. A market deployed with this registry as its
///         verifier takes tasks that name a circuit and its public inputs (`commitTask`).
/// @dev Task word: `units (32) | circuitId (32) | uint192(keccak256(abi.encode(circuitId, inputs)))`,
///      computed here at commit time (`taskOf`), so the requester chooses neither the size nor a task
///      that is not a circuit's. Public signals are snarkjs's order: the circuit's outputs, then its
///      public inputs (the task's), then the prover's address, so a proof is bound to one prover.
///      Registered circuits must be total: every input below the BN254 scalar field has a proof
///      (outputs computed, never asserted); inputs are range-checked at commit time.
contract CircuitRegistry is ICircuitRegistry, IProofVerifier, Ownable2Step {
    /// @notice The BN254 scalar field: public signals are elements of it.
    uint256 public constant SNARK_SCALAR_FIELD =
        21888242871839275222246405745257275088548364400416034343698204186575808495617;
    /// @notice Most public inputs (and most outputs) a circuit may have.
    uint256 public constant MAX_SIGNALS = 16;

    /// @dev One slot: verifier (160) | units (32) | inputs (8) | outputs (8) | the verifier's
    ///      `verifyProof(uint256[2],uint256[2][2],uint256[2],uint256[n])` selector (32).
    struct Circuit {
        address verifier;
        uint32 units;
        uint8 inputs;
        uint8 outputs;
        bytes4 selector;
    }

    Circuit[] internal _circuits;
    mapping(uint256 id => string) internal _names;

    /// @notice Circuit `id` was registered (ids count from 1).
    event CircuitRegistered(
        uint256 indexed id, address indexed verifier, uint256 units, uint256 inputs, uint256 outputs, string name
    );

    /// @notice No circuit `id` is registered.
    error CircuitUnknown(uint256 id);
    /// @notice A registration parameter is unusable; `field` names it.
    error CircuitInvalid(bytes32 field);
    /// @notice A task of circuit `id` needs `expected` public inputs, `given` were passed.
    error InputCountMismatch(uint256 id, uint256 given, uint256 expected);
    /// @notice Public input `index` is not below the BN254 scalar field.
    error InputOutOfRange(uint256 index);
    /// @notice The proof's inputs do not hash to the job's task word.
    error TaskMismatch(bytes32 task);
    /// @notice The proof bytes are not the circuit's inputs, outputs and 8 proof words (packed), or
    ///         an output is not a field element.
    error ProofMalformed(bytes32 task);
    /// @notice The Groth16 check failed: a wrong proof, or a proof for other inputs or another prover.
    error ProofInvalid(bytes32 task, address prover);
    /// @notice Ownership can be transferred (two steps) but never renounced.
    error RenounceDisabled();

    constructor(address initialOwner) Ownable(initialOwner) {}

    /// @notice `keccak256("ProverMarket.CircuitRegistry.v1")` (see {ICircuitRegistry}).
    function circuitRegistryMagic() external pure returns (bytes32) {
        return keccak256("ProverMarket.CircuitRegistry.v1");
    }

    /// @notice Disabled: a registry without an owner could never add a circuit.
    function renounceOwnership() public pure override {
        revert RenounceDisabled();
    }

    /// @notice Owner only: appends a circuit; returns its id (1, 2, …).
    /// @param verifier A snarkjs Groth16 verifier for the circuit (`verifyProof(a, b, c, signals)`).
    /// @param units The size of each task in units (what the bid's size must be).
    /// @param inputs The number of public inputs a task names (the prover's address excluded).
    /// @param outputs The number of public outputs the proof carries.
    function register(address verifier, uint256 units, uint256 inputs, uint256 outputs, string calldata name)
        external
        onlyOwner
        returns (uint256 id)
    {
        if (verifier.code.length == 0) revert CircuitInvalid("verifier");
        if (units == 0 || units > type(uint32).max) revert CircuitInvalid("units");
        if (inputs == 0 || inputs > MAX_SIGNALS) revert CircuitInvalid("inputs");
        if (outputs > MAX_SIGNALS) revert CircuitInvalid("outputs");
        bytes4 selector = bytes4(keccak256(abi.encodePacked(
            "verifyProof(uint256[2],uint256[2][2],uint256[2],uint256[", _decimal(outputs + inputs + 1), "])"
        )));
        _circuits.push(Circuit(verifier, uint32(units), uint8(inputs), uint8(outputs), selector));
        id = _circuits.length;
        _names[id] = name;
        emit CircuitRegistered(id, verifier, units, inputs, outputs, name);
    }

    /// @notice The name circuit `id` was registered under (provers find its artifacts by it).
    function circuitName(uint256 id) external view returns (string memory) {
        circuit(id);
        return _names[id];
    }

    /// @notice Circuits registered so far (their ids are 1 … count).
    function circuitCount() external view returns (uint256) {
        return _circuits.length;
    }

    /// @notice Circuit `id`: verifier, units per task, public inputs, public outputs.
    function circuit(uint256 id) public view returns (Circuit memory) {
        if (id == 0 || id > _circuits.length) revert CircuitUnknown(id);
        return _circuits[id - 1];
    }

    /// @notice The task word of circuit `id` on `inputs`; reverts unless every input is a field
    ///         element and their number is the circuit's.
    function taskOf(uint256 id, uint256[] calldata inputs) external view returns (bytes32) {
        Circuit memory c = circuit(id);
        return _task(id, c, inputs);
    }

    function _task(uint256 id, Circuit memory c, uint256[] calldata inputs) private pure returns (bytes32) {
        if (inputs.length != c.inputs) revert InputCountMismatch(id, inputs.length, c.inputs);
        for (uint256 i = 0; i < inputs.length; ++i) {
            if (inputs[i] >= SNARK_SCALAR_FIELD) revert InputOutOfRange(i);
        }
        uint256 digest = uint256(keccak256(abi.encode(id, inputs))) & type(uint192).max;
        return bytes32((uint256(c.units) << 224) | (id << 192) | digest);
    }

    /// @inheritdoc IProofVerifier
    /// @dev `proof` = the task's inputs, the circuit's outputs and `a.x, a.y, b.x1, b.x0, b.y1,
    ///      b.y0, c.x, c.y` (snarkjs's Solidity calldata order), each a 32-byte word, packed (the
    ///      counts are the circuit's). Reverts with a typed error instead of returning false.
    function verify(bytes32 task, address prover, bytes calldata proof) external view returns (bool) {
        uint256 id = (uint256(task) >> 192) & type(uint32).max;
        // the circuit's slot read directly (one cold read, no length read): an id past the end
        // reads an unwritten slot, whose verifier is zero
        uint256 packed;
        assembly ("memory-safe") {
            mstore(0, _circuits.slot)
            packed := sload(add(keccak256(0, 32), sub(id, 1)))
        }
        address verifier = address(uint160(packed));
        if (id == 0 || verifier == address(0)) revert CircuitUnknown(id);
        uint256 nIn = (packed >> 192) & 0xff;
        uint256 nOut = (packed >> 200) & 0xff;
        if (proof.length != (nIn + nOut + 8) * 32) revert ProofMalformed(task);
        // the inputs (range-checked at commit) must hash to the task: keccak(abi.encode(id, inputs))
        bool matches;
        assembly ("memory-safe") {
            let m := mload(0x40)
            mstore(m, id)
            mstore(add(m, 0x20), 0x40)
            mstore(add(m, 0x40), nIn)
            calldatacopy(add(m, 0x60), proof.offset, mul(nIn, 32))
            let digest := and(keccak256(m, add(0x60, mul(nIn, 32))), sub(shl(192, 1), 1))
            let expected := or(or(shl(224, and(shr(160, packed), 0xffffffff)), shl(192, id)), digest)
            matches := eq(expected, task)
        }
        if (!matches) revert TaskMismatch(task);
        for (uint256 i = nIn; i < nIn + nOut; ++i) {
            if (uint256(bytes32(proof[i * 32:(i + 1) * 32])) >= SNARK_SCALAR_FIELD) revert ProofMalformed(task);
        }
        // verifyProof(a, b, c, [outputs, inputs, prover]) built in place (snarkjs's signal order)
        bool ok;
        assembly ("memory-safe") {
            let m := mload(0x40)
            mstore(m, shl(224, shr(208, packed)))
            calldatacopy(add(m, 4), add(proof.offset, mul(add(nIn, nOut), 32)), 256)
            let q := add(m, 260)
            calldatacopy(q, add(proof.offset, mul(nIn, 32)), mul(nOut, 32))
            q := add(q, mul(nOut, 32))
            calldatacopy(q, proof.offset, mul(nIn, 32))
            q := add(q, mul(nIn, 32))
            mstore(q, prover)
            ok := staticcall(gas(), verifier, m, sub(add(q, 32), m), 0, 32)
            ok := and(ok, and(eq(returndatasize(), 32), eq(mload(0), 1)))
        }
        if (!ok) revert ProofInvalid(task, prover);
        return true;
    }

    function _decimal(uint256 v) private pure returns (string memory) {
        // at most 2 · MAX_SIGNALS + 1 = 33 signals
        if (v < 10) return string(abi.encodePacked(bytes1(uint8(48 + v))));
        return string(abi.encodePacked(bytes1(uint8(48 + v / 10)), bytes1(uint8(48 + v % 10))));
    }
}
