"""Java's SunPKCS11 (issue 16): `keytool -genkeypair` makes a KMS key
through a token that allows key management, signs its self-signed
certificate through KMS, sets the key's CKA_ID and stores the certificate
(certificate_dir); a new `keytool -list` process finds the pair, a new
`jarsigner` process signs a jar with it, and `jarsigner -verify` (Java's
own code) verifies the jar; the certificate holds KMS's public key."""

from __future__ import annotations

import shutil
import subprocess
import zipfile

import pytest
from conftest import MODULE, module_env
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

import kmshelp

TOKEN = "java"
STOREPASS = "1234"


@pytest.fixture(scope="module")
def java(tmp_path_factory):
    if shutil.which("keytool") is None:
        pytest.fail("keytool is missing: scripts/setup installs openjdk-17-jdk-headless")
    d = tmp_path_factory.mktemp("java")
    server, url = kmshelp.start_emulator_process()
    conf = d / "pkcs11.conf"
    conf.write_text(
        f'[[token]]\nlabel = "{TOKEN}"\nallow_key_management = true\n'
        f'certificate_dir = "{d / "certs"}"\n'
    )
    conf.chmod(0o600)
    cfg = d / "sunpkcs11.cfg"
    cfg.write_text(f"name = kms11\nlibrary = {MODULE}\nslotListIndex = 0\n")
    yield module_env(conf, url, d / "cache"), kmshelp.make_client(url), d, cfg
    server.stop()


def keystore_args(cfg):
    return ["-keystore", "NONE", "-storetype", "PKCS11", "-addprovider", "SunPKCS11",
            "-providerArg", str(cfg), "-storepass", STOREPASS]


def run(env, *argv):
    r = subprocess.run(argv, env=env, capture_output=True, timeout=180)
    out = (r.stdout + r.stderr).decode(errors="replace")
    assert r.returncode == 0, f"{' '.join(argv)}:\n{out}"
    return out


# (alias, keytool's key options, the signature algorithm). An RSA key needs
# -providername: without it keytool makes RSA keys in software (SunRsaSign)
# and then asks the token to import the private key, which a KMS token
# refuses.
CASES = [
    ("release-ec", ["-keyalg", "EC", "-groupname", "secp256r1"], "SHA256withECDSA"),
    ("release-rsa", ["-keyalg", "RSA", "-keysize", "2048", "-providername", "SunPKCS11-kms11"],
     "SHA256withRSA"),
]


@pytest.mark.parametrize("alias,key_options,sigalg", CASES, ids=[c[0] for c in CASES])
def test_keytool_makes_a_key_that_jarsigner_signs_with_in_another_process(java, alias, key_options, sigalg):
    env, kms, d, cfg = java
    before = {k["KeyId"] for k in kms.list_keys()["Keys"]}
    run(env, "keytool", "-genkeypair", *keystore_args(cfg), "-alias", alias, *key_options,
        "-dname", "CN=kms11 java test", "-sigalg", sigalg)
    listed = run(env, "keytool", "-list", *keystore_args(cfg))
    assert f"{alias}, PrivateKeyEntry" in listed, listed

    # The certificate holds the public key KMS has for the new key.
    pem = run(env, "keytool", "-exportcert", "-rfc", *keystore_args(cfg), "-alias", alias)
    cert = x509.load_pem_x509_certificate(pem[pem.index("-----BEGIN"):].encode())
    new = [k for k in kms.list_keys()["Keys"] if k["KeyId"] not in before]
    assert len(new) == 1, new
    der = kms.get_public_key(KeyId=new[0]["KeyId"])["PublicKey"]
    assert cert.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo) == der
    tags = {t["TagKey"]: t["TagValue"] for t in kms.list_resource_tags(KeyId=new[0]["KeyId"])["Tags"]}
    assert tags["kms11:cka-id"] == alias.encode().hex(), tags

    jar = d / f"{alias}.jar"
    with zipfile.ZipFile(jar, "w") as z:
        z.writestr("hello.txt", "signed through kms11\n")
    run(env, "jarsigner", *keystore_args(cfg), "-sigalg", sigalg, str(jar), alias)
    verified = run(env, "jarsigner", "-verify", str(jar))
    assert "jar verified." in verified, verified

    # A changed entry is refused by Java's verifier.
    changed = d / f"{alias}-changed.jar"
    with zipfile.ZipFile(jar) as src, zipfile.ZipFile(changed, "w") as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            dst.writestr(item, b"changed\n" if item.filename == "hello.txt" else data)
    r = subprocess.run(["jarsigner", "-verify", str(changed)], env=env, capture_output=True, timeout=180)
    out = r.stdout + r.stderr
    assert r.returncode != 0 and b"jar verified." not in out, out
    assert b"digest error" in out, out
