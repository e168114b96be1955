//! A token key named by alias follows the alias: after UpdateAlias moves
//! alias/moving from key A to key B, and the alias refresh interval has
//! passed, a new search finds B's objects (B's CKA_ID) under the same
//! handles (a handle names the configured key, whichever key its alias
//! names now), and signatures verify with B's public key only; and a
//! session that lives across a move, signing with the handle it found once,
//! follows it too (C_SignInit checks the interval, without waiting on KMS).

mod common;

use common::util::{poll, Rng};
use common::verify::{Batch, Kind};
use common::*;
use std::time::{Duration, Instant};

static SETUP: Setup = Setup {
    keys: &[
        key("alias/moving", "ECC_NIST_P256"),
        key("alias/moving-target", "ECC_NIST_P256"),
        key("alias/held", "ECC_NIST_P256"),
        key("alias/held-target", "ECC_NIST_P256"),
    ],
    config: Config::Tokens(tokens),
    aws_extra: "alias_refresh_seconds = 1",
    emulator_args: &[],
};

const HELD_TOKEN: &str = "held";

/// Only alias/moving and alias/held are configured (one token each, so the
/// tests do not refresh each other's); the -target aliases just name the
/// keys the tests move them to.
fn tokens(_: &Keys) -> String {
    format!(
        "[[token]]\nlabel = \"{DEFAULT_TOKEN}\"\n[[token.key]]\nkey = \"alias/moving\"\n\
         [[token]]\nlabel = \"{HELD_TOKEN}\"\n[[token.key]]\nkey = \"alias/held\"\n"
    )
}

fn move_alias(fx: &Fixture, alias: &str, to: &Key) {
    fx.emu.kms_ok(
        "UpdateAlias",
        &serde_json::json!({"AliasName": alias, "TargetKeyId": to.id}),
    );
}

fn fx() -> &'static Fixture {
    fixture(&SETUP)
}

#[test]
fn objects_follow_the_alias() {
    let fx = fx();
    let _serial = serial();
    let a = fx.key("alias/moving");
    let b = fx.key("alias/moving-target");
    let mut rng = Rng::new();
    let mut batch = Batch::new();
    let m = Mech::new(CKM_ECDSA_SHA256);

    let s = fx.session();
    let by_label = Template::new().class(CKO_PRIVATE_KEY).label("moving");
    let found = ok(s.find(&by_label), "C_FindObjects");
    assert_eq!(
        found.len(),
        1,
        "private keys labelled 'moving' before the move"
    );
    let old = found[0];
    assert_eq!(
        ok(s.attr(old, CKA_ID), "CKA_ID"),
        a.cka_id(),
        "CKA_ID before the move is key A's"
    );
    let msg_a = rng.bytes(100);
    let sig = ok(s.sign_once(&m, old, &msg_a), "C_Sign before the move");
    batch.good(
        "signed before the move, with A",
        Kind::Ecdsa,
        Some("sha256"),
        &a.spki,
        &msg_a,
        &sig,
    );

    move_alias(fx, "alias/moving", b);

    // Bounded wait for the refresh (interval 1 s).
    let new = poll(Duration::from_secs(15), Duration::from_millis(200), || {
        let s = fx.session();
        let f = s.find(&by_label).ok()?;
        match f.as_slice() {
            [h] if s.attr(*h, CKA_ID).ok()? == b.cka_id() => Some(*h),
            _ => None,
        }
    })
    .expect("within 15 s of UpdateAlias, a search for 'moving' finds key B's private key");

    let s = fx.session();
    assert_eq!(
        ok(
            s.find(&Template::new().id(&a.cka_id())),
            "C_FindObjects by A's CKA_ID"
        ),
        Vec::<CK_OBJECT_HANDLE>::new(),
        "objects with key A's CKA_ID after the move"
    );
    let b_objects = ok(
        s.find(&Template::new().id(&b.cka_id())),
        "C_FindObjects by B's CKA_ID",
    );
    assert_eq!(b_objects.len(), 2, "key B's private and public objects");
    let public = ok(
        s.find(&Template::new().class(CKO_PUBLIC_KEY).label("moving")),
        "C_FindObjects public",
    );
    assert_eq!(public.len(), 1);
    assert_eq!(
        ok(
            s.attr(public[0], CKA_PUBLIC_KEY_INFO),
            "CKA_PUBLIC_KEY_INFO"
        ),
        b.spki,
        "public key after the move"
    );

    // The handle names the configured key: the one found before the move
    // is key B's private key now.
    assert_eq!(new, old, "the private key's handle across the move");

    let msg_b = rng.bytes(100);
    let sig = ok(s.sign_once(&m, new, &msg_b), "C_Sign after the move");
    batch.good(
        "signed after the move, with B",
        Kind::Ecdsa,
        Some("sha256"),
        &b.spki,
        &msg_b,
        &sig,
    );
    batch.bad(
        "signed after the move, checked with A",
        Kind::Ecdsa,
        Some("sha256"),
        &a.spki,
        &msg_b,
        &sig,
    );
    assert_eq!(batch.run(), 3);
}

