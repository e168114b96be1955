"""Ed25519ph verification for the contract suite, by libsodium (PyNaCl).

pyca/cryptography has pure Ed25519 only. Ed25519ph is RFC 8032's HashEdDSA
variant of Ed25519 (phflag 1, PH = SHA-512, here with the empty context);
libsodium implements it as crypto_sign_ed25519ph_*, an implementation that
shares no code with the AWS-LC one under test.
"""

from __future__ import annotations

import nacl.bindings
import nacl.exceptions
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

# RFC 8032 section 7.3, "TEST abc": the suite checks this verifier with it.
RFC8032_ABC = {
    "public": "ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf",
    "message": "616263",
    "signature": "98a70222f0b8121aa9d30f813d683f809e462b469c7ff87639499bb94e6dae41"
    "31f85042463c2a355a2003d062adf5aaa10b8c61e636062aaad11c2a26083406",
}


def verify_ed25519ph(public_key: ed25519.Ed25519PublicKey, signature: bytes, message: bytes) -> None:
    """Raise InvalidSignature unless ``signature`` is Ed25519ph(key, ``message``).

    ``message`` is RFC 8032's M: libsodium computes PH(M) = SHA-512(M)
    itself. For a KMS ED25519_PH_SHA_512 signature M is the 64-byte DIGEST
    the caller sent (KMS hashes it once more).
    """
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    if len(signature) != 64:
        raise InvalidSignature(f"Ed25519ph signature of {len(signature)} bytes, not 64")
    state = nacl.bindings.crypto_sign_ed25519ph_state()
    nacl.bindings.crypto_sign_ed25519ph_update(state, message)
    try:
        nacl.bindings.crypto_sign_ed25519ph_final_verify(state, signature, raw)
    except nacl.exceptions.BadSignatureError as err:
        raise InvalidSignature("Ed25519ph signature does not verify") from err


def sign_ed25519ph(private_key: ed25519.Ed25519PrivateKey, message: bytes) -> bytes:
    """Ed25519ph(key, ``message``) made by libsodium (deterministic, as Ed25519 is)."""
    seed = private_key.private_bytes(
        serialization.Encoding.Raw,
        serialization.PrivateFormat.Raw,
        serialization.NoEncryption(),
    )
    public = private_key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    state = nacl.bindings.crypto_sign_ed25519ph_state()
    nacl.bindings.crypto_sign_ed25519ph_update(state, message)
    return nacl.bindings.crypto_sign_ed25519ph_final_create(state, seed + public)
