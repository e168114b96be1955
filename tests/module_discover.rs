//! `discover_aliases` (issue 16): a token holds the key of every alias that
//! starts with its prefix (ListAliases), finds new ones and drops deleted
//! ones at its alias refresh, and keeps its configured keys when listing is
//! denied. Signatures verified by pyca/cryptography.

mod common;

use common::verify::{Batch, Kind};
use common::*;
use serde_json::json;

static SETUP: Setup = Setup {
    keys: &[
        key("alias/release-a", "ECC_NIST_P256"),
        key("alias/release-b", "RSA_2048"),
        key("alias/other", "ECC_NIST_P256"),
    ],
    config: Config::Tokens(tokens),
    aws_extra: "alias_refresh_seconds = 1",
    emulator_args: &[],
};

/// DEFAULT_TOKEN names alias/other and discovers alias/release-*.
fn tokens(_: &Keys) -> String {
    format!(
        "[[token]]\nlabel = {}\ndiscover_aliases = \"alias/release-\"\n\
         [[token.key]]\nkey = \"alias/other\"\n",
        quote(DEFAULT_TOKEN)
    )
}

fn labels(s: &Session) -> Vec<String> {
    let found = ok(s.find(&Template::new().class(CKO_PRIVATE_KEY)), "find");
    let mut out: Vec<String> = found
        .into_iter()
        .map(|h| String::from_utf8(ok(s.attr(h, CKA_LABEL), "label")).unwrap())
        .collect();
    out.sort();
    out
}

/// After the alias refresh interval, a new session resolves again.
fn after_refresh(fx: &Fixture) -> Session<'_> {
    std::thread::sleep(std::time::Duration::from_millis(1100));
    fx.session()
}

#[test]
fn aliases_with_the_prefix_are_found_signed_with_and_followed() {
    let (fx, _turn) = fixture_alone(&SETUP);
    // (The other test may have resolved the token just before.)
    let s = after_refresh(fx);
    assert_eq!(labels(&s), ["other", "release-a", "release-b"]);
    let k = fx.key("alias/release-a");
    let sig = ok(
        s.sign_once(
            &Mech::new(CKM_ECDSA_SHA256),
            fx.private(&s, "alias/release-a"),
            b"found",
        ),
        "C_Sign with a discovered key",
    );
    let mut b = Batch::new();
    b.good(
        "discovered key",
        Kind::Ecdsa,
        Some("sha256"),
        &k.spki,
        b"found",
        &sig,
    );
    b.run();
    // A new alias appears, a deleted one goes, at the next refresh.
    let new = fx.emu.kms_ok(
        "CreateKey",
        &json!({"KeySpec": "ECC_NIST_P384", "KeyUsage": "SIGN_VERIFY"}),
    );
    let id = new["KeyMetadata"]["KeyId"].as_str().unwrap().to_string();
    fx.emu.kms_ok(
        "CreateAlias",
        &json!({"AliasName": "alias/release-c", "TargetKeyId": id}),
    );
    fx.emu
        .kms_ok("DeleteAlias", &json!({"AliasName": "alias/release-b"}));
    let s = after_refresh(fx);
    assert_eq!(labels(&s), ["other", "release-a", "release-c"]);
}

#[test]
fn a_role_that_may_not_list_aliases_keeps_the_configured_keys() {
    let (fx, _turn) = fixture_alone(&SETUP);
    fx.emu
        .set_faults(r#"{"deny":[{"operation":"ListAliases","key":"*"}]}"#);
    let s = after_refresh(fx);
    let seen = labels(&s);
    fx.emu.set_faults("{}");
    assert!(seen.contains(&"other".to_string()), "{seen:?}");
    let other = fx.private(&s, "alias/other");
    let sig = ok(
        s.sign_once(&Mech::new(CKM_ECDSA_SHA256), other, b"still here"),
        "C_Sign with a configured key",
    );
    let mut b = Batch::new();
    b.good(
        "configured key",
        Kind::Ecdsa,
        Some("sha256"),
        &fx.key("alias/other").spki,
        b"still here",
        &sig,
    );
    b.run();
}
