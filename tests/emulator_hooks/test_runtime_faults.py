"""Fault configuration replaced at run time through /_emulator/faults."""

from __future__ import annotations

import pytest

import emuhelp
from emuhelp import DROPPED, random_call, random_outcomes
from kmshelp import expect_error, make_client

OFF = {
    "latency_ms": 0,
    "slow_rate": 0,
    "slow_ms": 0,
    "blackhole": False,
    "throttle_every": 0,
    "throttle_rps": 0,
    "error_rate": 0,
    "drop_rate": 0,
    "wrong_signature_rate": 0,
    "deny": [],
}


def assert_faults_off(url):
    faults = emuhelp.get_faults(url)
    for field, value in OFF.items():
        assert faults.get(field) == value, f"{field}={faults.get(field)!r}: {faults}"


def test_faults_are_off_at_start(start_emulator):
    assert_faults_off(start_emulator())


def test_get_faults_reflects_flags(start_emulator):
    url = start_emulator(
        "--latency-ms", 5, "--throttle-every", 7, "--error-rate", 0.25, "--deny", "Sign:alias/x"
    )
    faults = emuhelp.get_faults(url)
    assert faults["latency_ms"] == 5
    assert faults["throttle_every"] == 7
    assert faults["error_rate"] == pytest.approx(0.25)
    assert faults["deny"] == [{"operation": "Sign", "key": "alias/x"}]
    assert faults["drop_rate"] == 0
    assert faults["throttle_rps"] == 0


def test_error_rate_on_and_off(start_emulator):
    url = start_emulator()
    kms = make_client(url)
    random_call(kms)
    emuhelp.set_faults(url, error_rate=1.0)
    assert emuhelp.get_faults(url)["error_rate"] == pytest.approx(1.0)
    with expect_error("KMSInternalException", status=500):
        random_call(kms)
    # Admin endpoints are not subject to faults: they still answer.
    emuhelp.stats(url)
    emuhelp.set_faults(url)
    assert_faults_off(url)
    random_call(kms)


def test_post_replaces_whole_configuration(start_emulator):
    url = start_emulator("--throttle-every", 2, "--latency-ms", 50)
    kms = make_client(url)
    emuhelp.set_faults(url, error_rate=0.0)
    assert_faults_off(url)
    assert random_outcomes(kms, 6) == ["ok"] * 6


def test_throttle_every_at_run_time(start_emulator):
    url = start_emulator()
    kms = make_client(url)
    emuhelp.set_faults(url, throttle_every=2)
    codes = random_outcomes(kms, 4)
    assert sorted(codes) == ["ThrottlingException"] * 2 + ["ok"] * 2, codes
    emuhelp.set_faults(url)
    assert random_outcomes(kms, 4) == ["ok"] * 4


def test_throttle_rps_at_run_time(start_emulator):
    url = start_emulator()
    kms = make_client(url)
    emuhelp.set_faults(url, throttle_rps=1.0)
    codes = random_outcomes(kms, 10)
    assert set(codes) <= {"ok", "ThrottlingException"}, codes
    assert "ThrottlingException" in codes, codes
    assert emuhelp.get_faults(url)["throttle_rps"] == pytest.approx(1.0)
    emuhelp.set_faults(url)
    assert random_outcomes(kms, 10) == ["ok"] * 10


def test_drop_rate_at_run_time(start_emulator):
    url = start_emulator()
    kms = make_client(url, read_timeout=10)
    emuhelp.set_faults(url, drop_rate=1.0)
    with pytest.raises(DROPPED):
        random_call(kms)
    emuhelp.set_faults(url)
    random_call(kms)


def test_latency_at_run_time(start_emulator):
    url = start_emulator()
    kms = make_client(url)
    random_call(kms)
    emuhelp.set_faults(url, latency_ms=300)
    _, seconds = emuhelp.timed(random_call, kms)
    assert seconds >= 0.3, seconds
    emuhelp.set_faults(url)
    assert emuhelp.get_faults(url)["latency_ms"] == 0


def test_deny_at_run_time(start_emulator):
    url = start_emulator()
    kms = make_client(url)
    key = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]
    other = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]
    kms.create_alias(AliasName="alias/runtime-deny", TargetKeyId=key["KeyId"])

    def sign(ref):
        return kms.sign(KeyId=ref, Message=b"m", MessageType="RAW", SigningAlgorithm="ECDSA_SHA_256")

    sign(key["KeyId"])
    emuhelp.set_faults(url, deny=[{"operation": "Sign", "key": "alias/runtime-deny"}])
    assert emuhelp.get_faults(url)["deny"] == [{"operation": "Sign", "key": "alias/runtime-deny"}]
    for ref in (key["KeyId"], key["Arn"], "alias/runtime-deny"):
        with expect_error("AccessDeniedException"):
            sign(ref)
    sign(other["KeyId"])
    kms.get_public_key(KeyId=key["KeyId"])
    emuhelp.set_faults(url)
    sign("alias/runtime-deny")
