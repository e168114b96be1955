#!/usr/bin/env python3
"""Checks a registry token the way a registry does, with no kms11 code in
the path: the public key comes from KMS GetPublicKey (boto3), the kid must be
its libtrust key ID, and PyJWT verifies the signature and the claims."""
import base64
import hashlib
import json
import sys

import boto3
import jwt
from cryptography.hazmat.primitives.serialization import load_der_public_key


def libtrust_kid(spki_der: bytes) -> str:
    b32 = base64.b32encode(hashlib.sha256(spki_der).digest()[:30]).decode().rstrip("=")
    return ":".join(b32[i : i + 4] for i in range(0, len(b32), 4))


key_ref, audience, token = sys.argv[1], sys.argv[2], sys.argv[3]
spki = boto3.client("kms").get_public_key(KeyId=key_ref)["PublicKey"]
header = jwt.get_unverified_header(token)
if header["kid"] != libtrust_kid(spki):
    sys.exit(f"kid {header['kid']} is not the libtrust ID of {key_ref}")
claims = jwt.decode(token, load_der_public_key(spki), algorithms=[header["alg"]], audience=audience)
print(f"  verified {header['alg']} token for {claims['sub']}: kid {header['kid']}")
print(f"  access: {json.dumps(claims['access'])}")
