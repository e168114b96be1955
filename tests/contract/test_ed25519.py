"""Ed25519 keys (KeySpec ECC_NIST_EDWARDS25519).

KMS signs with ED25519_SHA_512, pure Ed25519 over a RAW message, and with
ED25519_PH_SHA_512, Ed25519ph over a 64-byte DIGEST that KMS hashes once
more (the CreateKey and Sign references: "the input is hashed twice").
Each algorithm takes only its own MessageType. Pure Ed25519 signatures are
verified with ``cryptography``, Ed25519ph ones with libsodium (ed25519ph.py).
"""

from __future__ import annotations

import hashlib
import os

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ed25519

from ed25519ph import RFC8032_ABC, verify_ed25519ph
from kmshelp import (
    ED25519_ALGORITHMS,
    ED25519_SPEC,
    expect_error,
    load_public_key,
    tamper,
    verify_signature,
)

MESSAGE = b"kms11 Ed25519 contract message"
PURE = "ED25519_SHA_512"
PREHASH = "ED25519_PH_SHA_512"


@pytest.fixture(scope="module")
def key(keys):
    return keys.shared(ED25519_SPEC, "SIGN_VERIFY")


@pytest.fixture(scope="module")
def public_key(kms, key):
    return load_public_key(kms.get_public_key(KeyId=key["KeyId"])["PublicKey"])


def sign(kms, key, message, algorithm, message_type):
    return kms.sign(
        KeyId=key["KeyId"], Message=message, MessageType=message_type, SigningAlgorithm=algorithm
    )["Signature"]


def verify(kms, key, message, signature, algorithm, message_type):
    return kms.verify(
        KeyId=key["KeyId"],
        Message=message,
        MessageType=message_type,
        Signature=signature,
        SigningAlgorithm=algorithm,
    )


def test_local_ed25519ph_verifier_checks_the_rfc_8032_vector():
    """Guards the suite itself: the Ed25519ph verifier accepts RFC 8032's
    vector and refuses it with one bit changed."""
    public = ed25519.Ed25519PublicKey.from_public_bytes(bytes.fromhex(RFC8032_ABC["public"]))
    message = bytes.fromhex(RFC8032_ABC["message"])
    signature = bytes.fromhex(RFC8032_ABC["signature"])
    verify_ed25519ph(public, signature, message)
    for bad in (tamper(signature), tamper(signature, 0)):
        with pytest.raises(InvalidSignature):
            verify_ed25519ph(public, bad, message)
    with pytest.raises(InvalidSignature):
        verify_ed25519ph(public, signature, message + b"d")


@pytest.mark.parametrize("usage", ["KEY_AGREEMENT", "ENCRYPT_DECRYPT", "GENERATE_VERIFY_MAC"])
def test_ed25519_is_for_signing_only(keys, usage):
    with expect_error("ValidationException"):
        keys.create(KeySpec=ED25519_SPEC, KeyUsage=usage)


def test_get_public_key(kms, key, public_key):
    resp = kms.get_public_key(KeyId=key["KeyId"])
    assert isinstance(public_key, ed25519.Ed25519PublicKey), type(public_key)
    # RFC 8410 SubjectPublicKeyInfo: id-Ed25519 (1.3.101.112), 32-byte key.
    assert resp["PublicKey"][:12] == bytes.fromhex("302a300506032b6570032100")
    assert len(resp["PublicKey"]) == 44
    assert resp["KeySpec"] == ED25519_SPEC
    assert resp["KeyUsage"] == "SIGN_VERIFY"
    assert set(resp["SigningAlgorithms"]) == set(ED25519_ALGORITHMS)
    assert "EncryptionAlgorithms" not in resp and "KeyAgreementAlgorithms" not in resp


@pytest.mark.parametrize("size", [1, 64, 4096])
def test_sign_raw_pure_ed25519(kms, key, public_key, size):
    message = os.urandom(size)
    signature = sign(kms, key, message, PURE, "RAW")
    assert len(signature) == 64, "Ed25519 signatures are the raw 64 bytes, not DER"
    verify_signature(public_key, PURE, signature, message)
    with pytest.raises(InvalidSignature):
        verify_signature(public_key, PURE, signature, message + b"\x00")


def test_sign_raw_pure_ed25519_is_not_ed25519ph(kms, key, public_key):
    signature = sign(kms, key, MESSAGE, PURE, "RAW")
    with pytest.raises(InvalidSignature):
        verify_ed25519ph(public_key, signature, MESSAGE)


