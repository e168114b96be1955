"""CreateKey, DescribeKey, ListKeys and tags."""

from __future__ import annotations

import datetime
import uuid

import pytest

from kmshelp import (
    ALGORITHM_FIELDS,
    KEY_ID_RE,
    MRK_KEY_ID_RE,
    REGION,
    VALID_SPEC_USAGE,
    alias_arn,
    expect_error,
    expected_algorithm_fields,
    key_arn_re,
    paginate,
    unique_alias,
)


def check_metadata(meta: dict, spec: str, usage: str) -> None:
    assert KEY_ID_RE.fullmatch(meta["KeyId"]), meta["KeyId"]
    m = key_arn_re().fullmatch(meta["Arn"])
    assert m, meta["Arn"]
    assert meta["Arn"].endswith(":key/" + meta["KeyId"])
    assert meta["AWSAccountId"] == m.group(1)
    assert meta["KeySpec"] == spec
    assert meta["KeyUsage"] == usage
    assert meta["KeyState"] == "Enabled"
    assert meta["Enabled"] is True
    assert meta["Origin"] == "AWS_KMS"
    assert meta["KeyManager"] == "CUSTOMER"
    assert isinstance(meta["CreationDate"], datetime.datetime)
    age = datetime.datetime.now(datetime.timezone.utc) - meta["CreationDate"]
    assert abs(age.total_seconds()) < 600, meta["CreationDate"]
    assert "DeletionDate" not in meta
    expected = expected_algorithm_fields(spec, usage)
    for field in ALGORITHM_FIELDS:
        if field in expected:
            assert set(meta.get(field, ())) == expected[field], (field, meta.get(field))
        else:
            assert field not in meta, f"{field} must not be listed for {spec}/{usage}: {meta}"


@pytest.mark.parametrize(("spec", "usage"), VALID_SPEC_USAGE, ids=lambda v: v)
def test_create_key_metadata(kms, keys, spec, usage):
    meta = keys.create(KeySpec=spec, KeyUsage=usage, Description=f"contract {spec}")
    check_metadata(meta, spec, usage)
    assert meta["Description"] == f"contract {spec}"
    described = kms.describe_key(KeyId=meta["KeyId"])["KeyMetadata"]
    check_metadata(described, spec, usage)
    assert described["Arn"] == meta["Arn"]
    assert described["CreationDate"] == meta["CreationDate"]


