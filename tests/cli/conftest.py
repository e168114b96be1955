"""Fixtures for the `kms11` command's tests: an emulator with one key of
each kind, a configuration naming them, and a runner for the command. Every
result is checked with tools other than kms11 (openssl, ssh-keygen, Python
`cryptography`, PyJWT) against the public key KMS itself returns."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "contract"))

import kmshelp  # noqa: E402

KMS11 = Path(os.environ.get("KMS11_BIN", REPO / "target" / "debug" / "kms11"))

# (alias, KeySpec, configured label or None)
KEYS = [
    ("p256", "ECC_NIST_P256", None),
    ("p384", "ECC_NIST_P384", None),
    ("p521", "ECC_NIST_P521", None),
    ("k1", "ECC_SECG_P256K1", None),
    ("rsa2048", "RSA_2048", "release/rsa 2048"),
    ("rsa3072", "RSA_3072", None),
    ("ed25519", "ECC_NIST_EDWARDS25519", None),
]


@dataclass
class Cli:
    url: str
    dir: Path
    kms: object
    config: Path
    env: dict[str, str] = field(default_factory=dict)

    def run(self, *args: str, config: Path | None = None, env: dict | None = None,
            input: bytes | None = None, check: bool = True) -> subprocess.CompletedProcess:
        """Runs kms11 with the test configuration, bounded in time."""
        argv = [str(KMS11), "--config", str(config or self.config), *args]
        r = subprocess.run(argv, env={**self.env, **(env or {})}, input=input,
                           capture_output=True, timeout=120)
        if check and r.returncode != 0:
            raise AssertionError(
                f"{' '.join(argv)} exited {r.returncode}\nstdout: {r.stdout.decode(errors='replace')}\n"
                f"stderr: {r.stderr.decode(errors='replace')}")
        return r

    def public_der(self, alias: str) -> bytes:
        """The public key from KMS GetPublicKey, not from kms11."""
        return self.kms.get_public_key(KeyId=f"alias/{alias}")["PublicKey"]

    def public_key(self, alias: str):
        return kmshelp.load_public_key(self.public_der(alias))

    def arn(self, alias: str) -> str:
        return self.kms.describe_key(KeyId=f"alias/{alias}")["KeyMetadata"]["Arn"]

    def faults(self, **faults) -> None:
        """Sets the emulator's injected faults (all others off)."""
        body = {"latency_ms": 0, "throttle_every": 0, "throttle_rps": 0.0, "error_rate": 0.0,
                "drop_rate": 0.0, "deny": [], **faults}
        req = urllib.request.Request(f"{self.url}/_emulator/faults", data=json.dumps(body).encode(),
                                     method="POST", headers={"content-type": "application/json"})
        urllib.request.urlopen(req, timeout=10).read()

    def stats(self) -> dict:
        return json.load(urllib.request.urlopen(f"{self.url}/_emulator/stats", timeout=10))

    def write_config(self, name: str, body: str, aws: str = "") -> Path:
        p = self.dir / name
        p.write_text(f'[aws]\nregion = "us-east-1"\nendpoint_url = "{self.url}"\n{aws}\n{body}')
        p.chmod(0o600)
        return p


def token_config(keys) -> str:
    out = '[[token]]\nlabel = "cli"\n'
    for alias, _, label in keys:
        out += f'\n[[token.key]]\nkey = "alias/{alias}"\n'
        if label:
            out += f'label = "{label}"\n'
    return out


@pytest.fixture(scope="session")
def cli(tmp_path_factory) -> Cli:
    if not KMS11.exists():
        pytest.fail(f"{KMS11} is missing: run cargo build first")
    d = tmp_path_factory.mktemp("cli")
    seed = d / "seed.json"
    seed.write_text(json.dumps({"Keys": [
        {"KeySpec": spec, "KeyUsage": "SIGN_VERIFY", "Aliases": [f"alias/{alias}"]} for alias, spec, _ in KEYS
    ]}))
    server, url = kmshelp.start_emulator_process("--seed", str(seed))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KMS11_", "AWS_"))}
    env.update(AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test", AWS_EC2_METADATA_DISABLED="true",
               # Credentials and config files of whoever runs the tests stay out.
               AWS_CONFIG_FILE=str(d / "no-aws-config"), AWS_SHARED_CREDENTIALS_FILE=str(d / "no-aws-creds"),
               # This emulator's public-key cache: another emulator may get its port later.
               XDG_CACHE_HOME=str(d / "cache"))
    c = Cli(url=url, dir=d, kms=kmshelp.make_client(url), config=d / "unset", env=env)
    c.config = c.write_config("pkcs11.conf", token_config(KEYS))
    yield c
    server.stop()


@pytest.fixture
def faults(cli):
    """Lets a test inject faults; they are switched off after it."""
    yield cli.faults
    cli.faults()
