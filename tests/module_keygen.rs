//! Key generation and retirement (issue 16): C_GenerateKeyPair and
//! C_GenerateKey make KMS keys (CreateKey, CreateAlias from CKA_LABEL) on a
//! token that allows it, and C_DestroyObject schedules their deletion; a
//! token that does not allow it refuses with CKR_ACTION_PROHIBITED and asks
//! KMS nothing. Every signature of a new key is verified by
//! pyca/cryptography with the public key the emulator's GetPublicKey gives.

mod common;

use ::der::Encode;
use common::util::hex;
use common::verify::{Batch, Kind};
use common::*;
use kms11::vendor::*;
use serde_json::json;

const EXISTING: &str = "alias/existing-p256";
const MANAGED: &str = "managed";
const PREFIX: &str = "kms11-test/";

static SETUP: Setup = Setup {
    keys: &[key(EXISTING, "ECC_NIST_P256")],
    config: Config::Tokens(tokens),
    aws_extra: "",
    emulator_args: &[],
};

/// DEFAULT_TOKEN without key management, and MANAGED with it.
fn tokens(_: &Keys) -> String {
    format!(
        "[[token]]\nlabel = {}\n[[token.key]]\nkey = {}\n\n\
         [[token]]\nlabel = {}\nallow_key_management = true\nalias_prefix = {}\n\
         deletion_window_days = 7\n[[token.key]]\nkey = {}\n",
        quote(DEFAULT_TOKEN),
        quote(EXISTING),
        quote(MANAGED),
        quote(PREFIX),
        quote(EXISTING)
    )
}

fn fx() -> (&'static Fixture, std::sync::MutexGuard<'static, ()>) {
    // The tests count the emulator's requests and keys: one at a time.
    fixture_alone(&SETUP)
}

fn rw<'a>(fx: &'a Fixture, token: &str) -> Session<'a> {
    ok(fx.m.open_rw(fx.slot(token)), "C_OpenSession (R/W)")
}

fn oid(s: &str) -> Vec<u8> {
    ::der::asn1::ObjectIdentifier::new_unwrap(s)
        .to_der()
        .unwrap()
}

/// The keys in the emulator's account and region.
fn key_count(fx: &Fixture) -> usize {
    let keys = fx.emu.kms_ok("ListKeys", &json!({"Limit": 1000}));
    keys["Keys"].as_array().map_or(0, Vec::len)
}

fn describe(fx: &Fixture, key: &str) -> serde_json::Value {
    fx.emu.kms_ok("DescribeKey", &json!({ "KeyId": key }))["KeyMetadata"].clone()
}

fn text_attr(s: &Session, h: CK_OBJECT_HANDLE, t: CK_ATTRIBUTE_TYPE) -> String {
    String::from_utf8(ok(s.attr(h, t), &attr_name(t))).expect("UTF-8")
}

/// One key type: how to ask for it, and how to sign and verify with it.
struct Case {
    spec: &'static str,
    mech: CK_MECHANISM_TYPE,
    public: Template,
    sign: CK_MECHANISM_TYPE,
    kind: Kind,
    hash: Option<&'static str>,
}

