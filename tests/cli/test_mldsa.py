"""ML-DSA keys through the kms11 command: `sign` (pure ML-DSA, the μ
computed by the module, one KMS Sign), `pubkey`, `cert` and `csr` (RFC 9881
signature algorithms), every signature verified by pyca/cryptography with
the public key from KMS."""

import os

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import mldsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat, load_der_public_key

SETS = [("ML_DSA_44", "ML-DSA-44", mldsa.MLDSA44PublicKey), ("ML_DSA_65", "ML-DSA-65", mldsa.MLDSA65PublicKey),
        ("ML_DSA_87", "ML-DSA-87", mldsa.MLDSA87PublicKey)]


def mldsa_key(cli, spec: str):
    """A KMS ML-DSA key under an alias of its own, a configuration naming
    it, and its public key as KMS gives it."""
    key = cli.kms.create_key(KeySpec=spec, KeyUsage="SIGN_VERIFY")["KeyMetadata"]
    alias = f"alias/cli-{key['KeyId']}"
    cli.kms.create_alias(AliasName=alias, TargetKeyId=key["KeyId"])
    conf = cli.write_config(f"{spec}.conf", f'[[token]]\nlabel = "pq"\n[[token.key]]\nkey = "{alias}"\n')
    public = load_der_public_key(cli.kms.get_public_key(KeyId=alias)["PublicKey"])
    return alias, conf, public


@pytest.mark.parametrize("spec,alg,cls", SETS, ids=[s[0] for s in SETS])
def test_sign_is_pure_mldsa_of_any_length(cli, tmp_path, spec, alg, cls):
    alias, conf, public = mldsa_key(cli, spec)
    assert isinstance(public, cls)
    data = os.urandom(100_000)  # far over KMS's 4,096-byte RAW messages
    f, sig = tmp_path / "data", tmp_path / "sig"
    f.write_bytes(data)
    before = cli.stats()["requests"].get("Sign", 0)
    # The key's own algorithm is the default: no --alg.
    cli.run("sign", alias, str(f), "--out", str(sig), config=conf)
    assert cli.stats()["requests"].get("Sign", 0) == before + 1
    public.verify(sig.read_bytes(), data)
    cli.run("sign", alias, "--alg", alg, str(f), "--out", str(sig), config=conf)
    public.verify(sig.read_bytes(), data)
    other = next(a for _, a, _ in SETS if a != alg)
    r = cli.run("sign", alias, "--alg", other, str(f), config=conf, check=False)
    assert r.returncode == 1 and f"use --alg {alg}".encode() in r.stderr, r.stderr


def test_pubkey_cert_and_csr(cli, tmp_path):
    alias, conf, public = mldsa_key(cli, "ML_DSA_65")
    pem = cli.run("pubkey", alias, "--format", "pem", config=conf).stdout
    assert pem == public.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    r = cli.run("pubkey", alias, "--format", "jwk", config=conf, check=False)
    assert r.returncode == 1 and b"no JWK form yet" in r.stderr and b"--format pem" in r.stderr, r.stderr
    cert = x509.load_pem_x509_certificate(cli.run("cert", alias, "--subject", "CN=post-quantum", config=conf).stdout)
    assert cert.public_key() == public
    # RFC 9881: id-ml-dsa-65, no parameters, pure ML-DSA of the TBS bytes.
    assert cert.signature_algorithm_oid.dotted_string == "2.16.840.1.101.3.4.3.18"
    public.verify(cert.signature, cert.tbs_certificate_bytes)
    csr = x509.load_pem_x509_csr(cli.run("csr", alias, "--subject", "CN=post-quantum", config=conf).stdout)
    assert csr.public_key() == public
    public.verify(csr.signature, csr.tbs_certrequest_bytes)
