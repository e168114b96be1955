//! Zero configuration: KMS11_KEYS=alias/a,alias/b,<key id> and no file gives
//! one token labelled "kms11" holding those keys.

mod common;

use common::util::Rng;
use common::verify::{Batch, Kind};
use common::*;

static SETUP: Setup = Setup {
    keys: &[
        key("alias/zc-rsa", "RSA_2048"),
        key("alias/zc-ec", "ECC_NIST_P256"),
        key("zc-byid", "ECC_NIST_P384"),
    ],
    config: Config::EnvKeys,
    aws_extra: "",
    emulator_args: &[],
};

fn fx() -> &'static Fixture {
    fixture(&SETUP)
}

#[test]
fn one_token_with_the_listed_keys() {
    let fx = fx();
    assert!(std::env::var_os("KMS11_CONFIG").is_none());
    let slots = ok(fx.m.slots(true), "C_GetSlotList");
    assert_eq!(slots.len(), 1, "slots with KMS11_KEYS: {slots:?}");
    let ti = ok(fx.m.token_info(slots[0]), "C_GetTokenInfo");
    assert_eq!(text(&ti.label), ZERO_CONFIG_TOKEN);
    assert_eq!(text(&ti.manufacturerID), "kms11");
    assert_eq!(text(&ti.model), "AWS KMS");

    let s = fx.session();
    assert_eq!(
        ok(s.find(&Template::new()), "C_FindObjects").len(),
        2 * fx.keys.0.len(),
        "objects of the KMS11_KEYS token"
    );
    let mut rng = Rng::new();
    let mut b = Batch::new();
    for k in &fx.keys.0 {
        let private = fx.private(&s, &k.name);
        let label = String::from_utf8(ok(s.attr(private, CKA_LABEL), "CKA_LABEL")).unwrap();
        assert_eq!(label, k.label(), "CKA_LABEL of {}", k.name);
        let msg = rng.bytes(64);
        let (mech, kind) = if k.is_rsa() {
            (CKM_SHA256_RSA_PKCS, Kind::RsaPkcs1)
        } else {
            (CKM_ECDSA_SHA256, Kind::Ecdsa)
        };
        let sig = ok(
            s.sign_once(&Mech::new(mech), private, &msg),
            &format!("C_Sign with {}", k.name),
        );
        b.good(
            format!("{} {}", k.name, mech_name(mech)),
            kind,
            Some("sha256"),
            &k.spki,
            &msg,
            &sig,
        );
    }
    assert_eq!(b.run(), 3);
}
