"""`kms11 pubkey`: every format checked against the key KMS returns, with
openssl, ssh-keygen, PyJWT and an independent RFC 7638 / libtrust
computation."""

import base64
import hashlib
import json
import subprocess

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from conftest import KEYS


def b64url_uint(n: int, length: int | None = None) -> str:
    raw = n.to_bytes(length or (n.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def expected_jwk_members(public) -> dict:
    """The RFC 7638 required members, computed from cryptography's numbers."""
    if isinstance(public, rsa.RSAPublicKey):
        n = public.public_numbers()
        return {"e": b64url_uint(n.e), "kty": "RSA", "n": b64url_uint(n.n)}
    if isinstance(public, ed25519.Ed25519PublicKey):
        # RFC 8037: an octet key pair, x the raw 32-byte key.
        raw = public.public_bytes(Encoding.Raw, PublicFormat.Raw)
        return {"crv": "Ed25519", "kty": "OKP", "x": base64.urlsafe_b64encode(raw).rstrip(b"=").decode()}
    crv = {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521", "secp256k1": "secp256k1"}[public.curve.name]
    size = (public.curve.key_size + 7) // 8
    n = public.public_numbers()
    return {"crv": crv, "kty": "EC", "x": b64url_uint(n.x, size), "y": b64url_uint(n.y, size)}


def rfc7638(members: dict) -> str:
    canonical = json.dumps(members, sort_keys=True, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(hashlib.sha256(canonical).digest()).rstrip(b"=").decode()


def libtrust(spki_der: bytes) -> str:
    b32 = base64.b32encode(hashlib.sha256(spki_der).digest()[:30]).decode().rstrip("=")
    return ":".join(b32[i:i + 4] for i in range(0, len(b32), 4))


@pytest.mark.parametrize("alias", [a for a, _, _ in KEYS])
def test_pem_and_der_are_the_kms_public_key(cli, alias):
    der = cli.public_der(alias)
    assert cli.run("pubkey", f"alias/{alias}", "--format", "der").stdout == der
    pem = cli.run("pubkey", f"alias/{alias}").stdout
    assert pem == cli.public_key(alias).public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    # openssl reads it back to the same DER.
    r = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "DER"], input=pem, capture_output=True, timeout=30)
    assert r.returncode == 0 and r.stdout == der


@pytest.mark.parametrize("alias", [a for a, _, _ in KEYS])
def test_jwk_members_and_both_kinds_of_kid(cli, alias):
    public, der = cli.public_key(alias), cli.public_der(alias)
    members = expected_jwk_members(public)
    jwk = json.loads(cli.run("pubkey", f"alias/{alias}", "--format", "jwk").stdout)
    assert {k: jwk[k] for k in members} == members
    assert jwk["kid"] == rfc7638(members)
    assert jwk["use"] == "sig"
    if isinstance(public, ed25519.Ed25519PublicKey):
        assert jwk["alg"] == "EdDSA"  # RFC 8037
    jwk2 = json.loads(cli.run("pubkey", f"alias/{alias}", "--format", "jwk", "--kid", "libtrust").stdout)
    assert jwk2["kid"] == libtrust(der)
    # PyJWT builds the same public key from the JWK.
    built = jwt.PyJWK(jwk).key
    assert built.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo) == der


def test_jwks_holds_every_key_named_and_verifies_a_token_signed_through_kms(cli, tmp_path):
    doc = json.loads(cli.run("pubkey", "alias/p256", "alias/rsa2048", "--format", "jwks", "--kid", "libtrust").stdout)
    keys = jwt.PyJWKSet.from_dict(doc)
    assert [k.key_id for k in keys.keys] == [libtrust(cli.public_der("p256")), libtrust(cli.public_der("rsa2048"))]
    for alias, alg in [("p256", "ES256"), ("rsa2048", "RS256")]:
        kid = libtrust(cli.public_der(alias))
        header = {"typ": "JWT", "alg": alg, "kid": kid}
        claims = {"iss": "token-server", "sub": "ci", "aud": "registry", "access": []}
        enc = lambda o: base64.urlsafe_b64encode(json.dumps(o).encode()).rstrip(b"=").decode()  # noqa: E731
        signing_input = f"{enc(header)}.{enc(claims)}"
        f = tmp_path / f"{alias}.in"
        f.write_text(signing_input)
        sig = cli.run("sign", f"alias/{alias}", "--alg", alg, "--raw-ecdsa", str(f)).stdout
        token = signing_input + "." + base64.urlsafe_b64encode(sig).rstrip(b"=").decode()
        key = keys[jwt.get_unverified_header(token)["kid"]]
        assert jwt.decode(token, key=key.key, algorithms=[alg], audience="registry")["sub"] == "ci"


@pytest.mark.parametrize("alias", ["p256", "p384", "p521", "rsa2048", "ed25519"])
def test_openssh_line_is_what_ssh_keygen_makes_from_the_kms_key(cli, tmp_path, alias):
    pem = tmp_path / "k.pem"
    pem.write_bytes(cli.public_key(alias).public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo))
    if alias == "ed25519":
        # OpenSSH 9.2's ssh-keygen -i reads no Ed25519 PKCS8: cryptography writes the line.
        want = cli.public_key(alias).public_bytes(Encoding.OpenSSH, PublicFormat.OpenSSH).decode().split()
    else:
        want = subprocess.run(["ssh-keygen", "-i", "-m", "PKCS8", "-f", str(pem)], capture_output=True,
                              timeout=30, text=True, check=True).stdout.split()
    line = cli.run("pubkey", f"alias/{alias}", "--format", "openssh").stdout.decode().split()
    assert line[:2] == want[:2]
    pub = tmp_path / "k.pub"
    pub.write_text(" ".join(line) + "\n")
    r = subprocess.run(["ssh-keygen", "-l", "-f", str(pub)], capture_output=True, timeout=30, text=True)
    assert r.returncode == 0, r.stderr


