"""OpenSSL 3 with libkms11.so, through the PKCS#11 engine (libp11, Debian's
libengine-pkcs11-openssl) and through pkcs11-provider 1.0 (from
bookworm-backports, installed by scripts/setup).

Every test runs the recipes of docs/openssl.md as written, in bash with
`set -euo pipefail` (only the Settings block is the test's own), against the
emulator's keys: `openssl req -x509` certificates, `openssl dgst -sign` with
RSA PKCS#1 v1.5, RSA-PSS (`rsa_pss_saltlen:digest`) and ECDSA, and TLS 1.3
handshakes between `openssl s_server` holding the KMS keys and a plain
`openssl s_client` on 127.0.0.1. A second tool checks each result with the
public key from KMS GetPublicKey: plain openssl (no engine, no provider) and
Python's cryptography verify every signature and certificate, s_client's
server certificate must carry the KMS key, and the emulator must have counted
one Sign per signature."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
from processes import alive, stop
from conftest import KEYS, MODULE, REPO
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from recipes import recipes, unmarked_sh_blocks

import kmshelp

TIMEOUT = 60
PROVIDER = Path("/usr/lib/x86_64-linux-gnu/ossl-modules/pkcs11.so")

# The docs' blocks, in order; "install" is the one the tests do not run.
RECIPES = ["install", "settings", "engine", "engine-cert", "engine-sign", "engine-tls-server",
           "provider", "provider-cert", "provider-sign", "provider-tls-server", "tls-client"]
WAYS = ["engine", "provider"]
ALIAS = {kid: alias for alias, _, kid in KEYS}


def recipe(name: str) -> str:
    return recipes("openssl.md")[name]


def uri(key_id: str) -> str:
    """The private key's URI, as `kms11 list` prints it."""
    return f"pkcs11:token=interop;object={ALIAS[key_id]};id=%{key_id.upper()};type=private"


def settings(token, rsa_id: str = "a1", ec_id: str = "b1", port: int = 8443) -> str:
    conf = token.env["KMS11_CONFIG"] if token else "/dev/null"
    return (
        f"KMS11_MODULE={shlex.quote(str(MODULE))}\n"
        f"export KMS11_CONFIG={shlex.quote(conf)}\n"
        "export AWS_REGION=us-east-1\n"
        f"RSA_KEY='{uri(rsa_id)}'\n"
        f"EC_KEY='{uri(ec_id)}'\n"
        f"PORT={port}\n"
    )


def clean_env(token) -> dict[str, str]:
    """The token's environment (emulator endpoint, test credentials), with no
    OpenSSL or libp11 setting of the caller's."""
    return {k: v for k, v in token.env.items() if not k.startswith(("OPENSSL_", "PKCS11_"))}


def bash(script: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-c", "set -euo pipefail\n" + script], cwd=cwd, env=env,
                          capture_output=True, timeout=TIMEOUT)


def check(r: subprocess.CompletedProcess, what: str) -> str:
    out, err = r.stdout.decode(errors="replace"), r.stderr.decode(errors="replace")
    assert r.returncode == 0, f"{what} exited {r.returncode}\nstdout: {out}\nstderr: {err}"
    return out


def sign_calls(token) -> int:
    url = token.env["AWS_ENDPOINT_URL_KMS"] + "/_emulator/stats"
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.load(r)["requests"].get("Sign", 0)


def kms_key(token, key_id: str):
    """The public key from KMS GetPublicKey, for Python's cryptography."""
    return serialization.load_pem_public_key(token.public_pem(key_id).read_bytes())


def plain_openssl(token, *args: str) -> str:
    """openssl with neither engine nor provider: the second tool."""
    r = subprocess.run(["openssl", *args], env=clean_env(token), capture_output=True, timeout=TIMEOUT)
    return check(r, "openssl " + " ".join(args))


def check_certificate(token, pem: bytes, key_id: str) -> None:
    """A self-signed certificate for localhost carrying the KMS key, whose
    signature that key verifies (Python's cryptography)."""
    cert = x509.load_pem_x509_certificate(pem)
    spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    assert cert.public_key().public_bytes(*spki) == kms_key(token, key_id).public_bytes(*spki)
    cert.verify_directly_issued_by(cert)
    assert isinstance(cert.signature_hash_algorithm, hashes.SHA256)
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["localhost"]


