"""GetPublicKey."""

from __future__ import annotations

import uuid

import pytest

from kmshelp import (
    ALGORITHM_FIELDS,
    ECC_AGREEMENT_SPECS,
    ECC_SIGN_SPECS,
    HMAC_SPECS,
    RSA_SPECS,
    alias_arn,
    check_public_key_matches_spec,
    expect_error,
    expected_algorithm_fields,
    load_public_key,
    unique_alias,
)

ASYMMETRIC = (
    [(s, "SIGN_VERIFY") for s in RSA_SPECS]
    + [(s, "ENCRYPT_DECRYPT") for s in RSA_SPECS]
    + [(s, "SIGN_VERIFY") for s in ECC_SIGN_SPECS]
    + [(s, "KEY_AGREEMENT") for s in ECC_AGREEMENT_SPECS]
)


@pytest.mark.parametrize(("spec", "usage"), ASYMMETRIC, ids=lambda v: v)
def test_get_public_key_der(kms, keys, spec, usage):
    meta = keys.shared(spec, usage)
    resp = kms.get_public_key(KeyId=meta["KeyId"])
    public_key = load_public_key(resp["PublicKey"])
    check_public_key_matches_spec(public_key, spec)


@pytest.mark.parametrize(("spec", "usage"), ASYMMETRIC, ids=lambda v: v)
def test_get_public_key_fields(kms, keys, spec, usage):
    meta = keys.shared(spec, usage)
    resp = kms.get_public_key(KeyId=meta["KeyId"])
    assert resp["KeySpec"] == spec
    assert resp["KeyUsage"] == usage
    expected = expected_algorithm_fields(spec, usage)
    for field in ALGORITHM_FIELDS:
        if field in expected:
            assert set(resp.get(field, ())) == expected[field], (field, resp.get(field))
        else:
            assert field not in resp, f"{field} must not be listed for {spec}/{usage}"


def test_get_public_key_is_stable(kms, keys):
    meta = keys.shared("ECC_NIST_P256", "SIGN_VERIFY")
    first = kms.get_public_key(KeyId=meta["KeyId"])["PublicKey"]
    second = kms.get_public_key(KeyId=meta["Arn"])["PublicKey"]
    assert first == second


def test_distinct_keys_have_distinct_public_keys(kms, keys):
    a = keys.create(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")
    b = keys.create(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")
    assert (
        kms.get_public_key(KeyId=a["KeyId"])["PublicKey"]
        != kms.get_public_key(KeyId=b["KeyId"])["PublicKey"]
    )


@pytest.mark.parametrize("ref", ["key_id", "key_arn", "alias_name", "alias_arn"])
def test_get_public_key_by_reference(kms, keys, ref):
    meta = keys.shared("RSA_2048", "SIGN_VERIFY")
    alias = unique_alias("pubkey")
    kms.create_alias(AliasName=alias, TargetKeyId=meta["KeyId"])
    key_ref = {
        "key_id": meta["KeyId"],
        "key_arn": meta["Arn"],
        "alias_name": alias,
        "alias_arn": alias_arn(meta["Arn"], alias),
    }[ref]
    resp = kms.get_public_key(KeyId=key_ref)
    assert resp["PublicKey"] == kms.get_public_key(KeyId=meta["KeyId"])["PublicKey"]


@pytest.mark.parametrize(
    ("spec", "usage"),
    [("SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT")] + [(s, "GENERATE_VERIFY_MAC") for s in HMAC_SPECS],
    ids=lambda v: v,
)
def test_get_public_key_unsupported_for_symmetric_and_hmac(kms, keys, spec, usage):
    meta = keys.shared(spec, usage)
    with expect_error("UnsupportedOperationException"):
        kms.get_public_key(KeyId=meta["KeyId"])


def test_get_public_key_not_found(kms):
    with expect_error("NotFoundException"):
        kms.get_public_key(KeyId=str(uuid.uuid4()))
    with expect_error("NotFoundException"):
        kms.get_public_key(KeyId="alias/kms11-contract-no-such-alias")
