"""docs/pkcs11-tool.md, run as written: the page's blocks in order, in one
`bash -euo pipefail`, with only the Settings block replaced by the test's
own (the interop token on the emulator). The recipe verifies its signatures
with openssl; this test verifies them again with Python `cryptography`,
against the public key from KMS GetPublicKey, and checks that the public keys
the recipe wrote are that key. It also checks what the page says about
`pkcs11-tool --test` and PSS parameters."""

from __future__ import annotations

import hmac
import os
import re
import shlex
import subprocess
from pathlib import Path

import pytest
from conftest import DEC_KEYS, ED_KEYS, KA_KEYS, KEYS, MAC_KEYS, MODULE, MORE_TOKEN, REPO
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding
from recipes import recipes, unmarked_sh_blocks

DOC = "pkcs11-tool.md"
RECIPES = ["settings", "list", "public-keys", "sign-rsa", "sign-ecdsa", "sign-eddsa", "decrypt", "mac", "derive", "random"]
KMS11 = Path(os.environ.get("KMS11_BIN", REPO / "target" / "debug" / "kms11"))
TIMEOUT = 120  # seconds, for every subprocess

# (RSA CKA_ID, EC CKA_ID): every key of the interop token signs once.
PAIRS = [("a1", "b1"), ("a2", "b2"), ("a3", "b3")]


def settings(config: str, rsa_id: str, ec_id: str) -> str:
    return (f"KMS11_MODULE={shlex.quote(str(MODULE))}\n"
            f"export KMS11_CONFIG={shlex.quote(config)}\n"
            "export AWS_REGION=us-east-1\n"
            "TOKEN=interop\n"
            f"RSA_ID={rsa_id}\n"
            f"EC_ID={ec_id}\n"
            f"ED_TOKEN={MORE_TOKEN}\n"
            f"ED_ID={ED_KEYS[0][2]}\n"
            f"DEC_TOKEN={MORE_TOKEN}\n"
            f"DEC_ID={DEC_KEYS[0][2]}\n"
            f"MAC_TOKEN={MORE_TOKEN}\n"
            f"MAC_ID={MAC_KEYS[0][2]}\n"
            f"KA_TOKEN={MORE_TOKEN}\n"
            f"KA_ID={KA_KEYS[0][2]}\n")


def run_recipes(token, script: str, cwd: Path) -> subprocess.CompletedProcess:
    """script in bash -euo pipefail, with kms11 on the PATH, bounded in time."""
    env = {**token.env, "PATH": f"{KMS11.parent}:{token.env.get('PATH', os.defpath)}"}
    r = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=cwd, env=env, capture_output=True,
                       stdin=subprocess.DEVNULL, timeout=TIMEOUT)
    assert r.returncode == 0, (f"recipe exited {r.returncode}\nstdout: {r.stdout.decode(errors='replace')}\n"
                               f"stderr: {r.stderr.decode(errors='replace')}")
    return r


def kms_key(token, key_id: str):
    return serialization.load_pem_public_key(token.public_pem(key_id).read_bytes())


def test_every_block_of_the_page_is_run():
    assert list(recipes(DOC)) == RECIPES
    assert unmarked_sh_blocks(DOC) == 0, "a ```sh block without a <!-- test: name --> marker"
    # The test's settings set exactly the variables the page's settings set.
    ours = re.findall(r"^(?:export )?(\w+)=", settings("c", "a1", "b1"), re.M)
    assert re.findall(r"^(?:export )?(\w+)=", recipes(DOC)["settings"], re.M) == ours


