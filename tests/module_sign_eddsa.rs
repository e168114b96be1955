//! Ed25519 with ECC_NIST_EDWARDS25519 KMS keys: the objects (CKK_EC_EDWARDS,
//! the RFC 8410 OID in CKA_EC_PARAMS, the 32-byte key in CKA_EC_POINT),
//! CKM_EDDSA as pure Ed25519 (KMS's ED25519_SHA_512, RAW, at most 4,096
//! bytes, single- and multi-part), Ed25519ph (phFlag: exactly the 64-byte
//! messages that KMS's ED25519_PH_SHA_512 signs as RFC 8032 does), what
//! KMS cannot do, and C_Verify done locally. Every signature is checked by
//! pyca/cryptography (Ed25519) or libsodium through PyNaCl (Ed25519ph),
//! never by us.

mod common;

use common::util::{chunks, Rng};
use common::verify::{Batch, Kind};
use common::*;

const ED: &str = "alias/ed25519";

static SETUP: Setup = Setup {
    keys: &[
        key_with_material(ED, "ECC_NIST_EDWARDS25519"),
        key_with_material("alias/ec-p256", "ECC_NIST_P256"),
    ],
    config: Config::OneToken,
    aws_extra: "",
    emulator_args: &[],
};

fn fx() -> (&'static Fixture, std::sync::MutexGuard<'static, ()>) {
    // The tests count the emulator's requests: one test at a time.
    fixture_alone(&SETUP)
}

#[test]
fn the_objects_are_edwards_keys_as_clients_read_them() {
    let (fx, _turn) = fx();
    let s = fx.session();
    let k = fx.key(ED);
    // RFC 8410: the SPKI ends with the 32-byte key.
    let raw = &k.spki[k.spki.len() - 32..];
    let mut point = vec![0x04, 0x20];
    point.extend_from_slice(raw);
    for (class, object) in [
        (CKO_PRIVATE_KEY, fx.private(&s, ED)),
        (CKO_PUBLIC_KEY, fx.public(&s, ED)),
    ] {
        let what = format!(
            "{} of {ED}",
            if class == CKO_PRIVATE_KEY {
                "private key"
            } else {
                "public key"
            }
        );
        assert_eq!(
            ok(s.attr_ulong(object, CKA_KEY_TYPE), &what),
            CKK_EC_EDWARDS,
            "{what}"
        );
        assert_eq!(
            ok(s.attr(object, CKA_EC_PARAMS), &what),
            [0x06, 0x03, 0x2b, 0x65, 0x70],
            "{what}: CKA_EC_PARAMS must be the OID 1.3.101.112"
        );
        assert_eq!(
            ok(s.attr(object, CKA_EC_POINT), &what),
            point,
            "{what}: CKA_EC_POINT"
        );
        assert_eq!(
            ok(s.attr(object, CKA_PUBLIC_KEY_INFO), &what),
            k.spki,
            "{what}"
        );
        assert_eq!(
            ok(s.attr(object, CKA_ALLOWED_MECHANISMS), &what),
            CKM_EDDSA.to_ne_bytes(),
            "{what}: CKA_ALLOWED_MECHANISMS"
        );
        assert_eq!(
            ok(s.attr_ulong(object, CKA_KEY_GEN_MECHANISM), &what),
            CKM_EC_EDWARDS_KEY_PAIR_GEN
        );
    }
    let private = fx.private(&s, ED);
    assert!(ok(s.attr_bool(private, CKA_SIGN), "CKA_SIGN"));
    assert_rv(
        s.attr(private, CKA_VALUE),
        CKR_ATTRIBUTE_SENSITIVE,
        "CKA_VALUE of an Ed25519 private key",
    );
    let slot = fx.slot(fx.token);
    // The token's list is what its keys (Ed25519 and P-256) can do.
    assert_eq!(
        ok(fx.m.mechanisms(slot), "C_GetMechanismList"),
        [
            CKM_ECDSA,
            CKM_ECDSA_SHA256,
            CKM_ECDSA_SHA384,
            CKM_ECDSA_SHA512,
            CKM_EDDSA
        ]
    );
    assert_rv(
        fx.m.mechanism_info(slot, CKM_RSA_PKCS),
        CKR_MECHANISM_INVALID,
        "C_GetMechanismInfo(CKM_RSA_PKCS) on a token without RSA keys",
    );
    let info = ok(
        fx.m.mechanism_info(slot, CKM_EDDSA),
        "C_GetMechanismInfo(CKM_EDDSA)",
    );
    assert_eq!((info.ulMinKeySize, info.ulMaxKeySize), (256, 256));
    assert_eq!(info.flags & (CKF_SIGN | CKF_VERIFY), CKF_SIGN | CKF_VERIFY);
}

