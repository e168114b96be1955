"""Command-line basics: URL line, --host, --port, --region, --account."""

from __future__ import annotations

import re

import pytest

from kmshelp import free_port, key_arn_re, make_client


def test_url_line_and_free_port(start_emulator):
    url = start_emulator()
    m = re.fullmatch(r"http://127\.0\.0\.1:(\d+)", url)
    assert m, url
    assert int(m.group(1)) > 0
    make_client(url).generate_random(NumberOfBytes=4)


def test_two_emulators_get_different_ports(start_emulator):
    assert start_emulator() != start_emulator()


def test_explicit_host_and_port(start_emulator):
    port = free_port()
    url = start_emulator("--host", "127.0.0.1", "--port", port)
    assert url == f"http://127.0.0.1:{port}"
    make_client(url).generate_random(NumberOfBytes=4)


def test_default_region_and_account(start_emulator):
    meta = make_client(start_emulator()).create_key()["KeyMetadata"]
    m = key_arn_re("us-east-1").fullmatch(meta["Arn"])
    assert m, meta["Arn"]
    assert m.group(1) == "111122223333"
    assert meta["AWSAccountId"] == "111122223333"


@pytest.mark.parametrize("region", ["eu-west-1", "ap-southeast-2"])
def test_region_and_account_flags(start_emulator, region):
    url = start_emulator("--region", region, "--account", "123456789012")
    kms = make_client(url, region=region)
    meta = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]
    assert key_arn_re(region).fullmatch(meta["Arn"]), meta["Arn"]
    assert meta["Arn"].startswith(f"arn:aws:kms:{region}:123456789012:key/")
    assert meta["AWSAccountId"] == "123456789012"
    kms.create_alias(AliasName="alias/regional", TargetKeyId=meta["KeyId"])
    alias_arn = f"arn:aws:kms:{region}:123456789012:alias/regional"
    assert kms.describe_key(KeyId=alias_arn)["KeyMetadata"]["KeyId"] == meta["KeyId"]
    assert kms.get_public_key(KeyId="alias/regional")["KeyId"] == meta["Arn"]
