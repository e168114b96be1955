"""ML-DSA keys (KeySpec ML_DSA_44, ML_DSA_65, ML_DSA_87).

KMS signs with ML_DSA_SHAKE_256 alone, SIGN_VERIFY being the only usage
(CreateKey reference). With MessageType RAW (1..4096 bytes) it is pure
ML-DSA of the message with the empty context; with EXTERNAL_MU the message
is the 64-byte μ of FIPS 204 section 6.2, and the signature is the one RAW
gives for the message μ was computed from (developer guide, "ML-DSA keys in
AWS KMS"); DIGEST is not an ML-DSA message type. Signatures are verified
with cryptography's ML-DSA (OpenSSL), μ is computed with hashlib
(mldsa_mu.py), itself checked against cryptography's MLDSAMuHasher.
"""

from __future__ import annotations

import hashlib
import os

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import mldsa

from kmshelp import (
    ALGORITHM_FIELDS,
    ML_DSA_ALGORITHM,
    ML_DSA_SPECS,
    expect_error,
    key_arn_re,
    load_public_key,
    tamper,
)
from mldsa_mu import MU_LEN, external_mu

ALG = ML_DSA_ALGORITHM
MESSAGE = b"kms11 ML-DSA contract message"
CONTEXT = b"kms11 contract context"

# FIPS 204 table 2, and the RFC 9881 OIDs 2.16.840.1.101.3.4.3.17/18/19.
PUBLIC_KEY_CLASSES = {
    "ML_DSA_44": mldsa.MLDSA44PublicKey,
    "ML_DSA_65": mldsa.MLDSA65PublicKey,
    "ML_DSA_87": mldsa.MLDSA87PublicKey,
}
PUBLIC_KEY_LEN = {"ML_DSA_44": 1312, "ML_DSA_65": 1952, "ML_DSA_87": 2592}
SIGNATURE_LEN = {"ML_DSA_44": 2420, "ML_DSA_65": 3309, "ML_DSA_87": 4627}
OID_LAST_ARC = {"ML_DSA_44": 0x11, "ML_DSA_65": 0x12, "ML_DSA_87": 0x13}

each_spec = pytest.mark.parametrize("spec", ML_DSA_SPECS)


@pytest.fixture(scope="module")
def public_keys(kms, keys):
    """GetPublicKey once per ML-DSA spec, loaded by cryptography."""
    cache = {}

    def get(spec):
        if spec not in cache:
            key_id = keys.shared(spec, "SIGN_VERIFY")["KeyId"]
            cache[spec] = load_public_key(kms.get_public_key(KeyId=key_id)["PublicKey"])
        return cache[spec]

    return get


def key_id(keys, spec):
    return keys.shared(spec, "SIGN_VERIFY")["KeyId"]


def sign(kms, key, message, message_type, algorithm=ALG):
    return kms.sign(
        KeyId=key, Message=message, MessageType=message_type, SigningAlgorithm=algorithm
    )["Signature"]


def verify(kms, key, message, signature, message_type):
    return kms.verify(
        KeyId=key,
        Message=message,
        MessageType=message_type,
        Signature=signature,
        SigningAlgorithm=ALG,
    )


def check_key_fields(fields, spec):
    """What GetPublicKey and KeyMetadata say of an ML-DSA key."""
    assert fields["KeySpec"] == spec
    assert fields["KeyUsage"] == "SIGN_VERIFY"
    assert fields["SigningAlgorithms"] == [ALG]
    for field in set(ALGORITHM_FIELDS) - {"SigningAlgorithms"}:
        assert field not in fields, field


@pytest.mark.parametrize("context", [b"", CONTEXT], ids=["no-context", "context"])
def test_local_mu_matches_cryptography(context):
    """Guards the suite itself: hashlib's μ is cryptography's, and a pure
    signature of the message verifies as a signature of that μ."""
    private = mldsa.MLDSA65PrivateKey.generate()
    public = private.public_key()
    hasher = mldsa.MLDSAMuHasher(public, context)
    hasher.update(MESSAGE)
    mu = external_mu(public, MESSAGE, context)
    assert mu == hasher.finalize()
    public.verify_mu(private.sign(MESSAGE, context), mu)
    with pytest.raises(InvalidSignature):
        public.verify_mu(private.sign(MESSAGE, context), external_mu(public, MESSAGE, b"x"))


