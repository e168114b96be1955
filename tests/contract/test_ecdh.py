"""DeriveSharedSecret (ECDH) with KEY_AGREEMENT keys."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from kmshelp import EC_CURVES, ECC_AGREEMENT_SPECS, expect_error, load_public_key, spki_der

SECRET_LENGTH = {"ECC_NIST_P256": 32, "ECC_NIST_P384": 48, "ECC_NIST_P521": 66}


@pytest.mark.parametrize("spec", ECC_AGREEMENT_SPECS)
def test_derive_shared_secret_matches_local_ecdh(kms, keys, spec):
    meta = keys.shared(spec, "KEY_AGREEMENT")
    kms_public = load_public_key(kms.get_public_key(KeyId=meta["KeyId"])["PublicKey"])
    local = ec.generate_private_key(EC_CURVES[spec]())
    resp = kms.derive_shared_secret(
        KeyId=meta["KeyId"],
        KeyAgreementAlgorithm="ECDH",
        PublicKey=spki_der(local.public_key()),
    )
    expected = local.exchange(ec.ECDH(), kms_public)
    assert resp["SharedSecret"] == expected
    assert len(expected) == SECRET_LENGTH[spec]


def test_derive_shared_secret_differs_per_peer(kms, keys):
    meta = keys.shared("ECC_NIST_P256", "KEY_AGREEMENT")
    secrets = {
        kms.derive_shared_secret(
            KeyId=meta["KeyId"],
            KeyAgreementAlgorithm="ECDH",
            PublicKey=spki_der(ec.generate_private_key(ec.SECP256R1()).public_key()),
        )["SharedSecret"]
        for _ in range(2)
    }
    assert len(secrets) == 2


def test_derive_shared_secret_with_sign_key(kms, keys):
    meta = keys.shared("ECC_NIST_P256", "SIGN_VERIFY")
    with expect_error("InvalidKeyUsageException"):
        kms.derive_shared_secret(
            KeyId=meta["KeyId"],
            KeyAgreementAlgorithm="ECDH",
            PublicKey=spki_der(ec.generate_private_key(ec.SECP256R1()).public_key()),
        )

