"""Shared helpers for the KMS contract suite and the emulator-hooks suite.

Everything here talks to KMS only through its public API (boto3, or raw
JSON 1.1 requests signed with SigV4) and checks cryptographic results with
the independent ``cryptography`` package.

Sections:
  * clients (the server processes are in servers.py, re-exported here)
  * raw protocol requests
  * what real AWS KMS lists per KeySpec
  * error assertions
  * cryptographic checks
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import urllib.error
import urllib.request
import uuid

import boto3
import botocore.auth
import botocore.awsrequest
import botocore.credentials
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

# Server processes: servers.py, re-exported here (tests use them from kmshelp).
from servers import (  # noqa: F401
    REPO_ROOT,
    START_TIMEOUT_S,
    STOP_TIMEOUT_S,
    ServerProcess,
    contract_target,
    emulator_binary,
    free_port,
    moto_server_executable,
    start_emulator_process,
    start_moto_server,
)

REGION = "us-east-1"
ACCESS_KEY = "test"
SECRET_KEY = "test"

# Upper bounds for everything that waits (START_ and STOP_ in servers.py).
CONNECT_TIMEOUT_S = 5.0
READ_TIMEOUT_S = 30.0

# The SDK must never reach for instance metadata or a local profile.
os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
os.environ["AWS_ACCESS_KEY_ID"] = ACCESS_KEY
os.environ["AWS_SECRET_ACCESS_KEY"] = SECRET_KEY
os.environ.pop("AWS_SESSION_TOKEN", None)
os.environ.pop("AWS_PROFILE", None)


# --------------------------------------------------------------------------
# Clients
# --------------------------------------------------------------------------


def make_client(url: str, region: str = REGION, **config_kwargs):
    """A boto3 KMS client for ``url``: static credentials, no retries.

    Client-side parameter validation is off so that the *server's* validation
    is what the tests observe.
    """
    verify = config_kwargs.pop("verify", None)
    cfg = dict(
        retries={"total_max_attempts": 1, "mode": "standard"},
        connect_timeout=CONNECT_TIMEOUT_S,
        read_timeout=READ_TIMEOUT_S,
        parameter_validation=False,
    )
    cfg.update(config_kwargs)
    return boto3.session.Session().client(
        "kms",
        endpoint_url=url,
        region_name=region,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        config=Config(**cfg),
        verify=verify,
    )


# --------------------------------------------------------------------------
# Raw protocol
# --------------------------------------------------------------------------


class RawResponse:
    def __init__(self, status: int, headers: dict[str, str], body: bytes):
        self.status = status
        self.headers = headers
        self.body = body

    def json(self):
        return json.loads(self.body.decode())

    def error_type(self) -> str:
        """The short error name from ``__type`` (after any '#' prefix)."""
        return self.json()["__type"].rsplit("#", 1)[-1]

    def __repr__(self) -> str:
        return f"RawResponse({self.status}, {self.body[:500]!r})"


def raw_call(url: str, target: str, body: bytes | str | dict, region: str = REGION) -> RawResponse:
    """POST one JSON 1.1 request to ``url`` with ``X-Amz-Target: <target>``.

    ``target`` is the full header value (e.g. ``TrentService.Sign``).
    The request is SigV4-signed with the static test credentials so that it
    is a well-formed request for any endpoint.
    """
    if isinstance(body, dict):
        body = json.dumps(body)
    if isinstance(body, str):
        body = body.encode()
    headers = {
        "X-Amz-Target": target,
        "Content-Type": "application/x-amz-json-1.1",
    }
    req = botocore.awsrequest.AWSRequest(method="POST", url=url + "/", data=body, headers=headers)
    botocore.auth.SigV4Auth(
        botocore.credentials.Credentials(ACCESS_KEY, SECRET_KEY), "kms", region
    ).add_auth(req)
    prepared = req.prepare()
    http_req = urllib.request.Request(
        prepared.url, data=body, headers=dict(prepared.headers.items()), method="POST"
    )
    try:
        with urllib.request.urlopen(http_req, timeout=READ_TIMEOUT_S) as resp:
            return RawResponse(resp.status, dict(resp.headers.items()), resp.read())
    except urllib.error.HTTPError as err:
        return RawResponse(err.code, dict(err.headers.items()), err.read())


# --------------------------------------------------------------------------
# What AWS KMS lists per KeySpec (AWS KMS API reference / developer guide)
# --------------------------------------------------------------------------

RSA_SPECS = ("RSA_2048", "RSA_3072", "RSA_4096")
ECC_SIGN_SPECS = ("ECC_NIST_P256", "ECC_NIST_P384", "ECC_NIST_P521", "ECC_SECG_P256K1")
ECC_AGREEMENT_SPECS = ("ECC_NIST_P256", "ECC_NIST_P384", "ECC_NIST_P521")
HMAC_SPECS = ("HMAC_224", "HMAC_256", "HMAC_384", "HMAC_512")
# Ed25519: SIGN_VERIFY only; its algorithms each take one MessageType
# (tests/contract/test_ed25519.py), so it is not among ECC_SIGN_SPECS.
ED25519_SPEC = "ECC_NIST_EDWARDS25519"
ED25519_ALGORITHMS = ("ED25519_SHA_512", "ED25519_PH_SHA_512")
# ML-DSA (FIPS 204): SIGN_VERIFY only, one algorithm taking RAW or
# EXTERNAL_MU (tests/contract/test_mldsa.py).
ML_DSA_SPECS = ("ML_DSA_44", "ML_DSA_65", "ML_DSA_87")
ML_DSA_ALGORITHM = "ML_DSA_SHAKE_256"

RSA_SIGNING_ALGORITHMS = (
    "RSASSA_PSS_SHA_256",
    "RSASSA_PSS_SHA_384",
    "RSASSA_PSS_SHA_512",
    "RSASSA_PKCS1_V1_5_SHA_256",
    "RSASSA_PKCS1_V1_5_SHA_384",
    "RSASSA_PKCS1_V1_5_SHA_512",
)
RSA_ENCRYPTION_ALGORITHMS = ("RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256")

SIGNING_ALGORITHMS = {
    **{spec: RSA_SIGNING_ALGORITHMS for spec in RSA_SPECS},
    "ECC_NIST_P256": ("ECDSA_SHA_256",),
    "ECC_NIST_P384": ("ECDSA_SHA_384",),
    "ECC_NIST_P521": ("ECDSA_SHA_512",),
    "ECC_SECG_P256K1": ("ECDSA_SHA_256",),
    ED25519_SPEC: ED25519_ALGORITHMS,
    **{spec: (ML_DSA_ALGORITHM,) for spec in ML_DSA_SPECS},
}

MAC_ALGORITHMS = {
    "HMAC_224": "HMAC_SHA_224",
    "HMAC_256": "HMAC_SHA_256",
    "HMAC_384": "HMAC_SHA_384",
    "HMAC_512": "HMAC_SHA_512",
}

RSA_BITS = {"RSA_2048": 2048, "RSA_3072": 3072, "RSA_4096": 4096}
EC_CURVES = {
    "ECC_NIST_P256": ec.SECP256R1,
    "ECC_NIST_P384": ec.SECP384R1,
    "ECC_NIST_P521": ec.SECP521R1,
    "ECC_SECG_P256K1": ec.SECP256K1,
}

# Every valid (KeySpec, KeyUsage) pair, and the algorithm lists KMS reports.
VALID_SPEC_USAGE = (
    [("SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT")]
    + [(s, "SIGN_VERIFY") for s in RSA_SPECS]
    + [(s, "ENCRYPT_DECRYPT") for s in RSA_SPECS]
    + [(s, "SIGN_VERIFY") for s in ECC_SIGN_SPECS]
    + [(ED25519_SPEC, "SIGN_VERIFY")]
    + [(s, "SIGN_VERIFY") for s in ML_DSA_SPECS]
    + [(s, "KEY_AGREEMENT") for s in ECC_AGREEMENT_SPECS]
    + [(s, "GENERATE_VERIFY_MAC") for s in HMAC_SPECS]
)


def expected_algorithm_fields(spec: str, usage: str) -> dict[str, set[str]]:
    """The algorithm-list fields KMS reports for a key, as sets."""
    if usage == "SIGN_VERIFY":
        return {"SigningAlgorithms": set(SIGNING_ALGORITHMS[spec])}
    if usage == "ENCRYPT_DECRYPT":
        if spec == "SYMMETRIC_DEFAULT":
            return {"EncryptionAlgorithms": {"SYMMETRIC_DEFAULT"}}
        return {"EncryptionAlgorithms": set(RSA_ENCRYPTION_ALGORITHMS)}
    if usage == "KEY_AGREEMENT":
        return {"KeyAgreementAlgorithms": {"ECDH"}}
    if usage == "GENERATE_VERIFY_MAC":
        return {"MacAlgorithms": {MAC_ALGORITHMS[spec]}}
    raise ValueError(usage)


ALGORITHM_FIELDS = (
    "SigningAlgorithms",
    "EncryptionAlgorithms",
    "KeyAgreementAlgorithms",
    "MacAlgorithms",
)

HASHES = {
    "SHA_1": hashes.SHA1,
    "SHA_224": hashes.SHA224,
    "SHA_256": hashes.SHA256,
    "SHA_384": hashes.SHA384,
    "SHA_512": hashes.SHA512,
}


def algorithm_hash(algorithm: str) -> hashes.HashAlgorithm:
    """The hash inside a KMS algorithm name (e.g. RSASSA_PSS_SHA_384 → SHA384())."""
    m = re.search(r"SHA_(1|224|256|384|512)$", algorithm)
    if not m:
        raise ValueError(algorithm)
    return HASHES[f"SHA_{m.group(1)}"]()


def digest(data: bytes, algorithm: hashes.HashAlgorithm) -> bytes:
    return hashlib.new(algorithm.name, data).digest()


KEY_ID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
MRK_KEY_ID_RE = re.compile(r"mrk-[0-9a-f]{32}")


def key_arn_re(region: str = REGION) -> re.Pattern[str]:
    return re.compile(
        rf"arn:aws:kms:{re.escape(region)}:(\d{{12}}):key/"
        rf"({KEY_ID_RE.pattern}|{MRK_KEY_ID_RE.pattern})"
    )


def alias_arn(key_arn: str, alias_name: str) -> str:
    """``arn:aws:kms:<region>:<account>:alias/<name>`` for the key's region/account."""
    prefix = key_arn.split(":key/", 1)[0]
    return f"{prefix}:{alias_name}"