@each_spec
@pytest.mark.parametrize("usage", ["ENCRYPT_DECRYPT", "KEY_AGREEMENT", "GENERATE_VERIFY_MAC"])
def test_ml_dsa_is_for_signing_only(keys, spec, usage):
    with expect_error("ValidationException"):
        keys.create(KeySpec=spec, KeyUsage=usage)


@each_spec
def test_get_public_key(kms, keys, public_keys, spec):
    resp = kms.get_public_key(KeyId=key_id(keys, spec))
    public_key = public_keys(spec)
    assert isinstance(public_key, PUBLIC_KEY_CLASSES[spec]), type(public_key)
    assert len(public_key.public_bytes_raw()) == PUBLIC_KEY_LEN[spec]
    # SubjectPublicKeyInfo: AlgorithmIdentifier { id-ml-dsa-NN } with no
    # parameters, then the raw key in a BIT STRING.
    der = resp["PublicKey"]
    algorithm = bytes.fromhex("300b06096086480165030403") + bytes([OID_LAST_ARC[spec]])
    assert der[4:17] == algorithm, der[:24].hex()
    assert der.endswith(public_key.public_bytes_raw())
    assert len(der) == PUBLIC_KEY_LEN[spec] + 22
    assert key_arn_re().fullmatch(resp["KeyId"])
    check_key_fields(resp, spec)


@each_spec
def test_describe_key(kms, keys, spec):
    check_key_fields(kms.describe_key(KeyId=key_id(keys, spec))["KeyMetadata"], spec)


@each_spec
@pytest.mark.parametrize("size", [1, 64, 4096])
def test_sign_raw_is_pure_ml_dsa_with_empty_context(kms, keys, public_keys, spec, size):
    message = os.urandom(size)
    signature = sign(kms, key_id(keys, spec), message, "RAW")
    assert len(signature) == SIGNATURE_LEN[spec]
    public_key = public_keys(spec)
    public_key.verify(signature, message)
    public_key.verify_mu(signature, external_mu(public_key, message))
    with pytest.raises(InvalidSignature):
        public_key.verify(signature, message + b"\x00")
    with pytest.raises(InvalidSignature):
        public_key.verify(signature, message, CONTEXT)


@each_spec
@pytest.mark.parametrize("size", [0, 4097])
def test_sign_raw_size_limits(kms, keys, spec, size):
    key = key_id(keys, spec)
    # The API's Message member is 1..4096 bytes.
    with expect_error("ValidationException"):
        sign(kms, key, os.urandom(size), "RAW")


@each_spec
def test_sign_external_mu_signs_the_message_mu_came_from(kms, keys, public_keys, spec):
    # The point of EXTERNAL_MU: a message longer than RAW allows.
    message = os.urandom(10_000)
    public_key = public_keys(spec)
    mu = external_mu(public_key, message)
    signature = sign(kms, key_id(keys, spec), mu, "EXTERNAL_MU")
    assert len(signature) == SIGNATURE_LEN[spec]
    public_key.verify(signature, message)
    public_key.verify_mu(signature, mu)
    with pytest.raises(InvalidSignature):
        public_key.verify(signature, mu)


@each_spec
def test_sign_external_mu_of_a_context(kms, keys, public_keys, spec):
    """μ carries the context: KMS signs μ as it is, so a caller's non-empty
    context holds in the signature."""
    public_key = public_keys(spec)
    mu = external_mu(public_key, MESSAGE, CONTEXT)
    signature = sign(kms, key_id(keys, spec), mu, "EXTERNAL_MU")
    public_key.verify(signature, MESSAGE, CONTEXT)
    with pytest.raises(InvalidSignature):
        public_key.verify(signature, MESSAGE)


