"""Imported key material in the emulator: --import-token-ttl, expiry of
material and tokens (which the contract suite cannot wait for), key states,
persistence in --state and --seed, and what the emulator does not import.

MACs of imported keys are compared with Python's hmac over the same material.
"""

from __future__ import annotations

import datetime
import os
import time

import pytest

from emuhelp import raw_b64, seed_key, write_seed
from importhelp import import_material, local_mac, parameters, wrap
from kmshelp import expect_error, make_client

MESSAGE = b"imported"


def external_hmac(kms, spec="HMAC_256") -> str:
    return kms.create_key(KeySpec=spec, KeyUsage="GENERATE_VERIFY_MAC", Origin="EXTERNAL")[
        "KeyMetadata"
    ]["KeyId"]


def mac(kms, key_id, algorithm="HMAC_SHA_256") -> bytes:
    return kms.generate_mac(KeyId=key_id, Message=MESSAGE, MacAlgorithm=algorithm)["Mac"]


def state(kms, key_id) -> str:
    return kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"]


def import_with(kms, key_id, params, material):
    return kms.import_key_material(
        KeyId=key_id,
        ImportToken=params["ImportToken"],
        EncryptedKeyMaterial=wrap(params["PublicKey"], "RSAES_OAEP_SHA_256", material),
        ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE",
    )


@pytest.mark.parametrize("how", ["flag", "env"])
def test_import_token_ttl(start_emulator, how):
    if how == "flag":
        url = start_emulator("--import-token-ttl", 2)
    else:
        url = start_emulator(env={"KMS11_EMULATOR_IMPORT_TOKEN_TTL": "2"})
    kms = make_client(url)
    key_id = external_hmac(kms)
    params = parameters(kms, key_id)
    left = params["ParametersValidTo"] - datetime.datetime.now(datetime.timezone.utc)
    assert left <= datetime.timedelta(seconds=3), left
    time.sleep(3.2)
    with expect_error("ExpiredImportTokenException"):
        import_with(kms, key_id, params, os.urandom(32))
    material = os.urandom(32)
    import_with(kms, key_id, parameters(kms, key_id), material)
    assert mac(kms, key_id) == local_mac("HMAC_256", material, MESSAGE)


def test_import_token_ttl_must_be_positive(start_emulator):
    with pytest.raises(RuntimeError, match="import-token-ttl"):
        start_emulator("--import-token-ttl", 0)


def test_material_expires_and_comes_back(start_emulator):
    kms = make_client(start_emulator())
    key_id = external_hmac(kms)
    material = os.urandom(32)
    valid_to = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=2)
    import_material(kms, key_id, material, ExpirationModel="KEY_MATERIAL_EXPIRES", ValidTo=valid_to)
    assert mac(kms, key_id) == local_mac("HMAC_256", material, MESSAGE)
    time.sleep(2.5)
    meta = kms.describe_key(KeyId=key_id)["KeyMetadata"]
    assert (meta["KeyState"], meta["Enabled"]) == ("PendingImport", False)
    with expect_error("KMSInvalidStateException"):
        mac(kms, key_id)
    # Only the same material may come back.
    with expect_error("IncorrectKeyMaterialException"):
        import_material(kms, key_id, os.urandom(32))
    import_material(kms, key_id, material)
    assert state(kms, key_id) == "Enabled"
    assert mac(kms, key_id) == local_mac("HMAC_256", material, MESSAGE)


def test_key_states_of_imported_keys(start_emulator):
    kms = make_client(start_emulator())
    pending = external_hmac(kms)
    for change in (kms.enable_key, kms.disable_key):
        with expect_error("KMSInvalidStateException"):
            change(KeyId=pending)
    kms.schedule_key_deletion(KeyId=pending, PendingWindowInDays=7)
    with expect_error("KMSInvalidStateException"):
        parameters(kms, pending)
    kms.cancel_key_deletion(KeyId=pending)
    assert state(kms, pending) == "PendingImport"

    imported = external_hmac(kms)
    material = os.urandom(32)
    import_material(kms, imported, material)
    kms.disable_key(KeyId=imported)
    with expect_error("KMSInvalidStateException"):
        import_material(kms, imported, material)
    kms.schedule_key_deletion(KeyId=imported, PendingWindowInDays=7)
    kms.cancel_key_deletion(KeyId=imported)
    assert state(kms, imported) == "Disabled"
    kms.enable_key(KeyId=imported)
    assert mac(kms, imported) == local_mac("HMAC_256", material, MESSAGE)


