"""Fixtures for the interoperability tests: real clients (installed from
Debian's packages by scripts/setup) sign through libkms11.so against the
emulator, and a second tool verifies every signature."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "contract"))

import importhelp  # noqa: E402
import kmshelp  # noqa: E402

MODULE = Path(os.environ.get("KMS11_MODULE", REPO / "target" / "debug" / "libkms11.so"))

# (alias, KeySpec, CKA_ID in hex)
KEYS = [
    ("rsa2048", "RSA_2048", "a1"),
    ("rsa3072", "RSA_3072", "a2"),
    ("rsa4096", "RSA_4096", "a3"),
    ("p256", "ECC_NIST_P256", "b1"),
    ("p384", "ECC_NIST_P384", "b2"),
    ("p521", "ECC_NIST_P521", "b3"),
]

# The other kinds of key are in a token of their own, MORE_TOKEN: libp11
# 0.4.12 (the OpenSSL engine) stops listing a token's private keys at a key
# type it does not know, and would lose the keys above (docs/eddsa.md); the
# tests above sign with every RSA key of KEYS.
MORE_TOKEN = "interop-more"
ED_KEYS = [
    ("ed25519", "ECC_NIST_EDWARDS25519", "c1"),
]
# RSA keys of usage ENCRYPT_DECRYPT.
DEC_KEYS = [
    ("dec2048", "RSA_2048", "d1"),
]
# HMAC keys, made by the fixture with imported material (Token.mac_material)
# so that every MAC can be checked with Python's hmac.
MAC_KEYS = [
    ("mac256", "HMAC_256", "e1"),
]
# EC keys of usage KEY_AGREEMENT (ECDH).
KA_KEYS = [
    ("ka256", "ECC_NIST_P256", "f1"),
]
MORE_KEYS = ED_KEYS + DEC_KEYS + KA_KEYS
USAGE = {alias: "ENCRYPT_DECRYPT" for alias, _, _ in DEC_KEYS} | {alias: "KEY_AGREEMENT" for alias, _, _ in KA_KEYS}


@dataclass
class Token:
    env: dict[str, str]
    dir: Path
    kms: object
    # alias -> the HMAC key's imported material
    mac_material: dict[str, bytes]

    def run(self, *argv: str, input: bytes | None = None, check: bool = True) -> subprocess.CompletedProcess:
        """Runs a command with the module's environment, bounded in time."""
        r = subprocess.run(argv, env=self.env, input=input, capture_output=True, timeout=120)
        if check and r.returncode != 0:
            raise AssertionError(
                f"{' '.join(argv)} exited {r.returncode}\nstdout: {r.stdout.decode(errors='replace')}\n"
                f"stderr: {r.stderr.decode(errors='replace')}"
            )
        return r

    def pkcs11_tool(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return self.run("pkcs11-tool", "--module", str(MODULE), *args, check=check)

    def public_pem(self, key_id: str) -> Path:
        """The key's public key as PEM, from KMS GetPublicKey (not through
        the module), so verification does not trust what the module shows."""
        pem = self.dir / f"{key_id}.pem"
        if not pem.exists():
            alias = next(a for a, _, kid in KEYS + MORE_KEYS if kid == key_id)
            der = self.kms.get_public_key(KeyId=f"alias/{alias}")["PublicKey"]
            pem.write_bytes(kmshelp.load_public_key(der).public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo))
        return pem


def import_hmac_key(kms, alias: str, spec: str) -> bytes:
    """An HMAC key of imported material (longer than KMS generates, as
    KMS allows), under alias/<alias>; returns the material."""
    material = os.urandom(importhelp.IMPORT_LENGTHS[spec][1])
    key_id = kms.create_key(KeySpec=spec, KeyUsage="GENERATE_VERIFY_MAC", Origin="EXTERNAL")["KeyMetadata"]["KeyId"]
    importhelp.import_material(kms, key_id, material)
    kms.create_alias(AliasName=f"alias/{alias}", TargetKeyId=key_id)
    return material


def module_env(conf: Path, url: str, cache: Path) -> dict[str, str]:
    """The environment of a client loading the module: this configuration,
    the emulator at url, test credentials, and a public-key cache of its own
    (another emulator may get the same port later)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KMS11_", "AWS_"))}
    env.update(
        KMS11_CONFIG=str(conf),
        AWS_ENDPOINT_URL_KMS=url,
        XDG_CACHE_HOME=str(cache),
        AWS_REGION="us-east-1",
        AWS_ACCESS_KEY_ID="test",
        AWS_SECRET_ACCESS_KEY="test",
        AWS_EC2_METADATA_DISABLED="true",
    )
    return env


@pytest.fixture(scope="session")
def token(tmp_path_factory) -> Token:
    if not MODULE.exists():
        pytest.fail(f"{MODULE} is missing: run cargo build --lib first")
    d = tmp_path_factory.mktemp("interop")
    seed = d / "seed.json"
    seed.write_text(json.dumps({"Keys": [
        {"KeySpec": spec, "KeyUsage": USAGE.get(alias, "SIGN_VERIFY"), "Aliases": [f"alias/{alias}"]}
        for alias, spec, _ in KEYS + MORE_KEYS
    ]}))
    server, url = kmshelp.start_emulator_process("--seed", str(seed))
    conf = d / "pkcs11.conf"
    conf.write_text(
        '[[token]]\nlabel = "interop"\n'
        + "".join(f'\n[[token.key]]\nkey = "alias/{alias}"\nid = "{kid}"\n' for alias, _, kid in KEYS)
        + f'\n[[token]]\nlabel = "{MORE_TOKEN}"\n'
        + "".join(f'\n[[token.key]]\nkey = "alias/{alias}"\nid = "{kid}"\n' for alias, _, kid in MORE_KEYS + MAC_KEYS)
    )
    kms = kmshelp.make_client(url)
    mac_material = {alias: import_hmac_key(kms, alias, spec) for alias, spec, _ in MAC_KEYS}
    env = module_env(conf, url, d / "cache")
    yield Token(env=env, dir=d, kms=kms, mac_material=mac_material)
    server.stop()