#[test]
fn pure_ed25519_signs_messages_up_to_what_kms_takes() {
    let (fx, _turn) = fx();
    let s = fx.session();
    let k = fx.key(ED);
    let key = fx.private(&s, ED);
    let mut rng = Rng::new();
    let mut b = Batch::new();
    let signs_before = fx.count("Sign");
    let mut signatures = 0;
    for (label, mech) in [
        ("no parameter", Mech::new(CKM_EDDSA)),
        ("phFlag false, no context", Mech::eddsa(false, b"")),
    ] {
        for len in [1, 64, 1000, 4096] {
            let msg = rng.bytes(len);
            let sig = ok(
                s.sign_once(&mech, key, &msg),
                &format!("{label}: {len} bytes"),
            );
            assert_eq!(sig.len(), 64);
            b.good(
                format!("Ed25519 {label}, {len} bytes"),
                Kind::Ed25519,
                None,
                &k.spki,
                &msg,
                &sig,
            );
            let sig = ok(
                s.sign_parts(&mech, key, &chunks(&msg, &[1, 0, 999])),
                &format!("{label}: {len} bytes in parts"),
            );
            b.good(
                format!("Ed25519 {label}, {len} bytes in parts"),
                Kind::Ed25519,
                None,
                &k.spki,
                &msg,
                &sig,
            );
            signatures += 2;
            if len == 64 {
                let mut other = msg.clone();
                other[63] ^= 1;
                b.bad(
                    format!("Ed25519 {label}, another message"),
                    Kind::Ed25519,
                    None,
                    &k.spki,
                    &other,
                    &sig,
                );
            }
        }
    }
    assert_eq!(b.run(), signatures + 2);
    // One KMS request per signature.
    assert_eq!(fx.count("Sign") - signs_before, signatures as u64);
}

#[test]
fn longer_messages_are_refused_before_kms_is_asked() {
    let (fx, _turn) = fx();
    let s = fx.session();
    let key = fx.private(&s, ED);
    let signs_before = fx.count("Sign");
    let mech = Mech::new(CKM_EDDSA);
    assert_rv(
        s.sign_once(&mech, key, &[0; 4097]),
        CKR_DATA_LEN_RANGE,
        "C_Sign of 4,097 bytes",
    );
    // KMS's Sign takes no empty message.
    assert_rv(
        s.sign_once(&mech, key, &[]),
        CKR_DATA_LEN_RANGE,
        "C_Sign of no bytes",
    );
    // The failure ended the operation.
    assert_rv(
        s.sign(b"x"),
        CKR_OPERATION_NOT_INITIALIZED,
        "C_Sign after the refusal",
    );
    ok(s.sign_init(&mech, key), "C_SignInit");
    ok(s.sign_update(&[0; 4000]), "C_SignUpdate 4,000 bytes");
    assert_rv(
        s.sign_update(&[0; 97]),
        CKR_DATA_LEN_RANGE,
        "C_SignUpdate past 4,096 bytes",
    );
    assert_rv(
        s.sign_final(),
        CKR_OPERATION_NOT_INITIALIZED,
        "C_SignFinal after the refusal",
    );
    assert_eq!(fx.count("Sign"), signs_before, "nothing was sent to KMS");
}

#[test]
fn ed25519ph_signs_64_byte_messages_and_nothing_else() {
    let (fx, _turn) = fx();
    let s = fx.session();
    let k = fx.key(ED);
    let key = fx.private(&s, ED);
    let ph = Mech::eddsa(true, b"");
    let mut rng = Rng::new();
    let mut b = Batch::new();
    for i in 0..4 {
        let msg = rng.bytes(64);
        let sig = ok(s.sign_once(&ph, key, &msg), "Ed25519ph of 64 bytes");
        b.good(
            format!("Ed25519ph #{i}"),
            Kind::Ed25519Ph,
            None,
            &k.spki,
            &msg,
            &sig,
        );
        // Not a pure Ed25519 signature of the same bytes.
        b.bad(
            format!("Ed25519ph #{i} as pure Ed25519"),
            Kind::Ed25519,
            None,
            &k.spki,
            &msg,
            &sig,
        );
        let sig = ok(
            s.sign_parts(&ph, key, &chunks(&msg, &[10, 30])),
            "Ed25519ph in parts",
        );
        b.good(
            format!("Ed25519ph #{i} in parts"),
            Kind::Ed25519Ph,
            None,
            &k.spki,
            &msg,
            &sig,
        );
    }
    assert_eq!(b.run(), 12);
    let signs_before = fx.count("Sign");
    for len in [0, 32, 63, 65, 4096] {
        assert_rv(
            s.sign_once(&ph, key, &vec![1; len]),
            CKR_DATA_LEN_RANGE,
            &format!("Ed25519ph of {len} bytes"),
        );
    }
    ok(s.sign_init(&ph, key), "C_SignInit");
    ok(s.sign_update(&[0; 40]), "C_SignUpdate");
    assert_rv(
        s.sign_final(),
        CKR_DATA_LEN_RANGE,
        "C_SignFinal after 40 bytes",
    );
    // Contexts: KMS takes none (Ed25519ctx, Ed25519ph with a context).
    for (prehash, context) in [(false, &b"ctx"[..]), (true, &b"ctx"[..])] {
        assert_rv(
            s.sign_init(&Mech::eddsa(prehash, context), key),
            CKR_MECHANISM_PARAM_INVALID,
            &format!("phFlag {prehash} with a context"),
        );
    }
    assert_eq!(fx.count("Sign"), signs_before, "nothing was sent to KMS");
}