def test_state_file_keeps_imported_keys(start_emulator, tmp_path):
    path = tmp_path / "state.json"
    url = start_emulator("--state", path)
    kms = make_client(url)
    pending = external_hmac(kms)
    forever, expiring = external_hmac(kms), external_hmac(kms, "HMAC_384")
    m1, m2 = os.urandom(32), os.urandom(48)
    import_material(kms, forever, m1)
    valid_to = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=3)
    import_material(kms, expiring, m2, ExpirationModel="KEY_MATERIAL_EXPIRES", ValidTo=valid_to)
    token = parameters(kms, pending)
    start_emulator.stop(url)

    kms = make_client(start_emulator("--state", path))
    assert state(kms, pending) == "PendingImport"
    assert mac(kms, forever) == local_mac("HMAC_256", m1, MESSAGE)
    assert mac(kms, expiring, "HMAC_SHA_384") == local_mac("HMAC_384", m2, MESSAGE)
    meta = kms.describe_key(KeyId=expiring)["KeyMetadata"]
    assert meta["Origin"] == "EXTERNAL" and meta["ExpirationModel"] == "KEY_MATERIAL_EXPIRES"
    assert abs((meta["ValidTo"] - valid_to).total_seconds()) < 1
    # Import tokens do not outlive the emulator that gave them.
    with expect_error("InvalidImportTokenException"):
        import_with(kms, pending, token, os.urandom(32))
    m3 = os.urandom(32)
    import_material(kms, pending, m3)
    assert mac(kms, pending) == local_mac("HMAC_256", m3, MESSAGE)


def test_seed_file_external_keys(start_emulator, tmp_path):
    pending_id = "22222222-3333-4444-8555-666666666666"
    seeded_id = "33333333-4444-4555-8666-777777777777"
    material = os.urandom(40)
    seed = write_seed(
        tmp_path / "seed.json",
        [
            seed_key("HMAC_256", "GENERATE_VERIFY_MAC", KeyId=pending_id, Origin="EXTERNAL"),
            seed_key(
                "HMAC_256", "GENERATE_VERIFY_MAC", KeyId=seeded_id, Origin="EXTERNAL",
                Material=raw_b64(material),
            ),
        ],
    )
    kms = make_client(start_emulator("--seed", seed))
    assert state(kms, pending_id) == "PendingImport"
    meta = kms.describe_key(KeyId=seeded_id)["KeyMetadata"]
    assert (meta["KeyState"], meta["Origin"]) == ("Enabled", "EXTERNAL")
    assert mac(kms, seeded_id) == local_mac("HMAC_256", material, MESSAGE)
    bad = write_seed(tmp_path / "bad.json", [seed_key("RSA_2048", "SIGN_VERIFY", Origin="EXTERNAL")])
    with pytest.raises(RuntimeError, match="Origin EXTERNAL is not supported for RSA_2048"):
        start_emulator("--seed", bad)


@pytest.mark.parametrize(
    ("spec", "usage"),
    [("RSA_2048", "SIGN_VERIFY"), ("ECC_NIST_P256", "KEY_AGREEMENT"), ("ECC_NIST_EDWARDS25519", "SIGN_VERIFY")],
)
def test_asymmetric_material_is_not_imported(start_emulator, spec, usage):
    """KMS imports asymmetric key material too; this emulator does not, and says so."""
    kms = make_client(start_emulator())
    with expect_error("UnsupportedOperationException") as caught:
        kms.create_key(KeySpec=spec, KeyUsage=usage, Origin="EXTERNAL")
    assert "SYMMETRIC_DEFAULT and HMAC" in caught[0].response["Error"]["Message"]


@pytest.mark.parametrize(
    ("algorithm", "wrapping_spec"),
    [("RSAES_PKCS1_V1_5", "RSA_2048"), ("SM2PKE", "SM2"), ("RSAES_OAEP_SHA_256", "SM2")],
)
def test_unsupported_wrapping(start_emulator, algorithm, wrapping_spec):
    kms = make_client(start_emulator())
    with expect_error("UnsupportedOperationException"):
        parameters(kms, external_hmac(kms), algorithm, wrapping_spec)