fn cases() -> Vec<Case> {
    let ec = |spec, curve: &str, sign, hash| Case {
        spec,
        mech: CKM_EC_KEY_PAIR_GEN,
        public: Template::new().bytes(CKA_EC_PARAMS, &oid(curve)),
        sign,
        kind: Kind::Ecdsa,
        hash: Some(hash),
    };
    vec![
        ec(
            "ECC_NIST_P256",
            "1.2.840.10045.3.1.7",
            CKM_ECDSA_SHA256,
            "sha256",
        ),
        ec("ECC_NIST_P384", "1.3.132.0.34", CKM_ECDSA_SHA384, "sha384"),
        ec("ECC_NIST_P521", "1.3.132.0.35", CKM_ECDSA_SHA512, "sha512"),
        ec(
            "ECC_SECG_P256K1",
            "1.3.132.0.10",
            CKM_ECDSA_SHA256,
            "sha256",
        ),
        Case {
            spec: "RSA_2048",
            mech: CKM_RSA_PKCS_KEY_PAIR_GEN,
            public: Template::new()
                .ulong(CKA_MODULUS_BITS, 2048)
                .bytes(CKA_PUBLIC_EXPONENT, &[1, 0, 1]),
            sign: CKM_SHA256_RSA_PKCS,
            kind: Kind::RsaPkcs1,
            hash: Some("sha256"),
        },
        Case {
            spec: "ECC_NIST_EDWARDS25519",
            mech: CKM_EC_EDWARDS_KEY_PAIR_GEN,
            public: Template::new().bytes(CKA_EC_PARAMS, &oid("1.3.101.112")),
            sign: CKM_EDDSA,
            kind: Kind::Ed25519,
            hash: None,
        },
        Case {
            spec: "ML_DSA_65",
            mech: CKM_ML_DSA_KEY_PAIR_GEN,
            public: Template::new().ulong(CKA_PARAMETER_SET, CKP_ML_DSA_65 as CK_ULONG),
            sign: CKM_ML_DSA,
            kind: Kind::MlDsa,
            hash: None,
        },
    ]
}

/// What pkcs11-tool --keypairgen --usage-sign sends besides the parameters.
fn signing_templates(public: &Template, label: &str, id: &[u8]) -> (Template, Template) {
    let public = public
        .clone()
        .bool(CKA_TOKEN, true)
        .bool(CKA_VERIFY, true)
        .label(label)
        .id(id);
    let private = Template::new()
        .bool(CKA_TOKEN, true)
        .bool(CKA_PRIVATE, true)
        .bool(CKA_SENSITIVE, true)
        .bool(CKA_SIGN, true)
        .label(label)
        .id(id);
    (public, private)
}

#[test]
fn key_management_is_refused_unless_the_token_allows_it() {
    let (fx, _turn) = fx();
    let s = rw(fx, DEFAULT_TOKEN);
    let (before, creates) = (key_count(fx), fx.emu.count("CreateKey"));
    let deletions = fx.emu.count("ScheduleKeyDeletion");
    let (public, private) = signing_templates(&cases()[0].public, "never", &[9]);
    assert_rv(
        s.generate_key_pair(CKM_EC_KEY_PAIR_GEN, &public, &private),
        CKR_ACTION_PROHIBITED,
        "C_GenerateKeyPair on a token without allow_key_management",
    );
    let hmac = Template::new().ulong(CKA_VALUE_LEN, 32);
    assert_rv(
        s.generate_key(CKM_GENERIC_SECRET_KEY_GEN, &hmac),
        CKR_ACTION_PROHIBITED,
        "C_GenerateKey on a token without allow_key_management",
    );
    let existing = fx.private(&s, EXISTING);
    assert_rv(
        s.destroy(existing),
        CKR_ACTION_PROHIBITED,
        "C_DestroyObject of a KMS key on a token without allow_key_management",
    );
    assert_eq!(key_count(fx), before, "no key made");
    assert_eq!(fx.emu.count("CreateKey"), creates, "KMS not asked");
    assert_eq!(
        fx.emu.count("ScheduleKeyDeletion"),
        deletions,
        "KMS not asked"
    );
    assert_eq!(describe(fx, EXISTING)["KeyState"], "Enabled");
    // Only the managing token lists the generation mechanisms.
    let plain = ok(fx.m.mechanisms(fx.slot(DEFAULT_TOKEN)), "mechanisms");
    assert!(!plain.contains(&CKM_EC_KEY_PAIR_GEN), "{plain:?}");
    let managed = ok(fx.m.mechanisms(fx.slot(MANAGED)), "mechanisms");
    for m in [
        CKM_RSA_PKCS_KEY_PAIR_GEN,
        CKM_EC_KEY_PAIR_GEN,
        CKM_EC_EDWARDS_KEY_PAIR_GEN,
        CKM_ML_DSA_KEY_PAIR_GEN,
        CKM_GENERIC_SECRET_KEY_GEN,
        CKM_SHA256_KEY_GEN,
    ] {
        assert!(managed.contains(&m), "{} listed", mech_name(m));
    }
    let rsa = ok(
        fx.m.mechanism_info(fx.slot(MANAGED), CKM_RSA_PKCS_KEY_PAIR_GEN),
        "info",
    );
    assert_eq!((rsa.ulMinKeySize, rsa.ulMaxKeySize), (2048, 4096));
    assert_ne!(rsa.flags & CKF_GENERATE_KEY_PAIR, 0);
}

