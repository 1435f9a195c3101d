// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title IBatchVerifier
/// @notice A verifier that checks many proofs by one prover in one call (see {Groth16Registry}).
interface IBatchVerifier {
    /// @notice Returns only when `proofs` (each task's proof, in order, concatenated) are valid
    ///         proofs of `tasks` by `prover`; reverts with the index of a bad one otherwise.
    function verifyBatch(bytes32[] calldata tasks, address prover, bytes calldata proofs) external view;

}
