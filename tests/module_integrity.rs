//! verify_signatures (on by default): a signature KMS returns that does not
//! verify with the key's public key is never handed to the caller; the
//! call fails with CKR_DEVICE_ERROR. The emulator spoils Sign answers on
//! request (well-formed signatures, last byte changed).

mod common;

use common::verify::{Batch, Kind};
use common::*;

static SETUP: Setup = Setup {
    keys: &[
        key("alias/int-p256", "ECC_NIST_P256"),
        key("alias/int-p384", "ECC_NIST_P384"),
        key("alias/int-p521", "ECC_NIST_P521"),
        key("alias/int-rsa", "RSA_2048"),
    ],
    config: Config::OneToken,
    aws_extra: "",
    emulator_args: &[],
};

fn fx() -> &'static Fixture {
    fixture(&SETUP)
}

fn wrong_signatures(fx: &Fixture) -> u64 {
    fx.emu.stats().injected.wrong_signatures
}

/// (key, mechanism, what the signature is, hash)
const CASES: &[(&str, CK_MECHANISM_TYPE, Kind, Option<&str>)] = &[
    (
        "alias/int-p256",
        CKM_ECDSA_SHA256,
        Kind::Ecdsa,
        Some("sha256"),
    ),
    (
        "alias/int-p384",
        CKM_ECDSA_SHA384,
        Kind::Ecdsa,
        Some("sha384"),
    ),
    (
        "alias/int-p521",
        CKM_ECDSA_SHA512,
        Kind::Ecdsa,
        Some("sha512"),
    ),
    (
        "alias/int-rsa",
        CKM_SHA256_RSA_PKCS,
        Kind::RsaPkcs1,
        Some("sha256"),
    ),
    (
        "alias/int-rsa",
        CKM_SHA384_RSA_PKCS,
        Kind::RsaPkcs1,
        Some("sha384"),
    ),
];

#[test]
fn a_wrong_signature_from_kms_is_refused() {
    let _serial = serial();
    let fx = fx();
    let s = fx.session();
    fx.emu.set_faults(r#"{"wrong_signature_rate":1}"#);
    let before = (wrong_signatures(fx), fx.count("Sign"));
    for &(name, mech, _, _) in CASES {
        let key = fx.private(&s, name);
        let m = Mech::new(mech);
        ok(s.sign_init(&m, key), "C_SignInit");
        assert_rv(
            s.sign(b"integrity"),
            CKR_DEVICE_ERROR,
            &format!("C_Sign on {name} with a spoiled answer"),
        );
        // The operation ended with the failure.
        assert_rv(
            s.sign(b"integrity"),
            CKR_OPERATION_NOT_INITIALIZED,
            "C_Sign after the refusal",
        );
        ok(s.sign_init(&m, key), "C_SignInit");
        ok(s.sign_update(b"integ"), "C_SignUpdate");
        ok(s.sign_update(b"rity"), "C_SignUpdate");
        assert_rv(
            s.sign_final(),
            CKR_DEVICE_ERROR,
            &format!("C_SignFinal on {name} with a spoiled answer"),
        );
    }
    // Every refusal was one Sign that KMS answered with a spoiled signature:
    // not retried, not a transport failure.
    let n = 2 * CASES.len() as u64;
    assert_eq!(wrong_signatures(fx) - before.0, n);
    assert_eq!(fx.count("Sign") - before.1, n);

    // The module recovers at once when the answers are right again.
    fx.emu.set_faults("{}");
    let mut b = Batch::new();
    for &(name, mech, kind, hash) in CASES {
        let key = fx.private(&s, name);
        let data = format!("after the fault, {name} {mech}");
        ok(s.sign_init(&Mech::new(mech), key), "C_SignInit");
        let sig = ok(s.sign(data.as_bytes()), "C_Sign");
        b.good(
            format!("{name} {mech:#x}"),
            kind,
            hash,
            &fx.key(name).spki,
            data.as_bytes(),
            &sig,
        );
    }
    assert_eq!(b.run(), CASES.len());
}

#[test]
fn with_some_answers_spoiled_every_signature_returned_verifies() {
    let _serial = serial();
    let fx = fx();
    let s = fx.session();
    let key = fx.private(&s, "alias/int-p256");
    fx.emu.set_faults(r#"{"wrong_signature_rate":0.5}"#);
    let before = wrong_signatures(fx);
    let mut b = Batch::new();
    let mut refused = 0;
    for i in 0..40 {
        let data = format!("message {i}");
        ok(s.sign_init(&Mech::new(CKM_ECDSA_SHA256), key), "C_SignInit");
        match s.sign(data.as_bytes()) {
            Ok(sig) => b.good(
                format!("signature {i}"),
                Kind::Ecdsa,
                Some("sha256"),
                &fx.key("alias/int-p256").spki,
                data.as_bytes(),
                &sig,
            ),
            Err(rv) => {
                assert_eq!(rv, CKR_DEVICE_ERROR, "signature {i}: {}", rv_name(rv));
                refused += 1;
            }
        }
    }
    fx.emu.set_faults("{}");
    assert_eq!(
        wrong_signatures(fx) - before,
        refused,
        "refusals differ from the spoiled answers"
    );
    assert!(refused > 0 && refused < 40, "{refused} of 40 refused");
    assert_eq!(b.run(), 40 - refused as usize);
}
