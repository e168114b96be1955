#!/usr/bin/env python3
"""Issue a Docker registry bearer token (a JWT, ES256 or RS256) whose
signature is made by a KMS key through kms11, the way a token server that
signs through PKCS#11 does it: the private key never leaves KMS.

    registry_token.py --module /usr/lib/libkms11.so --token demo \
        --key registry-token --alg ES256 --subject alice \
        --scope repository:library/app:pull,push

The header's kid is computed from the public key object's attributes:
--kid libtrust (the default) gives the libtrust key ID that registry 2.x
matches against its rootcertbundle, --kid thumbprint the RFC 7638 JWK
thumbprint that registry 3.x uses; with a jwks file, use the kid it lists
(see docs/jwt.md). The key is found by its label (--key) or CKA_ID (--id).
Prints the token.
"""
import argparse
import base64
import hashlib
import json
import sys
import time
import uuid

import pkcs11
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from pkcs11 import Attribute, KeyType, Mechanism, ObjectClass


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def libtrust_kid(spki_der: bytes) -> str:
    """SHA-256 of the DER SubjectPublicKeyInfo, first 30 bytes, base32
    without padding, in 12 groups of 4 joined by ':'."""
    b32 = base64.b32encode(hashlib.sha256(spki_der).digest()[:30]).decode().rstrip("=")
    return ":".join(b32[i : i + 4] for i in range(0, len(b32), 4))


def jwk_thumbprint(public) -> str:
    """RFC 7638: SHA-256 of the required JWK members, sorted, no whitespace."""
    numbers = public.public_numbers()
    if isinstance(public, rsa.RSAPublicKey):
        members = {"e": uint(numbers.e), "kty": "RSA", "n": uint(numbers.n)}
    else:
        size = (public.curve.key_size + 7) // 8
        crv = {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}[public.curve.name]
        members = {"crv": crv, "kty": "EC", "x": uint(numbers.x, size), "y": uint(numbers.y, size)}
    canonical = json.dumps(members, separators=(",", ":"), sort_keys=True)
    return b64url(hashlib.sha256(canonical.encode()).digest())


def uint(value: int, size: int = 0) -> str:
    """base64url of a big-endian unsigned integer: minimal, or size bytes."""
    return b64url(value.to_bytes(size or (value.bit_length() + 7) // 8, "big"))


def public_key(key):
    """The `cryptography` public key, from the public key object's attributes."""
    if key.key_type == KeyType.RSA:
        n = int.from_bytes(key[Attribute.MODULUS], "big")
        e = int.from_bytes(key[Attribute.PUBLIC_EXPONENT], "big")
        public = rsa.RSAPublicNumbers(e, n).public_key()
    else:
        curve = {"1.2.840.10045.3.1.7": ec.SECP256R1(), "1.3.132.0.34": ec.SECP384R1(), "1.3.132.0.35": ec.SECP521R1()}
        oid = decode_oid(key[Attribute.EC_PARAMS])
        point = decode_octet_string(key[Attribute.EC_POINT])
        public = ec.EllipticCurvePublicKey.from_encoded_point(curve[oid], point)
    return public


def decode_oid(der: bytes) -> str:
    body = der[2:]
    parts = [body[0] // 40, body[0] % 40]
    value = 0
    for byte in body[1:]:
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            parts.append(value)
            value = 0
    return ".".join(map(str, parts))


def decode_octet_string(der: bytes) -> bytes:
    length = der[1]
    if length < 0x80:
        return der[2 : 2 + length]
    n = length & 0x7F
    return der[2 + n : 2 + n + int.from_bytes(der[2 : 2 + n], "big")]


def parse_scope(scope: str) -> dict:
    """TYPE:NAME:ACTIONS; the name may hold ':' (a registry host with a port)."""
    kind, _, rest = scope.partition(":")
    name, _, actions = rest.rpartition(":")
    if not kind or not name:
        sys.exit(f"scope '{scope}' is not TYPE:NAME:ACTIONS (for example repository:library/app:pull,push)")
    return {"type": kind, "name": name, "actions": [a for a in actions.split(",") if a]}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--module", required=True, help="path to libkms11.so")
    p.add_argument("--token", required=True, help="PKCS#11 token label")
    named = p.add_mutually_exclusive_group(required=True)
    named.add_argument("--key", help="CKA_LABEL of the private key object")
    named.add_argument("--id", help="CKA_ID of the private key object, in hex")
    p.add_argument("--alg", choices=["ES256", "RS256"], default="ES256")
    p.add_argument("--kid", choices=["libtrust", "thumbprint"], default="libtrust")
    p.add_argument("--issuer", default="kms11-token-issuer")
    p.add_argument("--audience", default="registry.example.com")
    p.add_argument("--subject", default="alice")
    p.add_argument("--scope", action="append", default=[], help="TYPE:NAME:ACTIONS, repeatable")
    p.add_argument("--ttl", "--lifetime", type=int, default=300, help="lifetime in seconds")
    args = p.parse_args()

    lib = pkcs11.lib(args.module)
    token = lib.get_token(token_label=args.token)
    with token.open() as session:
        which = {"label": args.key} if args.key else {"id": bytes.fromhex(args.id)}
        try:
            key = session.get_key(object_class=ObjectClass.PRIVATE_KEY, **which)
            # The public attributes are read from the public key object with the
            # private key's CKA_ID (a private EC key need not carry CKA_EC_POINT).
            public = public_key(session.get_key(object_class=ObjectClass.PUBLIC_KEY, id=key[Attribute.ID]))
        except (pkcs11.NoSuchKey, pkcs11.MultipleObjectsReturned) as e:
            sys.exit(f"{type(e).__name__}: {which} on token {args.token!r}")
        want = rsa.RSAPublicKey if args.alg == "RS256" else ec.EllipticCurvePublicKey
        if not isinstance(public, want) or (args.alg == "ES256" and public.curve.name != "secp256r1"):
            sys.exit(f"{args.alg} needs {'an RSA' if args.alg == 'RS256' else 'a P-256'} key")
        if args.kid == "libtrust":
            kid = libtrust_kid(public.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo))
        else:
            kid = jwk_thumbprint(public)
        now = int(time.time())
        header = {"typ": "JWT", "alg": args.alg, "kid": kid}
        claims = {
            "iss": args.issuer,
            "sub": args.subject,
            "aud": args.audience,
            "exp": now + args.ttl,
            "nbf": now - 5,
            "iat": now,
            "jti": uuid.uuid4().hex,
            "access": [parse_scope(s) for s in args.scope],
        }
        signing_input = ".".join(
            b64url(json.dumps(part, separators=(",", ":")).encode()) for part in (header, claims)
        )
        # PKCS#11 ECDSA signatures are r||s, which is exactly JWS's ES256 form.
        mechanism = Mechanism.ECDSA_SHA256 if args.alg == "ES256" else Mechanism.SHA256_RSA_PKCS
        signature = key.sign(signing_input.encode(), mechanism=mechanism)
    print(f"{signing_input}.{b64url(signature)}")


if __name__ == "__main__":
    main()
