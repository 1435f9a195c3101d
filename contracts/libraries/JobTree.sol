// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Hashes} from "@openzeppelin/contracts/utils/cryptography/Hashes.sol";

/// @title JobTree
/// @notice Merkle root over a round's jobs, verifiable with OpenZeppelin `MerkleProof`
///         (sorted-pair keccak256). Levels are built left to right; an odd last node is carried up.
library JobTree {
    /// @notice Builds the root in place (overwrites `leaves`). Empty input gives bytes32(0).
    function root(bytes32[] memory leaves) internal pure returns (bytes32) {
        uint256 n = leaves.length;
        if (n == 0) return bytes32(0);
        while (n > 1) {
            uint256 half = n / 2;
            for (uint256 i = 0; i < half; ++i) {
                leaves[i] = Hashes.commutativeKeccak256(leaves[2 * i], leaves[2 * i + 1]);
            }
            if (n % 2 == 1) {
                leaves[half] = leaves[n - 1];
                n = half + 1;
            } else {
                n = half;
            }
        }
        return leaves[0];
    }
}