#[test]
fn every_key_type_is_generated_and_signs_with_its_new_key() {
    let (fx, _turn) = fx();
    let s = rw(fx, MANAGED);
    let mut b = Batch::new();
    for (n, case) in cases().into_iter().enumerate() {
        let label = format!("gen-{}", case.spec.to_ascii_lowercase().replace('_', "-"));
        let id = [0xa0, n as u8];
        let (public, private) = signing_templates(&case.public, &label, &id);
        let (pub_h, priv_h) = ok(
            s.generate_key_pair(case.mech, &public, &private),
            &format!("C_GenerateKeyPair {}", case.spec),
        );
        let alias = format!("alias/{PREFIX}{label}");
        let meta = describe(fx, &alias);
        let arn = meta["Arn"].as_str().expect("an ARN").to_string();
        assert_eq!(meta["KeySpec"], case.spec);
        assert_eq!(meta["KeyUsage"], "SIGN_VERIFY");
        let tags = fx.emu.kms_ok("ListResourceTags", &json!({ "KeyId": arn }));
        let tags = tags["Tags"].to_string();
        for want in ["created-by", "kms11", MANAGED, &label, "a0"] {
            assert!(tags.contains(want), "{}: tag {want} in {tags}", case.spec);
        }
        for h in [pub_h, priv_h] {
            assert_eq!(text_attr(&s, h, CKA_KMS11_KEY_ARN), arn);
            assert_eq!(text_attr(&s, h, CKA_KMS11_KEY_SPEC), case.spec);
            assert_eq!(text_attr(&s, h, CKA_KMS11_ALIAS), alias);
            assert_eq!(text_attr(&s, h, CKA_LABEL), label);
            assert_eq!(ok(s.attr(h, CKA_ID), "CKA_ID"), id);
        }
        let (spki, _) = fx.emu.public_key(&arn);
        assert_eq!(ok(s.attr(pub_h, CKA_PUBLIC_KEY_INFO), "SPKI"), spki);
        // The objects are found like any other.
        let found = ok(
            s.find(&Template::new().class(CKO_PRIVATE_KEY).label(&label)),
            "find",
        );
        assert_eq!(found, [priv_h]);
        let msg = format!("signed by a key made through PKCS#11: {}", case.spec);
        let sig = ok(
            s.sign_once(&Mech::new(case.sign), priv_h, msg.as_bytes()),
            &format!("C_Sign {}", case.spec),
        );
        if case.kind == Kind::MlDsa {
            b.mldsa(case.spec, &spki, (msg.as_bytes(), b""), &sig, true);
        } else {
            b.good(case.spec, case.kind, case.hash, &spki, msg.as_bytes(), &sig);
        }
    }
    assert_eq!(b.run(), cases().len());
}

