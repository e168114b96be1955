"""--seed: keys with known material, checked against independent crypto."""

from __future__ import annotations

import hashlib
import hmac
import os

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from ed25519ph import sign_ed25519ph, verify_ed25519ph

from emuhelp import pkcs8_b64, raw_b64, seed_key, write_seed
from kmshelp import (
    MAC_ALGORITHMS,
    expect_error,
    load_public_key,
    make_client,
    oaep,
    spki_der,
    verify_signature,
)

MESSAGE = b"seeded message"
HMAC_HASH = {"HMAC_224": "sha224", "HMAC_256": "sha256", "HMAC_384": "sha384", "HMAC_512": "sha512"}
HMAC_KEY_BYTES = {"HMAC_224": 28, "HMAC_256": 32, "HMAC_384": 48, "HMAC_512": 64}
KEY_ID = "11111111-2222-4333-8444-555555555555"


@pytest.fixture
def seeded(start_emulator, tmp_path):
    """seeded(entries, *args, region=...) → a client for an emulator started with that seed."""

    def start(entries, *args, region="us-east-1"):
        seed = write_seed(tmp_path / f"seed-{len(list(tmp_path.iterdir()))}.json", entries)
        return make_client(start_emulator("--seed", seed, *args), region=region)

    return start


@pytest.mark.parametrize("spec", list(HMAC_HASH))
def test_seeded_hmac_matches_local_hmac(seeded, spec):
    material = os.urandom(HMAC_KEY_BYTES[spec])
    kms = seeded(
        [seed_key(spec, "GENERATE_VERIFY_MAC", KeyId=KEY_ID, Material=raw_b64(material))]
    )
    expected = hmac.new(material, MESSAGE, HMAC_HASH[spec]).digest()
    mac = kms.generate_mac(KeyId=KEY_ID, Message=MESSAGE, MacAlgorithm=MAC_ALGORITHMS[spec])["Mac"]
    assert mac == expected
    # And VerifyMac accepts a MAC computed outside KMS.
    ok = kms.verify_mac(KeyId=KEY_ID, Message=MESSAGE, MacAlgorithm=MAC_ALGORITHMS[spec], Mac=expected)
    assert ok["MacValid"] is True


@pytest.mark.parametrize("spec,bits", [("RSA_2048", 2048), ("RSA_3072", 3072)])
def test_seeded_rsa_public_key_and_signatures(seeded, spec, bits):
    private = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    kms = seeded([seed_key(spec, "SIGN_VERIFY", KeyId=KEY_ID, Material=pkcs8_b64(private))])
    der = kms.get_public_key(KeyId=KEY_ID)["PublicKey"]
    assert der == spki_der(private.public_key())
    for algorithm in ("RSASSA_PSS_SHA_256", "RSASSA_PKCS1_V1_5_SHA_512"):
        sig = kms.sign(KeyId=KEY_ID, Message=MESSAGE, MessageType="RAW", SigningAlgorithm=algorithm)
        verify_signature(private.public_key(), algorithm, sig["Signature"], MESSAGE)


@pytest.mark.parametrize("algorithm", ["RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"])
def test_seeded_rsa_kms_encrypt_local_decrypt(seeded, algorithm):
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    kms = seeded([seed_key("RSA_2048", "ENCRYPT_DECRYPT", KeyId=KEY_ID, Material=pkcs8_b64(private))])
    blob = kms.encrypt(KeyId=KEY_ID, Plaintext=MESSAGE, EncryptionAlgorithm=algorithm)["CiphertextBlob"]
    assert private.decrypt(blob, oaep(algorithm)) == MESSAGE


