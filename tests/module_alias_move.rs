//! A token key named by alias follows the alias: after UpdateAlias moves
//! alias/moving from key A to key B, and the alias refresh interval has
//! passed, a new search finds B's objects (B's CKA_ID), A's handles are
//! invalid, and signatures verify with B's public key only.

mod common;

use common::util::{poll, Rng};
use common::verify::{Batch, Kind};
use common::*;
use std::time::Duration;

static SETUP: Setup = Setup {
    keys: &[
        key("alias/moving", "ECC_NIST_P256"),
        key("alias/moving-target", "ECC_NIST_P256"),
    ],
    config: Config::Tokens(tokens),
    aws_extra: "alias_refresh_seconds = 1",
    emulator_args: &[],
};

/// Only alias/moving is configured; alias/moving-target just names key B for the test.
fn tokens(_: &Keys) -> String {
    format!("[[token]]\nlabel = \"{DEFAULT_TOKEN}\"\n[[token.key]]\nkey = \"alias/moving\"\n")
}

fn fx() -> &'static Fixture {
    fixture(&SETUP)
}

#[test]
fn objects_follow_the_alias() {
    let fx = fx();
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

    fx.emu.kms_ok(
        "UpdateAlias",
        &json::object(&[
            ("AliasName", "alias/moving"),
            ("TargetKeyId", b.id.as_str()),
        ]),
    );

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
        vec![],
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

    // The old handle is gone.
    assert_rv(
        s.attr(old, CKA_CLASS),
        CKR_OBJECT_HANDLE_INVALID,
        "C_GetAttributeValue of key A's old handle",
    );
    assert_rv(
        s.sign_init(&m, old),
        CKR_KEY_HANDLE_INVALID,
        "C_SignInit with key A's old handle",
    );

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
