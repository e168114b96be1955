//! Attribute templates (C_FindObjectsInit, C_GetAttributeValue) against the
//! objects of fixed keys, once their C arrays are copied out (`src/ffi`).
//!
//! Objects: the private and public key objects of an RSA-2048 and a P-256
//! key (from fixed SPKIs) and a certificate object, built directly, and the
//! same keys in a `Module` (fake backend, no network) with one token without
//! and one with a PIN. Properties: `Object::matches` is exactly "every
//! attribute of the template has this value" (`Object::attribute`), does not
//! depend on the template's order, never matches a sensitive attribute;
//! `Module::find` returns exactly the visible objects that match, and never
//! a private key of a PIN token before login.

#![no_main]

#[path = "common.rs"]
mod common;

use cryptoki_sys::*;
use kms11::backend::{
    Backend, BackendError, BoxFuture, Failure, KeyMetadata, MacAnswer, RemoteKey, SharedSecret,
    Signed,
};
use kms11::config::Config;
use kms11::token::certificate::Certificate;
use kms11::token::object::{AttributeValue, Object};
use kms11::token::Module;
use kms11::vocabulary::{Family, KeySpec, MacAlg, SigningAlgorithm};
use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use std::sync::{Arc, OnceLock};

/// Every attribute some object has (or refuses as sensitive), and two no
/// object has.
const KNOWN: &[CK_ATTRIBUTE_TYPE] = &[
    CKA_ALLOWED_MECHANISMS,
    CKA_ALWAYS_AUTHENTICATE,
    CKA_ALWAYS_SENSITIVE,
    CKA_CERTIFICATE_CATEGORY,
    CKA_CERTIFICATE_TYPE,
    CKA_CHECK_VALUE,
    CKA_CLASS,
    CKA_COEFFICIENT,
    CKA_COPYABLE,
    CKA_DECRYPT,
    CKA_DERIVE,
    CKA_DESTROYABLE,
    CKA_EC_PARAMS,
    CKA_EC_POINT,
    CKA_ENCRYPT,
    CKA_END_DATE,
    CKA_EXPONENT_1,
    CKA_EXPONENT_2,
    CKA_EXTRACTABLE,
    CKA_HASH_OF_ISSUER_PUBLIC_KEY,
    CKA_HASH_OF_SUBJECT_PUBLIC_KEY,
    CKA_ID,
    CKA_ISSUER,
    CKA_JAVA_MIDP_SECURITY_DOMAIN,
    CKA_KEY_GEN_MECHANISM,
    CKA_KEY_TYPE,
    kms11::vendor::CKA_KMS11_KEY_ARN,
    kms11::vendor::CKA_KMS11_KEY_SPEC,
    kms11::vendor::CKA_KMS11_KEY_USAGE,
    kms11::vendor::CKA_KMS11_ALIAS,
    kms11::vendor::CKA_KMS11_MULTI_REGION,
    CKA_LABEL,
    CKA_LOCAL,
    CKA_MODIFIABLE,
    CKA_MODULUS,
    CKA_MODULUS_BITS,
    CKA_NAME_HASH_ALGORITHM,
    CKA_NEVER_EXTRACTABLE,
    CKA_PRIME_1,
    CKA_PRIME_2,
    CKA_PRIVATE,
    CKA_PRIVATE_EXPONENT,
    CKA_PUBLIC_EXPONENT,
    CKA_PUBLIC_KEY_INFO,
    CKA_SENSITIVE,
    CKA_SERIAL_NUMBER,
    CKA_SIGN,
    CKA_SIGN_RECOVER,
    CKA_START_DATE,
    CKA_SUBJECT,
    CKA_TOKEN,
    CKA_TRUSTED,
    CKA_UNWRAP,
    CKA_URL,
    CKA_VALUE,
    CKA_VERIFY,
    CKA_VERIFY_RECOVER,
    CKA_WRAP,
    CKA_WRAP_WITH_TRUSTED,
    CKA_VENDOR_DEFINED,
    CKA_APPLICATION,
];

const SENSITIVE: &[CK_ATTRIBUTE_TYPE] = &[
    CKA_PRIVATE_EXPONENT,
    CKA_PRIME_1,
    CKA_PRIME_2,
    CKA_EXPONENT_1,
    CKA_EXPONENT_2,
    CKA_COEFFICIENT,
];

const KEYS: &[(&str, KeySpec, &[u8], &str)] = &[
    (
        "alias/rsa",
        KeySpec::Rsa2048,
        common::RSA2048_SPKI,
        "11111111-2222-3333-4444-555555555555",
    ),
    (
        "alias/ec",
        KeySpec::EccNistP256,
        common::P256_SPKI,
        "66666666-7777-8888-9999-aaaaaaaaaaaa",
    ),
];

