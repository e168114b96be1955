"""`kms11 sign`: files signed through the module's C_Sign path, verified by
openssl and Python `cryptography` with the public key from KMS."""

import os
import subprocess

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, utils
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

HASHES = {"256": hashes.SHA256(), "384": hashes.SHA384(), "512": hashes.SHA512()}

CASES = [
    ("rsa2048", "RS256"), ("rsa2048", "RS384"), ("rsa3072", "RS512"),
    ("rsa2048", "PS256"), ("rsa3072", "PS384"), ("rsa2048", "PS512"),
    ("p256", "ES256"), ("p384", "ES384"), ("p521", "ES512"), ("k1", "ES256K"),
]


def verify(public, alg: str, sig: bytes, data: bytes) -> None:
    h = HASHES[alg[2:5]]
    if alg.startswith("RS"):
        public.verify(sig, data, padding.PKCS1v15(), h)
    elif alg.startswith("PS"):
        public.verify(sig, data, padding.PSS(mgf=padding.MGF1(h), salt_length=h.digest_size), h)
    else:
        public.verify(sig, data, ec.ECDSA(h))


@pytest.mark.parametrize("alias,alg", CASES)
def test_signature_verifies_with_cryptography_and_openssl(cli, tmp_path, alias, alg):
    data = os.urandom(3 * 1024 * 1024 + 17)  # several C_SignUpdate pieces
    f = tmp_path / "data"
    f.write_bytes(data)
    sig = tmp_path / "sig"
    cli.run("sign", f"alias/{alias}", "--alg", alg, str(f), "--out", str(sig))
    public = cli.public_key(alias)
    verify(public, alg, sig.read_bytes(), data)
    pem = tmp_path / "pub.pem"
    pem.write_bytes(public.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo))
    opts = []
    if alg.startswith("PS"):
        opts = ["-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:digest"]
    r = subprocess.run(["openssl", "dgst", f"-sha{alg[2:5]}", *opts, "-verify", str(pem), "-signature", str(sig),
                        str(f)], capture_output=True, timeout=60)
    assert r.returncode == 0 and b"Verified OK" in r.stdout, r.stderr


@pytest.mark.parametrize("size", [1, 4096])
def test_eddsa_signature_verifies_with_cryptography_and_openssl(cli, tmp_path, size):
    data = os.urandom(size)
    f = tmp_path / "data"
    f.write_bytes(data)
    sig = tmp_path / "sig"
    # EdDSA is the default for an Ed25519 key: no --alg.
    cli.run("sign", "alias/ed25519", str(f), "--out", str(sig))
    assert len(sig.read_bytes()) == 64
    public = cli.public_key("ed25519")
    public.verify(sig.read_bytes(), data)
    pem = tmp_path / "pub.pem"
    pem.write_bytes(public.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo))
    r = subprocess.run(["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", str(pem), "-rawin", "-in", str(f),
                        "-sigfile", str(sig)], capture_output=True, timeout=60)
    assert r.returncode == 0 and b"Signature Verified Successfully" in r.stdout, r.stderr


def test_eddsa_input_over_what_kms_takes_is_refused_with_the_fix(cli, tmp_path):
    before = cli.stats()["requests"].get("Sign", 0)
    f = tmp_path / "big"
    f.write_bytes(os.urandom(4097))
    r = cli.run("sign", "alias/ed25519", "--alg", "EdDSA", str(f), check=False)
    assert r.returncode == 1 and r.stdout == b""
    assert b"4096 bytes" in r.stderr and b"sign a hash" in r.stderr, r.stderr
    f.write_bytes(b"")
    r = cli.run("sign", "alias/ed25519", str(f), check=False)
    assert r.returncode == 1 and b"1 to 4096 bytes" in r.stderr, r.stderr
    r = cli.run("sign", "alias/ed25519", "--alg", "ES256", str(f), check=False)
    assert r.returncode == 1 and b"use --alg EdDSA" in r.stderr, r.stderr
    assert cli.stats()["requests"].get("Sign", 0) == before


def test_raw_ecdsa_is_r_and_s_of_the_field_size(cli, tmp_path):
    f = tmp_path / "data"
    f.write_bytes(b"jose")
    sig = cli.run("sign", "alias/p521", "--raw-ecdsa", str(f)).stdout
    assert len(sig) == 132
    r, s = int.from_bytes(sig[:66], "big"), int.from_bytes(sig[66:], "big")
    cli.public_key("p521").verify(utils.encode_dss_signature(r, s), b"jose", ec.ECDSA(hashes.SHA512()))


def test_standard_input_and_default_algorithm(cli):
    sig = cli.run("sign", "alias/p384", "-", input=b"from stdin").stdout
    cli.public_key("p384").verify(sig, b"from stdin", ec.ECDSA(hashes.SHA384()))
    sig = cli.run("sign", "alias/rsa3072", "-", input=b"").stdout
    cli.public_key("rsa3072").verify(sig, b"", padding.PKCS1v15(), hashes.SHA256())


def test_one_kms_request_per_signature(cli, tmp_path):
    f = tmp_path / "data"
    f.write_bytes(b"count me")
    before = cli.stats()["requests"]
    cli.run("sign", "alias/p256", str(f))
    after = cli.stats()["requests"]
    assert after.get("Sign", 0) - before.get("Sign", 0) == 1


def test_mistakes_are_explained(cli, tmp_path):
    r = cli.run("sign", "alias/p256", "--alg", "RS256", "-", input=b"x", check=False)
    assert r.returncode == 1 and b"ECC_NIST_P256" in r.stderr and b"--alg ES256" in r.stderr
    r = cli.run("sign", "alias/p256", str(tmp_path / "missing"), check=False)
    assert r.returncode == 1 and b"cannot read" in r.stderr
    r = cli.run("sign", "alias/p256", "--alg", "HS256", "-", input=b"x", check=False)
    assert r.returncode == 2 and b"possible values" in r.stderr


def test_a_refused_signature_names_the_key_and_the_reason(cli, faults, tmp_path):
    faults(deny=[{"operation": "Sign", "key": "alias/p256"}])
    r = cli.run("sign", "alias/p256", "-", input=b"x", check=False)
    assert r.returncode == 1
    assert b"alias/p256" in r.stderr and b"AccessDeniedException" in r.stderr
    assert r.stdout == b""
