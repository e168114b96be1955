"""Sign and Verify: every KeySpec × allowed algorithm × MessageType.

Every signature is verified with ``cryptography`` against the ORIGINAL
message, using the public key from GetPublicKey.
"""

from __future__ import annotations

import os
import uuid

import pytest
from cryptography.exceptions import InvalidSignature

from kmshelp import (
    ECC_SIGN_SPECS,
    RSA_SPECS,
    SIGNING_ALGORITHMS,
    algorithm_hash,
    digest,
    expect_error,
    load_public_key,
    tamper,
    unique_alias,
    verify_signature,
)

SIGN_SPECS = RSA_SPECS + ECC_SIGN_SPECS
SIGN_CASES = [(spec, alg) for spec in SIGN_SPECS for alg in SIGNING_ALGORITHMS[spec]]

MESSAGE = b"kms11 contract test message \x00\xff" * 3


@pytest.fixture(scope="module")
def public_keys(kms, keys):
    """GetPublicKey once per signing spec."""
    cache = {}

    def get(spec):
        if spec not in cache:
            meta = keys.shared(spec, "SIGN_VERIFY")
            cache[spec] = load_public_key(kms.get_public_key(KeyId=meta["KeyId"])["PublicKey"])
        return cache[spec]

    return get


def sign(kms, key_id, message, algorithm, message_type):
    return kms.sign(
        KeyId=key_id, Message=message, MessageType=message_type, SigningAlgorithm=algorithm
    )


@pytest.mark.parametrize(("spec", "algorithm"), SIGN_CASES, ids=lambda v: v)
def test_sign_raw(kms, keys, public_keys, spec, algorithm):
    meta = keys.shared(spec, "SIGN_VERIFY")
    resp = sign(kms, meta["KeyId"], MESSAGE, algorithm, "RAW")
    verify_signature(public_keys(spec), algorithm, resp["Signature"], MESSAGE)


@pytest.mark.parametrize(("spec", "algorithm"), SIGN_CASES, ids=lambda v: v)
def test_sign_digest(kms, keys, public_keys, spec, algorithm):
    meta = keys.shared(spec, "SIGN_VERIFY")
    resp = sign(kms, meta["KeyId"], digest(MESSAGE, algorithm_hash(algorithm)), algorithm, "DIGEST")
    # The signature over the digest must verify against the original message.
    verify_signature(public_keys(spec), algorithm, resp["Signature"], MESSAGE)


@pytest.mark.parametrize(("spec", "algorithm"), SIGN_CASES, ids=lambda v: v)
def test_verify_api_accepts_kms_signature(kms, keys, spec, algorithm):
    meta = keys.shared(spec, "SIGN_VERIFY")
    signature = sign(kms, meta["KeyId"], MESSAGE, algorithm, "RAW")["Signature"]
    resp = kms.verify(
        KeyId=meta["KeyId"],
        Message=MESSAGE,
        MessageType="RAW",
        Signature=signature,
        SigningAlgorithm=algorithm,
    )
    assert resp["SignatureValid"] is True


@pytest.mark.parametrize("spec", ["RSA_2048", "ECC_NIST_P256"])
def test_verify_api_digest_message_type(kms, keys, spec):
    algorithm = SIGNING_ALGORITHMS[spec][0]
    meta = keys.shared(spec, "SIGN_VERIFY")
    signature = sign(kms, meta["KeyId"], MESSAGE, algorithm, "RAW")["Signature"]
    resp = kms.verify(
        KeyId=meta["KeyId"],
        Message=digest(MESSAGE, algorithm_hash(algorithm)),
        MessageType="DIGEST",
        Signature=signature,
        SigningAlgorithm=algorithm,
    )
    assert resp["SignatureValid"] is True


