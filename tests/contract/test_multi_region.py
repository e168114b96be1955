"""Multi-Region keys: CreateKey MultiRegion, ReplicateKey, DescribeKey's
MultiRegionConfiguration. kms11 fails over to a replica only because a
replica has the primary's key ID and public key, and signs like it; these
tests pin that down, and that aliases stay regional."""

from __future__ import annotations

import pytest

from kmshelp import expect_error, load_public_key, make_client, unique_alias, verify_signature

REPLICA_REGION = "us-west-2"
MESSAGE = b"signed in either region"


@pytest.fixture(scope="module")
def west(endpoint):
    return make_client(endpoint, region=REPLICA_REGION)


@pytest.fixture(scope="module")
def replicated(kms, keys, west):
    """A multi-Region P-256 signing key and its replica in us-west-2."""
    primary = keys.create(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY", MultiRegion=True)
    answer = kms.replicate_key(
        KeyId=primary["KeyId"],
        ReplicaRegion=REPLICA_REGION,
        Description="the western replica",
        Tags=[{"TagKey": "replica", "TagValue": "yes"}],
    )
    yield primary, answer
    try:
        west.schedule_key_deletion(KeyId=primary["KeyId"], PendingWindowInDays=7)
    except Exception:  # noqa: BLE001 - best effort on a shared endpoint
        pass


def test_replica_has_the_primarys_key_id_in_its_own_region(replicated):
    primary, answer = replicated
    meta = answer["ReplicaKeyMetadata"]
    assert meta["KeyId"] == primary["KeyId"]
    assert meta["Arn"] == primary["Arn"].replace(":us-east-1:", f":{REPLICA_REGION}:")
    assert meta["MultiRegion"] is True
    config = meta["MultiRegionConfiguration"]
    assert config["MultiRegionKeyType"] == "REPLICA"
    assert config["PrimaryKey"] == {"Arn": primary["Arn"], "Region": "us-east-1"}
    assert (meta["KeySpec"], meta["KeyUsage"]) == ("ECC_NIST_P256", "SIGN_VERIFY")


def test_describe_key_lists_the_replicas(kms, west, replicated):
    primary, answer = replicated
    replica_arn = answer["ReplicaKeyMetadata"]["Arn"]
    config = kms.describe_key(KeyId=primary["KeyId"])["KeyMetadata"]["MultiRegionConfiguration"]
    assert config["MultiRegionKeyType"] == "PRIMARY"
    assert config["PrimaryKey"] == {"Arn": primary["Arn"], "Region": "us-east-1"}
    assert {"Arn": replica_arn, "Region": REPLICA_REGION} in config["ReplicaKeys"]
    # The replica, asked in its own region by the shared key ID.
    meta = west.describe_key(KeyId=primary["KeyId"])["KeyMetadata"]
    assert meta["Arn"] == replica_arn
    assert meta["Description"] == "the western replica"
    assert meta["MultiRegionConfiguration"]["MultiRegionKeyType"] == "REPLICA"


def test_replica_signs_with_the_primarys_public_key(kms, west, replicated):
    primary, _ = replicated
    public = kms.get_public_key(KeyId=primary["KeyId"])["PublicKey"]
    assert west.get_public_key(KeyId=primary["KeyId"])["PublicKey"] == public
    answer = west.sign(
        KeyId=primary["KeyId"], Message=MESSAGE, MessageType="RAW", SigningAlgorithm="ECDSA_SHA_256"
    )
    assert answer["KeyId"].split(":")[3] == REPLICA_REGION
    verify_signature(load_public_key(public), "ECDSA_SHA_256", answer["Signature"], MESSAGE)


def test_replica_has_its_own_tags(west, replicated):
    primary, _ = replicated
    tags = west.list_resource_tags(KeyId=primary["KeyId"])["Tags"]
    assert {(t["TagKey"], t["TagValue"]) for t in tags} == {("replica", "yes")}


def test_aliases_are_regional(kms, west, replicated):
    primary, _ = replicated
    alias = unique_alias("mrk")
    kms.create_alias(AliasName=alias, TargetKeyId=primary["KeyId"])
    try:
        with expect_error("NotFoundException"):
            west.describe_key(KeyId=alias)
        west.create_alias(AliasName=alias, TargetKeyId=primary["KeyId"])
        assert west.describe_key(KeyId=alias)["KeyMetadata"]["Arn"].split(":")[3] == REPLICA_REGION
        west.delete_alias(AliasName=alias)
    finally:
        kms.delete_alias(AliasName=alias)


def test_a_single_region_key_is_not_replicated(kms, keys):
    meta = keys.shared("ECC_NIST_P256", "SIGN_VERIFY")
    with expect_error("UnsupportedOperationException"):
        kms.replicate_key(KeyId=meta["KeyId"], ReplicaRegion=REPLICA_REGION)


def test_a_second_replica_in_the_same_region_is_refused(kms, replicated):
    primary, _ = replicated
    with expect_error("AlreadyExistsException"):
        kms.replicate_key(KeyId=primary["KeyId"], ReplicaRegion=REPLICA_REGION)


def test_a_replica_is_not_replicated(west, replicated):
    primary, _ = replicated
    with expect_error("UnsupportedOperationException"):
        west.replicate_key(KeyId=primary["KeyId"], ReplicaRegion="eu-west-1")


def test_a_replica_in_the_primarys_region_is_refused(kms, keys):
    meta = keys.create(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY", MultiRegion=True)
    with expect_error("ValidationException", "AlreadyExistsException"):
        kms.replicate_key(KeyId=meta["KeyId"], ReplicaRegion="us-east-1")


def test_a_key_without_a_replica_is_not_found_in_another_region(keys, endpoint):
    meta = keys.create(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY", MultiRegion=True)
    with expect_error("NotFoundException"):
        make_client(endpoint, region="eu-west-1").describe_key(KeyId=meta["KeyId"])