def test_sign_raw_size_limits(kms, key):
    with expect_error("ValidationException"):
        sign(kms, key, os.urandom(4097), PURE, "RAW")
    # The API's Message member has a minimum length of 1.
    with expect_error("ValidationException"):
        sign(kms, key, b"", PURE, "RAW")


def test_pure_ed25519_refuses_digest(kms, key):
    with expect_error("ValidationException") as caught:
        sign(kms, key, hashlib.sha512(MESSAGE).digest(), PURE, "DIGEST")
    message = caught[0].response["Error"]["Message"]
    assert "DIGEST" in message and PURE in message, message


def test_sign_digest_ed25519ph(kms, key, public_key):
    digest = hashlib.sha512(MESSAGE).digest()
    signature = sign(kms, key, digest, PREHASH, "DIGEST")
    assert len(signature) == 64
    # Ed25519ph with M = the 64 bytes sent: KMS hashes the digest again.
    verify_ed25519ph(public_key, signature, digest)
    # So it is not Ed25519ph of the original message, nor pure Ed25519 of
    # the digest.
    with pytest.raises(InvalidSignature):
        verify_ed25519ph(public_key, signature, MESSAGE)
    with pytest.raises(InvalidSignature):
        public_key.verify(signature, digest)


def test_ed25519ph_refuses_raw(kms, key):
    with expect_error("ValidationException") as caught:
        sign(kms, key, os.urandom(64), PREHASH, "RAW")
    message = caught[0].response["Error"]["Message"]
    assert "RAW" in message and PREHASH in message, message


@pytest.mark.parametrize("length", [32, 48, 63, 65])
def test_ed25519ph_digest_must_be_64_bytes(kms, key, length):
    with expect_error("ValidationException"):
        sign(kms, key, os.urandom(length), PREHASH, "DIGEST")


@pytest.mark.parametrize(
    ("algorithm", "message_type", "message"),
    [(PURE, "RAW", MESSAGE), (PREHASH, "DIGEST", hashlib.sha512(MESSAGE).digest())],
    ids=[PURE, PREHASH],
)
def test_verify_api(kms, key, algorithm, message_type, message):
    signature = sign(kms, key, message, algorithm, message_type)
    resp = verify(kms, key, message, signature, algorithm, message_type)
    assert resp["SignatureValid"] is True
    assert resp["SigningAlgorithm"] == algorithm
    with expect_error("KMSInvalidSignatureException"):
        verify(kms, key, message, tamper(signature), algorithm, message_type)
    with expect_error("KMSInvalidSignatureException"):
        verify(kms, key, tamper(message, 0), signature, algorithm, message_type)


def test_verify_api_refuses_the_other_algorithms_signature(kms, key):
    digest = hashlib.sha512(MESSAGE).digest()
    pure = sign(kms, key, digest, PURE, "RAW")
    prehash = sign(kms, key, digest, PREHASH, "DIGEST")
    with expect_error("KMSInvalidSignatureException"):
        verify(kms, key, digest, pure, PREHASH, "DIGEST")
    with expect_error("KMSInvalidSignatureException"):
        verify(kms, key, digest, prehash, PURE, "RAW")


@pytest.mark.parametrize("message_type", ["RAW", "DIGEST"])
def test_verify_api_checks_message_type(kms, key, message_type):
    algorithm = PREHASH if message_type == "RAW" else PURE
    with expect_error("ValidationException"):
        verify(kms, key, os.urandom(64), os.urandom(64), algorithm, message_type)


@pytest.mark.parametrize("algorithm", ["ECDSA_SHA_256", "ECDSA_SHA_512", "RSASSA_PSS_SHA_512"])
def test_ed25519_key_refuses_other_algorithms(kms, key, algorithm):
    with expect_error("InvalidKeyUsageException"):
        sign(kms, key, MESSAGE, algorithm, "RAW")


@pytest.mark.parametrize("spec", ["ECC_NIST_P256", "ECC_NIST_P521", "RSA_2048"])
@pytest.mark.parametrize("algorithm", ED25519_ALGORITHMS)
def test_other_keys_refuse_ed25519_algorithms(kms, keys, spec, algorithm):
    key = keys.shared(spec, "SIGN_VERIFY")
    message_type = "RAW" if algorithm == PURE else "DIGEST"
    message = MESSAGE if algorithm == PURE else hashlib.sha512(MESSAGE).digest()
    with expect_error("InvalidKeyUsageException"):
        sign(kms, key, message, algorithm, message_type)
