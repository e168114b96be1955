"""Imported key material: CreateKey with Origin=EXTERNAL,
GetParametersForImport, ImportKeyMaterial.

The material is made here and wrapped with ``cryptography``
(importhelp.py); every MAC of an imported HMAC key is compared with the one
Python's ``hmac`` computes from the same material.
"""

from __future__ import annotations

import datetime
import os

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from importhelp import (
    IMPORT_LENGTHS,
    WRAPPING_ALGORITHMS,
    import_material,
    local_mac,
    parameters,
    wrap,
)
from kmshelp import HMAC_SPECS, MAC_ALGORITHMS, expect_error, key_arn_re, load_public_key

MESSAGE = b"kms11 imported key message"
SPEC_USAGE = {**{s: "GENERATE_VERIFY_MAC" for s in HMAC_SPECS}, "SYMMETRIC_DEFAULT": "ENCRYPT_DECRYPT"}


def external_key(keys, spec: str) -> dict:
    return keys.create(KeySpec=spec, KeyUsage=SPEC_USAGE[spec], Origin="EXTERNAL")


def check_mac(kms, key_id: str, spec: str, material: bytes) -> None:
    """GenerateMac equals Python's HMAC; VerifyMac takes a MAC made here."""
    algorithm = MAC_ALGORITHMS[spec]
    mac = kms.generate_mac(KeyId=key_id, Message=MESSAGE, MacAlgorithm=algorithm)["Mac"]
    assert mac == local_mac(spec, material, MESSAGE)
    other = os.urandom(100)
    ok = kms.verify_mac(
        KeyId=key_id, Message=other, MacAlgorithm=algorithm, Mac=local_mac(spec, material, other)
    )
    assert ok["MacValid"] is True


@pytest.mark.parametrize("spec", list(SPEC_USAGE))
def test_external_key_waits_for_its_material(kms, keys, spec):
    meta = external_key(keys, spec)
    assert meta["Origin"] == "EXTERNAL"
    assert meta["KeyState"] == "PendingImport"
    assert meta["Enabled"] is False
    assert "ExpirationModel" not in meta
    with expect_error("KMSInvalidStateException"):
        if spec == "SYMMETRIC_DEFAULT":
            kms.encrypt(KeyId=meta["KeyId"], Plaintext=MESSAGE)
        else:
            kms.generate_mac(KeyId=meta["KeyId"], Message=MESSAGE, MacAlgorithm=MAC_ALGORITHMS[spec])


@pytest.mark.parametrize(
    ("algorithm", "wrapping_spec"),
    [(a, "RSA_2048") for a in WRAPPING_ALGORITHMS] + [("RSAES_OAEP_SHA_256", s) for s in ("RSA_3072", "RSA_4096")],
    ids=lambda v: v,
)
def test_get_parameters_for_import(kms, keys, algorithm, wrapping_spec):
    meta = external_key(keys, "HMAC_256")
    resp = parameters(kms, meta["KeyId"], algorithm, wrapping_spec)
    assert key_arn_re().fullmatch(resp["KeyId"]) and resp["KeyId"] == meta["Arn"]
    public = load_public_key(resp["PublicKey"])
    assert isinstance(public, rsa.RSAPublicKey)
    assert public.key_size == int(wrapping_spec.split("_")[1])
    assert resp["ImportToken"]
    # Valid for 24 hours.
    left = resp["ParametersValidTo"] - datetime.datetime.now(datetime.timezone.utc)
    assert datetime.timedelta(hours=23) < left <= datetime.timedelta(hours=24, minutes=1), left


@pytest.mark.parametrize("algorithm", WRAPPING_ALGORITHMS)
@pytest.mark.parametrize("spec", HMAC_SPECS)
def test_import_hmac_key(kms, keys, spec, algorithm):
    meta = external_key(keys, spec)
    material = os.urandom(IMPORT_LENGTHS[spec][0])
    resp = import_material(kms, meta["KeyId"], material, algorithm)
    assert resp["KeyId"] == meta["Arn"]
    described = kms.describe_key(KeyId=meta["KeyId"])["KeyMetadata"]
    assert described["KeyState"] == "Enabled" and described["Enabled"] is True
    assert described["Origin"] == "EXTERNAL"
    assert described["ExpirationModel"] == "KEY_MATERIAL_DOES_NOT_EXPIRE"
    assert "ValidTo" not in described
    check_mac(kms, meta["KeyId"], spec, material)


@pytest.mark.parametrize("spec", HMAC_SPECS)
def test_import_hmac_material_lengths(kms, keys, spec):
    shortest, longest = IMPORT_LENGTHS[spec]
    for length in (shortest, longest):
        meta = external_key(keys, spec)
        material = os.urandom(length)
        import_material(kms, meta["KeyId"], material)
        check_mac(kms, meta["KeyId"], spec, material)
    meta = external_key(keys, spec)
    for length in (shortest - 1, longest + 1):
        with expect_error("IncorrectKeyMaterialException"):
            import_material(kms, meta["KeyId"], os.urandom(length))
    assert kms.describe_key(KeyId=meta["KeyId"])["KeyMetadata"]["KeyState"] == "PendingImport"


