//! The emulator's JSON 1.1 request parsing (`request::Request::parse` and
//! its typed member readers) and the operation dispatch behind it.
//!
//! The dispatch (`ops`) is private to the emulator crate, so this target
//! compiles the emulator's own `src/ops` source as a module of its own, with
//! the emulator's public modules standing in for `crate::error`,
//! `crate::request`, ... (nothing in `ops` uses anything private). The
//! first byte picks the operation, the second the request's region; the
//! rest is the body. Operations that change the store run on a fresh store
//! holding one P-256 key (`alias/fuzz`, key ID 11111111-1111-4111-8111-
//! 111111111111); the others on a shared store with one key of each kind
//! (`alias/rsa-sign`, `alias/rsa-enc`, `alias/ec-sign`, `alias/ec-agree`,
//! `alias/aes`, `alias/hmac`, `alias/ed25519`; key IDs
//! 00000000-0000-4000-8000-00000000000N, N = 0..6 in that order), made once.
//!
//! Properties: parse accepts only an empty body or a JSON object, and
//! refuses anything else with a 400 SerializationException; no member
//! reader panics; an operation answers a JSON object, or an error with a
//! KMS exception name, status 400 and a JSON body.

#![no_main]

use kms11_emulator::{error, import, material, request, spec, store};
use libfuzzer_sys::fuzz_target;
use parking_lot::{Mutex, RwLock};
use request::Request;
use serde_json::Value;
use std::sync::{Arc, OnceLock};
use store::Store;

#[path = "../../emulator/src/ops/mod.rs"]
#[allow(dead_code)]
mod ops;

const OPERATIONS: &[&str] = &[
    "CreateKey",
    "DescribeKey",
    "GetPublicKey",
    "ListKeys",
    "EnableKey",
    "DisableKey",
    "ScheduleKeyDeletion",
    "CancelKeyDeletion",
    "ListResourceTags",
    "TagResource",
    "UntagResource",
    "CreateAlias",
    "UpdateAlias",
    "DeleteAlias",
    "ListAliases",
    "Sign",
    "Verify",
    "GenerateMac",
    "VerifyMac",
    "Encrypt",
    "Decrypt",
    "DeriveSharedSecret",
    "GenerateRandom",
    // Appended, so that the seed corpus's first bytes keep their operation.
    "GetParametersForImport",
    "ImportKeyMaterial",
    "GetKeyPolicy",
    "PutKeyPolicy",
    "ListKeyPolicies",
    "ReplicateKey",
];

/// The ID of the one key of the fresh store.
const FRESH_KEY: &str = "11111111-1111-4111-8111-111111111111";

const REGIONS: &[&str] = &["us-east-1", "eu-west-1", ""];

/// Every member name an operation reads.
const MEMBERS: &[&str] = &[
    "AliasName",
    "CiphertextBlob",
    "CustomerMasterKeySpec",
    "Description",
    "DryRun",
    "EncryptionAlgorithm",
    "EncryptionContext",
    "EncryptedKeyMaterial",
    "ExpirationModel",
    "GrantTokens",
    "ImportToken",
    "KeyAgreementAlgorithm",
    "KeyId",
    "KeySpec",
    "KeyUsage",
    "Limit",
    "Mac",
    "MacAlgorithm",
    "Marker",
    "Message",
    "MessageType",
    "MultiRegion",
    "NumberOfBytes",
    "Origin",
    "PendingWindowInDays",
    "Policy",
    "PolicyName",
    "Plaintext",
    "PublicKey",
    "ReplicaRegion",
    "Signature",
    "SigningAlgorithm",
    "TagKeys",
    "Tags",
    "TargetKeyId",
    "ValidTo",
    "WrappingAlgorithm",
    "WrappingKeySpec",
];

fn call(store: &Store, op: &str, region: &str, body: &str) -> Result<Value, error::KmsError> {
    let req = Request::parse(body.as_bytes(), region.to_string())?;
    ops::lookup(op).expect("an operation").run(store, &req)
}

fn new_store() -> Store {
    Store::new("111122223333".into(), "us-east-1".into())
}

