// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IProverMarket} from "../interfaces/IProverMarket.sol";

/// @title ReentrantReceiver
/// @notice Test only: a market account whose `receive` re-enters `withdraw` once. With the
///         reentrancy guard the inner call reverts, so the outer transfer fails and the whole
///         withdrawal reverts with `TransferFailed`; `attempts` counts re-entries tried.
contract ReentrantReceiver {
    IProverMarket public immutable market;
    uint256 public attempts;
    bool public reenter = true;

    constructor(IProverMarket market_) {
        market = market_;
    }

    function setReenter(bool on) external {
        reenter = on;
    }

    function deposit() external payable {
        market.deposit{value: msg.value}();
    }

    function withdraw(uint256 amount) external {
        market.withdraw(amount);
    }

    receive() external payable {
        if (reenter) {
            attempts += 1;
            market.withdraw(msg.value);
        }
    }
}