#[test]
fn hmac_keys_and_other_usages_come_from_the_template() {
    let (fx, _turn) = fx();
    let s = rw(fx, MANAGED);
    let t = Template::new()
        .ulong(CKA_VALUE_LEN, 32)
        .bool(CKA_SIGN, true)
        .bool(CKA_VERIFY, true)
        .bool(CKA_SENSITIVE, true)
        .label("gen-hmac");
    let h = ok(
        s.generate_key(CKM_GENERIC_SECRET_KEY_GEN, &t),
        "C_GenerateKey",
    );
    let meta = describe(fx, &format!("alias/{PREFIX}gen-hmac"));
    assert_eq!(
        (meta["KeySpec"].as_str(), meta["KeyUsage"].as_str()),
        (Some("HMAC_256"), Some("GENERATE_VERIFY_MAC"))
    );
    assert_eq!(ok(s.attr_ulong(h, CKA_CLASS), "class"), CKO_SECRET_KEY);
    assert_eq!(ok(s.attr_ulong(h, CKA_VALUE_LEN), "len"), 32);
    assert_rv(s.attr(h, CKA_VALUE), CKR_ATTRIBUTE_SENSITIVE, "CKA_VALUE");
    // CKA_DERIVE: an ECDH key; CKA_DECRYPT: an RSA decryption key.
    let p256 = Template::new().bytes(CKA_EC_PARAMS, &oid("1.2.840.10045.3.1.7"));
    let derive = Template::new().bool(CKA_DERIVE, true).label("gen-ecdh");
    let (_, ecdh) = ok(
        s.generate_key_pair(CKM_EC_KEY_PAIR_GEN, &p256, &derive),
        "ECDH key",
    );
    assert_eq!(
        describe(fx, &format!("alias/{PREFIX}gen-ecdh"))["KeyUsage"],
        "KEY_AGREEMENT"
    );
    assert!(ok(s.attr_bool(ecdh, CKA_DERIVE), "CKA_DERIVE"));
    let rsa = Template::new()
        .ulong(CKA_MODULUS_BITS, 2048)
        .bool(CKA_ENCRYPT, true);
    let decrypt = Template::new().bool(CKA_DECRYPT, true);
    let (_, dec) = ok(
        s.generate_key_pair(CKM_RSA_PKCS_KEY_PAIR_GEN, &rsa, &decrypt),
        "RSA decryption key without a label",
    );
    assert!(ok(s.attr_bool(dec, CKA_DECRYPT), "CKA_DECRYPT"));
    let arn = text_attr(&s, dec, CKA_KMS11_KEY_ARN);
    assert_eq!(describe(fx, &arn)["KeyUsage"], "ENCRYPT_DECRYPT");
    assert_eq!(
        text_attr(&s, dec, CKA_KMS11_ALIAS),
        "",
        "no label, no alias"
    );
}

