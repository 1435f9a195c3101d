// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IProofVerifier} from "../interfaces/IProofVerifier.sol";

/// @title ProofOfWorkVerifier
/// @notice Hashcash over the task and the prover, the default verifier for demos and tests.
/// @dev `proof` is exactly 32 bytes, a nonce `n`. It passes when
///      `uint256(keccak256(abi.encode(bytes32 task, address prover, bytes32 n))) >> (256 - difficultyBits) == 0`,
///      i.e. the top `difficultyBits` bits of the hash are zero (expected work 2^difficultyBits hashes).
///      With `difficultyBits == 0` every 32-byte proof passes.
contract ProofOfWorkVerifier is IProofVerifier {
    /// @notice Number of leading zero bits the hash must have (0..255).
    uint256 public immutable difficultyBits;

    /// @notice The difficulty is not in 0..255.
    error DifficultyOutOfRange(uint256 difficultyBits);

    constructor(uint256 difficultyBits_) {
        if (difficultyBits_ > 255) revert DifficultyOutOfRange(difficultyBits_);
        difficultyBits = difficultyBits_;
    }

    /// @inheritdoc IProofVerifier
    function verify(bytes32 task, address prover, bytes calldata proof) external view returns (bool) {
        if (proof.length != 32) return false;
        bytes32 nonce = bytes32(proof);
        if (difficultyBits == 0) return true;
        return uint256(keccak256(abi.encode(task, prover, nonce))) >> (256 - difficultyBits) == 0;
    }
}
