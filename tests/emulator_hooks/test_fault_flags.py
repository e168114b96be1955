"""Fault injection configured at start: command-line flags and their env forms."""

from __future__ import annotations

import time

import pytest

import emuhelp
from emuhelp import DROPPED, outcome, random_call, random_outcomes
from kmshelp import expect_error, make_client


def seeded_sign_keys(tmp_path):
    """A seed file with two P-256 signing keys, one aliased alias/denied."""
    denied = "1234abcd-12ab-34cd-56ef-1234567890ab"
    allowed = "0987dcba-09fe-87dc-65ba-ab0987654321"
    path = emuhelp.write_seed(
        tmp_path / "seed.json",
        [
            emuhelp.seed_key("ECC_NIST_P256", "SIGN_VERIFY", KeyId=denied, Aliases=["alias/denied"]),
            emuhelp.seed_key("ECC_NIST_P256", "SIGN_VERIFY", KeyId=allowed, Aliases=["alias/allowed"]),
        ],
    )
    return path, denied, allowed


def sign(kms, key_ref):
    return kms.sign(KeyId=key_ref, Message=b"m", MessageType="RAW", SigningAlgorithm="ECDSA_SHA_256")


# ---------------------------------------------------------------- throttling


def test_throttle_every_flag(start_emulator):
    url = start_emulator("--throttle-every", 3)
    kms = make_client(url)
    results = random_outcomes(kms, 9)
    throttled = [i + 1 for i, r in enumerate(results) if r != "ok"]
    assert throttled == [3, 6, 9], results
    assert set(results) == {"ok", "ThrottlingException"}, results
    assert emuhelp.stats(url)["injected"]["throttled"] == 3


def test_throttle_rps_flag(start_emulator):
    rps = 2
    url = start_emulator("--throttle-rps", rps)
    kms = make_client(url)
    start = time.monotonic()
    results = random_outcomes(kms, 20)
    elapsed = time.monotonic() - start
    ok = results.count("ok")
    assert set(results) <= {"ok", "ThrottlingException"}, results
    # A token bucket lets through at most rate × time plus its burst (allow up to 2 s of burst).
    assert ok <= rps * elapsed + 2 * rps, (ok, elapsed, results)
    assert emuhelp.stats(url)["injected"]["throttled"] == results.count("ThrottlingException")
    time.sleep(1.5)
    assert outcome(random_call, kms) == "ok", "the bucket did not refill"


# ---------------------------------------------------------------- errors


def test_error_rate_one(start_emulator):
    url = start_emulator("--error-rate", 1)
    kms = make_client(url)
    for _ in range(5):
        with expect_error("KMSInternalException", status=500):
            random_call(kms)
    assert emuhelp.stats(url)["injected"]["errors"] == 5


def test_error_rate_fraction(start_emulator):
    url = start_emulator("--error-rate", 0.5)
    kms = make_client(url)
    results = random_outcomes(kms, 100)
    errors = results.count("KMSInternalException")
    assert set(results) <= {"ok", "KMSInternalException"}, results
    # Binomial(100, 0.5): outside 20..80 has probability ~1e-9.
    assert 20 <= errors <= 80, errors
    assert emuhelp.stats(url)["injected"]["errors"] == errors


def test_error_rate_zero_is_off(start_emulator):
    url = start_emulator("--error-rate", 0)
    kms = make_client(url)
    assert random_outcomes(kms, 20) == ["ok"] * 20


# ---------------------------------------------------------------- drops


def test_drop_rate_one(start_emulator):
    url = start_emulator("--drop-rate", 1)
    kms = make_client(url, read_timeout=10)
    for _ in range(3):
        with pytest.raises(DROPPED):
            random_call(kms)
    assert emuhelp.stats(url)["injected"]["dropped"] == 3


def test_drop_rate_fraction(start_emulator):
    url = start_emulator("--drop-rate", 0.5)
    kms = make_client(url, read_timeout=10)
    results = random_outcomes(kms, 40)
    assert set(results) == {"ok", "dropped"}, results
    assert emuhelp.stats(url)["injected"]["dropped"] == results.count("dropped")


# ---------------------------------------------------------------- deny


def test_deny_flag_only_named_operation_and_key(start_emulator, tmp_path):
    seed, denied, allowed = seeded_sign_keys(tmp_path)
    url = start_emulator("--seed", seed, "--deny", "Sign:alias/denied")
    kms = make_client(url)
    arn = kms.describe_key(KeyId=denied)["KeyMetadata"]["Arn"]
    # The denied key, however it is named.
    for ref in ("alias/denied", denied, arn):
        with expect_error("AccessDeniedException"):
            sign(kms, ref)
    # Other operations on the denied key still work.
    kms.get_public_key(KeyId="alias/denied")
    kms.describe_key(KeyId=denied)
    # The same operation on another key works.
    assert sign(kms, allowed)["Signature"]
    assert sign(kms, "alias/allowed")["Signature"]
    assert emuhelp.stats(url)["injected"]["denied"] == 3


def test_deny_flag_by_key_id(start_emulator, tmp_path):
    seed, denied, allowed = seeded_sign_keys(tmp_path)
    url = start_emulator("--seed", seed, "--deny", f"GetPublicKey:{denied}")
    kms = make_client(url)
    with expect_error("AccessDeniedException"):
        kms.get_public_key(KeyId="alias/denied")
    assert sign(kms, denied)["Signature"]
    kms.get_public_key(KeyId=allowed)


