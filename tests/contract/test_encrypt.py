"""Encrypt and Decrypt with SYMMETRIC_DEFAULT and RSA ENCRYPT_DECRYPT keys."""

from __future__ import annotations

import os

import pytest

from kmshelp import (
    RSA_ENCRYPTION_ALGORITHMS,
    RSA_SPECS,
    expect_error,
    load_public_key,
    oaep,
    tamper,
    unique_alias,
)

PLAINTEXT = b"kms11 contract plaintext \x00\x01\x02"
RSA_CASES = [(spec, alg) for spec in RSA_SPECS for alg in RSA_ENCRYPTION_ALGORITHMS]
MODULUS_BYTES = {"RSA_2048": 256, "RSA_3072": 384, "RSA_4096": 512}


@pytest.fixture(scope="module")
def sym_key(keys):
    return keys.shared("SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT")


# ---------------------------------------------------------------- symmetric


def test_symmetric_round_trip(kms, sym_key):
    blob = kms.encrypt(KeyId=sym_key["KeyId"], Plaintext=PLAINTEXT)["CiphertextBlob"]
    assert PLAINTEXT not in blob
    dec = kms.decrypt(CiphertextBlob=blob, KeyId=sym_key["KeyId"])
    assert dec["Plaintext"] == PLAINTEXT