def test_import_symmetric_key(kms, keys):
    meta = external_key(keys, "SYMMETRIC_DEFAULT")
    for length in (31, 33):
        with expect_error("IncorrectKeyMaterialException"):
            import_material(kms, meta["KeyId"], os.urandom(length))
    import_material(kms, meta["KeyId"], os.urandom(32), "RSA_AES_KEY_WRAP_SHA_256")
    blob = kms.encrypt(KeyId=meta["KeyId"], Plaintext=MESSAGE)["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == MESSAGE


def test_import_with_expiry_reports_it(kms, keys):
    meta = external_key(keys, "HMAC_384")
    material = os.urandom(48)
    valid_to = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=30)
    import_material(kms, meta["KeyId"], material, ExpirationModel="KEY_MATERIAL_EXPIRES", ValidTo=valid_to)
    described = kms.describe_key(KeyId=meta["KeyId"])["KeyMetadata"]
    assert described["ExpirationModel"] == "KEY_MATERIAL_EXPIRES"
    assert abs((described["ValidTo"] - valid_to).total_seconds()) < 1
    check_mac(kms, meta["KeyId"], "HMAC_384", material)


def test_reimport(kms, keys):
    """The same material may be imported again (here to change the
    expiration); other material may not."""
    meta = external_key(keys, "HMAC_256")
    material = os.urandom(32)
    valid_to = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=1)
    import_material(kms, meta["KeyId"], material, ExpirationModel="KEY_MATERIAL_EXPIRES", ValidTo=valid_to)
    import_material(kms, meta["KeyId"], material, "RSA_AES_KEY_WRAP_SHA_1")
    described = kms.describe_key(KeyId=meta["KeyId"])["KeyMetadata"]
    assert described["ExpirationModel"] == "KEY_MATERIAL_DOES_NOT_EXPIRE"
    with expect_error("IncorrectKeyMaterialException"):
        import_material(kms, meta["KeyId"], os.urandom(32))
    check_mac(kms, meta["KeyId"], "HMAC_256", material)


def test_import_token_must_be_the_keys(kms, keys):
    meta = external_key(keys, "HMAC_256")
    other = external_key(keys, "HMAC_256")
    params = parameters(kms, other["KeyId"])
    for token in (params["ImportToken"], os.urandom(len(params["ImportToken"]))):
        with expect_error("InvalidImportTokenException"):
            kms.import_key_material(
                KeyId=meta["KeyId"],
                ImportToken=token,
                EncryptedKeyMaterial=wrap(params["PublicKey"], "RSAES_OAEP_SHA_256", os.urandom(32)),
                ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE",
            )


def test_material_must_be_wrapped_as_asked(kms, keys):
    meta = external_key(keys, "HMAC_256")
    params = parameters(kms, meta["KeyId"], "RSAES_OAEP_SHA_256")
    other = parameters(kms, meta["KeyId"], "RSAES_OAEP_SHA_256")
    for encrypted in (
        wrap(params["PublicKey"], "RSAES_OAEP_SHA_1", os.urandom(32)),  # other hash
        wrap(other["PublicKey"], "RSAES_OAEP_SHA_256", os.urandom(32)),  # other wrapping key
        wrap(params["PublicKey"], "RSA_AES_KEY_WRAP_SHA_256", os.urandom(32)),  # other algorithm
    ):
        with expect_error("InvalidCiphertextException"):
            kms.import_key_material(
                KeyId=meta["KeyId"],
                ImportToken=params["ImportToken"],
                EncryptedKeyMaterial=encrypted,
                ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE",
            )
    assert kms.describe_key(KeyId=meta["KeyId"])["KeyMetadata"]["KeyState"] == "PendingImport"


def _days(n: float) -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=n)


@pytest.mark.parametrize(
    "expiration",
    [
        {"ExpirationModel": "KEY_MATERIAL_EXPIRES"},  # no ValidTo
        {},  # KEY_MATERIAL_EXPIRES is the default, and it needs ValidTo
        {"ExpirationModel": "KEY_MATERIAL_DOES_NOT_EXPIRE", "ValidTo": "days:1"},
        {"ExpirationModel": "KEY_MATERIAL_EXPIRES", "ValidTo": "days:-1"},
        {"ExpirationModel": "KEY_MATERIAL_EXPIRES", "ValidTo": "days:366"},
    ],
    ids=["expires-without-valid-to", "default-without-valid-to", "does-not-expire-with-valid-to", "past", "over-a-year"],
)
def test_expiration_is_checked(kms, keys, expiration):
    meta = external_key(keys, "HMAC_256")
    params = parameters(kms, meta["KeyId"])
    kwargs = dict(expiration)
    if "ValidTo" in kwargs:
        kwargs["ValidTo"] = _days(float(kwargs["ValidTo"].split(":")[1]))
    with expect_error("ValidationException"):
        kms.import_key_material(
            KeyId=meta["KeyId"],
            ImportToken=params["ImportToken"],
            EncryptedKeyMaterial=wrap(params["PublicKey"], "RSAES_OAEP_SHA_256", os.urandom(32)),
            **kwargs,
        )


def test_import_needs_an_external_key(kms, keys):
    meta = keys.shared("HMAC_256", "GENERATE_VERIFY_MAC")
    with expect_error("UnsupportedOperationException"):
        parameters(kms, meta["KeyId"])


def test_imported_keys_are_independent(kms, keys):
    """Two keys given the same material MAC alike; a third does not."""
    material = os.urandom(64)
    a, b, c = (external_key(keys, "HMAC_512") for _ in range(3))
    import_material(kms, a["KeyId"], material)
    import_material(kms, b["KeyId"], material, "RSA_AES_KEY_WRAP_SHA_256")
    import_material(kms, c["KeyId"], os.urandom(64))
    macs = [
        kms.generate_mac(KeyId=k["KeyId"], Message=MESSAGE, MacAlgorithm="HMAC_SHA_512")["Mac"]
        for k in (a, b, c)
    ]
    assert macs[0] == macs[1] == local_mac("HMAC_512", material, MESSAGE)
    assert macs[2] != macs[0]
