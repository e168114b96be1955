"""Docker registry tokens (JWT, RS256 and ES256) signed through libkms11.so by
the two issuers, examples/registry_token.py (python-pkcs11) and
examples/registry_token.rs (cryptoki), and the recipe of docs/jwt.md run as
written (only its Settings block is the test's own).

Nothing here trusts kms11's view of a key: each token is verified by PyJWT
with the public key from KMS GetPublicKey (boto3), and both kinds of kid are
computed here from that key: the libtrust key ID from its DER
SubjectPublicKeyInfo, the RFC 7638 thumbprint from the JWK that PyJWT makes
of it."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import subprocess
import sys
import time
from pathlib import Path

import jwt
import pytest
from conftest import MODULE, REPO, kmshelp
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from recipes import recipes, unmarked_sh_blocks

PY_ISSUER = REPO / "examples" / "registry_token.py"
RS_ISSUER = REPO / "target" / "debug" / "examples" / "registry_token"
KMS11 = REPO / "target" / "debug" / "kms11"
PYTHON = sys.executable  # the test's Python has python-pkcs11, PyJWT and cryptography
TIMEOUT = 120  # seconds, for every subprocess

# docs/jwt.md's blocks, in order; every one is run.
RECIPES = ["settings", "config", "publish", "issue-python", "issue-rust", "verify"]

# (alg, how the key is named, the name, its KMS alias)
CASES = [
    ("RS256", "--id", "a1", "rsa2048"),
    ("RS256", "--key", "rsa3072", "rsa3072"),
    ("RS256", "--id", "a3", "rsa4096"),
    ("ES256", "--id", "b1", "p256"),
    ("ES256", "--key", "p256", "p256"),
]
LIBTRUST_SHAPE = re.compile(r"^([A-Z2-7]{4}:){11}[A-Z2-7]{4}$")


@pytest.fixture(scope="module", autouse=True)
def built():
    for path in (MODULE, KMS11, RS_ISSUER):
        if not path.exists():
            pytest.fail(f"{path} is missing: run cargo build --workspace --all-targets", pytrace=False)
    source = REPO / "examples" / "registry_token.rs"
    if RS_ISSUER.stat().st_mtime < source.stat().st_mtime:
        pytest.fail(f"{RS_ISSUER} is older than {source}: run cargo build --example registry_token", pytrace=False)


# ---- independent computations, from the key KMS returns ----

def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def kms_key(token, alias: str):
    """The public key from KMS GetPublicKey: (cryptography key, DER SPKI)."""
    der = token.kms.get_public_key(KeyId=f"alias/{alias}")["PublicKey"]
    return kmshelp.load_public_key(der), der


def libtrust(spki_der: bytes) -> str:
    b32 = base64.b32encode(hashlib.sha256(spki_der).digest()[:30]).decode().rstrip("=")
    return ":".join(b32[i:i + 4] for i in range(0, len(b32), 4))


def rfc7638(jwk: dict) -> str:
    required = {"RSA": ("e", "kty", "n"), "EC": ("crv", "kty", "x", "y")}[jwk["kty"]]
    canonical = "{" + ",".join(f'"{k}":"{jwk[k]}"' for k in required) + "}"
    return b64url(hashlib.sha256(canonical.encode()).digest())


def thumbprint(public) -> str:
    algorithm = jwt.algorithms.RSAAlgorithm if isinstance(public, rsa.RSAPublicKey) else jwt.algorithms.ECAlgorithm
    return rfc7638(algorithm.to_jwk(public, as_dict=True))


def expected_kid(token, alias: str, kind: str) -> str:
    public, der = kms_key(token, alias)
    return libtrust(der) if kind == "libtrust" else thumbprint(public)


def same_key(a, b) -> bool:
    return a.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo) == b.public_bytes(
        Encoding.DER, PublicFormat.SubjectPublicKeyInfo)


def test_rfc7638_example():
    """The thumbprint function here gives RFC 7638's own example (section 3.1)."""
    jwk = {
        "kty": "RSA",
        "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiF"
             "V4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7"
             "d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44"
             "-csFCur-kEgU8awapJzKnqDKgw",
        "e": "AQAB",
        "alg": "RS256",
        "kid": "2011-04-29",
    }
    assert rfc7638(jwk) == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"


# ---- what every token must be ----

