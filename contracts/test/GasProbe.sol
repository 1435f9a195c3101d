// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IProofVerifier} from "../interfaces/IProofVerifier.sol";

/// @title GasProbe
/// @notice Benchmark only: measures the gas one `IProofVerifier.verify` call costs a caller
///         (cold account access, argument encoding and the verifier's execution), so the gas bench
///         can report `submitProof` without the verifier.
contract GasProbe {
    /// @notice Gas spent calling `verifier.verify(task, prover, proof)` (use with eth_call).
    function measure(IProofVerifier verifier, bytes32 task, address prover, bytes calldata proof)
        external
        view
        returns (uint256 used, bool ok)
    {
        uint256 start = gasleft();
        ok = verifier.verify(task, prover, proof);
        used = start - gasleft();
    }
}
