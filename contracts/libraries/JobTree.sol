// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Hashes} from "@openzeppelin/contracts/utils/cryptography/Hashes.sol";

/// @title JobTree
/// @notice Job leaves and the Merkle root over a round's jobs, verifiable with OpenZeppelin
///         `MerkleProof` (sorted-pair keccak256). Levels are built left to right; an odd last node
///         is carried up unchanged.
library JobTree {
    /// @notice `keccak256(abi.encode(round, jobIndex, bidIndex, requester, task, prover, units,
    ///         payment, chargeShare, proofDeadline))`, equal to `keccak256(abi.encode(round, Job))`.
    function leaf(
        uint256 round,
        uint256 jobIndex,
        uint256 bidIndex,
        address requester,
        bytes32 task,
        address prover,
        uint256 units,
        uint256 payment,
        uint256 chargeShare,
        uint256 proofDeadline
    ) internal pure returns (bytes32 h) {
        assembly ("memory-safe") {
            let m := mload(0x40)
            mstore(m, round)
            mstore(add(m, 0x20), jobIndex)
            mstore(add(m, 0x40), bidIndex)
            mstore(add(m, 0x60), and(requester, 0xffffffffffffffffffffffffffffffffffffffff))
            mstore(add(m, 0x80), task)
            mstore(add(m, 0xa0), and(prover, 0xffffffffffffffffffffffffffffffffffffffff))
            mstore(add(m, 0xc0), units)
            mstore(add(m, 0xe0), payment)
            mstore(add(m, 0x100), chargeShare)
            mstore(add(m, 0x120), proofDeadline)
            h := keccak256(m, 0x140)
        }
    }

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
