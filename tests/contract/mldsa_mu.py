"""FIPS 204's message representative μ, computed here with hashlib.

For pure ML-DSA (FIPS 204 algorithm 2 and 7) of a message M with context
ctx (at most 255 bytes): tr = SHAKE256(pk, 64 bytes) of the encoded public
key, M' = 0x00 || len(ctx) || ctx || M, μ = SHAKE256(tr || M', 64 bytes).
KMS's MessageType EXTERNAL_MU takes this μ; with RAW it signs M with the
empty context. test_mldsa.py checks this function against cryptography's
MLDSAMuHasher.
"""

from __future__ import annotations

import hashlib

MU_LEN = 64


def external_mu(public_key, message: bytes, context: bytes = b"") -> bytes:
    """μ of ``message`` and ``context`` under a cryptography ML-DSA public key."""
    if len(context) > 255:
        raise ValueError("an ML-DSA context is at most 255 bytes")
    tr = hashlib.shake_256(public_key.public_bytes_raw()).digest(MU_LEN)
    prefix = bytes([0, len(context)]) + context
    return hashlib.shake_256(tr + prefix + message).digest(MU_LEN)
