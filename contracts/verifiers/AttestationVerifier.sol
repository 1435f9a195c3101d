// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {MessageHashUtils} from "@openzeppelin/contracts/utils/cryptography/MessageHashUtils.sol";
import {IProofVerifier} from "../interfaces/IProofVerifier.sol";

/// @title AttestationVerifier
/// @notice Accepts a proof that a trusted off-chain `checker` has verified and signed.
/// @dev `proof = abi.encode(bytes32 proofHash, bytes signature)`. The signature is an EIP-191
///      personal-sign signature (`"\x19Ethereum Signed Message:\n32" || digest`) by `checker` of
///      `digest = keccak256(abi.encode(bytes32 task, address prover, bytes32 proofHash))`.
contract AttestationVerifier is IProofVerifier {
    /// @notice The address whose signatures are accepted.
    address public immutable checker;

    /// @notice The checker is the zero address.
    error ZeroChecker();

    constructor(address checker_) {
        if (checker_ == address(0)) revert ZeroChecker();
        checker = checker_;
    }

    /// @notice The digest the checker signs (with the EIP-191 prefix) for a proof of `task` by `prover`.
    function digest(bytes32 task, address prover, bytes32 proofHash) public pure returns (bytes32) {
        return keccak256(abi.encode(task, prover, proofHash));
    }

    /// @inheritdoc IProofVerifier
    function verify(bytes32 task, address prover, bytes calldata proof) external view returns (bool) {
        (bytes32 proofHash, bytes memory signature) = abi.decode(proof, (bytes32, bytes));
        bytes32 message = MessageHashUtils.toEthSignedMessageHash(digest(task, prover, proofHash));
        // The third value (the error's argument) is not needed: the error kind is checked.
        // slither-disable-next-line unused-return
        (address signer, ECDSA.RecoverError err,) = ECDSA.tryRecover(message, signature);
        return err == ECDSA.RecoverError.NoError && signer == checker;
    }
}
