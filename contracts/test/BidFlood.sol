// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IProverMarket} from "../interfaces/IProverMarket.sol";

/// @title BidFlood
/// @notice Commits many bids in one transaction from one account, as an attacker batching junk
///         bids would (bench/grief.py). Commitments are `keccak256(round, index)`: they open to
///         nothing (the keeper settles them as invalid).
contract BidFlood {
    IProverMarket public immutable market;

    constructor(IProverMarket market_) {
        market = market_;
    }

    /// @notice Deposits `msg.value`, then commits `n` bids of `escrow` each in `round`.
    function flood(uint256 round, uint256 n, uint256 escrow, bytes calldata ciphertext) external payable {
        if (msg.value != 0) market.deposit{value: msg.value}();
        for (uint256 i = 0; i < n; ++i) {
            market.commitBid(round, keccak256(abi.encode(round, i, gasleft())), ciphertext, escrow, bytes32(i));
        }
    }

    receive() external payable {}
}
