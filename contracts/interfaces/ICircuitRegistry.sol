// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title ICircuitRegistry
/// @notice What a market needs from a circuit registry (see {CircuitRegistry}): whether it is one,
///         and the task word of a circuit's public inputs (range-checked, sized by the circuit).
interface ICircuitRegistry {
    /// @notice `keccak256("ProverMarket.CircuitRegistry.v1")`: how a market recognises a registry
    ///         (a verifier whose fallback happens to return a word is not taken for one).
    function circuitRegistryMagic() external pure returns (bytes32);

    /// @notice Circuits registered so far (ids 1 … count).
    function circuitCount() external view returns (uint256);

    /// @notice `units (32) | circuitId (32) | uint192(keccak256(abi.encode(circuitId, inputs)))`;
    ///         reverts for an unknown circuit, a wrong input count or an input outside the field.
    function taskOf(uint256 id, uint256[] calldata inputs) external view returns (bytes32);
}
