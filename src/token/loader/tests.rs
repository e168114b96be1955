//! The loader's rules without a network: answers are handed to the slot
//! as KMS (or the cache) would give them.

use super::*;
use crate::backend::{BackendError, Failure, RemoteKey};
use crate::config::Config;
use crate::error::Error;
use cryptoki_sys::*;

const P256: &[u8] = include_bytes!("../../../fuzz/keys/p256.spki.der");
const P384: &[u8] = include_bytes!("../../../fuzz/keys/p384.spki.der");
const OLD: &str = "arn:aws:kms:us-east-1:111122223333:key/11111111-2222-3333-4444-555555555555";
const NEW: &str = "arn:aws:kms:us-east-1:111122223333:key/66666666-7777-8888-9999-000000000000";

/// A token of one key named by alias, refreshed every `refresh`.
fn slot(refresh: Duration) -> Slot {
    let text = "[[token]]\nlabel = \"t\"\n[[token.key]]\nkey = \"alias/release\"\n";
    let token = Config::parse(text, "test")
        .expect("parses")
        .tokens
        .remove(0);
    let management = token.management();
    Slot::new(0, "t".into(), token.keys, refresh, None, management)
}

fn found(arn: &str, spec: &str, spki: &[u8]) -> Result<Answers> {
    let key = RemoteKey {
        arn: arn.into(),
        key_spec: spec.into(),
        key_usage: "SIGN_VERIFY".into(),
        public_key: spki.to_vec(),
    };
    let found = Found {
        key,
        cached: None,
        entry: None,
    };
    Ok(vec![(0, Ok(found))])
}

fn failed(failure: Failure, code: &str) -> Result<Answers> {
    let e = BackendError {
        failure,
        code: code.into(),
        message: "test".into(),
        request_id: None,
    };
    Ok(vec![(0, Err(e))])
}

/// (handle, class, key ARN) of every object the slot shows.
fn objects(slot: &Slot) -> Vec<(CK_OBJECT_HANDLE, CK_OBJECT_CLASS, String)> {
    let handles = slot.find(&[]);
    let of = |h| {
        let o = slot.object(h)?;
        Some((h, o.class, o.key.as_ref()?.arn.clone()))
    };
    handles.into_iter().filter_map(of).collect()
}

fn resolve(slot: &Slot, answers: Result<Answers>, next: &AtomicU64) -> Result<()> {
    slot.ensure_resolved(|_| answers, next)
}

#[test]
fn an_alias_that_moves_keeps_its_handles_and_names_the_new_key() {
    let slot = slot(Duration::ZERO);
    let next = AtomicU64::new(1);
    resolve(&slot, found(OLD, "ECC_NIST_P256", P256), &next).unwrap();
    let before = objects(&slot);
    assert_eq!(
        before,
        vec![
            (1, CKO_PRIVATE_KEY, OLD.into()),
            (2, CKO_PUBLIC_KEY, OLD.into())
        ]
    );
    let old_key = slot.key_for(1, CKO_PRIVATE_KEY).unwrap();
    // A refresh interval of zero: every call refreshes the alias.
    assert!(!slot.is_fresh());
    resolve(&slot, found(NEW, "ECC_NIST_P384", P384), &next).unwrap();
    assert_eq!(
        objects(&slot),
        vec![
            (1, CKO_PRIVATE_KEY, NEW.into()),
            (2, CKO_PUBLIC_KEY, NEW.into())
        ],
        "the same handles now hold the key the alias names"
    );
    let new_key = slot.key_for(1, CKO_PRIVATE_KEY).unwrap();
    assert!(!Arc::ptr_eq(&old_key, &new_key));
    assert_eq!(new_key.spec, crate::vocabulary::KeySpec::EccNistP384);
    // The same answer again changes nothing, not even the key's identity.
    resolve(&slot, found(NEW, "ECC_NIST_P384", P384), &next).unwrap();
    assert!(Arc::ptr_eq(
        &new_key,
        &slot.key_for(1, CKO_PRIVATE_KEY).unwrap()
    ));
    assert_eq!(
        next.load(Ordering::Relaxed),
        3,
        "no handle was allocated twice"
    );
}