def test_openssh_refuses_secp256k1_and_says_what_to_use(cli):
    r = cli.run("pubkey", "alias/k1", "--format", "openssh", check=False)
    assert r.returncode == 1 and r.stdout == b""
    assert b"OpenSSH has no key type for ECC_SECG_P256K1" in r.stderr and b"--format pem" in r.stderr


def test_keys_are_named_by_uri_label_arn_or_key_id(cli):
    der = cli.public_der("rsa2048")
    arn = cli.arn("rsa2048")
    listed = json.loads(cli.run("list", "--json").stdout)["tokens"][0]["keys"][4]
    for name in [listed["objects"]["private"], "pkcs11:object=release%2Frsa%202048", "release/rsa 2048",
                 arn, arn.rsplit("/", 1)[1]]:
        assert cli.run("pubkey", name, "--format", "der").stdout == der, name


def test_a_kms_key_outside_the_configuration_can_be_named(cli, tmp_path):
    key = cli.kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]
    der = cli.kms.get_public_key(KeyId=key["KeyId"])["PublicKey"]
    assert cli.run("pubkey", key["Arn"], "--format", "der").stdout == der


def test_unknown_names_and_ambiguity_are_explained(cli):
    r = cli.run("pubkey", "no-such-label", check=False)
    assert r.returncode == 1 and b"kms11 list" in r.stderr
    r = cli.run("pubkey", "alias/p256", "alias/p384", "--format", "jwk", check=False)
    assert r.returncode == 1 and b"only --format jwks or pem" in r.stderr
    r = cli.run("pubkey", "pkcs11:token=cli", check=False)
    assert r.returncode == 1 and b"names 7 keys" in r.stderr
    r = cli.run("pubkey", "alias/not-there", check=False)
    assert r.returncode == 1 and b"NotFoundException" in r.stderr and b"alias/not-there" in r.stderr
