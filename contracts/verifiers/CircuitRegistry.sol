// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
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
contract CircuitRegistry is IProofVerifier, Ownable2Step {
    /// @notice The BN254 scalar field: public signals are elements of it.
    uint256 public constant SNARK_SCALAR_FIELD =
        21888242871839275222246405745257275088548364400416034343698204186575808495617;
    /// @notice Most public inputs (and most outputs) a circuit may have.
    uint256 public constant MAX_SIGNALS = 16;

    /// @dev One slot: verifier (160) | units (32) | inputs (8) | outputs (8).
    struct Circuit {
        address verifier;
        uint32 units;
        uint8 inputs;
        uint8 outputs;
    }

    Circuit[] internal _circuits;

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
    /// @notice The proof bytes are not `abi.encode(uint256[] inputs, uint256[] outputs, uint256[8])`
    ///         with the circuit's counts, or an output is not a field element.
    error ProofMalformed(bytes32 task);
    /// @notice The Groth16 check failed: a wrong proof, or a proof for other inputs or another prover.
    error ProofInvalid(bytes32 task, address prover);
    /// @notice Ownership can be transferred (two steps) but never renounced.
    error RenounceDisabled();

    constructor(address owner) Ownable(owner) {}

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
        _circuits.push(Circuit(verifier, uint32(units), uint8(inputs), uint8(outputs)));
        id = _circuits.length;
        emit CircuitRegistered(id, verifier, units, inputs, outputs, name);
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
    /// @dev `proof` = `abi.encode(uint256[] inputs, uint256[] outputs, uint256[8] abc)` with `abc` =
    ///      `a.x, a.y, b.x1, b.x0, b.y1, b.y0, c.x, c.y` (snarkjs's Solidity calldata order). Reverts
    ///      with a typed error instead of returning false.
    function verify(bytes32 task, address prover, bytes calldata proof) external view returns (bool) {
        uint256 id = (uint256(task) >> 192) & type(uint32).max;
        Circuit memory c = circuit(id);
        (uint256[] calldata inputs, uint256[] calldata outputs, uint256[8] calldata abc) = _decode(task, proof);
        if (_task(id, c, inputs) != task) revert TaskMismatch(task);
        if (outputs.length != c.outputs) revert ProofMalformed(task);
        uint256 n = uint256(c.outputs) + c.inputs + 1;
        uint256[] memory signals = new uint256[](n);
        for (uint256 i = 0; i < outputs.length; ++i) {
            if (outputs[i] >= SNARK_SCALAR_FIELD) revert ProofMalformed(task);
            signals[i] = outputs[i];
        }
        for (uint256 i = 0; i < inputs.length; ++i) {
            signals[outputs.length + i] = inputs[i];
        }
        signals[n - 1] = uint160(prover);
        bytes4 selector = bytes4(keccak256(
            abi.encodePacked("verifyProof(uint256[2],uint256[2][2],uint256[2],uint256[", _decimal(n), "])")
        ));
        (bool ok, bytes memory ret) = c.verifier.staticcall(abi.encodePacked(selector, abc, signals));
        if (!ok || ret.length != 32 || abi.decode(ret, (uint256)) != 1) revert ProofInvalid(task, prover);
        return true;
    }

    function _decode(bytes32 task, bytes calldata proof)
        private
        pure
        returns (uint256[] calldata inputs, uint256[] calldata outputs, uint256[8] calldata abc)
    {
        // head: offset of inputs, offset of outputs, then the 8 proof words
        if (proof.length < 10 * 32) revert ProofMalformed(task);
        uint256 inOff = uint256(bytes32(proof[0:32]));
        uint256 outOff = uint256(bytes32(proof[32:64]));
        if (inOff > proof.length - 32 || outOff > proof.length - 32) revert ProofMalformed(task);
        uint256 inLen = uint256(bytes32(proof[inOff:inOff + 32]));
        uint256 outLen = uint256(bytes32(proof[outOff:outOff + 32]));
        if (inLen > MAX_SIGNALS || outLen > MAX_SIGNALS) revert ProofMalformed(task);
        if (inOff + 32 + inLen * 32 > proof.length || outOff + 32 + outLen * 32 > proof.length) {
            revert ProofMalformed(task);
        }
        assembly ("memory-safe") {
            inputs.offset := add(add(proof.offset, inOff), 32)
            inputs.length := inLen
            outputs.offset := add(add(proof.offset, outOff), 32)
            outputs.length := outLen
            abc := add(proof.offset, 64)
        }
    }

    function _decimal(uint256 v) private pure returns (string memory) {
        if (v < 10) return string(abi.encodePacked(bytes1(uint8(48 + v))));
        return string(abi.encodePacked(bytes1(uint8(48 + v / 10)), bytes1(uint8(48 + v % 10))));
    }
}
