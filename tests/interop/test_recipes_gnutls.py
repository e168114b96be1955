"""docs/gnutls.md, run as written: the page's blocks in order, in one
`bash -euo pipefail`, with only the Settings block replaced by the test's
own (the interop token on the emulator, a free port).

The recipe lists the token with p11tool, runs p11tool --test-sign, has
certtool make a certificate signed by the KMS key (checked in the recipe by
certtool and openssl), and runs a gnutls-serv TLS server on that key, to
which gnutls-cli and openssl s_client connect and check the server's
handshake signature against the certificate. This test checks, with Python
`cryptography`, that the certificate holds the public key KMS GetPublicKey
returns and that the KMS key's signature on it verifies, so that the TLS
clients' checks are checks of KMS signatures. The recipe runs in its own
process group, which the test kills at the end whatever happens, and the
test checks that the recipe's own `kill` had already stopped the server."""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import time
from pathlib import Path

import pytest
from conftest import MODULE, KEYS, kmshelp
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from recipes import recipes, unmarked_sh_blocks

DOC = "gnutls.md"
RECIPES = ["settings", "list", "test-sign", "certificate", "tls"]
TIMEOUT = 90  # seconds, for the whole recipe

# Every key of the interop token: RSA (TLS 1.3 signs with RSA-PSS, the
# certificate with PKCS#1 v1.5) and ECDSA, with the hash certtool picks for
# the certificate (by key size: what the page says).
CASES = [(alias, kid) for alias, _, kid in KEYS]
CERT_HASH = {"rsa2048": "sha256", "rsa3072": "sha256", "rsa4096": "sha384",
             "p256": "sha256", "p384": "sha384", "p521": "sha512"}


def settings(config: str, alias: str, port: int) -> str:
    return (f"KMS11_MODULE={shlex.quote(str(MODULE))}\n"
            f"export KMS11_CONFIG={shlex.quote(config)}\n"
            "export AWS_REGION=us-east-1\n"
            "TOKEN_URI='pkcs11:token=interop'\n"
            f"KEY_URI='pkcs11:token=interop;object={alias};type=private'\n"
            f"PORT={port}\n")


def group_alive(pgid: int) -> bool:
    """Whether a process of the group is still running (not a zombie)."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


def run_in_group(script: str, cwd: Path, env: dict) -> tuple[int, str, str, bool]:
    """Runs script in bash -euo pipefail as the leader of a new process
    group; returns (rc, stdout, stderr, whether the group outlived bash),
    and kills what is left of the group."""
    p = subprocess.Popen(["bash", "-euo", "pipefail", "-c", script], cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        out, err = p.communicate(timeout=TIMEOUT)
        deadline = time.monotonic() + 5
        while group_alive(p.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        left = group_alive(p.pid)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        out, err = p.communicate()
        raise AssertionError(f"recipe ran over {TIMEOUT}s\nstdout: {out.decode(errors='replace')}\n"
                             f"stderr: {err.decode(errors='replace')}")
    finally:
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return p.returncode, out.decode(errors="replace"), err.decode(errors="replace"), left


def test_every_block_of_the_page_is_run():
    assert list(recipes(DOC)) == RECIPES
    assert unmarked_sh_blocks(DOC) == 0, "a ```sh block without a <!-- test: name --> marker"
    ours = re.findall(r"^(?:export )?(\w+)=", settings("c", "p256", 1), re.M)
    assert re.findall(r"^(?:export )?(\w+)=", recipes(DOC)["settings"], re.M) == ours


@pytest.mark.parametrize("alias,key_id", CASES, ids=[c[0] for c in CASES])
def test_recipe_as_written(token, tmp_path, alias, key_id):
    blocks = recipes(DOC)
    script = (settings(token.env["KMS11_CONFIG"], alias, kmshelp.free_port())
              + "".join(blocks[n] for n in RECIPES[1:]))
    rc, out, err, left = run_in_group(script, tmp_path, token.env)
    both = out + err
    server_log = (tmp_path / "gnutls-serv.log").read_text(errors="replace") if (tmp_path / "gnutls-serv.log").exists() else ""
    assert rc == 0, f"recipe exited {rc}\nstdout: {out}\nstderr: {err}\ngnutls-serv.log: {server_log}"

    # list: the token, and the key's objects by URI.
    assert "pkcs11:model=AWS%20KMS;manufacturer=kms11;" in out
    urls = re.findall(r"^\s*URL: (\S+)", out, re.M)
    for a, _, kid in KEYS:
        # Listed by --list-all and again by --list-all-privkeys; public once.
        assert sum(u.endswith(f";id=%{kid.upper()};object={a};type=private") for u in urls) == 2, out
        assert sum(u.endswith(f";id=%{kid.upper()};object={a};type=public") for u in urls) == 1, out
    # test-sign: GnuTLS checked the signature with the token's public key.
    assert "Verifying against public key in the token... ok" in both, both
    # certificate: certtool and openssl both accepted the KMS signature.
    assert "Chain verification output: Verified. The certificate is trusted." in both, both
    assert "kms.crt: OK" in out
    # tls: both clients completed a handshake and checked the server's signature.
    assert "- Handshake was completed" in both, both
    assert "- Status: The certificate is trusted." in both, both  # including the IP address SAN
    assert out.count("hello over TLS") >= 1, out  # the server's echo
    assert "Verification: OK" in both, both
    assert "Protocol version: TLSv1.3" in both, both
    assert ("Signature type: RSA-PSS" if alias.startswith("rsa") else "Signature type: ECDSA") in both, both
    assert not left, "the recipe's kill did not stop gnutls-serv"

    # The certificate is for the KMS key and KMS's signature on it verifies,
    # checked with cryptography and the key from KMS GetPublicKey.
    kms_pem = token.public_pem(key_id).read_bytes()
    cert = x509.load_pem_x509_certificate((tmp_path / "kms.crt").read_bytes())
    assert cert.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo) == kms_pem
    assert cert.signature_hash_algorithm.name == CERT_HASH[alias]
    cert.verify_directly_issued_by(cert)
    kms_key = serialization.load_pem_public_key(kms_pem)
    assert kms_key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo) == \
        cert.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    assert x509.DNSName("localhost") in cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
