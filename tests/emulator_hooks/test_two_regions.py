"""Two emulator processes as two KMS regions: one seed file gives both the
same multi-Region key (primary in one region, replica in the other), and
each process fails on its own (black hole, slow tail). What kms11's
failover tests stand on."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ReadTimeoutError
from cryptography.hazmat.primitives.asymmetric import ec

import emuhelp
from emuhelp import pkcs8_b64, seed_key, write_seed
from kmshelp import load_public_key, make_client, verify_signature

KEY_ID = "mrk-" + "0123456789abcdef" * 2
MESSAGE = b"one key, two regions"


def mrk_seed(path):
    material = pkcs8_b64(ec.generate_private_key(ec.SECP256R1()))
    return write_seed(
        path,
        [
            seed_key("ECC_NIST_P256", "SIGN_VERIFY", KeyId=KEY_ID, Region="us-east-1",
                     MultiRegion=True, Material=material, Aliases=["alias/release"]),
            seed_key("ECC_NIST_P256", "SIGN_VERIFY", KeyId=KEY_ID, Region="us-west-2",
                     MultiRegion=True, PrimaryRegion="us-east-1", Aliases=["alias/release"]),
        ],
    )


def test_two_processes_from_one_seed_hold_one_key_in_two_regions(start_emulator, tmp_path):
    seed = mrk_seed(tmp_path / "seed.json")
    east = make_client(start_emulator("--seed", seed), region="us-east-1")
    west = make_client(start_emulator("--seed", seed), region="us-west-2")
    public = east.get_public_key(KeyId=KEY_ID)["PublicKey"]
    assert west.get_public_key(KeyId="alias/release")["PublicKey"] == public
    meta = west.describe_key(KeyId=KEY_ID)["KeyMetadata"]
    assert meta["Arn"] == f"arn:aws:kms:us-west-2:{meta['AWSAccountId']}:key/{KEY_ID}"
    assert meta["MultiRegionConfiguration"]["MultiRegionKeyType"] == "REPLICA"
    assert meta["MultiRegionConfiguration"]["PrimaryKey"]["Region"] == "us-east-1"
    config = east.describe_key(KeyId=KEY_ID)["KeyMetadata"]["MultiRegionConfiguration"]
    assert [r["Region"] for r in config["ReplicaKeys"]] == ["us-west-2"]
    answer = west.sign(KeyId=KEY_ID, Message=MESSAGE, MessageType="RAW", SigningAlgorithm="ECDSA_SHA_256")
    assert answer["KeyId"] == meta["Arn"]
    verify_signature(load_public_key(public), "ECDSA_SHA_256", answer["Signature"], MESSAGE)


def test_a_replica_without_its_primary_is_refused(start_emulator, tmp_path):
    seed = write_seed(tmp_path / "seed.json", [
        seed_key("ECC_NIST_P256", "SIGN_VERIFY", KeyId=KEY_ID, Region="us-west-2",
                 MultiRegion=True, PrimaryRegion="us-east-1"),
    ])
    with pytest.raises(RuntimeError, match="needs its primary"):
        start_emulator("--seed", seed)


def test_the_state_file_keeps_replicas(start_emulator, tmp_path):
    state = tmp_path / "state.json"
    url = start_emulator("--state", state)
    east = make_client(url)
    key = east.create_key(KeySpec="ECC_NIST_P384", KeyUsage="SIGN_VERIFY", MultiRegion=True)["KeyMetadata"]
    east.replicate_key(KeyId=key["KeyId"], ReplicaRegion="eu-west-1", Description="replica")
    public = east.get_public_key(KeyId=key["KeyId"])["PublicKey"]
    start_emulator.stop(url)

    saved = [k for k in json.loads(state.read_text())["Keys"] if k["KeyId"] == key["KeyId"]]
    assert [(k["Region"], k.get("PrimaryRegion")) for k in saved] == [("us-east-1", None), ("eu-west-1", "us-east-1")]
    west = make_client(start_emulator("--state", state), region="eu-west-1")
    assert west.get_public_key(KeyId=key["KeyId"])["PublicKey"] == public
    assert west.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["Description"] == "replica"


def test_a_black_hole_answers_nothing_until_lifted(start_emulator):
    url = start_emulator()
    emuhelp.set_faults(url, blackhole=True)
    kms = make_client(url, read_timeout=1)
    with pytest.raises(ReadTimeoutError):
        kms.generate_random(NumberOfBytes=8)
    assert emuhelp.stats(url)["injected"]["blackholed"] == 1
    emuhelp.set_faults(url)
    assert len(kms.generate_random(NumberOfBytes=8)["Plaintext"]) == 8


def test_a_slow_tail_delays_the_chosen_fraction(start_emulator):
    url = start_emulator()
    kms = make_client(url)
    emuhelp.set_faults(url, slow_rate=1.0, slow_ms=300)
    _, took = emuhelp.timed(kms.generate_random, NumberOfBytes=8)
    assert took >= 0.3
    emuhelp.set_faults(url, slow_rate=0.0, slow_ms=300)
    assert emuhelp.get_faults(url)["slow_ms"] == 300


def test_slow_rate_out_of_range_is_refused(start_emulator):
    with pytest.raises(RuntimeError, match="slow_rate must be between 0 and 1"):
        start_emulator("--slow-rate", "1.5")