/// Makes a key with a fixed ID (so inputs can name it by ID or ARN, as the
/// operations that refuse aliases need) and names it; panics if the
/// emulator cannot.
fn key(store: &Store, id: &str, spec: &str, usage: &str, alias: &str) {
    let (spec, usage) = (spec::KeySpec::parse(spec), spec::KeyUsage::parse(usage));
    let (spec, usage) = (spec.expect("a KeySpec"), usage.expect("a KeyUsage"));
    store.insert_key(store::Key {
        id: id.to_string(),
        arn: store.key_arn("us-east-1", id),
        region: "us-east-1".into(),
        account: "111122223333".into(),
        spec,
        usage,
        origin: spec::Origin::AWS_KMS,
        description: String::new(),
        creation_date: store::now(),
        multi_region: false,
        primary_region: "us-east-1".into(),
        tags: Mutex::new(Vec::new()),
        policy: Mutex::new(None),
        status: Mutex::new(store::KeyStatus::Enabled),
        material: RwLock::new(Some(Arc::new(
            material::KeyMaterial::generate(spec, usage).expect("key material"),
        ))),
        valid_to: Mutex::new(None),
    });
    call(
        store,
        "CreateAlias",
        "us-east-1",
        &format!(r#"{{"AliasName":"{alias}","TargetKeyId":"{id}"}}"#),
    )
    .expect("CreateAlias");
}

fn shared() -> &'static Store {
    static SHARED: OnceLock<Store> = OnceLock::new();
    SHARED.get_or_init(|| {
        let store = new_store();
        for (i, (spec, usage, alias)) in [
            ("RSA_2048", "SIGN_VERIFY", "alias/rsa-sign"),
            ("RSA_2048", "ENCRYPT_DECRYPT", "alias/rsa-enc"),
            ("ECC_NIST_P256", "SIGN_VERIFY", "alias/ec-sign"),
            ("ECC_NIST_P256", "KEY_AGREEMENT", "alias/ec-agree"),
            ("SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT", "alias/aes"),
            ("HMAC_256", "GENERATE_VERIFY_MAC", "alias/hmac"),
            ("ECC_NIST_EDWARDS25519", "SIGN_VERIFY", "alias/ed25519"),
        ]
        .into_iter()
        .enumerate()
        {
            key(
                &store,
                &format!("00000000-0000-4000-8000-00000000000{i}"),
                spec,
                usage,
                alias,
            );
        }
        store
    })
}

/// Every typed reader on every member: none may panic.
fn read_members(req: &Request) {
    for m in MEMBERS {
        let _ = req.str_opt(m);
        let _ = req.str_len(m, 1, 256);
        let _ = req.key_id(m);
        let _ = req.blob_opt(m, 1, 4096);
        let _ = req.int_opt(m, 1, 1000);
        let _ = req.bool_opt(m);
        let _ = req.timestamp_opt(m);
        let _ = req.string_map(m);
        let _ = req.string_list(m);
        let _ = req.tags(m);
    }
}

fuzz_target!(|data: &[u8]| {
    let [op, region, body @ ..] = data else {
        return;
    };
    let op = OPERATIONS[usize::from(*op) % OPERATIONS.len()];
    let region = REGIONS[usize::from(*region) % REGIONS.len()];
    let req = match Request::parse(body, region.to_string()) {
        Ok(req) => {
            let is_object = body.is_empty()
                || matches!(serde_json::from_slice::<Value>(body), Ok(Value::Object(_)));
            assert!(is_object, "parse accepted a body that is not a JSON object");
            req
        }
        Err(e) => {
            assert_eq!(e.code, "SerializationException");
            assert_eq!(e.status, 400);
            return;
        }
    };
    assert_eq!(req.region, region);
    read_members(&req);
    let operation = ops::lookup(op).expect("listed");
    let fresh;
    let store = if operation.mutates {
        fresh = new_store();
        key(
            &fresh,
            FRESH_KEY,
            "ECC_NIST_P256",
            "SIGN_VERIFY",
            "alias/fuzz",
        );
        &fresh
    } else {
        shared()
    };
    // CreateKey for RSA makes a new RSA key, up to a second per input.
    let rsa = ["KeySpec", "CustomerMasterKeySpec"]
        .iter()
        .any(|m| matches!(req.str_opt(m), Ok(Some(s)) if s.starts_with("RSA")));
    if op == "CreateKey" && rsa {
        return;
    }
    // So does GetParametersForImport, with an RSA WrappingKeySpec, once its
    // other checks pass.
    let wraps_rsa = matches!(req.str_opt("WrappingKeySpec"), Ok(Some(s)) if s.starts_with("RSA"));
    if op == "GetParametersForImport" && wraps_rsa {
        return;
    }
    match operation.run(store, &req) {
        Ok(answer) => assert!(answer.is_object(), "{op} answered {answer}"),
        Err(e) => {
            assert!(!e.code.is_empty());
            assert_eq!(e.status, 400, "{op}: {e}");
            let body: Value = serde_json::from_slice(&e.to_body()).expect("error body is JSON");
            assert_eq!(body["__type"], e.code);
        }
    }
});