def test_deny_flag_wildcard_key(start_emulator, tmp_path):
    seed, denied, allowed = seeded_sign_keys(tmp_path)
    url = start_emulator("--seed", seed, "--deny", "Sign:*")
    kms = make_client(url)
    for ref in (denied, allowed):
        with expect_error("AccessDeniedException"):
            sign(kms, ref)
        kms.get_public_key(KeyId=ref)
    random_call(kms)


def test_deny_flag_repeatable(start_emulator, tmp_path):
    seed, denied, allowed = seeded_sign_keys(tmp_path)
    url = start_emulator(
        "--seed", seed, "--deny", "Sign:alias/denied", "--deny", "GetPublicKey:alias/allowed"
    )
    kms = make_client(url)
    with expect_error("AccessDeniedException"):
        sign(kms, denied)
    with expect_error("AccessDeniedException"):
        kms.get_public_key(KeyId=allowed)
    kms.get_public_key(KeyId=denied)
    assert sign(kms, allowed)["Signature"]


# ---------------------------------------------------------------- latency


def test_latency_flag(start_emulator):
    url = start_emulator("--latency-ms", 300)
    kms = make_client(url)
    random_call(kms)  # connection set-up out of the way
    _, seconds = emuhelp.timed(random_call, kms)
    assert seconds >= 0.3, seconds


# ---------------------------------------------------------------- env forms


def test_env_latency(start_emulator):
    kms = make_client(start_emulator(env={"KMS11_EMULATOR_LATENCY_MS": "300"}))
    random_call(kms)
    _, seconds = emuhelp.timed(random_call, kms)
    assert seconds >= 0.3, seconds


def test_env_throttle_every(start_emulator):
    kms = make_client(start_emulator(env={"KMS11_EMULATOR_THROTTLE_EVERY": "2"}))
    assert random_outcomes(kms, 4) == ["ok", "ThrottlingException"] * 2


def test_env_throttle_rps(start_emulator):
    kms = make_client(start_emulator(env={"KMS11_EMULATOR_THROTTLE_RPS": "1"}))
    results = random_outcomes(kms, 10)
    assert set(results) <= {"ok", "ThrottlingException"}, results
    assert "ThrottlingException" in results, results
    time.sleep(1.5)
    assert outcome(random_call, kms) == "ok", "the bucket did not refill"


def test_env_error_rate(start_emulator):
    kms = make_client(start_emulator(env={"KMS11_EMULATOR_ERROR_RATE": "1"}))
    with expect_error("KMSInternalException", status=500):
        random_call(kms)


def test_env_drop_rate(start_emulator):
    kms = make_client(start_emulator(env={"KMS11_EMULATOR_DROP_RATE": "1"}), read_timeout=10)
    with pytest.raises(DROPPED):
        random_call(kms)


def test_env_deny(start_emulator, tmp_path):
    seed, denied, allowed = seeded_sign_keys(tmp_path)
    url = start_emulator(
        "--seed", seed, env={"KMS11_EMULATOR_DENY": "Sign:alias/denied,GetPublicKey:alias/allowed"}
    )
    kms = make_client(url)
    with expect_error("AccessDeniedException"):
        sign(kms, "alias/denied")
    with expect_error("AccessDeniedException"):
        kms.get_public_key(KeyId="alias/allowed")
    assert sign(kms, "alias/allowed")["Signature"]
    kms.get_public_key(KeyId="alias/denied")


def test_no_faults_by_default(start_emulator):
    url = start_emulator()
    kms = make_client(url)
    assert random_outcomes(kms, 20) == ["ok"] * 20
    injected = emuhelp.stats(url)["injected"]
    assert injected == {"throttled": 0, "errors": 0, "dropped": 0, "blackholed": 0, "denied": 0, "wrong_signatures": 0}, injected


# ---------------------------------------------------------------- wrong signatures


@pytest.mark.parametrize("spec,algorithm", [("ECC_NIST_P256", "ECDSA_SHA_256"),
                                            ("RSA_2048", "RSASSA_PKCS1_V1_5_SHA_256")])
def test_wrong_signature_rate_one(start_emulator, tmp_path, spec, algorithm):
    """Every Sign answer holds a signature of the right form that does not
    verify; Verify and the public key are untouched."""
    from kmshelp import load_public_key, verify_signature
    from cryptography.exceptions import InvalidSignature
    seed = emuhelp.write_seed(tmp_path / "seed.json", [emuhelp.seed_key(spec, "SIGN_VERIFY", Aliases=["alias/k"])])
    url = start_emulator("--seed", seed, "--wrong-signature-rate", 1)
    kms = make_client(url)
    public = load_public_key(kms.get_public_key(KeyId="alias/k")["PublicKey"])
    for i in range(3):
        message = b"message %d" % i
        sig = kms.sign(KeyId="alias/k", Message=message, MessageType="RAW", SigningAlgorithm=algorithm)["Signature"]
        with pytest.raises(InvalidSignature):
            verify_signature(public, algorithm, sig, message)
        if spec.startswith("RSA"):
            assert len(sig) == 256
        else:
            # Still DER that parses as (r, s).
            from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
            decode_dss_signature(sig)
    assert emuhelp.stats(url)["injected"]["wrong_signatures"] == 3
    emuhelp.set_faults(url)
    sig = kms.sign(KeyId="alias/k", Message=b"m", MessageType="RAW", SigningAlgorithm=algorithm)["Signature"]
    verify_signature(public, algorithm, sig, b"m")


def test_wrong_signature_rate_out_of_range_is_refused():
    import subprocess
    from kmshelp import emulator_binary
    r = subprocess.run([str(emulator_binary()), "--port", "0", "--wrong-signature-rate", "1.5"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode != 0 and "wrong_signature_rate must be between 0 and 1" in r.stderr
