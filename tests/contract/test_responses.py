"""Response fields that every key operation echoes.

AWS KMS answers each key operation with ``KeyId`` = the key ARN (whatever
reference the caller used: key ID, ARN, alias name or alias ARN) and echoes
the algorithm it used. These are checked here, once per operation, rather
than in every functional test.
"""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from kmshelp import spki_der, unique_alias

MESSAGE = b"response fields"


def call_sign(kms, ref):
    return kms.sign(KeyId=ref, Message=MESSAGE, MessageType="RAW", SigningAlgorithm="ECDSA_SHA_256")


def call_verify(kms, ref):
    sig = call_sign(kms, ref)["Signature"]
    return kms.verify(
        KeyId=ref,
        Message=MESSAGE,
        MessageType="RAW",
        Signature=sig,
        SigningAlgorithm="ECDSA_SHA_256",
    )


def call_encrypt_symmetric(kms, ref):
    return kms.encrypt(KeyId=ref, Plaintext=MESSAGE)


def call_decrypt_symmetric(kms, ref):
    blob = kms.encrypt(KeyId=ref, Plaintext=MESSAGE)["CiphertextBlob"]
    return kms.decrypt(CiphertextBlob=blob, KeyId=ref)


def call_decrypt_symmetric_without_key_id(kms, ref):
    blob = kms.encrypt(KeyId=ref, Plaintext=MESSAGE)["CiphertextBlob"]
    return kms.decrypt(CiphertextBlob=blob)


def call_encrypt_rsa(kms, ref):
    return kms.encrypt(KeyId=ref, Plaintext=MESSAGE, EncryptionAlgorithm="RSAES_OAEP_SHA_256")


def call_decrypt_rsa(kms, ref):
    blob = call_encrypt_rsa(kms, ref)["CiphertextBlob"]
    return kms.decrypt(CiphertextBlob=blob, KeyId=ref, EncryptionAlgorithm="RSAES_OAEP_SHA_256")


def call_generate_mac(kms, ref):
    return kms.generate_mac(KeyId=ref, Message=MESSAGE, MacAlgorithm="HMAC_SHA_256")


def call_verify_mac(kms, ref):
    mac = call_generate_mac(kms, ref)["Mac"]
    return kms.verify_mac(KeyId=ref, Message=MESSAGE, MacAlgorithm="HMAC_SHA_256", Mac=mac)


def call_derive_shared_secret(kms, ref):
    peer = ec.generate_private_key(ec.SECP256R1()).public_key()
    return kms.derive_shared_secret(KeyId=ref, KeyAgreementAlgorithm="ECDH", PublicKey=spki_der(peer))


def call_get_public_key(kms, ref):
    return kms.get_public_key(KeyId=ref)


# operation -> (KeySpec, KeyUsage, call, fields echoed besides KeyId)
OPERATIONS = {
    "Sign": ("ECC_NIST_P256", "SIGN_VERIFY", call_sign, {"SigningAlgorithm": "ECDSA_SHA_256"}),
    "Verify": (
        "ECC_NIST_P256",
        "SIGN_VERIFY",
        call_verify,
        {"SigningAlgorithm": "ECDSA_SHA_256", "SignatureValid": True},
    ),
    "GetPublicKey": ("ECC_NIST_P256", "SIGN_VERIFY", call_get_public_key, {}),
    "Encrypt-symmetric": (
        "SYMMETRIC_DEFAULT",
        "ENCRYPT_DECRYPT",
        call_encrypt_symmetric,
        {"EncryptionAlgorithm": "SYMMETRIC_DEFAULT"},
    ),
    "Decrypt-symmetric": (
        "SYMMETRIC_DEFAULT",
        "ENCRYPT_DECRYPT",
        call_decrypt_symmetric,
        {"EncryptionAlgorithm": "SYMMETRIC_DEFAULT", "Plaintext": MESSAGE},
    ),
    "Decrypt-symmetric-no-KeyId": (
        "SYMMETRIC_DEFAULT",
        "ENCRYPT_DECRYPT",
        call_decrypt_symmetric_without_key_id,
        {"EncryptionAlgorithm": "SYMMETRIC_DEFAULT", "Plaintext": MESSAGE},
    ),
    "Encrypt-RSA": (
        "RSA_2048",
        "ENCRYPT_DECRYPT",
        call_encrypt_rsa,
        {"EncryptionAlgorithm": "RSAES_OAEP_SHA_256"},
    ),
    "Decrypt-RSA": (
        "RSA_2048",
        "ENCRYPT_DECRYPT",
        call_decrypt_rsa,
        {"EncryptionAlgorithm": "RSAES_OAEP_SHA_256", "Plaintext": MESSAGE},
    ),
    "GenerateMac": ("HMAC_256", "GENERATE_VERIFY_MAC", call_generate_mac, {"MacAlgorithm": "HMAC_SHA_256"}),
    "VerifyMac": (
        "HMAC_256",
        "GENERATE_VERIFY_MAC",
        call_verify_mac,
        {"MacAlgorithm": "HMAC_SHA_256", "MacValid": True},
    ),
    "DeriveSharedSecret": (
        "ECC_NIST_P256",
        "KEY_AGREEMENT",
        call_derive_shared_secret,
        {"KeyAgreementAlgorithm": "ECDH", "KeyOrigin": "AWS_KMS"},
    ),
}


@pytest.fixture(scope="module")
def aliased_keys(kms, keys):
    """One alias per (KeySpec, KeyUsage) used below."""
    aliases = {}
    for spec, usage, _, _ in OPERATIONS.values():
        if (spec, usage) not in aliases:
            alias = unique_alias("responses")
            kms.create_alias(AliasName=alias, TargetKeyId=keys.shared(spec, usage)["KeyId"])
            aliases[(spec, usage)] = alias
    return aliases


@pytest.mark.parametrize("ref_kind", ["key_id", "alias_name"])
@pytest.mark.parametrize("operation", list(OPERATIONS))
def test_response_key_id_is_key_arn(kms, keys, aliased_keys, operation, ref_kind):
    spec, usage, call, echoed = OPERATIONS[operation]
    meta = keys.shared(spec, usage)
    ref = meta["KeyId"] if ref_kind == "key_id" else aliased_keys[(spec, usage)]
    resp = call(kms, ref)
    assert resp["KeyId"] == meta["Arn"], f"{operation} answered KeyId={resp['KeyId']!r}"
    for field, value in echoed.items():
        assert resp.get(field) == value, f"{operation}: {field}={resp.get(field)!r}, want {value!r}"


def test_schedule_and_cancel_deletion_responses(kms, keys):
    meta = keys.create(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")
    scheduled = kms.schedule_key_deletion(KeyId=meta["KeyId"], PendingWindowInDays=7)
    assert scheduled["KeyId"] == meta["Arn"]
    assert scheduled["KeyState"] == "PendingDeletion"
    assert scheduled["PendingWindowInDays"] == 7
    assert "DeletionDate" in scheduled
    cancelled = kms.cancel_key_deletion(KeyId=meta["KeyId"])
    assert cancelled["KeyId"] == meta["Arn"]
