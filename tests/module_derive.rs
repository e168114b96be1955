//! ECDH keys (KMS KEY_AGREEMENT on the NIST curves): a private key that
//! derives and does not sign; C_DeriveKey with CKM_ECDH1_DERIVE is one KMS
//! DeriveSharedSecret, and gives a session secret key. pyca/cryptography's
//! ECDH with the KMS public key and its own peer key gives the same secret
//! (CKD_NULL) and, through its X9.63 KDF, the same derived keys.

mod common;

use common::util::Rng;
use common::verify::{python_ecdh, python_x963};
use common::*;

const P256: &str = "alias/ka-256";
const P384: &str = "alias/ka-384";
const P521: &str = "alias/ka-521";
const SIGNER: &str = "alias/sign-256";

static SETUP: Setup = Setup {
    keys: &[
        agreement_key(P256, "ECC_NIST_P256"),
        agreement_key(P384, "ECC_NIST_P384"),
        agreement_key(P521, "ECC_NIST_P521"),
        key(SIGNER, "ECC_NIST_P256"),
    ],
    config: Config::OneToken,
    aws_extra: "",
    emulator_args: &[],
};

fn fx() -> (&'static Fixture, std::sync::MutexGuard<'static, ()>) {
    // The tests count the emulator's requests: one test at a time.
    fixture_alone(&SETUP)
}

/// The template pkcs11-tool --derive sends, give or take.
fn readable() -> Template {
    Template::new()
        .class(CKO_SECRET_KEY)
        .key_type(CKK_GENERIC_SECRET)
        .bool(CKA_TOKEN, false)
        .bool(CKA_SENSITIVE, false)
        .bool(CKA_EXTRACTABLE, true)
}

/// The DER OCTET STRING of a point (short form: points here are < 128 bytes
/// except P-521's 133).
fn octet_string(point: &[u8]) -> Vec<u8> {
    let mut out = vec![0x04];
    if point.len() >= 128 {
        out.push(0x81);
    }
    out.push(point.len() as u8);
    out.extend_from_slice(point);
    out
}

#[test]
fn agreement_keys_derive_and_do_not_sign() {
    let (fx, _turn) = fx();
    let s = fx.session();
    for name in [P256, P384, P521] {
        let private = fx.private(&s, name);
        let public = fx.public(&s, name);
        assert!(ok(s.attr_bool(private, CKA_DERIVE), "CKA_DERIVE"));
        assert!(!ok(s.attr_bool(private, CKA_SIGN), "CKA_SIGN"));
        assert!(!ok(s.attr_bool(public, CKA_VERIFY), "CKA_VERIFY"));
        assert_eq!(
            ok(
                s.attr(private, CKA_ALLOWED_MECHANISMS),
                "CKA_ALLOWED_MECHANISMS"
            ),
            CKM_ECDH1_DERIVE.to_ne_bytes()
        );
        assert_rv(
            s.sign_init(&Mech::new(CKM_ECDSA), private),
            CKR_KEY_FUNCTION_NOT_PERMITTED,
            "C_SignInit with a key agreement key",
        );
    }
    let slot = fx.slot(fx.token);
    assert!(ok(fx.m.mechanisms(slot), "C_GetMechanismList").contains(&CKM_ECDH1_DERIVE));
    let info = ok(
        fx.m.mechanism_info(slot, CKM_ECDH1_DERIVE),
        "C_GetMechanismInfo",
    );
    assert_eq!(info.flags & (CKF_DERIVE | CKF_SIGN), CKF_DERIVE);
    assert_eq!((info.ulMinKeySize, info.ulMaxKeySize), (256, 521));
    let signer = fx.private(&s, SIGNER);
    let (point, _) = python_ecdh(&fx.key(SIGNER).spki, 1).remove(0);
    assert_rv(
        s.derive(&Mech::ecdh(CKD_NULL, b"", &point), signer, &readable()),
        CKR_KEY_FUNCTION_NOT_PERMITTED,
        "C_DeriveKey with a signing key",
    );
}

#[test]
fn the_secret_is_pycas_for_every_curve_with_one_kms_call() {
    let (fx, _turn) = fx();
    let s = fx.session();
    for name in [P256, P384, P521] {
        let key = fx.private(&s, name);
        for (point, secret) in python_ecdh(&fx.key(name).spki, 2) {
            for public in [point.clone(), octet_string(&point)] {
                let before = fx.count("DeriveSharedSecret");
                let t = readable().label("derived");
                let derived = ok(
                    s.derive(&Mech::ecdh(CKD_NULL, b"", &public), key, &t),
                    "C_DeriveKey",
                );
                assert_eq!(fx.count("DeriveSharedSecret") - before, 1);
                assert_eq!(
                    ok(s.attr(derived, CKA_VALUE), "CKA_VALUE"),
                    secret,
                    "{name}"
                );
                assert_eq!(
                    ok(s.attr_ulong(derived, CKA_VALUE_LEN), "CKA_VALUE_LEN"),
                    secret.len() as CK_ULONG
                );
                assert_eq!(
                    ok(s.attr_ulong(derived, CKA_CLASS), "CKA_CLASS"),
                    CKO_SECRET_KEY
                );
                assert!(!ok(s.attr_bool(derived, CKA_TOKEN), "CKA_TOKEN"));
                let found = ok(s.find(&Template::new().label("derived")), "C_FindObjects");
                assert_eq!(found, [derived]);
                ok(s.destroy(derived), "C_DestroyObject");
                assert_rv(
                    s.attr(derived, CKA_VALUE),
                    CKR_OBJECT_HANDLE_INVALID,
                    "destroyed",
                );
            }
        }
    }
    assert_eq!(fx.count("Sign"), 0);
}

