"""pkcs11-tool (OpenSC) against libkms11.so: listing without warnings,
signing with each mechanism on each key type, every signature verified by
openssl and by pkcs11-tool --verify, and --test-fork."""

from __future__ import annotations

import hashlib
import hmac
import os
import subprocess
from pathlib import Path

import pytest
from conftest import DEC_KEYS, ED_KEYS, KA_KEYS, KEYS, MAC_KEYS, MODULE, MORE_TOKEN

DATA = b"kms11 interop: the quick brown fox\n" * 3
RSA = [k for k in KEYS if k[1].startswith("RSA")]
EC = [k for k in KEYS if k[1].startswith("ECC")]
EC_HASH = {"ECC_NIST_P256": "sha256", "ECC_NIST_P384": "sha384", "ECC_NIST_P521": "sha512"}

# DER DigestInfo prefix for SHA-256 (RFC 8017 §9.2 note 1).
SHA256_DIGEST_INFO = bytes.fromhex("3031300d060960864801650304020105000420")


def test_list_slots_shows_the_token(token):
    out = token.pkcs11_tool("--list-slots").stdout.decode()
    assert "token label        : interop" in out
    assert "token manufacturer : kms11" in out
    assert "token model        : AWS KMS" in out


def test_list_objects_without_warnings(token):
    r = token.pkcs11_tool("--list-objects")
    out, err = r.stdout.decode(), r.stderr.decode()
    assert "warning" not in (out + err).lower(), out + err
    for alias, _, kid in KEYS:
        assert f"label:      {alias}" in out
        assert f"ID:         {kid}" in out
    assert out.count("Private Key Object") == len(KEYS)
    assert out.count("Public Key Object") == len(KEYS)


def sign(token, tmp_path, mechanism: str, key_id: str, data: bytes, *extra: str) -> tuple:
    inp, sig = tmp_path / "in.bin", tmp_path / f"{mechanism}-{key_id}.sig"
    inp.write_bytes(data)
    token.pkcs11_tool("--sign", "--mechanism", mechanism, "--id", key_id, "-i", str(inp), "-o", str(sig), *extra)
    return inp, sig


def verify_with_pkcs11_tool(token, mechanism, key_id, inp, sig, *extra):
    out = token.pkcs11_tool(
        "--verify", "--mechanism", mechanism, "--id", key_id, "-i", str(inp), "--signature-file", str(sig), *extra
    ).stdout.decode()
    assert "Signature is valid" in out, out


@pytest.mark.parametrize("alias,spec,key_id", RSA, ids=[k[0] for k in RSA])
def test_rsa_pkcs_over_a_digest_info(token, tmp_path, alias, spec, key_id):
    digest_info = SHA256_DIGEST_INFO + hashlib.sha256(DATA).digest()
    inp, sig = sign(token, tmp_path, "RSA-PKCS", key_id, digest_info)
    data = tmp_path / "data.bin"
    data.write_bytes(DATA)
    pem = token.public_pem(key_id)
    token.run("openssl", "dgst", "-sha256", "-verify", str(pem), "-signature", str(sig), str(data))
    verify_with_pkcs11_tool(token, "RSA-PKCS", key_id, inp, sig)


@pytest.mark.parametrize("alias,spec,key_id", RSA, ids=[k[0] for k in RSA])
def test_sha256_rsa_pkcs(token, tmp_path, alias, spec, key_id):
    inp, sig = sign(token, tmp_path, "SHA256-RSA-PKCS", key_id, DATA)
    pem = token.public_pem(key_id)
    token.run("openssl", "dgst", "-sha256", "-verify", str(pem), "-signature", str(sig), str(inp))
    verify_with_pkcs11_tool(token, "SHA256-RSA-PKCS", key_id, inp, sig)


@pytest.mark.parametrize("alias,spec,key_id", RSA, ids=[k[0] for k in RSA])
def test_sha384_rsa_pkcs_pss(token, tmp_path, alias, spec, key_id):
    inp, sig = sign(token, tmp_path, "SHA384-RSA-PKCS-PSS", key_id, DATA)
    pem = token.public_pem(key_id)
    # KMS signs PSS with a salt as long as the hash: verify exactly that.
    token.run(
        "openssl", "dgst", "-sha384", "-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:48",
        "-verify", str(pem), "-signature", str(sig), str(inp),
    )
    verify_with_pkcs11_tool(token, "SHA384-RSA-PKCS-PSS", key_id, inp, sig)


