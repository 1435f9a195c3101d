"""Sealed-bid prover market with on-chain settlement.

Floors, top to bottom (docs/architecture.md; checked by the import contract in pyproject.toml):
``testing`` (the integrators' kit) > ``cli`` > ``sim`` | ``agents`` | ``web`` > ``keeper`` |
``client`` | ``hints`` > ``chain`` (web3 glue) > ``evidence`` | ``proving`` > ``sealed``
(commitments and envelopes) | ``mechanisms`` (pure clearing, no web3) > ``config`` | ``health`` |
``keys`` | ``units`` > ``errors``. A module imports only from the floors below its own.
"""

__version__ = "0.1.0"