@pytest.mark.parametrize(
    "spec,curve,algorithm",
    [
        ("ECC_NIST_P256", ec.SECP256R1, "ECDSA_SHA_256"),
        ("ECC_NIST_P384", ec.SECP384R1, "ECDSA_SHA_384"),
        ("ECC_NIST_P521", ec.SECP521R1, "ECDSA_SHA_512"),
        ("ECC_SECG_P256K1", ec.SECP256K1, "ECDSA_SHA_256"),
    ],
)
def test_seeded_ec_public_key_and_signature(seeded, spec, curve, algorithm):
    private = ec.generate_private_key(curve())
    kms = seeded([seed_key(spec, "SIGN_VERIFY", KeyId=KEY_ID, Material=pkcs8_b64(private))])
    assert kms.get_public_key(KeyId=KEY_ID)["PublicKey"] == spki_der(private.public_key())
    sig = kms.sign(KeyId=KEY_ID, Message=MESSAGE, MessageType="RAW", SigningAlgorithm=algorithm)
    verify_signature(private.public_key(), algorithm, sig["Signature"], MESSAGE)


def test_seeded_ed25519_signs_as_rfc_8032_does(seeded):
    private = ed25519.Ed25519PrivateKey.generate()
    kms = seeded(
        [seed_key("ECC_NIST_EDWARDS25519", "SIGN_VERIFY", KeyId=KEY_ID, Material=pkcs8_b64(private))]
    )
    assert kms.get_public_key(KeyId=KEY_ID)["PublicKey"] == spki_der(private.public_key())
    # Ed25519 and Ed25519ph are deterministic: KMS's signatures are the ones
    # cryptography (pure) and libsodium (ph, over the 64 bytes sent) make.
    pure = kms.sign(
        KeyId=KEY_ID, Message=MESSAGE, MessageType="RAW", SigningAlgorithm="ED25519_SHA_512"
    )["Signature"]
    assert pure == private.sign(MESSAGE)
    digest = hashlib.sha512(MESSAGE).digest()
    ph = kms.sign(
        KeyId=KEY_ID, Message=digest, MessageType="DIGEST", SigningAlgorithm="ED25519_PH_SHA_512"
    )["Signature"]
    assert ph == sign_ed25519ph(private, digest)
    verify_ed25519ph(private.public_key(), ph, digest)


def test_seeded_ed25519_verifies_signatures_made_outside(seeded):
    private = ed25519.Ed25519PrivateKey.generate()
    kms = seeded(
        [seed_key("ECC_NIST_EDWARDS25519", "SIGN_VERIFY", KeyId=KEY_ID, Material=pkcs8_b64(private))]
    )
    other = os.urandom(200)
    ok = kms.verify(
        KeyId=KEY_ID,
        Message=other,
        MessageType="RAW",
        Signature=private.sign(other),
        SigningAlgorithm="ED25519_SHA_512",
    )
    assert ok["SignatureValid"] is True
    digest = os.urandom(64)
    ok = kms.verify(
        KeyId=KEY_ID,
        Message=digest,
        MessageType="DIGEST",
        Signature=sign_ed25519ph(private, digest),
        SigningAlgorithm="ED25519_PH_SHA_512",
    )
    assert ok["SignatureValid"] is True
    with expect_error("KMSInvalidSignatureException"):
        kms.verify(
            KeyId=KEY_ID,
            Message=digest,
            MessageType="DIGEST",
            Signature=sign_ed25519ph(ed25519.Ed25519PrivateKey.generate(), digest),
            SigningAlgorithm="ED25519_PH_SHA_512",
        )


def test_seeded_ecdh_secret_matches_both_sides(seeded):
    private = ec.generate_private_key(ec.SECP384R1())
    peer = ec.generate_private_key(ec.SECP384R1())
    kms = seeded(
        [seed_key("ECC_NIST_P384", "KEY_AGREEMENT", KeyId=KEY_ID, Material=pkcs8_b64(private))]
    )
    secret = kms.derive_shared_secret(
        KeyId=KEY_ID, KeyAgreementAlgorithm="ECDH", PublicKey=spki_der(peer.public_key())
    )["SharedSecret"]
    assert secret == private.exchange(ec.ECDH(), peer.public_key())
    assert secret == peer.exchange(ec.ECDH(), private.public_key())