/// One session and one key handle, found once, as a long-running signer
/// (a token server) keeps them: after the alias moves and the refresh
/// interval passes, C_SignInit with that handle starts a refresh and
/// returns without waiting for KMS; the operation it started keeps key A
/// (its signature, made by B after the move, is refused, never returned);
/// the next C_SignInit with the same handle signs with B.
#[test]
fn a_session_that_lives_across_a_move_follows_the_alias() {
    let fx = fx();
    let _serial = serial();
    let a = fx.key("alias/held");
    let b = fx.key("alias/held-target");
    let mut rng = Rng::new();
    let mut batch = Batch::new();
    let m = Mech::new(CKM_ECDSA_SHA256);

    let s = ok(fx.m.open_rw(fx.slot(HELD_TOKEN)), "C_OpenSession");
    let found = ok(
        s.find(&Template::new().class(CKO_PRIVATE_KEY).label("held")),
        "C_FindObjects",
    );
    assert_eq!(found.len(), 1, "private keys labelled 'held'");
    let h = found[0];
    let msg = rng.bytes(100);
    let sig = ok(s.sign_once(&m, h, &msg), "C_Sign before the move");
    batch.good(
        "before the move, with A",
        Kind::Ecdsa,
        Some("sha256"),
        &a.spki,
        &msg,
        &sig,
    );

    move_alias(fx, "alias/held", b);
    std::thread::sleep(Duration::from_millis(1500));
    // Nothing but C_SignInit, C_OpenSession and C_FindObjectsInit refreshes:
    // the handle still shows A.
    assert_eq!(
        ok(s.attr(h, CKA_ID), "CKA_ID"),
        a.cka_id(),
        "CKA_ID before any refresh"
    );

    // C_SignInit does not wait for the refresh: with every KMS answer
    // delayed by 2 s, it returns at once.
    fx.emu.set_faults(r#"{"latency_ms":2000}"#);
    let started = Instant::now();
    let init = s.sign_init(&m, h);
    let took = started.elapsed();
    ok(init, "C_SignInit past the refresh interval");
    assert!(
        took < Duration::from_millis(1000),
        "C_SignInit waited {took:?} for KMS"
    );
    // The refresh it started brings key B under the same handle.
    let refreshed = poll(Duration::from_secs(15), Duration::from_millis(100), || {
        (s.attr(h, CKA_ID).ok()? == b.cka_id()).then_some(())
    });
    fx.emu.set_faults("{}");
    assert!(
        refreshed.is_some(),
        "within 15 s of C_SignInit, the handle shows key B"
    );

    // The operation started before the refresh keeps key A: KMS signs by
    // the alias, with B, so that signature is refused (never returned
    // under A's objects).
    let msg = rng.bytes(100);
    match s.sign(&msg) {
        Err(rv) => assert_eq!(
            rv, CKR_DEVICE_ERROR,
            "C_Sign of the operation started with A"
        ),
        Ok(sig) => {
            batch.good(
                "operation started with A",
                Kind::Ecdsa,
                Some("sha256"),
                &a.spki,
                &msg,
                &sig,
            );
        }
    }

    // Every later C_SignInit with the same handle signs with B.
    for round in 0..3 {
        let msg = rng.bytes(100);
        let sig = ok(
            s.sign_once(&m, h, &msg),
            "C_Sign with the held handle after the move",
        );
        let label = format!("held handle after the move, round {round}");
        batch.good(
            format!("{label}, with B"),
            Kind::Ecdsa,
            Some("sha256"),
            &b.spki,
            &msg,
            &sig,
        );
        batch.bad(
            format!("{label}, checked with A"),
            Kind::Ecdsa,
            Some("sha256"),
            &a.spki,
            &msg,
            &sig,
        );
    }
    assert!(batch.run() >= 7);
}