def unique_alias(prefix: str = "contract") -> str:
    return f"alias/kms11-{prefix}-{uuid.uuid4().hex[:12]}"


def paginate(method, field: str, limit: int | None = None, max_pages: int = 1000, **kwargs) -> list:
    """All entries of a KMS list call, following NextMarker while Truncated.

    With ``limit`` set, every page must hold at most ``limit`` entries.
    """
    entries: list = []
    marker = None
    for _ in range(max_pages):
        call = dict(kwargs)
        if limit is not None:
            call["Limit"] = limit
        if marker is not None:
            call["Marker"] = marker
        page = method(**call)
        if limit is not None:
            assert len(page[field]) <= limit, (
                f"Limit={limit} returned {len(page[field])} {field}"
            )
        entries += page[field]
        if not page.get("Truncated", False):
            assert not page.get("NextMarker"), f"NextMarker on the last page: {page}"
            return entries
        marker = page.get("NextMarker")
        assert marker, f"Truncated page without NextMarker: {page}"
    pytest.fail(f"{field} pagination did not end within {max_pages} pages")


# --------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------


@contextlib.contextmanager
def expect_error(*codes: str, status: int | None = None):
    """Expect a ClientError whose code is one of ``codes``.

    Yields a one-element list that receives the ClientError.
    """
    caught: list[ClientError] = []
    try:
        yield caught
    except ClientError as err:
        code = err.response.get("Error", {}).get("Code")
        assert code in codes, f"expected {' or '.join(codes)}, got {code}: {err.response}"
        if status is not None:
            got = err.response["ResponseMetadata"]["HTTPStatusCode"]
            assert got == status, f"expected HTTP {status}, got {got}: {err.response}"
        caught.append(err)
    else:
        pytest.fail(f"expected {' or '.join(codes)}, but the call succeeded")