@pytest.mark.parametrize("alias,spec,key_id", EC, ids=[k[0] for k in EC])
def test_ecdsa_over_a_hash(token, tmp_path, alias, spec, key_id):
    h = hashlib.new(EC_HASH[spec], DATA).digest()
    inp, sig = sign(token, tmp_path, "ECDSA", key_id, h, "--signature-format", "openssl")
    pem = token.public_pem(key_id)
    out = token.run("openssl", "pkeyutl", "-verify", "-pubin", "-inkey", str(pem), "-in", str(inp), "-sigfile", str(sig))
    assert b"Signature Verified Successfully" in out.stdout
    verify_with_pkcs11_tool(token, "ECDSA", key_id, inp, sig, "--signature-format", "openssl")


@pytest.mark.parametrize("alias,spec,key_id", EC, ids=[k[0] for k in EC])
def test_ecdsa_sha256(token, tmp_path, alias, spec, key_id):
    inp, sig = sign(token, tmp_path, "ECDSA-SHA256", key_id, DATA, "--signature-format", "openssl")
    pem = token.public_pem(key_id)
    token.run("openssl", "dgst", "-sha256", "-verify", str(pem), "-signature", str(sig), str(inp))
    verify_with_pkcs11_tool(token, "ECDSA-SHA256", key_id, inp, sig, "--signature-format", "openssl")


@pytest.mark.parametrize("alias,spec,key_id", ED_KEYS, ids=[k[0] for k in ED_KEYS])
def test_eddsa(token, tmp_path, alias, spec, key_id):
    """pkcs11-tool --mechanism EDDSA: pure Ed25519 over the file, checked by
    openssl with the key from KMS."""
    inp, sig = sign(token, tmp_path, "EDDSA", key_id, DATA, "--token-label", MORE_TOKEN)
    assert len(sig.read_bytes()) == 64
    pem = token.public_pem(key_id)
    r = token.run("openssl", "pkeyutl", "-verify", "-pubin", "-inkey", str(pem), "-rawin", "-in", str(inp),
                  "-sigfile", str(sig))
    assert b"Signature Verified Successfully" in r.stdout, r.stdout


@pytest.mark.parametrize("alias,spec,key_id", MAC_KEYS, ids=[k[0] for k in MAC_KEYS])
@pytest.mark.parametrize("size", [1, 1000, 4096])
def test_hmac(token, tmp_path, alias, spec, key_id, size):
    """pkcs11-tool --sign -m SHA256-HMAC with an HMAC key of imported
    material: the MAC is Python's hmac of the file under that material, and
    pkcs11-tool --verify takes it (KMS VerifyMac)."""
    data = os.urandom(size)
    inp, mac = sign(token, tmp_path, "SHA256-HMAC", key_id, data, "--token-label", MORE_TOKEN)
    assert mac.read_bytes() == hmac.new(token.mac_material[alias], data, hashlib.sha256).digest()
    verify_with_pkcs11_tool(token, "SHA256-HMAC", key_id, inp, mac, "--token-label", MORE_TOKEN)


@pytest.mark.parametrize("alias,spec,key_id", KA_KEYS, ids=[k[0] for k in KA_KEYS])
def test_ecdh_derive(token, tmp_path, alias, spec, key_id):
    """pkcs11-tool --derive -m ECDH1-DERIVE with a peer key openssl made:
    the secret is the one openssl derives from the peer's private key and
    the KMS public key."""
    peer, peer_der = tmp_path / "peer.key", tmp_path / "peer.der"
    ours, theirs = tmp_path / "ours.bin", tmp_path / "theirs.bin"
    token.run("openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", str(peer))
    token.run("openssl", "pkey", "-in", str(peer), "-pubout", "-outform", "DER", "-out", str(peer_der))
    token.pkcs11_tool("--token-label", MORE_TOKEN, "--id", key_id, "--derive", "-m", "ECDH1-DERIVE",
                      "-i", str(peer_der), "-o", str(ours))
    token.run("openssl", "pkeyutl", "-derive", "-inkey", str(peer), "-peerkey", str(token.public_pem(key_id)),
              "-out", str(theirs))
    assert len(ours.read_bytes()) == 32
    assert ours.read_bytes() == theirs.read_bytes()


