#!/usr/bin/env python3
"""Checks kms11's signatures with an implementation that is not kms11's.

The Rust integration tests (tests/common/verify.rs) run this once per batch
with the repository's venv (.venv/bin/python, which has pyca/cryptography).
Input: one JSON request per line on stdin. Output: exactly one line per
request on stdout, in order: "OK", "OK <value>" or "FAIL <reason>".

Requests (binary values are hex; a message may instead be in a file):

  {"op": "verify", "kind": K, "spki": HEX, "sig": HEX,
   "hash": "sha256", "msg": HEX | "msg_file": PATH, "expect": true}
      kind is one of
        rsa_pkcs1            RSASSA-PKCS1-v1_5 over msg, hashed with hash
        rsa_pkcs1_prehashed  RSASSA-PKCS1-v1_5 where msg is the hash value
        rsa_pkcs1_block      CKM_RSA_PKCS as PKCS #11 defines it: sig^e mod n
                             must be 00 01 FF..FF 00 || msg (msg is the exact
                             block the module was given, e.g. a DigestInfo)
        rsa_pss              RSASSA-PSS over msg, MGF1(hash), salt = hash length
        rsa_pss_prehashed    the same where msg is the hash value
        ecdsa                ECDSA over msg hashed with hash; sig is r || s
        ecdsa_prehashed      ECDSA where msg is the hash value itself (any
                             length of 20, 32, 48 or 64 bytes; it is converted
                             to an integer as ECDSA defines, truncating a value
                             longer than the curve order); sig is r || s
        ed25519              RFC 8032 Ed25519 (PureEdDSA) over msg
        mldsa                pure ML-DSA (FIPS 204) over msg, with "context"
                             (hex, optional)
        ed25519ph            RFC 8032 Ed25519ph over msg, empty context
                             (libsodium through PyNaCl: pyca/cryptography has no Ed25519ph)
      expect false asks for the signature to be rejected.

  {"op": "keygen", "spec": "RSA_2048" | "ECC_NIST_P256" | ...}
      -> "OK <base64 PKCS #8 DER>"
  {"op": "keygen", "spec": "HMAC_256" | ..., "len": N (optional)}
      -> "OK <base64 key>" (random bytes, as long as the hash unless len
      says otherwise)

  {"op": "ecdh", "spki": HEX}
      -> "OK <hex peer point> <hex shared secret>" (a fresh peer key on the
      SPKI's curve; the point uncompressed)
  {"op": "x963", "hash": "sha256", "secret": HEX, "shared": HEX, "len": N}
      -> "OK <hex key>" (ANSI X9.63 KDF)

  {"op": "hmac", "key": BASE64, "hash": "sha224" | ... | "sha512", "msg": HEX}
      -> "OK <hex MAC>" (Python's hmac module, RFC 2104)

  {"op": "oaep_encrypt", "spki": HEX, "hash": "sha1" | "sha256", "msg": HEX}
      -> "OK <hex ciphertext>" (RSAES-OAEP, MGF1 of hash, no label)
  {"op": "oaep_decrypt", "pkcs8": BASE64, "hash": ..., "msg": HEX ciphertext}
      -> "OK <hex plaintext>"

  {"op": "sign", "kind": K, "pkcs8": BASE64, "hash": ..., "msg": HEX}
      kind as for verify (not rsa_pkcs1_block) -> "OK <hex signature>"
      (ECDSA signatures as r || s).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import sys

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, mldsa, padding, rsa, utils
from cryptography.hazmat.primitives.kdf.x963kdf import X963KDF

HASHES = {
    "sha1": hashes.SHA1,
    "sha224": hashes.SHA224,
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}

# A prehashed value of this many bytes is verified as a hash of this algorithm:
# ECDSA only uses the length of the value, so any algorithm of that length
# gives the same integer.
HASH_BY_LENGTH = {20: hashes.SHA1, 32: hashes.SHA256, 48: hashes.SHA384, 64: hashes.SHA512}

CURVES = {
    "ECC_NIST_P256": ec.SECP256R1,
    "ECC_NIST_P384": ec.SECP384R1,
    "ECC_NIST_P521": ec.SECP521R1,
    "ECC_SECG_P256K1": ec.SECP256K1,
}

RSA_BITS = {"RSA_2048": 2048, "RSA_3072": 3072, "RSA_4096": 4096}


def message(req: dict) -> bytes:
    if "msg_file" in req:
        with open(req["msg_file"], "rb") as f:
            return f.read()
    return bytes.fromhex(req.get("msg", ""))


def hash_of(req: dict):
    name = req.get("hash")
    if name not in HASHES:
        raise ValueError(f"unknown hash {name!r}")
    return HASHES[name]()


def prehash_of(value: bytes):
    if len(value) not in HASH_BY_LENGTH:
        raise ValueError(f"no hash algorithm is {len(value)} bytes long")
    return utils.Prehashed(HASH_BY_LENGTH[len(value)]())


def field_bytes(key) -> int:
    return (key.curve.key_size + 7) // 8


def rs_to_der(key, sig: bytes) -> bytes:
    size = field_bytes(key)
    if len(sig) != 2 * size:
        raise ValueError(f"r||s is {len(sig)} bytes, {2 * size} expected for {key.curve.name}")
    r = int.from_bytes(sig[:size], "big")
    s = int.from_bytes(sig[size:], "big")
    return utils.encode_dss_signature(r, s)


def der_to_rs(key, der: bytes) -> bytes:
    size = field_bytes(key)
    r, s = utils.decode_dss_signature(der)
    return r.to_bytes(size, "big") + s.to_bytes(size, "big")


def rsa_size(key) -> int:
    return (key.key_size + 7) // 8


def verify(req: dict) -> str:
    key = serialization.load_der_public_key(bytes.fromhex(req["spki"]))
    sig = bytes.fromhex(req["sig"])
    kind = req["kind"]
    msg = message(req)
    expect = req.get("expect", True)
    try:
        if kind.startswith("rsa_"):
            if not isinstance(key, rsa.RSAPublicKey):
                raise ValueError("not an RSA public key")
            if len(sig) != rsa_size(key):
                raise ValueError(f"signature is {len(sig)} bytes, modulus is {rsa_size(key)}")
        elif kind.startswith("ecdsa"):
            if not isinstance(key, ec.EllipticCurvePublicKey):
                raise ValueError("not an EC public key")
        if kind == "rsa_pkcs1":
            key.verify(sig, msg, padding.PKCS1v15(), hash_of(req))
        elif kind == "rsa_pkcs1_prehashed":
            key.verify(sig, msg, padding.PKCS1v15(), utils.Prehashed(hash_of(req)))
        elif kind == "rsa_pkcs1_block":
            numbers = key.public_numbers()
            k = rsa_size(key)
            if len(msg) > k - 11:
                raise ValueError("block too long for CKM_RSA_PKCS")
            m = pow(int.from_bytes(sig, "big"), numbers.e, numbers.n).to_bytes(k, "big")
            want = b"\x00\x01" + b"\xff" * (k - 3 - len(msg)) + b"\x00" + msg
            if m != want:
                raise InvalidSignature()
        elif kind in ("rsa_pss", "rsa_pss_prehashed"):
            h = hash_of(req)
            pss = padding.PSS(mgf=padding.MGF1(h), salt_length=h.digest_size)
            algorithm = utils.Prehashed(h) if kind == "rsa_pss_prehashed" else h
            key.verify(sig, msg, pss, algorithm)
        elif kind == "ecdsa":
            key.verify(rs_to_der(key, sig), msg, ec.ECDSA(hash_of(req)))
        elif kind == "ecdsa_prehashed":
            key.verify(rs_to_der(key, sig), msg, ec.ECDSA(prehash_of(msg)))
        elif kind == "ed25519":
            if not isinstance(key, ed25519.Ed25519PublicKey):
                raise ValueError("not an Ed25519 public key")
            key.verify(sig, msg)
        elif kind == "ed25519ph":
            ed25519ph_verify(key, msg, sig)
        elif kind == "hash_mldsa":
            hash_mldsa_verify(key, msg, sig, req)
        elif kind == "mldsa":
            if not isinstance(key, (mldsa.MLDSA44PublicKey, mldsa.MLDSA65PublicKey, mldsa.MLDSA87PublicKey)):
                raise ValueError("not an ML-DSA public key")
            key.verify(sig, msg, bytes.fromhex(req.get("context", "")) or None)
        else:
            raise ValueError(f"unknown kind {kind!r}")
    except InvalidSignature:
        return "OK" if not expect else "FAIL signature does not verify"
    return "OK" if expect else "FAIL signature verifies but was expected not to"


def ed25519ph_verify(key, msg: bytes, sig: bytes) -> None:
    """RFC 8032 Ed25519ph (empty context) of msg, by libsodium (PyNaCl):
    crypto_sign_ed25519ph computes PH(msg) = SHA-512(msg) itself."""
    import nacl.bindings
    import nacl.exceptions

    if not isinstance(key, ed25519.Ed25519PublicKey):
        raise ValueError("not an Ed25519 public key")
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    if len(sig) != 64:
        raise ValueError(f"signature is {len(sig)} bytes, not 64")
    state = nacl.bindings.crypto_sign_ed25519ph_state()
    nacl.bindings.crypto_sign_ed25519ph_update(state, msg)
    try:
        nacl.bindings.crypto_sign_ed25519ph_final_verify(state, sig, raw)
    except nacl.exceptions.BadSignatureError as e:
        raise InvalidSignature() from e


HMAC_LEN = {"HMAC_224": 28, "HMAC_256": 32, "HMAC_384": 48, "HMAC_512": 64}


def keygen(req: dict) -> str:
    spec = req["spec"]
    if spec in HMAC_LEN:
        return "OK " + base64.b64encode(os.urandom(req.get("len", HMAC_LEN[spec]))).decode()
    if spec in RSA_BITS:
        key = rsa.generate_private_key(public_exponent=65537, key_size=RSA_BITS[spec])
    elif spec in CURVES:
        key = ec.generate_private_key(CURVES[spec]())
    elif spec == "ECC_NIST_EDWARDS25519":
        key = ed25519.Ed25519PrivateKey.generate()
    else:
        raise ValueError(f"unknown key spec {spec!r}")
    der = key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return "OK " + base64.b64encode(der).decode()


def sign(req: dict) -> str:
    key = serialization.load_der_private_key(base64.b64decode(req["pkcs8"]), password=None)
    kind = req["kind"]
    msg = message(req)
    if kind == "rsa_pkcs1":
        sig = key.sign(msg, padding.PKCS1v15(), hash_of(req))
    elif kind == "rsa_pkcs1_prehashed":
        sig = key.sign(msg, padding.PKCS1v15(), utils.Prehashed(hash_of(req)))
    elif kind in ("rsa_pss", "rsa_pss_prehashed"):
        h = hash_of(req)
        pss = padding.PSS(mgf=padding.MGF1(h), salt_length=h.digest_size)
        sig = key.sign(msg, pss, utils.Prehashed(h) if kind == "rsa_pss_prehashed" else h)
    elif kind == "ecdsa":
        sig = der_to_rs(key, key.sign(msg, ec.ECDSA(hash_of(req))))
    elif kind == "ecdsa_prehashed":
        sig = der_to_rs(key, key.sign(msg, ec.ECDSA(prehash_of(msg))))
    elif kind == "ed25519":
        sig = key.sign(msg)
    else:
        raise ValueError(f"unknown kind {kind!r}")
    return "OK " + sig.hex()


def oaep(req: dict):
    h = hash_of(req)
    return padding.OAEP(mgf=padding.MGF1(h), algorithm=h, label=None)


def oaep_encrypt(req: dict) -> str:
    key = serialization.load_der_public_key(bytes.fromhex(req["spki"]))
    return "OK " + key.encrypt(message(req), oaep(req)).hex()


def oaep_decrypt(req: dict) -> str:
    key = serialization.load_der_private_key(base64.b64decode(req["pkcs8"]), password=None)
    return "OK " + key.decrypt(message(req), oaep(req)).hex()


# FIPS 204's pre-hashes: the last arc of the OID under 2.16.840.1.101.3.4.2,
# and how to compute it.
PREHASHES = {
    "sha256": (1, lambda m: hashlib.sha256(m).digest()),
    "sha384": (2, lambda m: hashlib.sha384(m).digest()),
    "sha512": (3, lambda m: hashlib.sha512(m).digest()),
    "sha224": (4, lambda m: hashlib.sha224(m).digest()),
    "sha3_224": (7, lambda m: hashlib.sha3_224(m).digest()),
    "sha3_256": (8, lambda m: hashlib.sha3_256(m).digest()),
    "sha3_384": (9, lambda m: hashlib.sha3_384(m).digest()),
    "sha3_512": (10, lambda m: hashlib.sha3_512(m).digest()),
    "shake128": (11, lambda m: hashlib.shake_128(m).digest(32)),
    "shake256": (12, lambda m: hashlib.shake_256(m).digest(64)),
}


def hash_mldsa_verify(key, msg: bytes, sig: bytes, req: dict) -> None:
    """HashML-DSA (FIPS 204 algorithm 4/5): μ = SHAKE256(tr || 1 || |ctx| ||
    ctx || OID(PH) || PH(M), 64), tr = SHAKE256(pk, 64), computed here with
    hashlib; the signature over μ checked by pyca/cryptography."""
    arc, ph = PREHASHES[req["hash"]]
    ctx = bytes.fromhex(req.get("context", ""))
    oid = bytes.fromhex("06096086480165030402") + bytes([arc])
    tr = hashlib.shake_256(key.public_bytes_raw()).digest(64)
    mu = hashlib.shake_256(tr + bytes([1, len(ctx)]) + ctx + oid + ph(msg)).digest(64)
    key.verify_mu(sig, mu)


def ecdh_secret(req: dict) -> str:
    kms = serialization.load_der_public_key(bytes.fromhex(req["spki"]))
    peer = ec.generate_private_key(kms.curve)
    point = peer.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    return f"OK {point.hex()} {peer.exchange(ec.ECDH(), kms).hex()}"


def x963(req: dict) -> str:
    kdf = X963KDF(algorithm=hash_of(req), length=req["len"], sharedinfo=bytes.fromhex(req["shared"]) or None)
    return "OK " + kdf.derive(bytes.fromhex(req["secret"])).hex()


def mac(req: dict) -> str:
    key = base64.b64decode(req["key"])
    return "OK " + hmac.new(key, message(req), req["hash"]).hexdigest()


OPS = {"ecdh": ecdh_secret, "x963": x963, "hmac": mac, "verify": verify, "keygen": keygen, "sign": sign, "oaep_encrypt": oaep_encrypt, "oaep_decrypt": oaep_decrypt}


def main() -> int:
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        try:
            req = json.loads(line)
            answer = OPS[req["op"]](req)
        except Exception as e:  # noqa: BLE001 - every failure is reported, in order
            answer = f"FAIL {type(e).__name__}: {e}".replace("\n", " ")
        sys.stdout.write(answer + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
