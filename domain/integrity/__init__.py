"""Integrity: the hash ledger's pure parts (RFC 6962 Merkle trees, leaf encoding, checkpoints,
export checking). No I/O here; storage lives in ``projections.notary``, keys in
``infrastructure.integrity_keys``."""