@pytest.mark.parametrize("alias,spec,key_id", DEC_KEYS, ids=[k[0] for k in DEC_KEYS])
@pytest.mark.parametrize("hash_alg,mgf,md", [("SHA256", "MGF1-SHA256", "sha256"), ("SHA-1", "MGF1-SHA1", "sha1")])
def test_oaep_decrypt(token, tmp_path, alias, spec, key_id, hash_alg, mgf, md):
    """pkcs11-tool --decrypt -m RSA-PKCS-OAEP of what openssl encrypted
    with the key from KMS: one KMS Decrypt, the plaintext back."""
    plain, enc, out = tmp_path / "key.bin", tmp_path / "key.enc", tmp_path / "key.out"
    plain.write_bytes(b"a 32-byte data encryption key..!")
    token.run("openssl", "pkeyutl", "-encrypt", "-pubin", "-inkey", str(token.public_pem(key_id)),
              "-pkeyopt", "rsa_padding_mode:oaep", "-pkeyopt", f"rsa_oaep_md:{md}", "-pkeyopt", f"rsa_mgf1_md:{md}",
              "-in", str(plain), "-out", str(enc))
    token.pkcs11_tool("--token-label", MORE_TOKEN, "--id", key_id, "--decrypt", "-m", "RSA-PKCS-OAEP",
                      "--hash-algorithm", hash_alg, "--mgf", mgf, "-i", str(enc), "-o", str(out))
    assert out.read_bytes() == plain.read_bytes()


@pytest.mark.parametrize("alias,spec,key_id", [k for k in KEYS if k[1] != "ECC_NIST_P384"], ids=lambda v: str(v))
def test_read_object_gives_the_kms_public_key(token, tmp_path, alias, spec, key_id):
    """pkcs11-tool builds the public key from CKA_MODULUS/CKA_PUBLIC_EXPONENT
    or CKA_EC_PARAMS/CKA_EC_POINT; it must be the key KMS has. (OpenSC 0.23's
    pkcs11-tool cannot rebuild a P-384 key from correct attributes:
    "cannot create EVP_PKEY"; P-384 is covered by the signing tests.)"""
    der = tmp_path / "pub.der"
    token.pkcs11_tool("--read-object", "--type", "pubkey", "--id", key_id, "-o", str(der))
    ours = token.run("openssl", "pkey", "-pubin", "-inform", "DER", "-in", str(der)).stdout
    assert ours == token.public_pem(key_id).read_bytes()


def test_test_fork(token):
    r = token.pkcs11_tool("--test-fork")
    assert b"Calling C_Initialize in forked child process" in r.stdout


def test_a_token_with_a_pin(token, tmp_path):
    """pin_hash set: pkcs11-tool sees the token needs login, finds no private
    key without it, is refused a wrong PIN, and signs with --login --pin
    (openssl verifies with the key from KMS)."""
    phc = subprocess.run([str(MODULE.parent / "kms11"), "pin-hash"], input=b"432198\n", capture_output=True,
                         timeout=60, check=True).stdout.decode().strip()
    conf = tmp_path / "pin.conf"
    conf.write_text(Path(token.env["KMS11_CONFIG"]).read_text().replace(
        'label = "interop"\n', f'label = "interop"\npin_hash = "{phc}"\n', 1))
    conf.chmod(0o600)
    env = dict(token.env, KMS11_CONFIG=str(conf))

    def tool(*args, check=True):
        r = subprocess.run(["pkcs11-tool", "--module", str(MODULE), *args], env=env, capture_output=True,
                           timeout=120)
        assert not check or r.returncode == 0, r.stderr.decode(errors="replace")
        return r

    slots = tool("--list-slots").stdout.decode()
    assert "login required" in slots, slots
    assert "Private Key Object" not in tool("--list-objects").stdout.decode()
    inp, sig = tmp_path / "in.bin", tmp_path / "pin.sig"
    inp.write_bytes(DATA)
    r = tool("--sign", "-m", "ECDSA-SHA256", "--id", "b1", "-i", str(inp), "-o", str(sig), check=False)
    assert r.returncode != 0
    r = tool("--login", "--pin", "1234", "--sign", "-m", "ECDSA-SHA256", "--id", "b1", "-i", str(inp),
             "-o", str(sig), check=False)
    assert r.returncode != 0 and b"CKR_PIN_INCORRECT" in r.stderr + r.stdout, r.stderr
    listed = tool("--login", "--pin", "432198", "--list-objects").stdout.decode()
    assert listed.count("Private Key Object") == len(KEYS), listed
    tool("--login", "--pin", "432198", "--sign", "-m", "ECDSA-SHA256", "--signature-format", "openssl",
         "--id", "b1", "-i", str(inp), "-o", str(sig))
    v = subprocess.run(["openssl", "dgst", "-sha256", "-verify", str(token.public_pem("b1")), "-signature", str(sig),
                        str(inp)], capture_output=True, timeout=60)
    assert v.returncode == 0 and b"Verified OK" in v.stdout, v.stdout + v.stderr