/// GetPublicKey answers for the fixed keys; nothing else reaches KMS.
struct FixedKeys;

/// No key is made or retired here (the trait's refusals).
impl kms11::backend::Management for FixedKeys {}

impl Backend for FixedKeys {
    fn get_public_key<'a>(
        &'a self,
        key: &'a str,
        _grant_tokens: &'a [String],
    ) -> BoxFuture<'a, std::result::Result<RemoteKey, BackendError>> {
        Box::pin(async move {
            let (_, spec, spki, id) = KEYS.iter().find(|k| k.0 == key).ok_or(BackendError {
                failure: Failure::NotFound,
                code: "NotFoundException".into(),
                message: key.into(),
                request_id: None,
            })?;
            let mut remote = common::remote(*spec, spki);
            remote.arn = format!("arn:aws:kms:us-east-1:111122223333:key/{id}");
            Ok(remote)
        })
    }

    fn describe_key<'a>(
        &'a self,
        _key: &'a str,
        _grant_tokens: &'a [String],
    ) -> BoxFuture<'a, std::result::Result<KeyMetadata, BackendError>> {
        Box::pin(async { Err(unavailable()) })
    }

    fn sign<'a>(
        &'a self,
        _arn: &'a str,
        _algorithm: SigningAlgorithm,
        _digest: &'a [u8],
        _grant_tokens: &'a [String],
    ) -> BoxFuture<'a, std::result::Result<Signed, BackendError>> {
        Box::pin(async { Err(unavailable()) })
    }

    fn decrypt<'a>(
        &'a self,
        _key: &'a str,
        _algorithm: &'a str,
        _ciphertext: &'a [u8],
        _grant_tokens: &'a [String],
    ) -> BoxFuture<'a, std::result::Result<kms11::backend::Decrypted, BackendError>> {
        Box::pin(async { Err(unavailable()) })
    }

    fn generate_mac<'a>(
        &'a self,
        _key: &'a str,
        _algorithm: MacAlg,
        _message: &'a [u8],
        _grant_tokens: &'a [String],
    ) -> BoxFuture<'a, std::result::Result<MacAnswer, BackendError>> {
        Box::pin(async { Err(unavailable()) })
    }

    fn verify_mac<'a>(
        &'a self,
        _key: &'a str,
        _algorithm: MacAlg,
        _message: &'a [u8],
        _mac: &'a [u8],
        _grant_tokens: &'a [String],
    ) -> BoxFuture<'a, std::result::Result<MacAnswer, BackendError>> {
        Box::pin(async { Err(unavailable()) })
    }

    fn derive_shared_secret<'a>(
        &'a self,
        _key: &'a str,
        _peer_spki: &'a [u8],
        _grant_tokens: &'a [String],
    ) -> BoxFuture<'a, std::result::Result<SharedSecret, BackendError>> {
        Box::pin(async { Err(unavailable()) })
    }

    fn generate_random<'a>(
        &'a self,
        _near: &'a str,
        _len: usize,
    ) -> BoxFuture<'a, std::result::Result<Vec<u8>, BackendError>> {
        Box::pin(async { Err(unavailable()) })
    }
}

fn unavailable() -> BackendError {
    BackendError {
        failure: Failure::Unavailable,
        code: "fuzz".into(),
        message: "no KMS here".into(),
        request_id: None,
    }
}

struct Fixture {
    objects: Vec<Object>,
    module: Module,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let rsa = Arc::new(common::key_info(
            KeySpec::Rsa2048,
            common::RSA2048_SPKI,
            "rsa",
        ));
        let ec = Arc::new(common::key_info(
            KeySpec::EccNistP256,
            common::P256_SPKI,
            "ec",
        ));
        let cert = Certificate {
            der: vec![0x30, 0x03, 0x02, 0x01, 0x01],
            subject: vec![0x30, 0x00],
            issuer: vec![0x30, 0x00],
            serial: vec![0x02, 0x01, 0x01],
            spki: common::P256_SPKI.to_vec(),
            check_value: vec![1, 2, 3],
            start_date: b"20250101".to_vec(),
            end_date: b"99991231".to_vec(),
        };
        let objects = vec![
            Object::private_key(1, rsa.clone(), b"", false),
            Object::public_key(2, rsa, b""),
            Object::private_key(3, ec.clone(), &[0x30, 0x00], true),
            Object::public_key(4, ec.clone(), &[0x30, 0x00]),
            Object::certificate(5, ec, &cert),
        ];
        let pin = kms11::pin::hash(b"1234").expect("argon2");
        let text = format!(
            "[cache]\nenabled = false\n\
             [[token]]\nlabel = \"open\"\n\
             [[token.key]]\nkey = \"alias/rsa\"\n[[token.key]]\nkey = \"alias/ec\"\n\
             [[token]]\nlabel = \"pin\"\npin_hash = \"{pin}\"\n\
             [[token.key]]\nkey = \"alias/rsa\"\n[[token.key]]\nkey = \"alias/ec\"\n"
        );
        let config = Config::parse(&text, "fuzz").expect("the fixed configuration parses");
        let module = Module::with_backend(config, Arc::new(FixedKeys)).expect("module");
        Fixture { objects, module }
    })
}