#[test]
fn a_key_that_is_gone_loses_its_objects_until_it_returns_under_the_same_handles() {
    let slot = slot(Duration::ZERO);
    let next = AtomicU64::new(1);
    resolve(&slot, found(OLD, "ECC_NIST_P256", P256), &next).unwrap();
    // A transient failure on refresh keeps what the token has.
    resolve(
        &slot,
        failed(Failure::Throttled, "ThrottlingException"),
        &next,
    )
    .unwrap();
    assert_eq!(objects(&slot).len(), 2);
    // No answer at all (a timeout) keeps it too.
    let timeout = Err(Error::from(CKR_DEVICE_ERROR));
    resolve(&slot, timeout, &next).unwrap();
    assert_eq!(objects(&slot).len(), 2);
    // The alias is deleted: its handles go invalid and the reason is kept.
    resolve(&slot, failed(Failure::NotFound, "NotFoundException"), &next).unwrap();
    assert!(objects(&slot).is_empty());
    assert!(slot.object(1).is_none());
    assert_eq!(
        slot.key_for(1, CKO_PRIVATE_KEY).unwrap_err().rv,
        CKR_KEY_HANDLE_INVALID
    );
    let view = &slot.key_views()[0];
    assert!(view
        .resolved
        .as_ref()
        .is_err_and(|e| e.contains("NotFoundException")));
    // It comes back: the same handles, no new ones.
    resolve(&slot, found(NEW, "ECC_NIST_P256", P256), &next).unwrap();
    assert_eq!(
        objects(&slot).iter().map(|o| o.0).collect::<Vec<_>>(),
        [1, 2]
    );
    assert!(slot.key_views()[0].resolved.is_ok());
}

#[test]
fn the_first_resolution_fails_when_kms_cannot_be_reached_and_is_tried_again() {
    let slot = slot(Duration::from_secs(300));
    let next = AtomicU64::new(1);
    let e = resolve(
        &slot,
        failed(Failure::Unavailable, "DispatchFailure"),
        &next,
    )
    .unwrap_err();
    assert_eq!(e.rv, CKR_DEVICE_ERROR);
    assert!(!slot.is_fresh());
    resolve(&slot, found(OLD, "ECC_NIST_P256", P256), &next).unwrap();
    assert!(slot.is_fresh(), "resolved within the refresh interval");
    // A key KMS contradicted is refreshed even within the interval.
    slot.mark_stale(&slot.key_for(1, CKO_PRIVATE_KEY).unwrap());
    assert!(!slot.is_fresh());
    resolve(&slot, found(OLD, "ECC_NIST_P256", P256), &next).unwrap();
    assert!(slot.is_fresh());
}

#[test]
fn a_key_that_cannot_sign_is_left_out_with_its_reason() {
    let slot = slot(Duration::from_secs(300));
    let next = AtomicU64::new(1);
    let mut answers = found(OLD, "SYMMETRIC_DEFAULT", P256).unwrap();
    if let Ok(f) = &mut answers[0].1 {
        f.key.key_usage = "ENCRYPT_DECRYPT".into();
    }
    resolve(&slot, Ok(answers), &next).unwrap();
    assert!(objects(&slot).is_empty());
    let reason = slot.key_views()[0].resolved.clone().unwrap_err();
    assert!(
        reason.contains("asymmetric SIGN_VERIFY keys, RSA ENCRYPT_DECRYPT keys and HMAC keys"),
        "{reason}"
    );
    // A public key that does not match its KeySpec is left out too.
    let slot = self::slot(Duration::from_secs(300));
    resolve(&slot, found(OLD, "ECC_NIST_P384", P256), &next).unwrap();
    assert!(objects(&slot).is_empty());
    let reason = slot.key_views()[0].resolved.clone().unwrap_err();
    assert!(reason.contains("curve of its KeySpec"), "{reason}");
}
