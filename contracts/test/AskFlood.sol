// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IProverMarket} from "../interfaces/IProverMarket.sol";

/// @title FloodProver
/// @notice A prover contract of {AskFlood}: stakes and declares one unit when created, then
///         commits whatever ask its factory tells it to (tests and bench/grief.py: the ask-side
///         attack of many provers owned by one party).
contract FloodProver {
    address private immutable _factory;
    IProverMarket private immutable _market;

    constructor(IProverMarket market) payable {
        _factory = msg.sender;
        _market = market;
        market.stake{value: msg.value}();
        market.setCapacity(1);
    }

    function ask(uint256 round, bytes32 commitment, bytes calldata ciphertext) external {
        require(msg.sender == _factory, "factory only");
        _market.commitAsk(round, commitment, ciphertext);
    }
}

/// @title AskFlood
/// @notice Creates many {FloodProver}s and commits one ask from each in one transaction, as an
///         attacker batching junk asks would. Commitments are `keccak256(round, prover)`: they
///         open to nothing, so the keeper settles every ask as invalid (or, with a valid
///         ciphertext a test prepares, as it decrypts).
contract AskFlood {
    IProverMarket public immutable market;
    FloodProver[] public provers;

    constructor(IProverMarket market_) {
        market = market_;
    }

    /// @notice Creates `n` provers, each staking `msg.value / n`.
    function spawn(uint256 n) external payable {
        uint256 each = msg.value / n;
        for (uint256 i = 0; i < n; ++i) {
            provers.push(new FloodProver{value: each}(market));
        }
    }

    function count() external view returns (uint256) {
        return provers.length;
    }

    /// @notice Provers `first … first + n − 1` each commit an ask in `round` (same ciphertext).
    function askAll(uint256 round, uint256 first, uint256 n, bytes calldata ciphertext) external {
        for (uint256 i = first; i < first + n; ++i) {
            FloodProver p = provers[i];
            p.ask(round, keccak256(abi.encode(round, address(p))), ciphertext);
        }
    }
}