#[test]
fn a_template_kms11_cannot_honour_changes_nothing_in_kms() {
    let (fx, _turn) = fx();
    let s = rw(fx, MANAGED);
    let p256 = Template::new().bytes(CKA_EC_PARAMS, &oid("1.2.840.10045.3.1.7"));
    let (before, creates) = (key_count(fx), fx.emu.count("CreateKey"));
    let rsa_both = (
        Template::new()
            .ulong(CKA_MODULUS_BITS, 2048)
            .bool(CKA_VERIFY, true)
            .bool(CKA_ENCRYPT, true),
        Template::new().bool(CKA_SIGN, true).bool(CKA_DECRYPT, true),
    );
    let cases: Vec<(CK_MECHANISM_TYPE, Template, Template, CK_RV)> = vec![
        (
            CKM_EC_KEY_PAIR_GEN,
            p256.clone(),
            Template::new().bool(CKA_EXTRACTABLE, true),
            CKR_ATTRIBUTE_VALUE_INVALID,
        ),
        (
            CKM_EC_KEY_PAIR_GEN,
            p256.clone(),
            Template::new().bool(CKA_SENSITIVE, false),
            CKR_ATTRIBUTE_VALUE_INVALID,
        ),
        (
            CKM_EC_KEY_PAIR_GEN,
            p256.clone(),
            Template::new().bool(CKA_TOKEN, false),
            CKR_ATTRIBUTE_VALUE_INVALID,
        ),
        (
            CKM_EC_KEY_PAIR_GEN,
            p256.clone(),
            Template::new().label("has space"),
            CKR_ATTRIBUTE_VALUE_INVALID,
        ),
        (
            CKM_RSA_PKCS_KEY_PAIR_GEN,
            Template::new().ulong(CKA_MODULUS_BITS, 1024),
            Template::new(),
            CKR_ATTRIBUTE_VALUE_INVALID,
        ),
        (
            CKM_RSA_PKCS_KEY_PAIR_GEN,
            rsa_both.0,
            rsa_both.1,
            CKR_TEMPLATE_INCONSISTENT,
        ),
        (
            CKM_EC_KEY_PAIR_GEN,
            Template::new(),
            Template::new(),
            CKR_TEMPLATE_INCOMPLETE,
        ),
        (
            CKM_EC_KEY_PAIR_GEN,
            Template::new().bytes(CKA_EC_PARAMS, &oid("1.3.36.3.3.2.8.1.1.7")),
            Template::new(),
            CKR_CURVE_NOT_SUPPORTED,
        ),
        (
            CKM_DSA_KEY_PAIR_GEN,
            Template::new(),
            Template::new(),
            CKR_MECHANISM_INVALID,
        ),
        (
            CKM_EC_KEY_PAIR_GEN,
            p256.clone(),
            Template::new().bytes(CKA_KMS11_KEY_POLICY, b"not json"),
            CKR_ATTRIBUTE_VALUE_INVALID,
        ),
    ];
    for (mech, public, private, want) in cases {
        assert_rv(
            s.generate_key_pair(mech, &public, &private),
            want,
            &format!("{} with {:?}", mech_name(mech), private.0),
        );
    }
    // A read-only session makes no key either.
    let ro = ok(
        fx.m.open(fx.slot(MANAGED), CKF_SERIAL_SESSION),
        "R/O session",
    );
    assert_rv(
        ro.generate_key_pair(CKM_EC_KEY_PAIR_GEN, &p256, &Template::new()),
        CKR_SESSION_READ_ONLY,
        "C_GenerateKeyPair in a read-only session",
    );
    assert_eq!(key_count(fx), before, "no key made");
    assert_eq!(
        fx.emu.count("CreateKey"),
        creates,
        "KMS not asked to make one"
    );
}

#[test]
fn a_label_already_taken_is_refused_before_any_key_is_made() {
    let (fx, _turn) = fx();
    let s = rw(fx, MANAGED);
    let target = fx.key(EXISTING).arn.clone();
    fx.emu.kms_ok(
        "CreateAlias",
        &json!({"AliasName": format!("alias/{PREFIX}taken"), "TargetKeyId": target}),
    );
    let (before, creates) = (key_count(fx), fx.emu.count("CreateKey"));
    let (public, private) = signing_templates(&cases()[0].public, "taken", &[1]);
    assert_rv(
        s.generate_key_pair(CKM_EC_KEY_PAIR_GEN, &public, &private),
        CKR_ATTRIBUTE_VALUE_INVALID,
        "a label whose alias exists",
    );
    assert_eq!(
        (key_count(fx), fx.emu.count("CreateKey")),
        (before, creates)
    );
}

/// A key whose alias cannot be made is tagged and scheduled for deletion
/// at the shortest window: nothing usable is left behind.
#[test]
fn a_key_whose_alias_fails_is_abandoned() {
    let (fx, _turn) = fx();
    let s = rw(fx, MANAGED);
    let before = fx.emu.kms_ok("ListKeys", &json!({"Limit": 1000}))["Keys"].clone();
    fx.emu
        .set_faults(r#"{"deny":[{"operation":"CreateAlias","key":"*"}]}"#);
    let (public, private) = signing_templates(&cases()[0].public, "orphan", &[2]);
    let r = s.generate_key_pair(CKM_EC_KEY_PAIR_GEN, &public, &private);
    fx.emu.set_faults("{}");
    // A permission the role lacks: CKR_ACTION_PROHIBITED (C_GenerateKeyPair
    // may not return CKR_KEY_FUNCTION_NOT_PERMITTED).
    assert_rv(r, CKR_ACTION_PROHIBITED, "CreateAlias denied");
    let after = fx.emu.kms_ok("ListKeys", &json!({"Limit": 1000}))["Keys"].clone();
    let new: Vec<&serde_json::Value> = after
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| !before.as_array().unwrap().contains(k))
        .collect();
    assert_eq!(new.len(), 1, "one key was made: {new:?}");
    let arn = new[0]["KeyArn"].as_str().unwrap();
    let meta = describe(fx, arn);
    assert_eq!(meta["KeyState"], "PendingDeletion");
    assert_eq!(meta["PendingDeletionWindowInDays"], 7);
    let tags = fx.emu.kms_ok("ListResourceTags", &json!({ "KeyId": arn }))["Tags"].to_string();
    assert!(tags.contains("kms11:orphaned"), "{tags}");
    let found = ok(s.find(&Template::new().label("orphan")), "find");
    assert!(found.is_empty(), "no objects for it");
}

