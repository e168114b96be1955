"""`kms11 cert` and `kms11 csr`: certificates and requests signed by the KMS
key, verified by openssl and by Python `cryptography` with the public key
from KMS; reproducible as the command promises."""

import datetime
import subprocess

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

NO_EXPIRY = datetime.datetime(9999, 12, 31, 23, 59, 59, tzinfo=datetime.timezone.utc)


def verify_with(public, signature: bytes, data: bytes, hash_alg) -> None:
    if isinstance(public, rsa.RSAPublicKey):
        public.verify(signature, data, padding.PKCS1v15(), hash_alg)
    elif isinstance(public, ed25519.Ed25519PublicKey):
        assert hash_alg is None  # RFC 8410: Ed25519 names no hash
        public.verify(signature, data)
    else:
        public.verify(signature, data, ec.ECDSA(hash_alg))


def openssl(*args, input=None):
    return subprocess.run(["openssl", *args], input=input, capture_output=True, timeout=60)


@pytest.mark.parametrize("alias", ["p256", "p384", "p521", "k1", "rsa2048", "rsa3072", "ed25519"])
def test_certificate_verifies_and_carries_the_kms_key_and_creation_date(cli, tmp_path, alias):
    out = tmp_path / "c.pem"
    cli.run("cert", f"alias/{alias}", "--subject", "CN=registry token issuer,O=Example", "--out", str(out))
    cert = x509.load_pem_x509_certificate(out.read_bytes())
    public = cli.public_key(alias)
    assert cert.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo) == cli.public_der(alias)
    verify_with(public, cert.signature, cert.tbs_certificate_bytes, cert.signature_hash_algorithm)
    created = cli.kms.describe_key(KeyId=f"alias/{alias}")["KeyMetadata"]["CreationDate"]
    assert cert.not_valid_before_utc == created.replace(microsecond=0)
    assert cert.not_valid_after_utc == NO_EXPIRY
    assert cert.subject == cert.issuer
    assert cert.subject.rfc4514_string() == "CN=registry token issuer,O=Example"
    assert cert.serial_number > 0
    if alias != "k1":  # OpenSSL's default build has secp256k1 too, but checks the same thing
        r = openssl("verify", "-x509_strict", "-CAfile", str(out), str(out))
        assert r.returncode == 0 and b": OK" in r.stdout, r.stderr
    r = openssl("x509", "-in", str(out), "-noout", "-pubkey")
    assert r.stdout == public.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)


def test_rsa_certificates_are_the_same_bytes_every_time(cli):
    args = ("cert", "alias/rsa2048", "--subject", "CN=reproducible")
    assert cli.run(*args).stdout == cli.run(*args).stdout


def test_ed25519_certificates_are_the_same_bytes_every_time(cli):
    # Ed25519 is deterministic (RFC 8032), as PKCS#1 v1.5 is.
    args = ("cert", "alias/ed25519", "--subject", "CN=reproducible")
    assert cli.run(*args).stdout == cli.run(*args).stdout


def test_ecdsa_certificates_differ_only_in_their_signature(cli):
    args = ("cert", "alias/p256", "--subject", "CN=reproducible")
    a = x509.load_pem_x509_certificate(cli.run(*args).stdout)
    b = x509.load_pem_x509_certificate(cli.run(*args).stdout)
    assert a.tbs_certificate_bytes == b.tbs_certificate_bytes
    assert a.signature != b.signature


def test_different_certificates_of_one_key_have_different_serials(cli):
    serials = {
        x509.load_pem_x509_certificate(cli.run("cert", "alias/rsa2048", *extra).stdout).serial_number
        for extra in (["--subject", "CN=a"], ["--subject", "CN=b"], ["--subject", "CN=a", "--not-after", "2040-01-01"])
    }
    assert len(serials) == 3


def test_not_after_is_honoured(cli):
    cert = x509.load_pem_x509_certificate(
        cli.run("cert", "alias/p256", "--subject", "CN=x", "--not-after", "2051-06-30T12:00:00Z").stdout)
    assert cert.not_valid_after_utc == datetime.datetime(2051, 6, 30, 12, tzinfo=datetime.timezone.utc)


def test_bad_subject_and_dates_are_refused_before_any_kms_call(cli):
    before = cli.stats()["requests"].get("Sign", 0)
    r = cli.run("cert", "alias/p256", "--subject", "no equals sign", check=False)
    assert r.returncode == 1 and b"CN=name" in r.stderr
    r = cli.run("cert", "alias/p256", "--subject", "CN=x", "--not-after", "next year", check=False)
    assert r.returncode == 1 and b"YYYY-MM-DD" in r.stderr
    r = cli.run("cert", "alias/p256", "--subject", "CN=x", "--not-after", "1990-01-01", check=False)
    assert r.returncode == 1 and b"after the key's creation date" in r.stderr
    assert cli.stats()["requests"].get("Sign", 0) == before


@pytest.mark.parametrize("alias", ["p256", "p384", "p521", "rsa2048", "ed25519"])
def test_csr_verifies_with_openssl_and_cryptography(cli, tmp_path, alias):
    out = tmp_path / "r.csr"
    cli.run("csr", f"alias/{alias}", "--subject", "CN=www.example.com,O=Example,C=US", "--out", str(out))
    r = openssl("req", "-in", str(out), "-noout", "-verify")
    assert r.returncode == 0 and b"verify OK" in (r.stdout + r.stderr), r.stderr
    csr = x509.load_pem_x509_csr(out.read_bytes())
    assert csr.is_signature_valid
    assert csr.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo) == cli.public_der(alias)
    assert csr.subject.rfc4514_string() == "CN=www.example.com,O=Example,C=US"


def test_one_sign_call_per_certificate(cli):
    before = cli.stats()["requests"]
    cli.run("cert", "alias/p384", "--subject", "CN=count")
    after = cli.stats()["requests"]
    assert after.get("Sign", 0) - before.get("Sign", 0) == 1
    assert after.get("DescribeKey", 0) - before.get("DescribeKey", 0) == 1
