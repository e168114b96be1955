//! GetParametersForImport and ImportKeyMaterial: key material made by the
//! caller, for keys created with Origin EXTERNAL.

use crate::error::KmsError;
use crate::import::{check_supported, ImportParams};
use crate::material::KeyMaterial;
use crate::request::{b64, Request};
use crate::spec::{ExpirationModel, KeySpec, Origin, WrappingAlgorithm, WrappingKeySpec};
use crate::store::{self, Key, KeyStatus, Store};
use aws_lc_rs::digest;
use serde_json::{json, Map, Value};
use std::sync::Arc;

/// The latest ValidTo KMS accepts: 365 days from the request.
const MAX_VALID_DAYS: f64 = 365.0;
/// Tokens this long past their expiry are forgotten.
const FORGET_AFTER: f64 = 24.0 * 3600.0;

/// The key named by KeyId (an ID or ARN, not an alias), which must be one
/// of imported material.
fn external_key(store: &Store, req: &Request) -> Result<Arc<Key>, KmsError> {
    let key = store.resolve(&req.region, req.key_id("KeyId")?, false)?;
    if key.origin != Origin::EXTERNAL {
        return Err(KmsError::new(
            "UnsupportedOperationException",
            format!(
                "{} origin is {} which is not valid for this operation.",
                key.arn,
                key.origin.as_str()
            ),
        ));
    }
    key.expire_material();
    Ok(key)
}

pub fn get_parameters_for_import(store: &Store, req: &Request) -> Result<Value, KmsError> {
    let algorithm = WrappingAlgorithm::parse(req.str("WrappingAlgorithm")?)?;
    let spec = WrappingKeySpec::parse(req.str("WrappingKeySpec")?)?;
    let key = external_key(store, req)?;
    if let KeyStatus::PendingDeletion { .. } = *key.status.lock() {
        return Err(KmsError::invalid_state(format!(
            "{} is pending deletion.",
            key.arn
        )));
    }
    check_supported(algorithm, spec)?;
    let valid_to = (store::now() + store.import_token_ttl).floor();
    let (params, token, public) = ImportParams::new(&key.id, algorithm, spec, valid_to)?;
    let mut imports = store.imports.lock();
    let now = store::now();
    imports.retain(|_, p| p.valid_to + FORGET_AFTER > now);
    imports.insert(token.clone(), params);
    Ok(json!({
        "KeyId": key.arn,
        "ImportToken": b64(&token),
        "PublicKey": b64(&public),
        "ParametersValidTo": valid_to,
    }))
}

/// ValidTo as ExpirationModel wants it: required for KEY_MATERIAL_EXPIRES
/// (the default), refused otherwise, in the future and within a year.
fn expiration(req: &Request) -> Result<Option<f64>, KmsError> {
    let model = match req.str_opt("ExpirationModel")? {
        Some(m) => ExpirationModel::parse(m)?,
        None => ExpirationModel::KEY_MATERIAL_EXPIRES,
    };
    let valid_to = req.timestamp_opt("ValidTo")?;
    match (model, valid_to) {
        (ExpirationModel::KEY_MATERIAL_DOES_NOT_EXPIRE, None) => Ok(None),
        (ExpirationModel::KEY_MATERIAL_DOES_NOT_EXPIRE, Some(_)) => Err(KmsError::validation(
            "ValidTo must not be set when ExpirationModel is KEY_MATERIAL_DOES_NOT_EXPIRE",
        )),
        (ExpirationModel::KEY_MATERIAL_EXPIRES, None) => Err(KmsError::validation(
            "ValidTo is required when ExpirationModel is KEY_MATERIAL_EXPIRES",
        )),
        (ExpirationModel::KEY_MATERIAL_EXPIRES, Some(t)) => {
            let now = store::now();
            if t <= now || t > now + MAX_VALID_DAYS * 86400.0 {
                return Err(KmsError::validation(
                    "ValidTo must be in the future and at most 365 days from now",
                ));
            }
            Ok(Some(t))
        }
    }
}

/// The material inside EncryptedKeyMaterial, unwrapped with the wrapping
/// key of ImportToken, which must be this key's and still valid.
fn unwrapped(store: &Store, req: &Request, key: &Key) -> Result<Vec<u8>, KmsError> {
    let token = req.blob("ImportToken", 1, 6144)?;
    let encrypted = req.blob("EncryptedKeyMaterial", 1, 6144)?;
    let imports = store.imports.lock();
    let params = imports
        .get(&token)
        .filter(|p| p.key_id == key.id)
        .ok_or_else(|| {
            KmsError::new(
                "InvalidImportTokenException",
                "The import token is not valid, or it belongs to another KMS key.",
            )
        })?;
    if params.valid_to <= store::now() {
        return Err(KmsError::new(
            "ExpiredImportTokenException",
            "The import token has expired. Use GetParametersForImport to get a new one.",
        ));
    }
    params
        .unwrap(&encrypted)
        .ok_or_else(|| KmsError::new("InvalidCiphertextException", ""))
}

fn incorrect(message: String) -> KmsError {
    KmsError::new("IncorrectKeyMaterialException", message)
}

/// Checks the material against the key spec and against what was imported
/// before (asymmetric and HMAC keys, and here every key, keep their first
/// material), then loads it.
fn checked_material(key: &Key, bytes: Vec<u8>) -> Result<KeyMaterial, KmsError> {
    let lengths = key.spec.import_lengths().unwrap_or(0..=0);
    if !lengths.contains(&bytes.len()) {
        return Err(incorrect(format!(
            "Key material of {} bytes is not valid for {}: it must be {} to {} bytes.",
            bytes.len(),
            key.spec.as_str(),
            lengths.start(),
            lengths.end()
        )));
    }
    if let Some(before) = key.material.read().as_ref() {
        if before.bytes != bytes {
            return Err(incorrect(format!(
                "{} already has key material, and this is not the same.",
                key.arn
            )));
        }
    }
    KeyMaterial::load(key.spec, key.usage, bytes).map_err(incorrect)
}

pub fn import_key_material(store: &Store, req: &Request) -> Result<Value, KmsError> {
    let valid_to = expiration(req)?;
    let key = external_key(store, req)?;
    match *key.status.lock() {
        KeyStatus::PendingImport | KeyStatus::Enabled => {}
        other => {
            return Err(KmsError::invalid_state(format!(
                "{} is {} which is not valid for ImportKeyMaterial.",
                key.arn,
                other.name()
            )))
        }
    }
    let material = checked_material(&key, unwrapped(store, req, &key)?)?;
    let material_id = material_id(&key, &material.bytes);
    *key.material.write() = Some(Arc::new(material));
    *key.valid_to.lock() = valid_to;
    let mut status = key.status.lock();
    if *status == KeyStatus::PendingImport {
        *status = KeyStatus::Enabled;
    }
    let mut out = Map::new();
    out.insert("KeyId".into(), json!(key.arn));
    if key.spec == KeySpec::SYMMETRIC_DEFAULT {
        out.insert("KeyMaterialId".into(), json!(material_id));
    }
    Ok(Value::Object(out))
}

/// KMS identifies imported symmetric key material by a 64-hex-digit ID
/// derived from the key and the material; ours is their SHA-256.
fn material_id(key: &Key, bytes: &[u8]) -> String {
    let mut ctx = digest::Context::new(&digest::SHA256);
    ctx.update(key.id.as_bytes());
    ctx.update(bytes);
    ctx.finish()
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