#[test]
fn x963_kdfs_give_pycas_keys() {
    let (fx, _turn) = fx();
    let s = fx.session();
    let mut rng = Rng::new();
    for (name, kdf, hash, len) in [
        (P256, CKD_SHA256_KDF, "sha256", 32),
        (P384, CKD_SHA384_KDF, "sha384", 48),
        (P521, CKD_SHA512_KDF, "sha512", 100),
        (P256, CKD_SHA224_KDF, "sha224", 16),
    ] {
        let key = fx.private(&s, name);
        let (point, secret) = python_ecdh(&fx.key(name).spki, 1).remove(0);
        let shared = rng.bytes(20);
        let t = readable().ulong(CKA_VALUE_LEN, len as CK_ULONG);
        let derived = ok(
            s.derive(&Mech::ecdh(kdf, &shared, &point), key, &t),
            "C_DeriveKey",
        );
        let want = python_x963(hash, &secret, &shared, len);
        assert_eq!(
            ok(s.attr(derived, CKA_VALUE), "CKA_VALUE"),
            want,
            "{name} {hash}"
        );
    }
    // An AES key, sensitive: it exists, its value does not leave.
    let key = fx.private(&s, P256);
    let (point, _) = python_ecdh(&fx.key(P256).spki, 1).remove(0);
    let t = Template::new()
        .class(CKO_SECRET_KEY)
        .key_type(CKK_AES)
        .ulong(CKA_VALUE_LEN, 32)
        .bool(CKA_SENSITIVE, true);
    let aes = ok(
        s.derive(&Mech::ecdh(CKD_SHA256_KDF, b"", &point), key, &t),
        "C_DeriveKey (AES)",
    );
    assert_rv(
        s.attr(aes, CKA_VALUE),
        CKR_ATTRIBUTE_SENSITIVE,
        "a sensitive key's value",
    );
    assert!(ok(
        s.attr_bool(aes, CKA_ALWAYS_SENSITIVE),
        "CKA_ALWAYS_SENSITIVE"
    ));
}

#[test]
fn what_kms_cannot_do_is_refused_before_asking() {
    let (fx, _turn) = fx();
    let s = fx.session();
    let key = fx.private(&s, P256);
    let (point, _) = python_ecdh(&fx.key(P256).spki, 1).remove(0);
    let (p384, _) = python_ecdh(&fx.key(P384).spki, 1).remove(0);
    let mut off = point.clone();
    off[64] ^= 1;
    let compressed = [&[0x02 + (point[64] & 1)][..], &point[1..33]].concat();
    let before = fx.count("DeriveSharedSecret");
    for (mech, t, rv, what) in [
        (
            Mech::ecdh(CKD_NULL, b"", &off),
            readable(),
            CKR_MECHANISM_PARAM_INVALID,
            "a point off the curve",
        ),
        (
            Mech::ecdh(CKD_NULL, b"", &p384),
            readable(),
            CKR_MECHANISM_PARAM_INVALID,
            "a point of another curve",
        ),
        (
            Mech::ecdh(CKD_NULL, b"", &compressed),
            readable(),
            CKR_MECHANISM_PARAM_INVALID,
            "a compressed point",
        ),
        (
            Mech::ecdh(CKD_SHA1_KDF, b"", &point),
            readable(),
            CKR_MECHANISM_PARAM_INVALID,
            "a SHA-1 KDF",
        ),
        (
            Mech::ecdh(CKD_NULL, b"info", &point),
            readable(),
            CKR_MECHANISM_PARAM_INVALID,
            "shared data without a KDF",
        ),
        (
            Mech::new(CKM_ECDH1_DERIVE),
            readable(),
            CKR_MECHANISM_PARAM_INVALID,
            "no parameters",
        ),
        (
            Mech::new(CKM_ECDH1_COFACTOR_DERIVE),
            readable(),
            CKR_MECHANISM_INVALID,
            "cofactor ECDH",
        ),
        (
            Mech::ecdh(CKD_NULL, b"", &point),
            readable().bool(CKA_TOKEN, true),
            CKR_TEMPLATE_INCONSISTENT,
            "a token object",
        ),
        (
            Mech::ecdh(CKD_NULL, b"", &point),
            readable().ulong(CKA_VALUE_LEN, 33),
            CKR_ATTRIBUTE_VALUE_INVALID,
            "more than the secret",
        ),
        (
            Mech::ecdh(CKD_NULL, b"", &point),
            readable().class(CKO_PRIVATE_KEY),
            CKR_TEMPLATE_INCONSISTENT,
            "a private key",
        ),
    ] {
        assert_rv(s.derive(&mech, key, &t), rv, what);
    }
    assert_eq!(fx.count("DeriveSharedSecret"), before, "KMS was not asked");
    // Session objects end with their session, and KMS keys' objects stay.
    let other = fx.session();
    let derived = ok(
        other.derive(&Mech::ecdh(CKD_NULL, b"", &point), key, &readable()),
        "C_DeriveKey",
    );
    ok(s.attr(derived, CKA_VALUE), "seen from another session");
    drop(other);
    assert_rv(
        s.attr(derived, CKA_VALUE),
        CKR_OBJECT_HANDLE_INVALID,
        "after its session closed",
    );
    assert_rv(
        s.destroy(key),
        CKR_ACTION_PROHIBITED,
        "C_DestroyObject of a KMS key",
    );
}
