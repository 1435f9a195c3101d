// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title Commitments
/// @notice The sealed-bid commitment (docs/protocol.md) and the per-round commit hash chains.
/// @dev Hashes are computed in the free memory area without moving the free memory pointer, so a
///      100-bid settlement does not grow memory per bid.
library Commitments {
    /// @notice keccak256("ProverMarket.Bid.v1"), the domain tag of every commitment.
    bytes32 internal constant DOMAIN = keccak256("ProverMarket.Bid.v1");

    /// @dev Low 32 bits of a chain word hold the count; the high 224 bits the running hash.
    uint256 internal constant COUNT_MASK = 0xffffffff;

    /// @notice `keccak256(abi.encode(DOMAIN, chainId, market, round, participant, side, price, quantity, salt))`.
    function commitment(
        address market,
        uint256 round,
        address participant,
        uint8 side,
        uint256 price,
        uint256 quantity,
        bytes32 salt
    ) internal view returns (bytes32 h) {
        bytes32 domain = DOMAIN;
        assembly ("memory-safe") {
            let m := mload(0x40)
            mstore(m, domain)
            mstore(add(m, 0x20), chainid())
            mstore(add(m, 0x40), and(market, 0xffffffffffffffffffffffffffffffffffffffff))
            mstore(add(m, 0x60), round)
            mstore(add(m, 0x80), and(participant, 0xffffffffffffffffffffffffffffffffffffffff))
            mstore(add(m, 0xa0), and(side, 0xff))
            mstore(add(m, 0xc0), price)
            mstore(add(m, 0xe0), quantity)
            mstore(add(m, 0x100), salt)
            h := keccak256(m, 0x120)
        }
    }

    /// @notice Number of entries folded into chain word `word`.
    function count(uint256 word) internal pure returns (uint256) {
        return word & COUNT_MASK;
    }

    /// @notice Appends a bid: `keccak256(abi.encode(word, commitment, requester, escrow, task))`,
    ///         low 32 bits replaced by the new count.
    function nextBid(uint256 word, bytes32 commitment_, address requester, uint256 escrow, bytes32 task)
        internal
        pure
        returns (uint256 next)
    {
        assembly ("memory-safe") {
            let m := mload(0x40)
            mstore(m, word)
            mstore(add(m, 0x20), commitment_)
            mstore(add(m, 0x40), and(requester, 0xffffffffffffffffffffffffffffffffffffffff))
            mstore(add(m, 0x60), escrow)
            mstore(add(m, 0x80), task)
            next := keccak256(m, 0xa0)
        }
        next = (next & ~COUNT_MASK) | ((word & COUNT_MASK) + 1);
    }

    /// @notice Appends an ask: `keccak256(abi.encode(word, commitment, prover, capacity))`,
    ///         low 32 bits replaced by the new count.
    function nextAsk(uint256 word, bytes32 commitment_, address prover, uint256 capacity)
        internal
        pure
        returns (uint256 next)
    {
        assembly ("memory-safe") {
            let m := mload(0x40)
            mstore(m, word)
            mstore(add(m, 0x20), commitment_)
            mstore(add(m, 0x40), and(prover, 0xffffffffffffffffffffffffffffffffffffffff))
            mstore(add(m, 0x60), capacity)
            next := keccak256(m, 0x80)
        }
        next = (next & ~COUNT_MASK) | ((word & COUNT_MASK) + 1);
    }
}