def words(shell: str) -> list[str]:
    """A block's words, with its line continuations joined."""
    return shell.replace("\\\n", " ").split()


def test_every_recipe_in_the_docs_is_run():
    assert list(recipes("openssl.md")) == RECIPES
    assert unmarked_sh_blocks("openssl.md") == 0, "a shell block without a <!-- test: name --> marker"
    # The test's settings replace every variable the docs' settings set.
    assigned = re.findall(r"^(?:export )?(\w+)=", recipe("settings"), re.M)
    assert assigned == re.findall(r"^(?:export )?(\w+)=", settings(None), re.M)
    # Each way's blocks are the other's, less the engine options.
    for a, b in [("engine-cert", "provider-cert"), ("engine-sign", "provider-sign")]:
        assert words(recipe(a).replace("-engine pkcs11 -keyform engine ", "")) == words(recipe(b))


def test_install_recipe_is_what_setup_does():
    """The tests do not run the Install block (it writes to /etc and installs
    packages); scripts/setup does the same, and the result is here."""
    install = recipe("install")
    source = re.search(r"<<'EOF'\n(.*?\nEOF\n)", install, re.S).group(1)
    setup = (REPO / "scripts" / "setup").read_text()
    assert "/etc/apt/sources.list.d/kms11-backports.sources" in install
    assert "BACKPORTS=/etc/apt/sources.list.d/kms11-backports.sources" in setup
    assert f"<<'EOF'\n{source}" in setup
    assert "apt-get install -t bookworm-backports pkcs11-provider" in install
    assert "apt-get install -y -qq -t bookworm-backports pkcs11-provider" in setup
    for package in ["openssl", "libengine-pkcs11-openssl"]:
        assert package in install and package in setup
    installed = Path("/etc/apt/sources.list.d/kms11-backports.sources")
    if installed.exists():
        assert installed.read_text() == source[: -len("EOF\n")]
    r = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", "pkcs11-provider"],
                       capture_output=True, timeout=30)
    version = check(r, "dpkg-query pkcs11-provider")
    assert re.fullmatch(r"1\.\d+.*~bpo12\+\d+", version), version
    assert f"module = {PROVIDER}\n" in recipe("provider")
    assert PROVIDER.exists()


# The sign recipes with every key: RSA 2048/3072/4096 with P-256/384/521.
PAIRS = [("a1", "b1"), ("a2", "b2"), ("a3", "b3")]


@pytest.mark.parametrize("way", WAYS)
@pytest.mark.parametrize("rsa_id,ec_id", PAIRS, ids=[f"{ALIAS[r]}-{ALIAS[e]}" for r, e in PAIRS])
def test_certificates_and_signatures(token, tmp_path, way, rsa_id, ec_id):
    before = sign_calls(token)
    script = settings(token, rsa_id, ec_id) + recipe(way) + recipe(f"{way}-cert") + recipe(f"{way}-sign")
    out = check(bash(script, tmp_path, clean_env(token)), f"{way} recipes")
    # Two certificates and three signatures: five kms:Sign calls.
    assert sign_calls(token) - before == 5
    if way == "provider":
        assert re.search(r"^  pkcs11\n(    .*\n)*?    status: active\n", out, re.M), out
    assert "rsa.crt: OK\n" in out and "ec.crt: OK\n" in out
    assert out.count("Verified OK\n") == 3, out

    # The certificates carry the KMS keys, and x509 -pubkey gives them.
    for name, key_id in [("rsa", rsa_id), ("ec", ec_id)]:
        check_certificate(token, (tmp_path / f"{name}.crt").read_bytes(), key_id)
        assert (tmp_path / f"{name}.pub.pem").read_bytes() == token.public_pem(key_id).read_bytes()

    # Every signature verifies with the key from KMS, in openssl and in Python.
    data = (tmp_path / "data.txt").read_bytes()
    pss = ["-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:digest"]
    for sig, key_id, opts in [("data.rsa.sig", rsa_id, []), ("data.pss.sig", rsa_id, pss), ("data.ec.sig", ec_id, [])]:
        out = plain_openssl(token, "dgst", "-sha256", "-verify", str(token.public_pem(key_id)), *opts,
                            "-signature", str(tmp_path / sig), str(tmp_path / "data.txt"))
        assert out == "Verified OK\n"
    rsa_key, ec_key = kms_key(token, rsa_id), kms_key(token, ec_id)
    assert isinstance(rsa_key, rsa.RSAPublicKey) and isinstance(ec_key, ec.EllipticCurvePublicKey)
    rsa_key.verify((tmp_path / "data.rsa.sig").read_bytes(), data, padding.PKCS1v15(), hashes.SHA256())
    rsa_key.verify((tmp_path / "data.pss.sig").read_bytes(), data,
                   padding.PSS(padding.MGF1(hashes.SHA256()), padding.PSS.DIGEST_LENGTH), hashes.SHA256())
    ec_key.verify((tmp_path / "data.ec.sig").read_bytes(), data, ec.ECDSA(hashes.SHA256()))