def check_token(raw: str, public, alg: str, kid: str, issuer: str, audience: str) -> dict:
    """Header, claims and signature of one token, checked against the KMS
    public key; returns the claims."""
    head, body, sig = raw.split(".")
    header, claims, signature = json.loads(unb64url(head)), json.loads(unb64url(body)), unb64url(sig)
    assert header == {"typ": "JWT", "alg": alg, "kid": kid}
    assert set(claims) == {"iss", "sub", "aud", "exp", "nbf", "iat", "jti", "access"}
    assert (claims["iss"], claims["aud"]) == (issuer, audience)
    assert all(type(claims[c]) is int for c in ("exp", "nbf", "iat"))
    assert claims["nbf"] <= claims["iat"] < claims["exp"]
    assert isinstance(claims["jti"], str) and len(claims["jti"]) >= 16
    # JOSE's ES256 is r || s, 32 bytes each; RS256 is one modulus long.
    assert len(signature) == (64 if alg == "ES256" else public.key_size // 8)

    decode = dict(algorithms=[alg], audience=audience, issuer=issuer)
    assert jwt.decode(raw, public, **decode) == claims
    # A changed claim, or a changed signature, fails.
    forged = dict(claims, access=[{"type": "repository", "name": "*", "actions": ["*"]}])
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(f"{head}.{b64url(json.dumps(forged).encode())}.{sig}", public, **decode)
    flipped = bytes([signature[0] ^ 1]) + signature[1:]
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(f"{head}.{body}.{b64url(flipped)}", public, **decode)
    with pytest.raises(jwt.InvalidAudienceError):
        jwt.decode(raw, public, algorithms=[alg], audience="another.registry", issuer=issuer)
    return claims


# ---- the issuers, one token at a time ----

def issue(token, issuer: str, *args: str) -> subprocess.CompletedProcess:
    argv = [PYTHON, str(PY_ISSUER)] if issuer == "python" else [str(RS_ISSUER)]
    return token.run(*argv, "--module", str(MODULE), "--token", "interop", *args, check=False)


@pytest.mark.parametrize("kid", ["libtrust", "thumbprint"])
@pytest.mark.parametrize("alg,by,name,alias", CASES, ids=[f"{a}-{b[2:]}-{n}" for a, b, n, _ in CASES])
@pytest.mark.parametrize("issuer", ["python", "rust"])
def test_token(token, issuer, alg, by, name, alias, kid):
    args = [by, name, "--alg", alg, "--kid", kid, "--issuer", "test issuer", "--audience", "registry.test:5000",
            "--subject", "robot$ci", "--scope", "repository:team/app:pull,push", "--scope", "registry:catalog:*",
            "--ttl", "600"]
    before = int(time.time())
    runs = [issue(token, issuer, *args) for _ in range(2)]
    after = int(time.time())
    for r in runs:
        assert r.returncode == 0, r.stderr.decode(errors="replace")
    public, _ = kms_key(token, alias)
    kid_value = expected_kid(token, alias, kid)
    if kid == "libtrust":
        assert LIBTRUST_SHAPE.match(kid_value)
    claims = [check_token(r.stdout.decode().strip(), public, alg, kid_value, "test issuer", "registry.test:5000")
              for r in runs]
    for c in claims:
        assert c["sub"] == "robot$ci"
        assert c["access"] == [
            {"type": "repository", "name": "team/app", "actions": ["pull", "push"]},
            {"type": "registry", "name": "catalog", "actions": ["*"]},
        ]
        assert before - 1 <= c["iat"] <= after + 1
        assert c["exp"] - c["iat"] == 600
    assert claims[0]["jti"] != claims[1]["jti"]


MISMATCHES = [("RS256", "b1", "an RSA key"), ("ES256", "a1", "a P-256 key"), ("ES256", "b2", "P-256")]


@pytest.mark.parametrize("alg,key_id,message", MISMATCHES, ids=[f"{a}-{k}" for a, k, _ in MISMATCHES])
@pytest.mark.parametrize("issuer", ["python", "rust"])
def test_issuer_refuses_an_algorithm_the_key_cannot_sign(token, issuer, alg, key_id, message):
    r = issue(token, issuer, "--id", key_id, "--alg", alg)
    assert r.returncode == 1
    assert r.stdout == b""
    assert message in r.stderr.decode()


@pytest.mark.parametrize("issuer", ["python", "rust"])
def test_issuer_names_a_missing_key(token, issuer):
    r = issue(token, issuer, "--key", "no-such-key")
    assert r.returncode == 1 and r.stdout == b""
    assert "no-such-key" in r.stderr.decode()


# ---- docs/jwt.md, as written ----

def recipe(name: str) -> str:
    return recipes("jwt.md")[name]


def doc_settings() -> dict[str, str]:
    return dict(re.findall(r"^(?:export )?(\w+)=(\S*)", recipe("settings"), re.M))


def settings(work: Path, kid: str) -> str:
    doc = doc_settings()
    return (
        f"KMS11_MODULE={MODULE}\n"
        f"KMS11={REPO / doc['KMS11']}\n"
        f"PY_ISSUER={REPO / doc['PY_ISSUER']}\n"
        f"RS_ISSUER={REPO / doc['RS_ISSUER']}\n"
        f"PYTHON={PYTHON}\n"
        f"export KMS11_CONFIG={work}/registry.conf\n"
        "export AWS_REGION=us-east-1\n"
        "TOKEN=registry\n"
        "ES_KEY=alias/p256\n"
        "RS_KEY=alias/rsa2048\n"
        "SERVICE=registry.test:5000\n"
        "ISSUER=test-issuer\n"
        f"KID={kid}\n"
    )


def test_every_recipe_in_the_docs_is_run(tmp_path):
    assert list(recipes("jwt.md")) == RECIPES
    assert unmarked_sh_blocks("jwt.md") == 0, "a shell block without a <!-- test: name --> marker"
    # The test's settings set every variable the doc's settings set, and the
    # doc's paths are the checkout's.
    assert list(doc_settings()) == re.findall(r"^(?:export )?(\w+)=", settings(tmp_path, "libtrust"), re.M)
    doc = doc_settings()
    assert (doc["PY_ISSUER"], doc["RS_ISSUER"], doc["KMS11"]) == (
        str(PY_ISSUER.relative_to(REPO)), str(RS_ISSUER.relative_to(REPO)), str(KMS11.relative_to(REPO)))
    assert (REPO / doc["KMS11_MODULE"]).exists()
    assert doc["KID"] in ("libtrust", "thumbprint")


ISSUED = [("es256-python.jwt", "ES256", "p256", "alice"), ("rs256-python.jwt", "RS256", "rsa2048", "ci"),
          ("es256-rust.jwt", "ES256", "p256", "alice"), ("rs256-rust.jwt", "RS256", "rsa2048", "ci")]


@pytest.mark.parametrize("kid", ["libtrust", "thumbprint"])
def test_recipe(token, tmp_path, kid):
    script = "set -euo pipefail\n" + settings(tmp_path, kid) + "".join(recipe(n) for n in RECIPES[1:])
    env = {k: v for k, v in token.env.items() if k != "KMS11_CONFIG"}
    r = subprocess.run(["bash", "-c", script], cwd=tmp_path, env=env, capture_output=True, timeout=TIMEOUT,
                       stdin=subprocess.DEVNULL)
    out, err = r.stdout.decode(errors="replace"), r.stderr.decode(errors="replace")
    assert r.returncode == 0, f"the recipe exited {r.returncode}\nstdout: {out}\nstderr: {err}"
    assert "token 'registry'" in out  # kms11 list read the configuration the recipe wrote

    kids = {alias: expected_kid(token, alias, kid) for alias in ("p256", "rsa2048")}
    # What the recipe's verify block printed: one line per token.
    for name, alg, alias, sub in ISSUED:
        assert re.search(rf"^{re.escape(name)}: {alg} kid {re.escape(kids[alias])}: {sub} \[", out, re.M), out

    # Each token, checked here with the KMS public key.
    for name, alg, alias, sub in ISSUED:
        public, _ = kms_key(token, alias)
        claims = check_token((tmp_path / name).read_text().strip(), public, alg, kids[alias],
                             "test-issuer", "registry.test:5000")
        assert claims["sub"] == sub
        actions = ["pull", "push"] if sub == "alice" else ["pull"]
        assert claims["access"] == [{"type": "repository", "name": "library/app", "actions": actions}]

    # The JWKS: the KMS keys, under the kids the tokens carry.
    jwks = jwt.PyJWKSet.from_dict(json.loads((tmp_path / "jwks.json").read_text()))
    assert [k.key_id for k in jwks.keys] == [kids["p256"], kids["rsa2048"]]
    for k, alias in zip(jwks.keys, ("p256", "rsa2048")):
        assert same_key(k.key, kms_key(token, alias)[0])

    # The rootcertbundle: certificates of the KMS keys, whose key IDs are the
    # tokens' kid the way a registry computes them (2.x: libtrust; 3.x:
    # RFC 7638 thumbprint).
    certs = x509.load_pem_x509_certificates((tmp_path / "rootcertbundle.pem").read_bytes())
    assert len(certs) == 2
    for cert, alias in zip(certs, ("p256", "rsa2048")):
        public = cert.public_key()
        assert same_key(public, kms_key(token, alias)[0])
        assert isinstance(public, ec.EllipticCurvePublicKey if alias == "p256" else rsa.RSAPublicKey)
        spki = public.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
        assert (libtrust(spki) if kid == "libtrust" else thumbprint(public)) == kids[alias]
