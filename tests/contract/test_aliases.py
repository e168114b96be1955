"""CreateAlias, UpdateAlias, DeleteAlias, ListAliases."""

from __future__ import annotations

import uuid

import pytest

from kmshelp import (
    alias_arn,
    expect_error,
    load_public_key,
    paginate,
    unique_alias,
    verify_signature,
)


def describe(kms, key_ref):
    return kms.describe_key(KeyId=key_ref)["KeyMetadata"]


def aliases_of(kms, key_id):
    return {a["AliasName"]: a for a in paginate(kms.list_aliases, "Aliases", KeyId=key_id)}


def test_create_alias_and_use_it(kms, keys):
    meta = keys.create(KeySpec="RSA_2048", KeyUsage="SIGN_VERIFY")
    alias = unique_alias()
    assert kms.create_alias(AliasName=alias, TargetKeyId=meta["KeyId"])["ResponseMetadata"][
        "HTTPStatusCode"
    ] == 200
    assert describe(kms, alias)["Arn"] == meta["Arn"]
    assert describe(kms, alias_arn(meta["Arn"], alias))["Arn"] == meta["Arn"]


def test_create_alias_by_key_arn(kms, keys):
    meta = keys.create()
    alias = unique_alias()
    kms.create_alias(AliasName=alias, TargetKeyId=meta["Arn"])
    assert describe(kms, alias)["KeyId"] == meta["KeyId"]


def test_alias_name_must_start_with_alias_prefix(kms, keys):
    meta = keys.shared("SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT")
    with expect_error("ValidationException"):
        kms.create_alias(AliasName=f"kms11-{uuid.uuid4().hex}", TargetKeyId=meta["KeyId"])


def test_alias_aws_prefix_is_reserved(kms, keys):
    meta = keys.shared("SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT")
    # AWS refuses names under alias/aws/ (reserved for AWS managed keys).
    with expect_error("NotAuthorizedException", "AccessDeniedException", "ValidationException"):
        kms.create_alias(AliasName=f"alias/aws/kms11-{uuid.uuid4().hex[:8]}", TargetKeyId=meta["KeyId"])


def test_duplicate_alias(kms, keys):
    a = keys.create()
    b = keys.create()
    alias = unique_alias()
    kms.create_alias(AliasName=alias, TargetKeyId=a["KeyId"])
    with expect_error("AlreadyExistsException"):
        kms.create_alias(AliasName=alias, TargetKeyId=b["KeyId"])
    assert describe(kms, alias)["KeyId"] == a["KeyId"]


def test_alias_to_nonexistent_key(kms):
    with expect_error("NotFoundException"):
        kms.create_alias(AliasName=unique_alias(), TargetKeyId=str(uuid.uuid4()))