def test_symmetric_decrypt_without_key_id(kms, sym_key):
    blob = kms.encrypt(KeyId=sym_key["KeyId"], Plaintext=PLAINTEXT)["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == PLAINTEXT


def test_symmetric_encrypt_by_alias(kms, sym_key):
    alias = unique_alias("encrypt")
    kms.create_alias(AliasName=alias, TargetKeyId=sym_key["KeyId"])
    blob = kms.encrypt(KeyId=alias, Plaintext=PLAINTEXT)["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob, KeyId=alias)["Plaintext"] == PLAINTEXT
    assert kms.decrypt(CiphertextBlob=blob, KeyId=sym_key["Arn"])["Plaintext"] == PLAINTEXT


def test_symmetric_ciphertexts_are_randomized(kms, sym_key):
    a = kms.encrypt(KeyId=sym_key["KeyId"], Plaintext=PLAINTEXT)["CiphertextBlob"]
    b = kms.encrypt(KeyId=sym_key["KeyId"], Plaintext=PLAINTEXT)["CiphertextBlob"]
    assert a != b


@pytest.mark.parametrize("size", [1, 4096])
def test_symmetric_plaintext_sizes(kms, sym_key, size):
    data = os.urandom(size)
    blob = kms.encrypt(KeyId=sym_key["KeyId"], Plaintext=data)["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == data


def test_symmetric_plaintext_too_large(kms, sym_key):
    with expect_error("ValidationException"):
        kms.encrypt(KeyId=sym_key["KeyId"], Plaintext=os.urandom(4097))


def test_symmetric_encryption_context(kms, sym_key):
    ctx = {"purpose": "contract", "tenant": "kms11"}
    blob = kms.encrypt(KeyId=sym_key["KeyId"], Plaintext=PLAINTEXT, EncryptionContext=ctx)[
        "CiphertextBlob"
    ]
    assert kms.decrypt(CiphertextBlob=blob, EncryptionContext=ctx)["Plaintext"] == PLAINTEXT
    # Key order does not matter, the pairs do.
    reordered = dict(reversed(list(ctx.items())))
    assert kms.decrypt(CiphertextBlob=blob, EncryptionContext=reordered)["Plaintext"] == PLAINTEXT
    for wrong in ({"purpose": "contract"}, {**ctx, "tenant": "other"}, {**ctx, "extra": "x"}, None):
        kwargs = {"EncryptionContext": wrong} if wrong is not None else {}
        with expect_error("InvalidCiphertextException"):
            kms.decrypt(CiphertextBlob=blob, **kwargs)


def test_symmetric_context_given_only_on_decrypt(kms, sym_key):
    blob = kms.encrypt(KeyId=sym_key["KeyId"], Plaintext=PLAINTEXT)["CiphertextBlob"]
    with expect_error("InvalidCiphertextException"):
        kms.decrypt(CiphertextBlob=blob, EncryptionContext={"a": "b"})


def test_symmetric_tampered_ciphertext(kms, sym_key):
    blob = kms.encrypt(KeyId=sym_key["KeyId"], Plaintext=PLAINTEXT)["CiphertextBlob"]
    with expect_error("InvalidCiphertextException"):
        kms.decrypt(CiphertextBlob=tamper(blob), KeyId=sym_key["KeyId"])


def test_symmetric_decrypt_with_other_key_id(kms, keys, sym_key):
    other = keys.create()
    blob = kms.encrypt(KeyId=sym_key["KeyId"], Plaintext=PLAINTEXT)["CiphertextBlob"]
    with expect_error("IncorrectKeyException"):
        kms.decrypt(CiphertextBlob=blob, KeyId=other["KeyId"])


def test_decrypt_garbage(kms):
    with expect_error("InvalidCiphertextException"):
        kms.decrypt(CiphertextBlob=os.urandom(64))


def test_encrypt_with_sign_key(kms, keys):
    meta = keys.shared("ECC_NIST_P256", "SIGN_VERIFY")
    with expect_error("InvalidKeyUsageException"):
        kms.encrypt(KeyId=meta["KeyId"], Plaintext=PLAINTEXT)


def test_encrypt_with_hmac_key(kms, keys):
    meta = keys.shared("HMAC_256", "GENERATE_VERIFY_MAC")
    with expect_error("InvalidKeyUsageException"):
        kms.encrypt(KeyId=meta["KeyId"], Plaintext=PLAINTEXT)


def test_symmetric_key_rejects_rsa_algorithm(kms, sym_key):
    with expect_error("InvalidKeyUsageException"):
        kms.encrypt(KeyId=sym_key["KeyId"], Plaintext=PLAINTEXT, EncryptionAlgorithm="RSAES_OAEP_SHA_256")


# ---------------------------------------------------------------- RSA OAEP


@pytest.fixture(scope="module")
def rsa_public(kms, keys):
    cache = {}

    def get(spec):
        if spec not in cache:
            meta = keys.shared(spec, "ENCRYPT_DECRYPT")
            cache[spec] = load_public_key(kms.get_public_key(KeyId=meta["KeyId"])["PublicKey"])
        return cache[spec]

    return get


@pytest.mark.parametrize(("spec", "algorithm"), RSA_CASES, ids=lambda v: v)
def test_rsa_local_encrypt_kms_decrypt(kms, keys, rsa_public, spec, algorithm):
    meta = keys.shared(spec, "ENCRYPT_DECRYPT")
    ciphertext = rsa_public(spec).encrypt(PLAINTEXT, oaep(algorithm))
    dec = kms.decrypt(CiphertextBlob=ciphertext, KeyId=meta["KeyId"], EncryptionAlgorithm=algorithm)
    assert dec["Plaintext"] == PLAINTEXT


@pytest.mark.parametrize(("spec", "algorithm"), RSA_CASES, ids=lambda v: v)
def test_rsa_kms_encrypt_kms_decrypt(kms, keys, spec, algorithm):
    meta = keys.shared(spec, "ENCRYPT_DECRYPT")
    enc = kms.encrypt(KeyId=meta["KeyId"], Plaintext=PLAINTEXT, EncryptionAlgorithm=algorithm)
    assert len(enc["CiphertextBlob"]) == MODULUS_BYTES[spec]
    dec = kms.decrypt(
        CiphertextBlob=enc["CiphertextBlob"], KeyId=meta["KeyId"], EncryptionAlgorithm=algorithm
    )
    assert dec["Plaintext"] == PLAINTEXT


def test_rsa_oaep_is_randomized(kms, keys):
    meta = keys.shared("RSA_2048", "ENCRYPT_DECRYPT")
    a, b = (
        kms.encrypt(KeyId=meta["KeyId"], Plaintext=PLAINTEXT, EncryptionAlgorithm="RSAES_OAEP_SHA_256")[
            "CiphertextBlob"
        ]
        for _ in range(2)
    )
    assert a != b


def test_rsa_decrypt_with_wrong_oaep_hash(kms, keys, rsa_public):
    meta = keys.shared("RSA_2048", "ENCRYPT_DECRYPT")
    ciphertext = rsa_public("RSA_2048").encrypt(PLAINTEXT, oaep("RSAES_OAEP_SHA_1"))
    with expect_error("InvalidCiphertextException"):
        kms.decrypt(
            CiphertextBlob=ciphertext, KeyId=meta["KeyId"], EncryptionAlgorithm="RSAES_OAEP_SHA_256"
        )


def test_rsa_decrypt_tampered(kms, keys, rsa_public):
    meta = keys.shared("RSA_2048", "ENCRYPT_DECRYPT")
    ciphertext = rsa_public("RSA_2048").encrypt(PLAINTEXT, oaep("RSAES_OAEP_SHA_256"))
    with expect_error("InvalidCiphertextException"):
        kms.decrypt(
            CiphertextBlob=tamper(ciphertext, 10),
            KeyId=meta["KeyId"],
            EncryptionAlgorithm="RSAES_OAEP_SHA_256",
        )


def test_rsa_sign_key_cannot_encrypt(kms, keys):
    meta = keys.shared("RSA_2048", "SIGN_VERIFY")
    with expect_error("InvalidKeyUsageException"):
        kms.encrypt(KeyId=meta["KeyId"], Plaintext=PLAINTEXT, EncryptionAlgorithm="RSAES_OAEP_SHA_256")


def test_rsa_key_rejects_symmetric_algorithm(kms, keys):
    meta = keys.shared("RSA_2048", "ENCRYPT_DECRYPT")
    with expect_error("InvalidKeyUsageException"):
        kms.encrypt(KeyId=meta["KeyId"], Plaintext=PLAINTEXT, EncryptionAlgorithm="SYMMETRIC_DEFAULT")
