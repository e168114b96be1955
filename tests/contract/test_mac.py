"""GenerateMac and VerifyMac.

KMS never reveals HMAC key material, so correctness against an independent
HMAC is checked in tests/emulator_hooks (seeded key material); here the
observable contract is checked.
"""

from __future__ import annotations

import os

import pytest

from kmshelp import HMAC_SPECS, MAC_ALGORITHMS, algorithm_hash, expect_error, tamper

MESSAGE = b"kms11 mac message"


@pytest.mark.parametrize("spec", HMAC_SPECS)
def test_generate_and_verify_mac(kms, keys, spec):
    meta = keys.shared(spec, "GENERATE_VERIFY_MAC")
    algorithm = MAC_ALGORITHMS[spec]
    mac = kms.generate_mac(KeyId=meta["KeyId"], Message=MESSAGE, MacAlgorithm=algorithm)["Mac"]
    assert len(mac) == algorithm_hash(algorithm).digest_size

    # HMAC is deterministic.
    again = kms.generate_mac(KeyId=meta["KeyId"], Message=MESSAGE, MacAlgorithm=algorithm)["Mac"]
    assert again == mac
    other = kms.generate_mac(KeyId=meta["KeyId"], Message=MESSAGE + b".", MacAlgorithm=algorithm)
    assert other["Mac"] != mac

    ok = kms.verify_mac(KeyId=meta["KeyId"], Message=MESSAGE, MacAlgorithm=algorithm, Mac=mac)
    assert ok["MacValid"] is True


@pytest.mark.parametrize("spec", HMAC_SPECS)
def test_verify_mac_rejects_modified_mac(kms, keys, spec):
    meta = keys.shared(spec, "GENERATE_VERIFY_MAC")
    algorithm = MAC_ALGORITHMS[spec]
    mac = kms.generate_mac(KeyId=meta["KeyId"], Message=MESSAGE, MacAlgorithm=algorithm)["Mac"]
    for bad in (tamper(mac), tamper(mac, 0), mac[:-1]):
        with expect_error("KMSInvalidMacException"):
            kms.verify_mac(KeyId=meta["KeyId"], Message=MESSAGE, MacAlgorithm=algorithm, Mac=bad)


def test_verify_mac_rejects_other_message(kms, keys):
    meta = keys.shared("HMAC_256", "GENERATE_VERIFY_MAC")
    mac = kms.generate_mac(KeyId=meta["KeyId"], Message=MESSAGE, MacAlgorithm="HMAC_SHA_256")["Mac"]
    with expect_error("KMSInvalidMacException"):
        kms.verify_mac(
            KeyId=meta["KeyId"], Message=MESSAGE + b"x", MacAlgorithm="HMAC_SHA_256", Mac=mac
        )


def test_mac_keys_are_independent(kms, keys):
    a = keys.create(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")
    b = keys.create(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")
    mac_a = kms.generate_mac(KeyId=a["KeyId"], Message=MESSAGE, MacAlgorithm="HMAC_SHA_256")["Mac"]
    mac_b = kms.generate_mac(KeyId=b["KeyId"], Message=MESSAGE, MacAlgorithm="HMAC_SHA_256")["Mac"]
    assert mac_a != mac_b
    with expect_error("KMSInvalidMacException"):
        kms.verify_mac(KeyId=b["KeyId"], Message=MESSAGE, MacAlgorithm="HMAC_SHA_256", Mac=mac_a)


@pytest.mark.parametrize(
    ("spec", "algorithm"),
    [
        ("HMAC_256", "HMAC_SHA_384"),
        ("HMAC_256", "HMAC_SHA_224"),
        ("HMAC_512", "HMAC_SHA_256"),
        ("HMAC_224", "HMAC_SHA_512"),
    ],
    ids=lambda v: v,
)
def test_wrong_mac_algorithm_for_key(kms, keys, spec, algorithm):
    meta = keys.shared(spec, "GENERATE_VERIFY_MAC")
    with expect_error("InvalidKeyUsageException"):
        kms.generate_mac(KeyId=meta["KeyId"], Message=MESSAGE, MacAlgorithm=algorithm)
    with expect_error("InvalidKeyUsageException"):
        kms.verify_mac(
            KeyId=meta["KeyId"],
            Message=MESSAGE,
            MacAlgorithm=algorithm,
            Mac=os.urandom(algorithm_hash(algorithm).digest_size),
        )


@pytest.mark.parametrize(
    ("spec", "usage"),
    [("SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT"), ("RSA_2048", "SIGN_VERIFY")],
    ids=lambda v: v,
)
def test_generate_mac_with_non_hmac_key(kms, keys, spec, usage):
    meta = keys.shared(spec, usage)
    with expect_error("InvalidKeyUsageException"):
        kms.generate_mac(KeyId=meta["KeyId"], Message=MESSAGE, MacAlgorithm="HMAC_SHA_256")


def test_mac_message_size_limit(kms, keys):
    meta = keys.shared("HMAC_256", "GENERATE_VERIFY_MAC")
    mac = kms.generate_mac(KeyId=meta["KeyId"], Message=b"\x00" * 4096, MacAlgorithm="HMAC_SHA_256")
    assert len(mac["Mac"]) == 32
    with expect_error("ValidationException"):
        kms.generate_mac(KeyId=meta["KeyId"], Message=b"\x00" * 4097, MacAlgorithm="HMAC_SHA_256")


def test_mac_disabled_key(kms, keys):
    meta = keys.create(KeySpec="HMAC_384", KeyUsage="GENERATE_VERIFY_MAC")
    kms.disable_key(KeyId=meta["KeyId"])
    with expect_error("DisabledException"):
        kms.generate_mac(KeyId=meta["KeyId"], Message=MESSAGE, MacAlgorithm="HMAC_SHA_384")
