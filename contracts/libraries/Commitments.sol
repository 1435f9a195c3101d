// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title Commitments
/// @notice The SPEC §4 sealed-bid commitment and the per-round commit hash chains.
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
    ) internal view returns (bytes32) {
        return keccak256(abi.encode(DOMAIN, block.chainid, market, round, participant, side, price, quantity, salt));
    }

    /// @notice Number of entries folded into chain word `word`.
    function count(uint256 word) internal pure returns (uint256) {
        return word & COUNT_MASK;
    }

    /// @notice Appends a bid to the bid chain.
    function nextBid(uint256 word, bytes32 commitment_, address requester, uint256 escrow, bytes32 task)
        internal
        pure
        returns (uint256)
    {
        uint256 h = uint256(keccak256(abi.encode(word, commitment_, requester, escrow, task)));
        return (h & ~COUNT_MASK) | ((word & COUNT_MASK) + 1);
    }

    /// @notice Appends an ask to the ask chain.
    function nextAsk(uint256 word, bytes32 commitment_, address prover, uint256 capacity)
        internal
        pure
        returns (uint256)
    {
        uint256 h = uint256(keccak256(abi.encode(word, commitment_, prover, capacity)));
        return (h & ~COUNT_MASK) | ((word & COUNT_MASK) + 1);
    }
}