#[test]
fn destroying_a_private_key_schedules_the_deletion_of_its_kms_key() {
    let (fx, _turn) = fx();
    let s = rw(fx, MANAGED);
    let (public, private) = signing_templates(&cases()[0].public, "retire-me", &[3]);
    let (pub_h, priv_h) = ok(
        s.generate_key_pair(CKM_EC_KEY_PAIR_GEN, &public, &private),
        "C_GenerateKeyPair",
    );
    let arn = text_attr(&s, priv_h, CKA_KMS11_KEY_ARN);
    assert_rv(
        s.destroy(pub_h),
        CKR_ACTION_PROHIBITED,
        "a public key alone",
    );
    let ro = ok(
        fx.m.open(fx.slot(MANAGED), CKF_SERIAL_SESSION),
        "R/O session",
    );
    assert_rv(
        ro.destroy(priv_h),
        CKR_SESSION_READ_ONLY,
        "from a read-only session",
    );
    assert_eq!(
        describe(fx, &arn)["KeyState"],
        "Enabled",
        "nothing changed yet"
    );
    ok(s.destroy(priv_h), "C_DestroyObject of the private key");
    let meta = describe(fx, &arn);
    assert_eq!(meta["KeyState"], "PendingDeletion");
    assert_eq!(
        meta["PendingDeletionWindowInDays"], 7,
        "deletion_window_days"
    );
    let gone = fx.emu.kms(
        "DescribeKey",
        &json!({"KeyId": format!("alias/{PREFIX}retire-me")}),
    );
    assert!(gone.is_err(), "the alias is deleted: {gone:?}");
    for h in [pub_h, priv_h] {
        assert_rv(
            s.attr(h, CKA_LABEL),
            CKR_OBJECT_HANDLE_INVALID,
            "objects gone",
        );
    }
    assert!(ok(s.find(&Template::new().label("retire-me")), "find").is_empty());
}

#[test]
fn every_object_of_a_kms_key_says_which_key_it_is() {
    let (fx, _turn) = fx();
    let s = fx.session();
    let k = fx.key(EXISTING);
    for h in [fx.private(&s, EXISTING), fx.public(&s, EXISTING)] {
        assert_eq!(text_attr(&s, h, CKA_KMS11_KEY_ARN), k.arn);
        assert_eq!(text_attr(&s, h, CKA_KMS11_KEY_SPEC), "ECC_NIST_P256");
        assert_eq!(text_attr(&s, h, CKA_KMS11_KEY_USAGE), "SIGN_VERIFY");
        assert_eq!(text_attr(&s, h, CKA_KMS11_ALIAS), EXISTING);
        assert!(!ok(s.attr_bool(h, CKA_KMS11_MULTI_REGION), "multi-Region"));
        assert_rv(
            s.attr(h, CKA_KMS11_KEY_POLICY),
            CKR_ATTRIBUTE_TYPE_INVALID,
            "template-only",
        );
    }
    let by_arn = Template::new()
        .class(CKO_PRIVATE_KEY)
        .bytes(CKA_KMS11_KEY_ARN, k.arn.as_bytes());
    assert_eq!(
        ok(s.find(&by_arn), "find by ARN"),
        [fx.private(&s, EXISTING)]
    );
}

