"""The offline simulator backend (WA_BACKEND=simulator) and its loopback network."""