def test_seeded_symmetric_material_is_used(seeded):
    """Two emulators seeded with the same key decrypt each other's ciphertexts."""
    entry = seed_key("SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT", KeyId=KEY_ID, Material=raw_b64(os.urandom(32)))
    a = seeded([entry])
    b = seeded([entry])
    blob = a.encrypt(KeyId=KEY_ID, Plaintext=MESSAGE)["CiphertextBlob"]
    assert b.decrypt(CiphertextBlob=blob)["Plaintext"] == MESSAGE
    # A third emulator with other material for the same KeyId cannot.
    c = seeded([{**entry, "Material": raw_b64(os.urandom(32))}])
    with expect_error("InvalidCiphertextException"):
        c.decrypt(CiphertextBlob=blob)


def test_seeded_metadata(seeded):
    mrk_id = "mrk-" + hashlib.sha256(b"kms11").hexdigest()[:32]
    created = 1_700_000_000
    kms = seeded(
        [
            seed_key(
                "ECC_NIST_P256",
                "SIGN_VERIFY",
                KeyId=KEY_ID,
                Aliases=["alias/seeded-a", "alias/seeded-b"],
                Description="seeded key",
                CreationDate=created,
            ),
            seed_key("SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT", KeyId=mrk_id, MultiRegion=True),
            seed_key("HMAC_256", "GENERATE_VERIFY_MAC", Aliases=["alias/seeded-off"], Enabled=False),
        ]
    )
    meta = kms.describe_key(KeyId="alias/seeded-b")["KeyMetadata"]
    assert meta["KeyId"] == KEY_ID
    assert meta["Arn"] == f"arn:aws:kms:us-east-1:111122223333:key/{KEY_ID}"
    assert meta["KeySpec"] == "ECC_NIST_P256"
    assert meta["KeyUsage"] == "SIGN_VERIFY"
    assert meta["Description"] == "seeded key"
    assert meta["CreationDate"].timestamp() == created
    assert meta["KeyState"] == "Enabled"
    assert kms.describe_key(KeyId="alias/seeded-a")["KeyMetadata"]["KeyId"] == KEY_ID
    aliases = {a["AliasName"] for a in kms.list_aliases(KeyId=KEY_ID)["Aliases"]}
    assert aliases == {"alias/seeded-a", "alias/seeded-b"}

    mrk = kms.describe_key(KeyId=mrk_id)["KeyMetadata"]
    assert mrk["MultiRegion"] is True
    assert mrk["Arn"].endswith(":key/" + mrk_id)

    off = kms.describe_key(KeyId="alias/seeded-off")["KeyMetadata"]
    assert off["KeyState"] == "Disabled"
    assert off["Enabled"] is False
    with expect_error("DisabledException"):
        kms.generate_mac(KeyId="alias/seeded-off", Message=MESSAGE, MacAlgorithm="HMAC_SHA_256")


def test_seeded_keys_without_material_get_fresh_material(seeded):
    entries = [
        seed_key("ECC_NIST_P256", "SIGN_VERIFY", KeyId=KEY_ID),
        seed_key("ECC_NIST_P256", "SIGN_VERIFY", Aliases=["alias/second"]),
    ]
    kms = seeded(entries)
    first = kms.get_public_key(KeyId=KEY_ID)["PublicKey"]
    second = kms.get_public_key(KeyId="alias/second")["PublicKey"]
    assert first != second
    load_public_key(first)
    sig = kms.sign(KeyId=KEY_ID, Message=MESSAGE, MessageType="RAW", SigningAlgorithm="ECDSA_SHA_256")
    verify_signature(load_public_key(first), "ECDSA_SHA_256", sig["Signature"], MESSAGE)
    # A fresh start with the same seed makes new material again.
    assert seeded(entries).get_public_key(KeyId=KEY_ID)["PublicKey"] != first


def test_seeded_keys_use_region_and_account_flags(seeded):
    kms_args = ("--region", "eu-west-1", "--account", "123456789012")
    kms = seeded(
        [seed_key("SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT", KeyId=KEY_ID)], *kms_args, region="eu-west-1"
    )
    arn = kms.describe_key(KeyId=KEY_ID)["KeyMetadata"]["Arn"]
    assert arn == f"arn:aws:kms:eu-west-1:123456789012:key/{KEY_ID}"
