//! A key named by ARN is used in the ARN's region, whatever the default
//! region: the emulator keeps these keys in eu-west-1 while the module's
//! configured region is us-east-1. The same key named by its bare key ID is
//! looked up in us-east-1, where it does not exist, and is left out.

mod common;

use common::verify::{Batch, Kind};
use common::*;

static SETUP: Setup = Setup {
    keys: &[
        key("by-arn", "ECC_NIST_P384"),
        key("by-id", "ECC_NIST_P256"),
    ],
    config: Config::Tokens(tokens),
    aws_extra: "",
    emulator_args: &["--region", "eu-west-1"],
};

fn tokens(keys: &Keys) -> String {
    format!(
        "[[token]]\nlabel = \"{DEFAULT_TOKEN}\"\n\
         [[token.key]]\nkey = \"{}\"\nlabel = \"by-arn\"\n\
         [[token.key]]\nkey = \"{}\"\nlabel = \"by-id\"\n",
        keys.get("by-arn").arn,
        keys.get("by-id").id
    )
}

#[test]
fn a_key_named_by_arn_is_used_in_the_arns_region() {
    let fx = fixture(&SETUP);
    let k = fx.key("by-arn");
    assert!(k.arn.starts_with("arn:aws:kms:eu-west-1:"), "{}", k.arn);
    let s = fx.session();
    let found = ok(
        s.find(&Template::new().class(CKO_PRIVATE_KEY).label("by-arn")),
        "C_FindObjects by label",
    );
    assert_eq!(
        found.len(),
        1,
        "the key named by its eu-west-1 ARN is on the token"
    );
    let sig = ok(
        s.sign_once(&Mech::new(CKM_ECDSA_SHA384), found[0], b"cross-region"),
        "C_Sign with the eu-west-1 key",
    );
    let mut b = Batch::new();
    b.good(
        "eu-west-1 key",
        Kind::Ecdsa,
        Some("sha384"),
        &k.spki,
        b"cross-region",
        &sig,
    );
    assert_eq!(b.run(), 1);

    let by_id = ok(
        s.find(&Template::new().label("by-id")),
        "C_FindObjects for the key named by bare ID",
    );
    assert!(
        by_id.is_empty(),
        "a bare key ID is looked up in the configured region (us-east-1), where it does not exist"
    );
}
