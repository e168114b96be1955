"""Key states: DisableKey/EnableKey, ScheduleKeyDeletion/CancelKeyDeletion."""

from __future__ import annotations

import datetime
import uuid

import pytest

from kmshelp import expect_error

MESSAGE = b"key state test"


def sign(kms, key_id):
    return kms.sign(
        KeyId=key_id, Message=MESSAGE, MessageType="RAW", SigningAlgorithm="ECDSA_SHA_256"
    )


def describe(kms, key_id):
    return kms.describe_key(KeyId=key_id)["KeyMetadata"]


def assert_deletion_in_days(meta, days):
    window = meta["DeletionDate"] - datetime.datetime.now(datetime.timezone.utc)
    low = datetime.timedelta(days=days) - datetime.timedelta(hours=1)
    high = datetime.timedelta(days=days) + datetime.timedelta(hours=1)
    assert low <= window <= high, f"DeletionDate {meta['DeletionDate']} is {window} away, want {days} days"


@pytest.fixture
def sign_key(keys):
    return keys.create(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")


def test_disable_and_enable(kms, sign_key):
    key_id = sign_key["KeyId"]
    kms.disable_key(KeyId=key_id)
    meta = describe(kms, key_id)
    assert meta["KeyState"] == "Disabled"
    assert meta["Enabled"] is False
    with expect_error("DisabledException"):
        sign(kms, key_id)
    with expect_error("DisabledException"):
        kms.get_public_key(KeyId=key_id)

    kms.enable_key(KeyId=key_id)
    meta = describe(kms, key_id)
    assert meta["KeyState"] == "Enabled"
    assert meta["Enabled"] is True
    assert sign(kms, key_id)["Signature"]


def test_disable_is_idempotent(kms, sign_key):
    kms.disable_key(KeyId=sign_key["KeyId"])
    kms.disable_key(KeyId=sign_key["KeyId"])
    assert describe(kms, sign_key["KeyId"])["KeyState"] == "Disabled"
    kms.enable_key(KeyId=sign_key["KeyId"])
    kms.enable_key(KeyId=sign_key["KeyId"])
    assert describe(kms, sign_key["KeyId"])["KeyState"] == "Enabled"


def test_disabled_symmetric_key_cannot_encrypt_or_decrypt(kms, keys):
    key_id = keys.create()["KeyId"]
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"secret")["CiphertextBlob"]
    kms.disable_key(KeyId=key_id)
    with expect_error("DisabledException"):
        kms.encrypt(KeyId=key_id, Plaintext=b"secret")
    with expect_error("DisabledException"):
        kms.decrypt(CiphertextBlob=blob)
    kms.enable_key(KeyId=key_id)
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"secret"


def test_schedule_and_cancel_deletion(kms, sign_key):
    key_id = sign_key["KeyId"]
    kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    meta = describe(kms, key_id)
    assert meta["KeyState"] == "PendingDeletion"
    assert meta["Enabled"] is False
    assert_deletion_in_days(meta, 7)
    with expect_error("KMSInvalidStateException"):
        sign(kms, key_id)
    with expect_error("KMSInvalidStateException"):
        kms.enable_key(KeyId=key_id)

    kms.cancel_key_deletion(KeyId=key_id)
    meta = describe(kms, key_id)
    # AWS KMS leaves a key whose deletion was cancelled in the Disabled state.
    assert meta["KeyState"] == "Disabled"
    assert meta["Enabled"] is False
    assert "DeletionDate" not in meta
    with expect_error("DisabledException"):
        sign(kms, key_id)

    kms.enable_key(KeyId=key_id)
    assert describe(kms, key_id)["KeyState"] == "Enabled"
    assert sign(kms, key_id)["Signature"]


def test_schedule_deletion_default_window_is_30_days(kms, sign_key):
    kms.schedule_key_deletion(KeyId=sign_key["KeyId"])
    assert_deletion_in_days(describe(kms, sign_key["KeyId"]), 30)
    kms.cancel_key_deletion(KeyId=sign_key["KeyId"])


@pytest.mark.parametrize("days", [6, 31, 0])
def test_schedule_deletion_window_out_of_range(kms, sign_key, days):
    with expect_error("ValidationException"):
        kms.schedule_key_deletion(KeyId=sign_key["KeyId"], PendingWindowInDays=days)
    assert describe(kms, sign_key["KeyId"])["KeyState"] == "Enabled"


def test_schedule_deletion_window_30_accepted(kms, sign_key):
    kms.schedule_key_deletion(KeyId=sign_key["KeyId"], PendingWindowInDays=30)
    assert_deletion_in_days(describe(kms, sign_key["KeyId"]), 30)
    kms.cancel_key_deletion(KeyId=sign_key["KeyId"])


def test_cancel_deletion_of_key_not_pending(kms, sign_key):
    with expect_error("KMSInvalidStateException"):
        kms.cancel_key_deletion(KeyId=sign_key["KeyId"])


def test_state_operations_on_missing_key(kms):
    missing = str(uuid.uuid4())
    for op in (kms.disable_key, kms.enable_key, kms.cancel_key_deletion):
        with expect_error("NotFoundException"):
            op(KeyId=missing)
    with expect_error("NotFoundException"):
        kms.schedule_key_deletion(KeyId=missing, PendingWindowInDays=7)
