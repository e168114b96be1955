//! KMS refusals as PKCS #11 errors: a key policy without kms:Sign (at start
//! and at run time), a disabled key, a key pending deletion. Each must give
//! CKR_KEY_FUNCTION_NOT_PERMITTED (or, for a key that is gone, objects that
//! are gone), never a signature.

mod common;

use common::util::Rng;
use common::verify::{Batch, Kind};
use common::*;
use std::time::Duration;

static SETUP: Setup = Setup {
    keys: &[
        key("alias/err-denied", "ECC_NIST_P256"),
        key("alias/err-later", "ECC_NIST_P256"),
        key("alias/err-disabled", "RSA_2048"),
        key("alias/err-deleted", "ECC_NIST_P256"),
    ],
    config: Config::OneToken,
    aws_extra: "alias_refresh_seconds = 1\nmax_attempts = 2\ncall_timeout_ms = 5000",
    emulator_args: &["--deny", "Sign:alias/err-denied"],
};

fn fx() -> &'static Fixture {
    fixture(&SETUP)
}

const START_FAULTS: &str = r#"{"deny":[{"operation":"Sign","key":"alias/err-denied"}]}"#;

#[test]
fn sign_denied_by_policy() {
    let _serial = serial();
    let fx = fx();
    let s = fx.session();
    // kms:GetPublicKey is allowed, so the objects exist.
    let key = fx.private(&s, "alias/err-denied");
    let m = Mech::new(CKM_ECDSA_SHA256);

    ok(s.sign_init(&m, key), "C_SignInit");
    assert_rv(
        s.sign(b"data"),
        CKR_KEY_FUNCTION_NOT_PERMITTED,
        "C_Sign with a key whose policy denies kms:Sign",
    );
    assert_rv(
        s.sign(b"data"),
        CKR_OPERATION_NOT_INITIALIZED,
        "C_Sign after the refusal",
    );

    // The length query needs no KMS call and succeeds; the signature does not.
    ok(s.sign_init(&m, key), "C_SignInit");
    let mut len: CK_ULONG = 0;
    assert_eq!(
        s.sign_raw(b"data", None, &mut len),
        CKR_OK,
        "C_Sign(NULL) on a denied key"
    );
    assert_eq!(len, 64);
    assert_rv(
        s.sign(b"data"),
        CKR_KEY_FUNCTION_NOT_PERMITTED,
        "C_Sign after the length query",
    );

    ok(s.sign_init(&m, key), "C_SignInit");
    ok(s.sign_update(b"da"), "C_SignUpdate");
    ok(s.sign_update(b"ta"), "C_SignUpdate");
    assert_rv(
        s.sign_final(),
        CKR_KEY_FUNCTION_NOT_PERMITTED,
        "C_SignFinal with a key whose policy denies kms:Sign",
    );
    assert_rv(
        s.sign_final(),
        CKR_OPERATION_NOT_INITIALIZED,
        "C_SignFinal after the refusal",
    );
}

#[test]
fn sign_denied_at_run_time() {
    let _serial = serial();
    let fx = fx();
    let s = fx.session();
    let k = fx.key("alias/err-later");
    let key = fx.private(&s, "alias/err-later");
    let m = Mech::new(CKM_ECDSA_SHA256);
    let mut b = Batch::new();

    let sig = ok(
        s.sign_once(&m, key, b"before"),
        "C_Sign before the policy changes",
    );
    b.good(
        "before the deny",
        Kind::Ecdsa,
        Some("sha256"),
        &k.spki,
        b"before",
        &sig,
    );

    fx.emu.set_faults(
        r#"{"deny":[{"operation":"Sign","key":"alias/err-denied"},{"operation":"Sign","key":"alias/err-later"}]}"#,
    );
    let denied = s.sign_once(&m, key, b"during");
    fx.emu.set_faults(START_FAULTS);
    assert_rv(
        denied,
        CKR_KEY_FUNCTION_NOT_PERMITTED,
        "C_Sign once the policy denies kms:Sign",
    );

    let sig = ok(
        s.sign_once(&m, key, b"after"),
        "C_Sign once kms:Sign is allowed again",
    );
    b.good(
        "after the deny",
        Kind::Ecdsa,
        Some("sha256"),
        &k.spki,
        b"after",
        &sig,
    );
    assert_eq!(b.run(), 2);
}

/// After a KMS key becomes unusable: an existing handle must not sign
/// (CKR_KEY_FUNCTION_NOT_PERMITTED, or CKR_KEY_HANDLE_INVALID at C_SignInit
/// if its objects went away), and a new search either finds no objects or
/// finds objects that do not sign.
fn unusable_key(name: &str, mech: Mech, make_unusable: impl FnOnce(&Fixture, &Key)) {
    let fx = fx();
    let s = fx.session();
    let k = fx.key(name);
    let key = fx.private(&s, name);
    let mut rng = Rng::new();
    let data = rng.bytes(32);
    let sig = ok(
        s.sign_once(&mech, key, &data),
        &format!("{name}: C_Sign while the key is usable"),
    );
    assert_eq!(sig.len(), k.sig_len());

    make_unusable(fx, k);

    let try_sign = |s: &Session, key: CK_OBJECT_HANDLE, what: &str| match s.sign_init(&mech, key) {
        Err(CKR_KEY_FUNCTION_NOT_PERMITTED) | Err(CKR_KEY_HANDLE_INVALID) => {}
        Err(rv) => panic!("{name}: {what}: C_SignInit: {}", rv_name(rv)),
        Ok(()) => assert_rv(
            s.sign(&data),
            CKR_KEY_FUNCTION_NOT_PERMITTED,
            &format!("{name}: {what}: C_Sign"),
        ),
    };
    try_sign(&s, key, "the handle found before");
    // Past the refresh interval (1 s), the module may have re-resolved its keys.
    std::thread::sleep(Duration::from_millis(2500));
    try_sign(
        &s,
        key,
        "the handle found before, after the refresh interval",
    );
    let s2 = fx.session();
    let found = ok(
        s2.find(&Template::new().class(CKO_PRIVATE_KEY).id(&k.cka_id())),
        "C_FindObjects",
    );
    assert!(
        found.len() <= 1,
        "{name}: {} private keys with its CKA_ID",
        found.len()
    );
    for h in found {
        try_sign(&s2, h, "a handle found after the change");
    }
}

#[test]
fn disabled_key() {
    unusable_key(
        "alias/err-disabled",
        Mech::new(CKM_SHA256_RSA_PKCS),
        |fx, k| {
            fx.emu
                .kms_ok("DisableKey", &serde_json::json!({"KeyId": k.id}));
        },
    );
}

#[test]
fn key_pending_deletion() {
    unusable_key("alias/err-deleted", Mech::new(CKM_ECDSA), |fx, k| {
        fx.emu.kms_ok(
            "ScheduleKeyDeletion",
            &serde_json::json!({"KeyId": k.id, "PendingWindowInDays": 7}),
        );
    });
}

/// The emulator's answer for a refused Sign really is what the test assumes
/// (so the tests above test the module, not the emulator's defaults).
#[test]
fn emulator_refuses_as_expected() {
    let fx = fx();
    let body = serde_json::json!({
        "KeyId": "alias/err-denied",
        "Message": util::b64encode(&[0u8; 32]),
        "MessageType": "DIGEST",
        "SigningAlgorithm": "ECDSA_SHA_256",
    });
    let denied = fx.emu.kms("Sign", &body);
    match denied {
        Err((400, body)) => assert!(body.contains("AccessDeniedException"), "{body}"),
        other => panic!("emulator Sign on a denied key: {other:?}"),
    }
}