#[test]
fn a_new_label_moves_the_keys_alias_and_keeps_its_handles() {
    let (fx, _turn) = fx();
    let s = rw(fx, MANAGED);
    let (public, private) = signing_templates(&cases()[0].public, "rename-me", &[4]);
    let (pub_h, priv_h) = ok(
        s.generate_key_pair(CKM_EC_KEY_PAIR_GEN, &public, &private),
        "C_GenerateKeyPair",
    );
    let arn = text_attr(&s, priv_h, CKA_KMS11_KEY_ARN);
    assert!(ok(s.attr_bool(priv_h, CKA_MODIFIABLE), "CKA_MODIFIABLE"));
    assert!(ok(s.attr_bool(priv_h, CKA_DESTROYABLE), "CKA_DESTROYABLE"));
    assert!(!ok(
        s.attr_bool(pub_h, CKA_DESTROYABLE),
        "public CKA_DESTROYABLE"
    ));
    // Through the public key object, as some clients do.
    ok(
        s.set_attributes(pub_h, &Template::new().label("renamed")),
        "C_SetAttributeValue CKA_LABEL",
    );
    let moved = describe(fx, &format!("alias/{PREFIX}renamed"));
    assert_eq!(moved["Arn"], arn.as_str());
    let old = fx.emu.kms(
        "DescribeKey",
        &json!({"KeyId": format!("alias/{PREFIX}rename-me")}),
    );
    assert!(old.is_err(), "the old alias is deleted: {old:?}");
    for h in [pub_h, priv_h] {
        assert_eq!(
            text_attr(&s, h, CKA_LABEL),
            "renamed",
            "same handle, new label"
        );
        assert_eq!(
            text_attr(&s, h, CKA_KMS11_ALIAS),
            format!("alias/{PREFIX}renamed")
        );
    }
    // Still signs, with the same key.
    let (spki, _) = fx.emu.public_key(&arn);
    let sig = ok(
        s.sign_once(&Mech::new(CKM_ECDSA_SHA256), priv_h, b"renamed"),
        "C_Sign",
    );
    let mut b = Batch::new();
    b.good(
        "after the rename",
        Kind::Ecdsa,
        Some("sha256"),
        &spki,
        b"renamed",
        &sig,
    );
    b.run();
    // Only the label; a taken label; a label no alias can hold.
    assert_rv(
        s.set_attributes(priv_h, &Template::new().ulong(CKA_KEY_TYPE, CKK_RSA)),
        CKR_ATTRIBUTE_READ_ONLY,
        "CKA_KEY_TYPE",
    );
    // CKA_ID, as Java's keystore sets it after generating: both objects,
    // same handles, and the key's kms11:cka-id tag.
    ok(
        s.set_attributes(priv_h, &Template::new().id(b"java-alias")),
        "C_SetAttributeValue CKA_ID",
    );
    for h in [pub_h, priv_h] {
        assert_eq!(ok(s.attr(h, CKA_ID), "CKA_ID"), b"java-alias");
        assert_eq!(text_attr(&s, h, CKA_LABEL), "renamed");
    }
    let tags = fx.emu.kms_ok("ListResourceTags", &json!({ "KeyId": arn }))["Tags"].to_string();
    assert!(tags.contains(&hex(b"java-alias")), "{tags}");
    let target = fx.key(EXISTING).arn.clone();
    fx.emu.kms_ok(
        "CreateAlias",
        &json!({"AliasName": format!("alias/{PREFIX}occupied"), "TargetKeyId": target}),
    );
    assert_rv(
        s.set_attributes(priv_h, &Template::new().label("occupied")),
        CKR_ATTRIBUTE_VALUE_INVALID,
        "a taken label",
    );
    assert_rv(
        s.set_attributes(priv_h, &Template::new().label("no spaces")),
        CKR_ATTRIBUTE_VALUE_INVALID,
        "a label no alias can hold",
    );
    assert_eq!(
        describe(fx, &format!("alias/{PREFIX}renamed"))["Arn"],
        arn.as_str()
    );
    // A token without key management changes nothing.
    let plain = rw(fx, DEFAULT_TOKEN);
    let existing = fx.private(&plain, EXISTING);
    assert!(!ok(
        plain.attr_bool(existing, CKA_MODIFIABLE),
        "CKA_MODIFIABLE"
    ));
    assert_rv(
        plain.set_attributes(existing, &Template::new().label("x")),
        CKR_ACTION_PROHIBITED,
        "C_SetAttributeValue without allow_key_management",
    );
}

