"""Importing key material as a KMS client does it, with ``cryptography``:
GetParametersForImport, wrap the material under the wrapping key, then
ImportKeyMaterial.

RSAES_OAEP_SHA_* encrypt the material with the RSA wrapping key (OAEP, MGF1
over the same hash). RSA_AES_KEY_WRAP_SHA_* encrypt a fresh AES-256 key with
it and wrap the material under that key with AES key wrap with padding
(RFC 5649), the RSA ciphertext first (the KMS developer guide, "Encrypt the
key material").
"""

from __future__ import annotations

import hashlib
import hmac
import os

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.keywrap import aes_key_wrap_with_padding

WRAPPING_ALGORITHMS = (
    "RSAES_OAEP_SHA_1",
    "RSAES_OAEP_SHA_256",
    "RSA_AES_KEY_WRAP_SHA_1",
    "RSA_AES_KEY_WRAP_SHA_256",
)

# The key material lengths KMS imports per KeySpec, in bytes (the KMS
# developer guide, "Requirements for imported key material").
IMPORT_LENGTHS = {
    "SYMMETRIC_DEFAULT": (32, 32),
    "HMAC_224": (28, 64),
    "HMAC_256": (32, 64),
    "HMAC_384": (48, 128),
    "HMAC_512": (64, 128),
}

HMAC_HASH = {"HMAC_224": "sha224", "HMAC_256": "sha256", "HMAC_384": "sha384", "HMAC_512": "sha512"}


def _oaep(algorithm: str) -> padding.OAEP:
    h = hashes.SHA1() if algorithm.endswith("SHA_1") else hashes.SHA256()
    return padding.OAEP(mgf=padding.MGF1(h), algorithm=h, label=None)


def wrap(public_der: bytes, algorithm: str, material: bytes) -> bytes:
    """EncryptedKeyMaterial for ``material`` under GetParametersForImport's key."""
    public = serialization.load_der_public_key(public_der)
    if algorithm.startswith("RSAES_OAEP_"):
        return public.encrypt(material, _oaep(algorithm))
    if algorithm.startswith("RSA_AES_KEY_WRAP_"):
        aes_key = os.urandom(32)
        return public.encrypt(aes_key, _oaep(algorithm)) + aes_key_wrap_with_padding(
            aes_key, material
        )
    raise ValueError(algorithm)


def parameters(kms, key_id: str, algorithm="RSAES_OAEP_SHA_256", spec="RSA_2048") -> dict:
    return kms.get_parameters_for_import(
        KeyId=key_id, WrappingAlgorithm=algorithm, WrappingKeySpec=spec
    )


def import_material(kms, key_id: str, material: bytes, algorithm="RSAES_OAEP_SHA_256", **kwargs):
    """GetParametersForImport, wrap, ImportKeyMaterial; KEY_MATERIAL_DOES_NOT_EXPIRE
    unless ``kwargs`` say otherwise."""
    params = parameters(kms, key_id, algorithm)
    kwargs.setdefault("ExpirationModel", "KEY_MATERIAL_DOES_NOT_EXPIRE")
    return kms.import_key_material(
        KeyId=key_id,
        ImportToken=params["ImportToken"],
        EncryptedKeyMaterial=wrap(params["PublicKey"], algorithm, material),
        **kwargs,
    )


def local_mac(spec: str, material: bytes, message: bytes) -> bytes:
    """The HMAC of ``message`` under ``material``, by Python's hmac."""
    return hmac.new(material, message, getattr(hashlib, HMAC_HASH[spec])).digest()