@pytest.mark.parametrize("spec", ["RSA_2048", "ECC_NIST_P256"])
def test_verify_api_rejects_tampered_signature(kms, keys, spec):
    algorithm = SIGNING_ALGORITHMS[spec][0]
    meta = keys.shared(spec, "SIGN_VERIFY")
    signature = sign(kms, meta["KeyId"], MESSAGE, algorithm, "RAW")["Signature"]
    # Flip a bit inside the signature value (for ECDSA: inside s, keeping DER valid).
    with expect_error("KMSInvalidSignatureException"):
        kms.verify(
            KeyId=meta["KeyId"],
            Message=MESSAGE,
            MessageType="RAW",
            Signature=tamper(signature),
            SigningAlgorithm=algorithm,
        )


@pytest.mark.parametrize("spec", ["RSA_2048", "ECC_NIST_P256"])
def test_verify_api_rejects_other_message(kms, keys, spec):
    algorithm = SIGNING_ALGORITHMS[spec][0]
    meta = keys.shared(spec, "SIGN_VERIFY")
    signature = sign(kms, meta["KeyId"], MESSAGE, algorithm, "RAW")["Signature"]
    with expect_error("KMSInvalidSignatureException"):
        kms.verify(
            KeyId=meta["KeyId"],
            Message=MESSAGE + b"!",
            MessageType="RAW",
            Signature=signature,
            SigningAlgorithm=algorithm,
        )


def test_tampered_signature_fails_local_verification(kms, keys, public_keys):
    """Guards the suite itself: the local check really rejects bad signatures."""
    meta = keys.shared("RSA_2048", "SIGN_VERIFY")
    sig = sign(kms, meta["KeyId"], MESSAGE, "RSASSA_PSS_SHA_256", "RAW")["Signature"]
    with pytest.raises(InvalidSignature):
        verify_signature(public_keys("RSA_2048"), "RSASSA_PSS_SHA_256", tamper(sig), MESSAGE)


@pytest.mark.parametrize("algorithm", ["RSASSA_PKCS1_V1_5_SHA_256", "RSASSA_PKCS1_V1_5_SHA_512"])
def test_pkcs1_raw_and_digest_signatures_are_identical(kms, keys, algorithm):
    # PKCS#1 v1.5 is deterministic: RAW(m) and DIGEST(H(m)) sign the same value.
    meta = keys.shared("RSA_3072", "SIGN_VERIFY")
    raw = sign(kms, meta["KeyId"], MESSAGE, algorithm, "RAW")["Signature"]
    message_digest = digest(MESSAGE, algorithm_hash(algorithm))
    dig = sign(kms, meta["KeyId"], message_digest, algorithm, "DIGEST")["Signature"]
    assert raw == dig


def test_rsa_signature_length_is_modulus_length(kms, keys):
    for spec, size in (("RSA_2048", 256), ("RSA_3072", 384), ("RSA_4096", 512)):
        meta = keys.shared(spec, "SIGN_VERIFY")
        sig = sign(kms, meta["KeyId"], MESSAGE, "RSASSA_PSS_SHA_256", "RAW")["Signature"]
        assert len(sig) == size, (spec, len(sig))


def test_sign_by_alias(kms, keys, public_keys):
    meta = keys.shared("ECC_NIST_P256", "SIGN_VERIFY")
    alias = unique_alias("sign")
    kms.create_alias(AliasName=alias, TargetKeyId=meta["KeyId"])
    resp = sign(kms, alias, MESSAGE, "ECDSA_SHA_256", "RAW")
    verify_signature(public_keys("ECC_NIST_P256"), "ECDSA_SHA_256", resp["Signature"], MESSAGE)