def test_single_region_key_reports_multi_region_false(kms, keys):
    meta = keys.create(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")
    assert meta["MultiRegion"] is False
    assert kms.describe_key(KeyId=meta["KeyId"])["KeyMetadata"]["MultiRegion"] is False


def test_create_key_defaults_to_symmetric_encrypt_decrypt(keys):
    meta = keys.create()
    check_metadata(meta, "SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT")


def test_create_key_without_description_has_empty_description(kms, keys):
    meta = kms.create_key()["KeyMetadata"]
    keys.created.append(meta["KeyId"])
    assert meta["Description"] == ""


def test_key_ids_are_unique(keys):
    ids = {keys.create(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyId"] for _ in range(3)}
    assert len(ids) == 3


@pytest.mark.parametrize(
    ("spec", "usage"),
    [
        ("ECC_SECG_P256K1", "KEY_AGREEMENT"),
        ("HMAC_256", "SIGN_VERIFY"),
        ("HMAC_256", "ENCRYPT_DECRYPT"),
        ("ECC_NIST_P256", "ENCRYPT_DECRYPT"),
        ("ECC_NIST_P384", "GENERATE_VERIFY_MAC"),
        ("SYMMETRIC_DEFAULT", "SIGN_VERIFY"),
        ("SYMMETRIC_DEFAULT", "KEY_AGREEMENT"),
        ("RSA_2048", "GENERATE_VERIFY_MAC"),
        ("RSA_2048", "KEY_AGREEMENT"),
    ],
    ids=lambda v: v,
)
def test_create_key_invalid_spec_usage_combination(kms, spec, usage):
    with expect_error("ValidationException"):
        kms.create_key(KeySpec=spec, KeyUsage=usage)


def test_create_key_hmac_requires_explicit_mac_usage(kms):
    # KeyUsage defaults to ENCRYPT_DECRYPT, which is not valid for HMAC keys.
    with expect_error("ValidationException"):
        kms.create_key(KeySpec="HMAC_256")


@pytest.mark.parametrize("spec", ["RSA_1024", "ECC_NIST_P192", "AES_256", ""], ids=repr)
def test_create_key_unknown_key_spec(kms, spec):
    with expect_error("ValidationException"):
        kms.create_key(KeySpec=spec, KeyUsage="SIGN_VERIFY")


def test_create_key_unknown_key_usage(kms):
    with expect_error("ValidationException"):
        kms.create_key(KeySpec="RSA_2048", KeyUsage="SIGN")


def test_create_multi_region_key(kms, keys):
    meta = keys.create(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY", MultiRegion=True)
    assert MRK_KEY_ID_RE.fullmatch(meta["KeyId"]), meta["KeyId"]
    assert meta["Arn"].endswith(":key/" + meta["KeyId"])
    assert meta["MultiRegion"] is True
    described = kms.describe_key(KeyId=meta["KeyId"])["KeyMetadata"]
    assert described["KeyId"] == meta["KeyId"]
    assert described["MultiRegion"] is True
    # A multi-Region key signs like any other key.
    sig = kms.sign(
        KeyId=meta["KeyId"], Message=b"mrk", MessageType="RAW", SigningAlgorithm="ECDSA_SHA_256"
    )
    assert sig["Signature"]


def test_create_key_with_tags(kms, keys):
    tags = [
        {"TagKey": "project", "TagValue": "kms11"},
        {"TagKey": "purpose", "TagValue": "contract test"},
    ]
    meta = keys.create(KeySpec="RSA_2048", KeyUsage="SIGN_VERIFY", Tags=tags)
    listed = kms.list_resource_tags(KeyId=meta["KeyId"])
    got = {(t["TagKey"], t["TagValue"]) for t in listed["Tags"]}
    assert got == {(t["TagKey"], t["TagValue"]) for t in tags}
    assert listed.get("Truncated", False) is False


@pytest.fixture(scope="module")
def aliased_key(kms, keys):
    meta = keys.create(KeySpec="ECC_NIST_P384", KeyUsage="SIGN_VERIFY")
    alias = unique_alias("describe")
    kms.create_alias(AliasName=alias, TargetKeyId=meta["KeyId"])
    return meta, alias


@pytest.mark.parametrize("ref", ["key_id", "key_arn", "alias_name", "alias_arn"])
def test_describe_key_by_reference(kms, aliased_key, ref):
    meta, alias = aliased_key
    key_ref = {
        "key_id": meta["KeyId"],
        "key_arn": meta["Arn"],
        "alias_name": alias,
        "alias_arn": alias_arn(meta["Arn"], alias),
    }[ref]
    described = kms.describe_key(KeyId=key_ref)["KeyMetadata"]
    assert described["KeyId"] == meta["KeyId"]
    assert described["Arn"] == meta["Arn"]
    assert described["KeySpec"] == "ECC_NIST_P384"


@pytest.mark.parametrize(
    "key_ref",
    [
        str(uuid.uuid4()),
        f"arn:aws:kms:{REGION}:111122223333:key/{uuid.uuid4()}",
        "alias/kms11-contract-does-not-exist",
        "not-a-key-id",
    ],
    ids=["uuid", "arn", "alias", "garbage"],
)
def test_describe_key_not_found(kms, key_ref):
    with expect_error("NotFoundException"):
        kms.describe_key(KeyId=key_ref)


def test_describe_key_not_found_in_this_account(kms, account):
    with expect_error("NotFoundException"):
        kms.describe_key(KeyId=f"arn:aws:kms:{REGION}:{account}:key/{uuid.uuid4()}")


def test_list_keys_pagination(kms, keys):
    created = {keys.create()["KeyId"] for _ in range(5)}
    listed = paginate(kms.list_keys, "Keys", limit=2)
    seen = [entry["KeyId"] for entry in listed]
    arns = {entry["KeyId"]: entry["KeyArn"] for entry in listed}
    assert len(seen) == len(set(seen)), "a key was listed twice"
    for key_id in created:
        assert seen.count(key_id) == 1, f"{key_id} seen {seen.count(key_id)} times"
        assert arns[key_id].endswith(":key/" + key_id)
        assert key_arn_re().fullmatch(arns[key_id]), arns[key_id]


def test_list_keys_without_limit_lists_new_key(kms, keys):
    key_id = keys.create()["KeyId"]
    assert key_id in [entry["KeyId"] for entry in paginate(kms.list_keys, "Keys")]
