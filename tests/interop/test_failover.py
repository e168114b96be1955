"""A new process whose KMS region is down (nothing listens at its endpoint)
and that has no cache resolves its multi-Region key in the fallback region
and signs there: pkcs11-tool signs, openssl verifies with the public key
that the *primary* region's emulator holds (the replica shares it). A
single-Region key of the same token is left out (the log says why)."""

from __future__ import annotations

import base64
import json
import subprocess

import pytest
from conftest import MODULE, module_env
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

import kmshelp

MRK = "mrk-" + "f1" * 16
DATA = b"signed while us-east-1 is down\n"


@pytest.fixture(scope="module")
def regions(tmp_path_factory):
    d = tmp_path_factory.mktemp("failover")
    private = ec.generate_private_key(ec.SECP384R1())
    material = base64.b64encode(
        private.private_bytes(Encoding.DER, PrivateFormat.PKCS8, NoEncryption())
    ).decode()
    entry = {"KeySpec": "ECC_NIST_P384", "KeyUsage": "SIGN_VERIFY", "KeyId": MRK, "MultiRegion": True}
    seed = d / "seed.json"
    seed.write_text(json.dumps({"Keys": [
        dict(entry, Region="us-east-1", Material=material, Aliases=["alias/release"]),
        dict(entry, Region="us-west-2", PrimaryRegion="us-east-1", Aliases=["alias/release"]),
        {"KeySpec": "ECC_NIST_P256", "KeyUsage": "SIGN_VERIFY", "Region": "us-east-1",
         "Aliases": ["alias/single"]},
    ]}))
    west, west_url = kmshelp.start_emulator_process("--seed", str(seed))
    # us-east-1: a port nothing listens on.
    down = f"http://127.0.0.1:{kmshelp.free_port()}"
    yield d, down, west_url, private.public_key()
    west.stop()


def configure(d, down, west_url, key):
    conf = d / f"pkcs11-{key.replace('/', '-')}.conf"
    conf.write_text(
        f'[aws]\nregion = "us-east-1"\nfallback_regions = ["us-west-2"]\n'
        f"connect_timeout_ms = 500\ncall_timeout_ms = 2000\nmax_attempts = 2\n"
        f'[aws.endpoints]\n"us-east-1" = "{down}"\n"us-west-2" = "{west_url}"\n'
        f'[[token]]\nlabel = "regions"\n[[token.key]]\nkey = "{key}"\nlabel = "release"\n'
        f'[[token.key]]\nkey = "alias/single"\nlabel = "single"\n'
    )
    conf.chmod(0o600)
    return module_env(conf, west_url, d / "cache")


@pytest.mark.parametrize("key", ["alias/release", MRK], ids=["alias", "key-id"])
def test_a_new_process_signs_in_the_fallback_region(regions, tmp_path, key):
    d, down, west_url, public = regions
    env = configure(d, down, west_url, key)
    data, sig = tmp_path / "data", tmp_path / "sig"
    data.write_bytes(DATA)
    r = subprocess.run(
        ["pkcs11-tool", "--module", str(MODULE), "--token-label", "regions", "--sign",
         "--mechanism", "ECDSA-SHA384", "--label", "release", "-i", str(data), "-o", str(sig),
         "--signature-format", "openssl"],
        env=env, capture_output=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    log = r.stderr.decode()
    assert "resolved in us-west-2" in log, log
    pem = tmp_path / "primary.pem"
    pem.write_bytes(public.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo))
    v = subprocess.run(["openssl", "dgst", "-sha384", "-verify", str(pem), "-signature", str(sig), str(data)],
                       capture_output=True, timeout=60)
    assert v.returncode == 0 and b"Verified OK" in v.stdout, v.stdout + v.stderr
    # The single-Region key has no replica: it is not listed.
    listed = subprocess.run(
        ["pkcs11-tool", "--module", str(MODULE), "--token-label", "regions", "--list-objects",
         "--type", "privkey"], env=env, capture_output=True, timeout=120)
    assert b"label:      release" in listed.stdout and b"single" not in listed.stdout, listed.stdout
