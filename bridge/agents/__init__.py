"""The prover agent: a daemon that bids, proves and claims on its own (``bridge prover run``)."""
