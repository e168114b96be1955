"""Counters at /_emulator/stats and their reset."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import emuhelp
from emuhelp import random_call
from kmshelp import make_client

THREADS = 8


def sign(kms, key_id):
    return kms.sign(KeyId=key_id, Message=b"m", MessageType="RAW", SigningAlgorithm="ECDSA_SHA_256")


def test_stats_shape_at_start(start_emulator):
    s = emuhelp.stats(start_emulator())
    assert {op: n for op, n in s["requests"].items() if n} == {}
    assert s["in_flight"] == 0
    assert s["peak_in_flight"] == 0
    assert s["injected"] == {"throttled": 0, "errors": 0, "dropped": 0, "blackholed": 0, "denied": 0, "wrong_signatures": 0}
    assert isinstance(s["connections"], int)


def test_requests_counted_per_operation(start_emulator):
    url = start_emulator()
    kms = make_client(url)
    key_id = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
    emuhelp.reset_stats(url)
    for _ in range(3):
        sign(kms, key_id)
    kms.get_public_key(KeyId=key_id)
    random_call(kms)
    random_call(kms)
    assert emuhelp.request_counts(url) == {"Sign": 3, "GetPublicKey": 1, "GenerateRandom": 2}


def test_admin_requests_are_not_counted(start_emulator):
    url = start_emulator()
    random_call(make_client(url))
    for _ in range(3):
        emuhelp.stats(url)
        emuhelp.get_faults(url)
    assert emuhelp.request_counts(url) == {"GenerateRandom": 1}


def test_reset_zeroes_counters(start_emulator):
    url = start_emulator("--latency-ms", 50)
    kms = make_client(url)
    for _ in range(3):
        random_call(kms)
    before = emuhelp.stats(url)
    assert before["requests"]["GenerateRandom"] == 3
    assert before["peak_in_flight"] >= 1
    emuhelp.reset_stats(url)
    after = emuhelp.stats(url)
    assert {op: n for op, n in after["requests"].items() if n} == {}
    assert after["peak_in_flight"] == 0
    assert after["in_flight"] == 0


def test_reset_zeroes_injected_counters(start_emulator):
    url = start_emulator("--error-rate", 1)
    emuhelp.random_outcomes(make_client(url), 2)
    assert emuhelp.stats(url)["injected"]["errors"] == 2
    emuhelp.reset_stats(url)
    assert emuhelp.stats(url)["injected"]["errors"] == 0


def test_connections_counted(start_emulator):
    url = start_emulator()
    emuhelp.reset_stats(url)
    for _ in range(3):
        random_call(make_client(url))  # a new client opens a new connection
    # 3 clients, plus possibly the admin connection this stats request uses.
    assert 3 <= emuhelp.stats(url)["connections"] <= 4


def test_connections_are_kept_alive(start_emulator):
    url = start_emulator()
    kms = make_client(url)
    random_call(kms)
    before = emuhelp.stats(url)["connections"]
    for _ in range(5):
        random_call(kms)
    after = emuhelp.stats(url)["connections"]
    # At most the admin connection of the second stats request is new.
    assert after - before <= 1, (before, after)


def test_peak_in_flight_with_concurrent_calls(start_emulator):
    url = start_emulator("--latency-ms", 300)
    clients = [make_client(url) for _ in range(THREADS)]
    emuhelp.reset_stats(url)
    barrier = threading.Barrier(THREADS, timeout=20)

    def call(kms):
        barrier.wait()
        return random_call(kms)

    with ThreadPoolExecutor(THREADS) as pool:
        futures = [pool.submit(call, kms) for kms in clients]
        for f in futures:
            assert len(f.result(timeout=60)["Plaintext"]) == 8
    s = emuhelp.stats(url)
    assert s["peak_in_flight"] >= THREADS, s
    assert s["in_flight"] == 0, s
    assert s["requests"]["GenerateRandom"] == THREADS
