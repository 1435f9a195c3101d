// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title IProofVerifier
/// @notice Checks that `proof` proves the job `task` for `prover`. Each market is bound to one
///         verifier at deployment; the market calls it from `submitProof`.
interface IProofVerifier {
    /// @notice Returns true when `proof` is a valid proof of `task` by `prover`.
    /// @param task The job's task identifier, as named by the requester in `commitBid`.
    /// @param prover The prover the job was assigned to (binding the proof to it stops copying).
    /// @param proof Verifier-specific proof bytes.
    function verify(bytes32 task, address prover, bytes calldata proof) external view returns (bool);
}
