"""Sealed-bid prover market with on-chain settlement.

Subpackages (see README "How it works"):
``mechanisms`` (pure clearing, no web3), ``sealed`` (commitments and the
encryption envelope), ``chain`` (web3 glue), ``keeper`` (the daemon), ``client`` (participants),
``sim`` (simulated participants). The keeper depends on mechanisms and chain, never the reverse.
"""

__version__ = "0.1.0"
