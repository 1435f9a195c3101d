// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IProofVerifier} from "../interfaces/IProofVerifier.sol";

/// @title AlwaysTrueVerifier
/// @notice Test and benchmark only: accepts every proof (a "mock verifier" as in Boundless's figures).
contract AlwaysTrueVerifier is IProofVerifier {
    /// @inheritdoc IProofVerifier
    function verify(bytes32, address, bytes calldata) external pure returns (bool) {
        return true;
    }
}