/// A template: attribute types (mostly ones objects have) with values that
/// are arbitrary, an object's own, or an object's own changed slightly.
fn template(u: &mut Unstructured, objects: &[Object]) -> Result<Vec<(CK_ATTRIBUTE_TYPE, Vec<u8>)>> {
    let mut out = Vec::new();
    while !u.is_empty() && out.len() < 64 {
        let kind: u8 = u.arbitrary()?;
        let t = if kind & 0x80 != 0 {
            u.arbitrary::<CK_ULONG>()?
        } else {
            *u.choose(KNOWN)?
        };
        let own = match objects[usize::from(kind & 0x7f) % objects.len()].attribute(t) {
            AttributeValue::Value(v) => Some(v.to_vec()),
            _ => None,
        };
        let value = match (kind >> 4) & 3 {
            0 | 1 if own.is_some() => own.unwrap_or_default(),
            2 if own.is_some() => {
                let mut v = own.unwrap_or_default();
                let at: usize = u.arbitrary()?;
                match v.len() {
                    0 => v.push(u.arbitrary()?),
                    n => v[at % n] ^= u.arbitrary::<u8>()? | 1,
                }
                v
            }
            _ => {
                let len = usize::from(u.arbitrary::<u8>()? % 40);
                u.bytes(len)?.to_vec()
            }
        };
        out.push((t, value));
    }
    Ok(out)
}

fn find(
    module: &Module,
    slot: CK_SLOT_ID,
    t: &[(CK_ATTRIBUTE_TYPE, Vec<u8>)],
) -> Vec<CK_OBJECT_HANDLE> {
    let h = module
        .open_session(slot, CKF_SERIAL_SESSION)
        .expect("session");
    module.find_init(h, t).expect("find_init");
    let found = module.find(h, usize::MAX).expect("find");
    module.find_final(h).expect("find_final");
    // Every object C_FindObjects with an empty template shows, and whether it matches.
    module.find_init(h, &[]).expect("find_init");
    let all = module.find(h, usize::MAX).expect("find");
    module.find_final(h).expect("find_final");
    let expected: Vec<CK_OBJECT_HANDLE> = all
        .iter()
        .copied()
        .filter(|o| {
            module
                .with_object(h, *o, |obj| {
                    if slot == 1 {
                        assert_ne!(
                            obj.class, CKO_PRIVATE_KEY,
                            "a PIN token showed its private key before login"
                        );
                    }
                    obj.matches(t)
                })
                .expect("an object find returned is visible")
        })
        .collect();
    module.close_session(h).expect("close");
    assert_eq!(found, expected);
    found
}

fuzz_target!(|data: &[u8]| {
    let fixture = fixture();
    let mut u = Unstructured::new(data);
    let Ok(t) = template(&mut u, &fixture.objects) else {
        return;
    };
    for o in &fixture.objects {
        let expected = t
            .iter()
            .all(|(a, v)| o.attribute(*a) == AttributeValue::Value(v));
        assert_eq!(o.matches(&t), expected);
        let reversed: Vec<_> = t.iter().rev().cloned().collect();
        assert_eq!(o.matches(&reversed), expected);
        for (a, _) in &t {
            let value = o.attribute(*a);
            if o.class == CKO_PRIVATE_KEY
                && SENSITIVE.contains(a)
                && o.key
                    .as_ref()
                    .is_some_and(|k| matches!(k.spec.family(), Family::Rsa { .. }))
            {
                assert_eq!(value, AttributeValue::Sensitive);
            }
            if o.class == CKO_PRIVATE_KEY && *a == CKA_VALUE {
                assert!(
                    !matches!(value, AttributeValue::Value(_)),
                    "a private key's CKA_VALUE is readable"
                );
            }
            if let AttributeValue::Value(v) = value {
                assert!(v.len() <= o.size());
            }
        }
    }
    for slot in [0, 1] {
        find(&fixture.module, slot, &t);
    }
});