@pytest.mark.parametrize("rsa_id,ec_id", PAIRS, ids=[f"{r}-{e}" for r, e in PAIRS])
def test_recipe_as_written(token, tmp_path, rsa_id, ec_id):
    blocks = recipes(DOC)
    script = settings(token.env["KMS11_CONFIG"], rsa_id, ec_id) + "".join(blocks[n] for n in RECIPES[1:])
    out = run_recipes(token, script, tmp_path).stdout.decode()

    # list: the token and each key's two objects.
    assert "token label        : interop" in out
    for alias, _, kid in KEYS:
        assert f"label:      {alias}\n  ID:         {kid}\n" in out
    # openssl, in the recipe, verified the four signatures.
    assert out.count("Verified OK") == 3, out
    assert out.count("Signature Verified Successfully") == 1, out
    assert len((tmp_path / "random.bin").read_bytes()) == 32

    # The public keys the recipe used are the ones KMS returns.
    assert (tmp_path / "rsa.pem").read_bytes() == token.public_pem(rsa_id).read_bytes()
    assert (tmp_path / "ec.pem").read_bytes() == token.public_pem(ec_id).read_bytes()

    # A second implementation verifies every signature with KMS's key.
    data = (tmp_path / "data.txt").read_bytes()
    assert data == b"release 1.2.3\n"
    rsa, eckey = kms_key(token, rsa_id), kms_key(token, ec_id)
    rsa.verify((tmp_path / "data.rsa.sig").read_bytes(), data, padding.PKCS1v15(), hashes.SHA256())
    rsa.verify((tmp_path / "data.pss.sig").read_bytes(), data,
               padding.PSS(mgf=padding.MGF1(hashes.SHA384()), salt_length=48), hashes.SHA384())
    eckey.verify((tmp_path / "data.ec.sig").read_bytes(), data, ec.ECDSA(hashes.SHA256()))
    edkey = kms_key(token, ED_KEYS[0][2])
    assert isinstance(edkey, ed25519.Ed25519PublicKey)
    edkey.verify((tmp_path / "data.ed.sig").read_bytes(), data)
    assert (tmp_path / "ed.pem").read_bytes() == token.public_pem(ED_KEYS[0][2]).read_bytes()
    # decrypt: the recipe's data key came back through KMS Decrypt.
    assert (tmp_path / "data-key.out").read_bytes() == (tmp_path / "data-key.bin").read_bytes()
    assert len((tmp_path / "data-key.bin").read_bytes()) == 32
    # mac: Python's hmac with the key's imported material; KMS took it back.
    alias = MAC_KEYS[0][0]
    assert (tmp_path / "data.mac").read_bytes() == hmac.new(token.mac_material[alias], data, "sha256").digest()
    assert out.count("Signature is valid") == 1, out
    # derive: the secret pyca's ECDH of the peer key with KMS's key gives.
    peer = serialization.load_pem_private_key((tmp_path / "peer.key").read_bytes(), None)
    secret = peer.exchange(ec.ECDH(), kms_key(token, KA_KEYS[0][2]))
    assert (tmp_path / "ours.bin").read_bytes() == secret
    assert (tmp_path / "ka.pem").read_bytes() == token.public_pem(KA_KEYS[0][2]).read_bytes()


def test_pkcs11_tool_test_fails_as_the_page_says(token):
    """`pkcs11-tool --test` ends with the error the page quotes (KMS cannot
    sign the SHA-1 DigestInfo it signs), after the notes the page names."""
    doc = (REPO / "docs" / DOC).read_text()
    m = re.search(r"<!-- test-output: pkcs11-tool-test -->\n\s*```text\n(.*?)\n\s*```", doc, re.S)
    assert m, "docs/pkcs11-tool.md lost the quoted --test output"
    quoted = [line.strip() for line in m.group(1).splitlines()]
    r = token.pkcs11_tool("--token-label", "interop", "--test", check=False)
    out = r.stdout.decode() + r.stderr.decode()
    assert r.returncode != 0, out
    assert r.stderr.decode().strip().splitlines()[-len(quoted):] == quoted, out
    assert "C_SignUpdate failed: rv = CKR_FUNCTION_NOT_SUPPORTED" in out
    # The random number generator (KMS's GenerateRandom) passes its test.
    assert "seeding (C_SeedRandom) not supported\n  seems to be OK" in out, out


@pytest.mark.parametrize("option", [("--salt-len", "20"), ("--mgf", "MGF1-SHA256")], ids=["salt", "mgf"])
def test_other_pss_parameters_are_refused_as_the_page_says(token, tmp_path, option):
    (tmp_path / "data.txt").write_bytes(b"x\n")
    r = token.pkcs11_tool("--id", "a1", "--sign", "--mechanism", "SHA384-RSA-PKCS-PSS", *option,
                          "-i", str(tmp_path / "data.txt"), "-o", str(tmp_path / "sig"), check=False)
    assert r.returncode != 0
    assert b"C_SignInit failed: rv = CKR_MECHANISM_PARAM_INVALID" in r.stderr, r.stderr
    assert "`CKR_MECHANISM_PARAM_INVALID`" in (REPO / "docs" / DOC).read_text()