#[test]
fn kms11_vendor_attributes_shape_the_new_kms_key() {
    let (fx, _turn) = fx();
    let s = rw(fx, MANAGED);
    let account = describe(fx, EXISTING)["AWSAccountId"]
        .as_str()
        .expect("account")
        .to_string();
    let policy = json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "release signers",
            "Effect": "Allow",
            "Principal": {"AWS": format!("arn:aws:iam::{account}:root")},
            "Action": "kms:*",
            "Resource": "*"
        }]
    });
    let (public, private) = signing_templates(&cases()[0].public, "vendor-made", &[7]);
    let private = private
        .bool(CKA_KMS11_MULTI_REGION, true)
        .bytes(CKA_KMS11_KEY_POLICY, policy.to_string().as_bytes())
        .bytes(
            CKA_KMS11_TAGS,
            br#"{"team": "release", "cost-center": "42"}"#,
        )
        .bytes(
            CKA_KMS11_DESCRIPTION,
            b"release signing, made by a C program",
        );
    let (_, priv_h) = ok(
        s.generate_key_pair(CKM_EC_KEY_PAIR_GEN, &public, &private),
        "C_GenerateKeyPair with kms11's attributes",
    );
    let arn = text_attr(&s, priv_h, CKA_KMS11_KEY_ARN);
    let meta = describe(fx, &arn);
    assert_eq!(meta["MultiRegion"], true);
    assert!(
        meta["KeyId"].as_str().unwrap().starts_with("mrk-"),
        "{meta}"
    );
    assert_eq!(meta["Description"], "release signing, made by a C program");
    assert!(ok(
        s.attr_bool(priv_h, CKA_KMS11_MULTI_REGION),
        "multi-Region"
    ));
    let kept = fx.emu.kms_ok(
        "GetKeyPolicy",
        &json!({ "KeyId": arn, "PolicyName": "default" }),
    );
    let kept: serde_json::Value =
        serde_json::from_str(kept["Policy"].as_str().expect("Policy")).expect("JSON");
    assert_eq!(kept, policy);
    let tags = fx.emu.kms_ok("ListResourceTags", &json!({ "KeyId": arn }))["Tags"].clone();
    for (k, v) in [
        ("team", "release"),
        ("cost-center", "42"),
        ("created-by", "kms11"),
    ] {
        assert!(
            tags.as_array()
                .unwrap()
                .contains(&json!({"TagKey": k, "TagValue": v})),
            "tag {k}={v} in {tags}"
        );
    }
    // A policy the module passes on (a JSON object) but KMS refuses: the
    // CK_RV of a template, and no key is left behind.
    let before = key_count(fx);
    let (public, private) = signing_templates(&cases()[0].public, "bad-policy", &[8]);
    let private = private.bytes(CKA_KMS11_KEY_POLICY, br#"{"Version": "2012-10-17"}"#);
    assert_rv(
        s.generate_key_pair(CKM_EC_KEY_PAIR_GEN, &public, &private),
        CKR_ATTRIBUTE_VALUE_INVALID,
        "a policy without a statement",
    );
    assert_eq!(key_count(fx), before, "MalformedPolicyDocument made no key");
    let free = fx.emu.kms(
        "DescribeKey",
        &json!({"KeyId": format!("alias/{PREFIX}bad-policy")}),
    );
    assert!(free.is_err(), "the label is still free: {free:?}");
}
