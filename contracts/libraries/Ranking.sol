// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title Ranking
/// @notice The shared tie rules (docs/mechanisms.md): bids by value/size descending (exact cross-multiplication),
///         then size ascending, then index ascending; asks by cost ascending, then index ascending.
library Ranking {
    /// @notice True when bid (valueA, sizeA, indexA) ranks strictly before bid (valueB, sizeB, indexB).
    function bidBefore(uint256 valueA, uint256 sizeA, uint256 indexA, uint256 valueB, uint256 sizeB, uint256 indexB)
        internal
        pure
        returns (bool)
    {
        uint256 left = valueA * sizeB;
        uint256 right = valueB * sizeA;
        if (left != right) return left > right;
        if (sizeA != sizeB) return sizeA < sizeB;
        return indexA < indexB;
    }

    /// @notice True when ask (costA, indexA) ranks strictly before ask (costB, indexB).
    function askBefore(uint256 costA, uint256 indexA, uint256 costB, uint256 indexB) internal pure returns (bool) {
        if (costA != costB) return costA < costB;
        return indexA < indexB;
    }
}
