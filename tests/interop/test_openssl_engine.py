"""OpenSSL 3 through the PKCS#11 engine (libp11, Debian's
libengine-pkcs11-openssl) against libkms11.so: `openssl dgst -sign` and
`openssl req -x509` with a `pkcs11:` URI, each verified by plain openssl with
the public key from KMS GetPublicKey."""

from __future__ import annotations

import subprocess

import pytest
from conftest import KEYS, MODULE

DATA = b"release checksums\n" * 4


def engine_env(token) -> dict[str, str]:
    return {**token.env, "PKCS11_MODULE_PATH": str(MODULE)}


def _run(token, *args: str):
    """openssl with the engine's module path, bounded in time."""
    r = subprocess.run(["openssl", *args], env=engine_env(token), capture_output=True, timeout=120)
    assert r.returncode == 0, f"openssl {' '.join(args)}\n{r.stdout.decode()}\n{r.stderr.decode()}"
    return r


def uri(alias: str) -> str:
    return f"pkcs11:token=interop;object={alias};type=private"


@pytest.mark.parametrize("alias,spec,key_id", KEYS, ids=[k[0] for k in KEYS])
def test_dgst_sign(token, tmp_path, alias, spec, key_id):
    data, sig = tmp_path / "data", tmp_path / "sig"
    data.write_bytes(DATA)
    _run(token, "dgst", "-sha256", "-engine", "pkcs11", "-keyform", "engine", "-sign", uri(alias), "-out", str(sig), str(data))
    pem = token.public_pem(key_id)
    out = _run(token, "dgst", "-sha256", "-verify", str(pem), "-signature", str(sig), str(data)).stdout
    assert b"Verified OK" in out


@pytest.mark.parametrize("alias,spec,key_id", [k for k in KEYS if k[1].startswith("RSA")], ids=lambda v: str(v))
def test_dgst_sign_pss(token, tmp_path, alias, spec, key_id):
    data, sig = tmp_path / "data", tmp_path / "sig"
    data.write_bytes(DATA)
    pss = ["-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:digest"]
    _run(token, "dgst", "-sha256", "-engine", "pkcs11", "-keyform", "engine", *pss, "-sign", uri(alias), "-out", str(sig), str(data))
    pem = token.public_pem(key_id)
    out = _run(token, "dgst", "-sha256", *pss, "-verify", str(pem), "-signature", str(sig), str(data)).stdout
    assert b"Verified OK" in out


@pytest.mark.parametrize("alias,spec,key_id", [KEYS[0], KEYS[3]], ids=["rsa2048", "p256"])
def test_self_signed_certificate(token, tmp_path, alias, spec, key_id):
    cert = tmp_path / "cert.pem"
    _run(
        token, "req", "-new", "-x509", "-engine", "pkcs11", "-keyform", "engine", "-key", uri(alias),
        "-subj", f"/CN=kms11 {alias}", "-days", "30", "-sha256", "-out", str(cert),
    )
    out = _run(token, "verify", "-CAfile", str(cert), str(cert)).stdout
    assert b": OK" in out
    pub = _run(token, "x509", "-in", str(cert), "-noout", "-pubkey").stdout
    assert pub == token.public_pem(key_id).read_bytes()