@each_spec
@pytest.mark.parametrize("length", [1, 32, 63, 65, 128])
def test_external_mu_must_be_64_bytes(kms, keys, spec, length):
    key = key_id(keys, spec)
    with expect_error("ValidationException"):
        sign(kms, key, os.urandom(length), "EXTERNAL_MU")


@each_spec
@pytest.mark.parametrize("length", [32, 64])
def test_ml_dsa_refuses_digest(kms, keys, spec, length):
    key = key_id(keys, spec)
    with expect_error("ValidationException"):
        sign(kms, key, hashlib.sha512(MESSAGE).digest()[:length], "DIGEST")
    with expect_error("ValidationException"):
        verify(kms, key, os.urandom(length), os.urandom(64), "DIGEST")


@each_spec
@pytest.mark.parametrize("message_type", ["RAW", "EXTERNAL_MU"])
def test_verify_api(kms, keys, public_keys, spec, message_type):
    key = key_id(keys, spec)
    message = external_mu(public_keys(spec), MESSAGE) if message_type == "EXTERNAL_MU" else MESSAGE
    signature = sign(kms, key, message, message_type)
    resp = verify(kms, key, message, signature, message_type)
    assert resp["SignatureValid"] is True
    assert resp["SigningAlgorithm"] == ALG
    assert key_arn_re().fullmatch(resp["KeyId"])
    for bad in (tamper(signature), tamper(signature, 0), signature[:-1], signature + b"\x00"):
        with expect_error("KMSInvalidSignatureException"):
            verify(kms, key, message, bad, message_type)
    with expect_error("KMSInvalidSignatureException"):
        verify(kms, key, tamper(message, 0), signature, message_type)


@each_spec
def test_verify_api_raw_and_external_mu_are_one_signature(kms, keys, public_keys, spec):
    """A signature of μ(M) is the signature of M, and Verify takes it
    either way; 64 bytes as a RAW message are not that μ."""
    key = key_id(keys, spec)
    mu = external_mu(public_keys(spec), MESSAGE)
    from_mu = sign(kms, key, mu, "EXTERNAL_MU")
    from_raw = sign(kms, key, MESSAGE, "RAW")
    assert verify(kms, key, MESSAGE, from_mu, "RAW")["SignatureValid"] is True
    assert verify(kms, key, mu, from_raw, "EXTERNAL_MU")["SignatureValid"] is True
    with expect_error("KMSInvalidSignatureException"):
        verify(kms, key, mu, from_mu, "RAW")
    raw_of_mu_bytes = sign(kms, key, mu, "RAW")
    with expect_error("KMSInvalidSignatureException"):
        verify(kms, key, mu, raw_of_mu_bytes, "EXTERNAL_MU")


@each_spec
@pytest.mark.parametrize("algorithm", ["ECDSA_SHA_256", "RSASSA_PSS_SHA_256", "ED25519_SHA_512"])
def test_ml_dsa_key_refuses_other_algorithms(kms, keys, spec, algorithm):
    key = key_id(keys, spec)
    with expect_error("InvalidKeyUsageException"):
        sign(kms, key, MESSAGE, "RAW", algorithm)


@pytest.mark.parametrize("spec", ["ECC_NIST_P256", "RSA_2048", "ECC_NIST_EDWARDS25519"])
def test_other_keys_refuse_ml_dsa(kms, keys, spec):
    key = keys.shared(spec, "SIGN_VERIFY")["KeyId"]
    with expect_error("InvalidKeyUsageException"):
        sign(kms, key, MESSAGE, "RAW")


@pytest.mark.parametrize(
    ("spec", "algorithm"),
    [("ECC_NIST_P256", "ECDSA_SHA_256"), ("RSA_2048", "RSASSA_PSS_SHA_512")],
)
def test_external_mu_is_for_ml_dsa_only(kms, keys, spec, algorithm):
    key = keys.shared(spec, "SIGN_VERIFY")["KeyId"]
    with expect_error("ValidationException"):
        sign(kms, key, os.urandom(MU_LEN), "EXTERNAL_MU", algorithm)