def test_update_alias_rsa_sign_to_ecc_sign(kms, keys):
    rsa_key = keys.create(KeySpec="RSA_2048", KeyUsage="SIGN_VERIFY")
    ecc_key = keys.create(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")
    alias = unique_alias("update")
    kms.create_alias(AliasName=alias, TargetKeyId=rsa_key["KeyId"])
    kms.update_alias(AliasName=alias, TargetKeyId=ecc_key["KeyId"])
    assert describe(kms, alias)["KeyId"] == ecc_key["KeyId"]
    assert alias in aliases_of(kms, ecc_key["KeyId"])
    assert alias not in aliases_of(kms, rsa_key["KeyId"])
    resp = kms.sign(
        KeyId=alias, Message=b"m", MessageType="RAW", SigningAlgorithm="ECDSA_SHA_256"
    )
    public_key = load_public_key(kms.get_public_key(KeyId=ecc_key["KeyId"])["PublicKey"])
    verify_signature(public_key, "ECDSA_SHA_256", resp["Signature"], b"m")


def test_update_alias_between_symmetric_keys(kms, keys):
    a, b = keys.create(), keys.create()
    alias = unique_alias("update")
    kms.create_alias(AliasName=alias, TargetKeyId=a["KeyId"])
    kms.update_alias(AliasName=alias, TargetKeyId=b["Arn"])
    assert describe(kms, alias)["KeyId"] == b["KeyId"]


@pytest.mark.parametrize(
    ("new_spec", "new_usage"),
    [
        ("SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT"),  # asymmetric -> symmetric
        ("HMAC_256", "GENERATE_VERIFY_MAC"),  # asymmetric -> HMAC
        ("RSA_2048", "ENCRYPT_DECRYPT"),  # same type, other KeyUsage
        ("ECC_NIST_P256", "KEY_AGREEMENT"),  # same type, other KeyUsage
    ],
    ids=lambda v: v,
)
def test_update_alias_refused_for_different_type_or_usage(kms, keys, new_spec, new_usage):
    current = keys.create(KeySpec="RSA_2048", KeyUsage="SIGN_VERIFY")
    new = keys.shared(new_spec, new_usage)
    alias = unique_alias("update")
    kms.create_alias(AliasName=alias, TargetKeyId=current["KeyId"])
    with expect_error("ValidationException"):
        kms.update_alias(AliasName=alias, TargetKeyId=new["KeyId"])
    assert describe(kms, alias)["KeyId"] == current["KeyId"]


def test_update_alias_symmetric_to_hmac_refused(kms, keys):
    current = keys.create()
    alias = unique_alias("update")
    kms.create_alias(AliasName=alias, TargetKeyId=current["KeyId"])
    with expect_error("ValidationException"):
        kms.update_alias(
            AliasName=alias, TargetKeyId=keys.shared("HMAC_256", "GENERATE_VERIFY_MAC")["KeyId"]
        )


def test_update_missing_alias(kms, keys):
    with expect_error("NotFoundException"):
        kms.update_alias(AliasName=unique_alias(), TargetKeyId=keys.create()["KeyId"])


def test_delete_alias(kms, keys):
    meta = keys.create()
    alias = unique_alias("delete")
    kms.create_alias(AliasName=alias, TargetKeyId=meta["KeyId"])
    kms.delete_alias(AliasName=alias)
    with expect_error("NotFoundException"):
        describe(kms, alias)
    with expect_error("NotFoundException"):
        kms.encrypt(KeyId=alias, Plaintext=b"x")
    assert alias not in aliases_of(kms, meta["KeyId"])
    # The key itself is untouched and the name can be used again.
    assert describe(kms, meta["KeyId"])["KeyState"] == "Enabled"
    kms.create_alias(AliasName=alias, TargetKeyId=meta["KeyId"])
    assert describe(kms, alias)["KeyId"] == meta["KeyId"]


def test_delete_missing_alias(kms):
    with expect_error("NotFoundException"):
        kms.delete_alias(AliasName=unique_alias())


def test_list_aliases_filtered_by_key(kms, keys, account):
    meta = keys.create()
    other = keys.create()
    names = {unique_alias("list") for _ in range(3)}
    for name in names:
        kms.create_alias(AliasName=name, TargetKeyId=meta["KeyId"])
    kms.create_alias(AliasName=unique_alias("other"), TargetKeyId=other["KeyId"])

    for key_ref in (meta["KeyId"], meta["Arn"]):
        listed = aliases_of(kms, key_ref)
        assert set(listed) == names
        for name, entry in listed.items():
            assert entry["TargetKeyId"] == meta["KeyId"]
            assert entry["AliasArn"] == alias_arn(meta["Arn"], name)
            assert entry["AliasArn"] == f"arn:aws:kms:us-east-1:{account}:{name}"


def test_list_aliases_pagination(kms, keys):
    meta = keys.create()
    names = {unique_alias("page") for _ in range(5)}
    for name in names:
        kms.create_alias(AliasName=name, TargetKeyId=meta["KeyId"])
    listed = [a["AliasName"] for a in paginate(kms.list_aliases, "Aliases", limit=2)]
    for name in names:
        assert listed.count(name) == 1, f"{name} seen {listed.count(name)} times"
    assert len(listed) == len(set(listed))
    filtered = [
        a["AliasName"]
        for a in paginate(kms.list_aliases, "Aliases", limit=2, KeyId=meta["KeyId"])
    ]
    assert sorted(filtered) == sorted(names)


def test_list_aliases_for_missing_key(kms):
    with expect_error("NotFoundException"):
        kms.list_aliases(KeyId=str(uuid.uuid4()))
