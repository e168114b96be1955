"""Key policies: CreateKey's Policy, GetKeyPolicy, PutKeyPolicy, ListKeyPolicies.

kms11 sends CreateKey a Policy when a key-generation template carries
CKA_KMS11_KEY_POLICY; these tests pin down what KMS keeps and refuses.
"""

from __future__ import annotations

import json

import pytest

from kmshelp import expect_error, unique_alias


def policy_of(kms, key_ref, **extra) -> dict:
    return json.loads(kms.get_key_policy(KeyId=key_ref, **extra)["Policy"])


def custom_policy(account: str, sid: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Id": "kms11-contract",
            "Statement": [
                {
                    "Sid": sid,
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                    "Action": "kms:*",
                    "Resource": "*",
                }
            ],
        },
        ensure_ascii=False,
    )


def test_key_without_policy_gets_the_default_policy(kms, keys, account):
    meta = keys.create(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")
    doc = policy_of(kms, meta["KeyId"], PolicyName="default")
    assert doc["Version"] == "2012-10-17"
    (statement,) = doc["Statement"]
    assert statement["Effect"] == "Allow"
    assert statement["Principal"] == {"AWS": f"arn:aws:iam::{account}:root"}
    assert statement["Action"] == "kms:*"


def test_create_key_keeps_its_policy(kms, keys, account):
    policy = custom_policy(account, "kms11-create")
    meta = keys.create(KeySpec="RSA_2048", KeyUsage="SIGN_VERIFY", Policy=policy)
    assert policy_of(kms, meta["KeyId"], PolicyName="default") == json.loads(policy)
    assert policy_of(kms, meta["Arn"], PolicyName="default") == json.loads(policy)


def test_get_key_policy_name_defaults_to_default(kms, keys):
    meta = keys.shared("ECC_NIST_P256", "SIGN_VERIFY")
    answer = kms.get_key_policy(KeyId=meta["KeyId"])
    assert json.loads(answer["Policy"])["Statement"]
    assert answer["PolicyName"] == "default"


@pytest.mark.parametrize(
    "policy",
    [
        "not json",
        "[]",
        '{"Version": "2012-10-17"}',
        '{"Version": "2012-10-17", "Statement": []}',
    ],
    ids=["text", "array", "no-statement", "empty-statement"],
)
def test_create_key_malformed_policy(kms, policy):
    with expect_error("MalformedPolicyDocumentException"):
        kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY", Policy=policy)


def test_create_key_policy_too_long(kms, account):
    policy = custom_policy(account, "x" * 32768)
    with expect_error("ValidationException"):
        kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY", Policy=policy)


def test_create_key_policy_outside_latin1(kms, account):
    policy = custom_policy(account, "signing \u2713")
    with expect_error("ValidationException"):
        kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY", Policy=policy)


def test_put_key_policy_replaces_it(kms, keys, account):
    meta = keys.create(KeySpec="ECC_NIST_P384", KeyUsage="SIGN_VERIFY")
    policy = custom_policy(account, "kms11-put")
    kms.put_key_policy(KeyId=meta["KeyId"], PolicyName="default", Policy=policy)
    assert policy_of(kms, meta["KeyId"], PolicyName="default") == json.loads(policy)


def test_put_malformed_policy_changes_nothing(kms, keys, account):
    policy = custom_policy(account, "kms11-kept")
    meta = keys.create(KeySpec="ECC_NIST_P384", KeyUsage="SIGN_VERIFY", Policy=policy)
    with expect_error("MalformedPolicyDocumentException"):
        kms.put_key_policy(KeyId=meta["KeyId"], PolicyName="default", Policy="{")
    assert policy_of(kms, meta["KeyId"], PolicyName="default") == json.loads(policy)


def test_other_policy_names_do_not_exist(kms, keys):
    meta = keys.shared("ECC_NIST_P256", "SIGN_VERIFY")
    with expect_error("NotFoundException"):
        kms.get_key_policy(KeyId=meta["KeyId"], PolicyName="other")


def test_key_policy_operations_take_no_alias(kms, keys):
    meta = keys.shared("ECC_NIST_P256", "SIGN_VERIFY")
    alias = unique_alias("policy")
    kms.create_alias(AliasName=alias, TargetKeyId=meta["KeyId"])
    try:
        with expect_error("NotFoundException"):
            kms.get_key_policy(KeyId=alias, PolicyName="default")
    finally:
        kms.delete_alias(AliasName=alias)


def test_list_key_policies(kms, keys):
    meta = keys.shared("ECC_NIST_P256", "SIGN_VERIFY")
    answer = kms.list_key_policies(KeyId=meta["KeyId"])
    assert answer["PolicyNames"] == ["default"]
    assert answer.get("Truncated", False) is False


def test_key_policy_of_missing_key(kms):
    with expect_error("NotFoundException"):
        kms.get_key_policy(
            KeyId="11111111-2222-3333-4444-555555555555", PolicyName="default"
        )
