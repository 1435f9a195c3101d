// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IProverMarketTypes} from "./IProverMarket.sol";
import {IProofVerifier} from "./IProofVerifier.sol";

/// @title IMarketViews
/// @notice A market's configuration and fee views. {ProverMarket} serves them through its
///         {SettlementModule} (its fallback delegates every selector it does not know there), so
///         that they stay out of the market's own function dispatch, which every commit walks.
///         The ProverMarket artifact's ABI includes them: call them on the market as usual.
interface IMarketViews is IProverMarketTypes {
    /// @notice The proof verifier.
    function verifier() external view returns (IProofVerifier);

    /// @notice The clearing mechanism (PROOFPHI, DARA or FIXEDPRICE).
    function mechanism() external view returns (Mechanism);

    /// @notice Start of round 0 (unix seconds).
    function genesis() external view returns (uint256);

    /// @notice Length of each round's commit window, seconds.
    function commitPeriod() external view returns (uint256);

    /// @notice Time after a round closes for the keeper to settle, seconds.
    function settlePeriod() external view returns (uint256);

    /// @notice Time after settlement for provers to prove, seconds.
    function proofPeriod() external view returns (uint256);

    /// @notice Collateral per unit of capacity and compensation per missed unit, wei.
    function refundCap() external view returns (uint256);

    /// @notice Rounds between capacity changes.
    function capacityInterval() external view returns (uint256);

    /// @notice Maximum fold of a capacity change.
    function capacityFactor() external view returns (uint256);

    /// @notice Smallest escrow a bid may lock, and what an invalid order forfeits to the keeper, wei.
    function minEscrow() external view returns (uint256);

    /// @notice Congestion fees (wei, burned) to fill one side of a round from a quarter of its cap to the cap.
    function fillCost() external view returns (uint256);

    /// @notice Commitments a round accepts on the bid side.
    function maxBidsPerRound() external view returns (uint256);

    /// @notice Commitments a round accepts on the ask side.
    function maxAsksPerRound() external view returns (uint256);

    /// @notice Bids between two stored checkpoints of the bid chain: pages end on multiples of it.
    function checkpointInterval() external view returns (uint256);

    /// @notice FIXEDPRICE: the price of every round before the first post (0 for other mechanisms).
    function initialPrice() external view returns (uint256);

    /// @notice FIXEDPRICE: settled rounds the price rule reads.
    function priceWindow() external view returns (uint256);

    /// @notice FIXEDPRICE: prices are posted for rounds that are multiples of it.
    function priceEvery() external view returns (uint256);

    /// @notice FIXEDPRICE: largest move of one post, basis points of the factor.
    function priceStepBps() external view returns (uint256);

    /// @notice True when the verifier is a circuit registry: bids name a circuit and its inputs.
    function circuitTasks() external view returns (bool);

    /// @notice The congestion fee (wei, burned) of the order that finds `position` orders already
    ///         on `side` (0 bids, 1 asks) of its round: 0 below a quarter of the side's cap, then
    ///         `⌈fillCost · k² / S⌉` for the k-th order past the quarter (S = Σ k² over the
    ///         M = cap − ⌊cap/4⌋ orders that pay), so filling a side costs at least `fillCost`.
    function congestionFee(uint256 side, uint256 position) external view returns (uint256);

    /// @notice Congestion fees burned so far: held by the market for good (part of `nonFree`,
    ///         withdrawable by no one).
    function burned() external view returns (uint256);
}