# --------------------------------------------------------------------------
# Cryptographic checks
# --------------------------------------------------------------------------


def load_public_key(der: bytes):
    """Load a DER SubjectPublicKeyInfo; fails the test if it is not one."""
    key = serialization.load_der_public_key(der)
    # Round trip: the bytes must be exactly the canonical SPKI encoding.
    assert key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ) == der, "PublicKey is not a canonical DER SubjectPublicKeyInfo"
    return key


def spki_der(public_key) -> bytes:
    return public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def check_public_key_matches_spec(public_key, spec: str) -> None:
    if spec in RSA_BITS:
        assert isinstance(public_key, rsa.RSAPublicKey), type(public_key)
        assert public_key.key_size == RSA_BITS[spec]
        assert public_key.public_numbers().e == 65537
    elif spec in EC_CURVES:
        assert isinstance(public_key, ec.EllipticCurvePublicKey), type(public_key)
        assert isinstance(public_key.curve, EC_CURVES[spec]), public_key.curve.name
    elif spec == ED25519_SPEC:
        assert isinstance(public_key, ed25519.Ed25519PublicKey), type(public_key)
    else:
        raise ValueError(spec)


def verify_signature(public_key, algorithm: str, signature: bytes, message: bytes) -> None:
    """Verify a KMS signature over the ORIGINAL message with ``cryptography``.

    Raises cryptography.exceptions.InvalidSignature if it does not verify.
    RSASSA-PSS is checked with the salt length KMS documents: the hash length.
    """
    h = algorithm_hash(algorithm)
    if algorithm.startswith("RSASSA_PSS_"):
        public_key.verify(
            signature,
            message,
            padding.PSS(mgf=padding.MGF1(h), salt_length=h.digest_size),
            h,
        )
    elif algorithm.startswith("RSASSA_PKCS1_V1_5_"):
        public_key.verify(signature, message, padding.PKCS1v15(), h)
    elif algorithm.startswith("ECDSA_"):
        decode_dss_signature(signature)  # must be DER, raises ValueError if not
        public_key.verify(signature, message, ec.ECDSA(h))
    elif algorithm == "ED25519_SHA_512":
        # Pure Ed25519 (RFC 8032): the raw 64-byte signature of the message.
        public_key.verify(signature, message)
    else:
        raise ValueError(algorithm)


def oaep(algorithm: str) -> padding.OAEP:
    h = algorithm_hash(algorithm)
    return padding.OAEP(mgf=padding.MGF1(h), algorithm=h, label=None)


def tamper(data: bytes, index: int = -1) -> bytes:
    """Flip the low bit of one byte."""
    b = bytearray(data)
    b[index] ^= 0x01
    return bytes(b)
