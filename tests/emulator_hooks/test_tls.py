"""--tls-cert: HTTPS with a self-signed certificate written to a file."""

from __future__ import annotations

import ipaddress
import re

import pytest
from botocore.exceptions import SSLError
from cryptography import x509

import emuhelp
from kmshelp import make_client


@pytest.fixture
def tls_emulator(start_emulator, tmp_path):
    cert = tmp_path / "emulator-cert.pem"
    url = start_emulator("--tls-cert", cert)
    return url, cert


def test_url_is_https(tls_emulator):
    url, _ = tls_emulator
    assert re.fullmatch(r"https://127\.0\.0\.1:\d+", url), url


def test_certificate_covers_127_0_0_1_and_localhost(tls_emulator):
    _, cert_path = tls_emulator
    assert cert_path.is_file(), "the certificate must be written before the URL line"
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert ipaddress.ip_address("127.0.0.1") in san.get_values_for_type(x509.IPAddress)
    assert "localhost" in san.get_values_for_type(x509.DNSName)


def test_boto3_over_https_with_cert(tls_emulator):
    url, cert = tls_emulator
    kms = make_client(url, verify=str(cert))
    assert len(kms.generate_random(NumberOfBytes=16)["Plaintext"]) == 16
    key = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]
    assert kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["Arn"] == key["Arn"]


def test_boto3_over_https_via_localhost(tls_emulator):
    url, cert = tls_emulator
    port = url.rsplit(":", 1)[1]
    kms = make_client(f"https://localhost:{port}", verify=str(cert))
    assert len(kms.generate_random(NumberOfBytes=4)["Plaintext"]) == 4


def test_untrusted_certificate_is_rejected(tls_emulator):
    url, _ = tls_emulator
    kms = make_client(url)  # default CA bundle: the self-signed cert is not trusted
    with pytest.raises(SSLError):
        kms.generate_random(NumberOfBytes=4)


def test_admin_endpoints_over_https(tls_emulator):
    url, cert = tls_emulator
    make_client(url, verify=str(cert)).generate_random(NumberOfBytes=4)
    assert emuhelp.stats(url, cafile=str(cert))["requests"]["GenerateRandom"] == 1