def handshakes(out: str) -> list[str]:
    """s_client's output, one part per connection."""
    return ["CONNECTED(" + part for part in out.split("CONNECTED(")[1:]]


@pytest.mark.parametrize("way", WAYS)
def test_tls_handshakes(token, tmp_path, way):
    port = kmshelp.free_port()
    pid_file = tmp_path / "s_server.pid"
    before = sign_calls(token)
    # The server's shell: it starts s_server in the background and exits,
    # leaving s_server's pid for the test to stop, even if a block fails.
    server = (f"trap 'echo ${{!:-}} > {pid_file}' EXIT\n" + settings(token, port=port) + recipe(way)
              + recipe(f"{way}-cert") + recipe(f"{way}-tls-server"))
    try:
        r = bash(server, tmp_path, clean_env(token))
        log = tmp_path / "s_server.log"
        check(r, f"{way} server recipes (s_server.log: {log.read_text() if log.exists() else ''})")
        pid = int(pid_file.read_text())
        assert alive(pid), log.read_text()
        # The client's shell: PORT, the two certificates, and nothing else.
        client = bash(settings(token, port=port) + recipe("tls-client"), tmp_path, {"PATH": os.environ["PATH"]})
        out = check(client, "tls-client recipe")
        deadline = time.monotonic() + 10
        while alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not alive(pid), "s_server -naccept 2 still runs after two connections"
    finally:
        if pid_file.exists() and pid_file.read_text().strip():
            stop(int(pid_file.read_text()))

    assert "2 server accepts that finished" in log.read_text(), log.read_text()
    # Two certificates and two handshakes: four kms:Sign calls.
    assert sign_calls(token) - before == 4

    rsa_tls, ec_tls = handshakes(out)
    for part, key_id, sigtype in [(rsa_tls, "a1", "RSA-PSS"), (ec_tls, "b1", "ECDSA")]:
        assert re.search(r"^New, TLSv1\.3, Cipher is TLS_\w+$", part, re.M), part
        assert "\nVerify return code: 0 (ok)\n" in part
        assert "\nVerified peername: localhost\n" in part
        assert "\nPeer signing digest: SHA256\n" in part
        assert f"\nPeer signature type: {sigtype}\n" in part
        # The server's certificate carries the KMS key.
        pem = re.search(r"-----BEGIN CERTIFICATE-----\n.*?-----END CERTIFICATE-----\n", part, re.S).group(0)
        check_certificate(token, pem.encode(), key_id)
    assert "Server public key is 2048 bit" in rsa_tls
    assert "Server public key is 256 bit" in ec_tls


def test_engine_pss_fails_without_the_digest_salt_length(token, tmp_path):
    """What docs/openssl.md says: OpenSSL 3.0's default PSS salt is the
    longest; kms11 refuses it (CKR_MECHANISM_PARAM_INVALID), libp11 then
    tries raw RSA, which kms11 refuses too, and openssl says 'Mechanism
    invalid'. No signature reaches KMS."""
    before = sign_calls(token)
    script = (settings(token) + recipe("engine") + "printf 'data\\n' > data.txt\n"
              + 'openssl dgst -sha256 -engine pkcs11 -keyform engine -sign "$RSA_KEY" '
              + "-sigopt rsa_padding_mode:pss -out data.sig data.txt\n")
    r = bash(script, tmp_path, {**clean_env(token), "KMS11_LOG": "debug"})
    err = r.stderr.decode(errors="replace")
    assert r.returncode != 0
    assert "Mechanism invalid" in err
    assert "C_SignInit: CKR_MECHANISM_PARAM_INVALID" in err
    assert sign_calls(token) == before
    doc = " ".join((REPO / "docs" / "openssl.md").read_text().split())
    assert "the engine fails with `Mechanism invalid`" in doc