@pytest.mark.parametrize(
    ("spec", "algorithm"),
    [
        ("ECC_NIST_P256", "ECDSA_SHA_384"),
        ("ECC_NIST_P256", "ECDSA_SHA_512"),
        ("ECC_NIST_P384", "ECDSA_SHA_256"),
        ("ECC_NIST_P521", "ECDSA_SHA_256"),
        ("ECC_SECG_P256K1", "ECDSA_SHA_384"),
        ("ECC_NIST_P256", "RSASSA_PSS_SHA_256"),
        ("RSA_2048", "ECDSA_SHA_256"),
    ],
    ids=lambda v: v,
)
def test_sign_disallowed_algorithm(kms, keys, spec, algorithm):
    meta = keys.shared(spec, "SIGN_VERIFY")
    with expect_error("InvalidKeyUsageException"):
        sign(kms, meta["KeyId"], MESSAGE, algorithm, "RAW")


def test_sign_unknown_algorithm(kms, keys):
    meta = keys.shared("RSA_2048", "SIGN_VERIFY")
    with expect_error("ValidationException"):
        sign(kms, meta["KeyId"], MESSAGE, "RSASSA_PSS_SHA_1", "RAW")


@pytest.mark.parametrize(
    ("spec", "algorithm", "length"),
    [
        ("ECC_NIST_P256", "ECDSA_SHA_256", 31),
        ("ECC_NIST_P256", "ECDSA_SHA_256", 33),
        ("ECC_NIST_P256", "ECDSA_SHA_256", 48),
        ("ECC_NIST_P384", "ECDSA_SHA_384", 32),
        ("ECC_NIST_P521", "ECDSA_SHA_512", 48),
        ("RSA_2048", "RSASSA_PKCS1_V1_5_SHA_256", 64),
        ("RSA_2048", "RSASSA_PSS_SHA_512", 32),
    ],
    ids=lambda v: str(v),
)
def test_sign_digest_wrong_length(kms, keys, spec, algorithm, length):
    meta = keys.shared(spec, "SIGN_VERIFY")
    with expect_error("ValidationException"):
        sign(kms, meta["KeyId"], os.urandom(length), algorithm, "DIGEST")


def test_sign_raw_message_size_limit(kms, keys, public_keys):
    meta = keys.shared("ECC_NIST_P256", "SIGN_VERIFY")
    message = os.urandom(4096)
    resp = sign(kms, meta["KeyId"], message, "ECDSA_SHA_256", "RAW")
    verify_signature(public_keys("ECC_NIST_P256"), "ECDSA_SHA_256", resp["Signature"], message)
    with expect_error("ValidationException"):
        sign(kms, meta["KeyId"], os.urandom(4097), "ECDSA_SHA_256", "RAW")


def test_sign_empty_message(kms, keys):
    meta = keys.shared("ECC_NIST_P256", "SIGN_VERIFY")
    with expect_error("ValidationException"):
        sign(kms, meta["KeyId"], b"", "ECDSA_SHA_256", "RAW")


def test_sign_unknown_message_type(kms, keys):
    meta = keys.shared("ECC_NIST_P256", "SIGN_VERIFY")
    with expect_error("ValidationException"):
        sign(kms, meta["KeyId"], MESSAGE, "ECDSA_SHA_256", "HASHED")


@pytest.mark.parametrize(
    ("spec", "usage", "algorithm"),
    [
        ("SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT", "RSASSA_PSS_SHA_256"),
        ("RSA_2048", "ENCRYPT_DECRYPT", "RSASSA_PSS_SHA_256"),
        ("ECC_NIST_P256", "KEY_AGREEMENT", "ECDSA_SHA_256"),
        ("HMAC_256", "GENERATE_VERIFY_MAC", "ECDSA_SHA_256"),
    ],
    ids=lambda v: v,
)
def test_sign_with_non_signing_key(kms, keys, spec, usage, algorithm):
    meta = keys.shared(spec, usage)
    with expect_error("InvalidKeyUsageException"):
        sign(kms, meta["KeyId"], MESSAGE, algorithm, "RAW")


def test_sign_nonexistent_key(kms):
    with expect_error("NotFoundException"):
        sign(kms, str(uuid.uuid4()), MESSAGE, "ECDSA_SHA_256", "RAW")