#[test]
fn eddsa_and_ed25519_keys_do_not_mix_with_other_mechanisms_and_keys() {
    let (fx, _turn) = fx();
    let s = fx.session();
    let ed = fx.private(&s, ED);
    let ec = fx.private(&s, "alias/ec-p256");
    assert_rv(
        s.sign_init(&Mech::new(CKM_EDDSA), ec),
        CKR_KEY_TYPE_INCONSISTENT,
        "CKM_EDDSA with a P-256 key",
    );
    assert_rv(
        s.sign_init(&Mech::new(CKM_ECDSA), ed),
        CKR_KEY_TYPE_INCONSISTENT,
        "CKM_ECDSA with an Ed25519 key",
    );
    assert_rv(
        s.sign_init(&Mech::pss(CKM_EDDSA, CKM_SHA256, CKG_MGF1_SHA256, 32), ed),
        CKR_MECHANISM_PARAM_INVALID,
        "CKM_EDDSA with a parameter of another length",
    );
}

#[test]
fn c_verify_checks_signatures_made_elsewhere_without_kms() {
    let (fx, _turn) = fx();
    let s = fx.session();
    let k = fx.key(ED);
    let public = fx.public(&s, ED);
    let pkcs8 = k.pkcs8.as_deref().expect("seeded with material");
    let mut rng = Rng::new();
    let verifies_before = fx.count("Verify");
    // C_Verify is local: an empty message (which KMS cannot sign) is the
    // same rule as for C_Sign, refused.
    ok(s.verify_init(&Mech::new(CKM_EDDSA), public), "C_VerifyInit");
    assert_rv(
        s.verify(&[], &[0; 64]),
        CKR_DATA_LEN_RANGE,
        "C_Verify of no bytes",
    );
    let messages = [rng.bytes(1), rng.bytes(100), rng.bytes(4096)];
    let reqs: Vec<_> = messages
        .iter()
        .map(|m| (Kind::Ed25519, None, &m[..]))
        .collect();
    // Signed by pyca/cryptography with the key's material.
    let signatures = common::verify::python_sign(pkcs8, &reqs);
    for (msg, sig) in messages.iter().zip(signatures) {
        let len = msg.len();
        ok(s.verify_init(&Mech::new(CKM_EDDSA), public), "C_VerifyInit");
        ok(s.verify(msg, &sig), &format!("C_Verify of {len} bytes"));
        let mut bad = sig.clone();
        bad[0] ^= 1;
        ok(s.verify_init(&Mech::new(CKM_EDDSA), public), "C_VerifyInit");
        assert_rv(
            s.verify(msg, &bad),
            CKR_SIGNATURE_INVALID,
            "C_Verify of a changed signature",
        );
    }
    // Ed25519ph: a signature by the module (libsodium checks it first).
    let key = fx.private(&s, ED);
    let msg = rng.bytes(64);
    let sig = ok(s.sign_once(&Mech::eddsa(true, b""), key, &msg), "Ed25519ph");
    let mut b = Batch::new();
    b.good(
        "Ed25519ph for C_Verify",
        Kind::Ed25519Ph,
        None,
        &k.spki,
        &msg,
        &sig,
    );
    assert_eq!(b.run(), 1);
    ok(
        s.verify_init(&Mech::eddsa(true, b""), public),
        "C_VerifyInit Ed25519ph",
    );
    ok(s.verify(&msg, &sig), "C_Verify Ed25519ph");
    ok(s.verify_init(&Mech::new(CKM_EDDSA), public), "C_VerifyInit");
    assert_rv(
        s.verify(&msg, &sig),
        CKR_SIGNATURE_INVALID,
        "an Ed25519ph signature checked as pure Ed25519",
    );
    assert_eq!(
        fx.count("Verify"),
        verifies_before,
        "C_Verify asks KMS nothing"
    );
}
