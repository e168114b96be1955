//! Key lifecycle: CreateKey, DescribeKey, GetPublicKey, ListKeys, key states
//! and tags.

use crate::error::KmsError;
use crate::material::KeyMaterial;
use crate::request::{b64, Request};
use crate::spec::{ExpirationModel, KeyFamily, KeySpec, KeyUsage, Origin};
use crate::store::{self, Key, KeyStatus, Store};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use parking_lot::{Mutex, RwLock};
use serde_json::{json, Map, Value};
use std::sync::Arc;

fn names<T: Copy>(items: &[T], f: fn(T) -> &'static str) -> Value {
    Value::Array(items.iter().map(|i| Value::from(f(*i))).collect())
}

/// The algorithm lists of a key, as both KeyMetadata and GetPublicKey carry them.
fn algorithms(key: &Key, out: &mut Map<String, Value>) {
    match key.usage {
        KeyUsage::SIGN_VERIFY => {
            out.insert(
                "SigningAlgorithms".into(),
                names(key.spec.signing_algorithms(), |a| a.as_str()),
            );
        }
        KeyUsage::ENCRYPT_DECRYPT => {
            out.insert(
                "EncryptionAlgorithms".into(),
                names(key.spec.encryption_algorithms(), |a| a.as_str()),
            );
        }
        KeyUsage::GENERATE_VERIFY_MAC => {
            let algs: Vec<_> = key.spec.mac_algorithm().into_iter().collect();
            out.insert("MacAlgorithms".into(), names(&algs, |a| a.as_str()));
        }
        KeyUsage::KEY_AGREEMENT => {
            out.insert("KeyAgreementAlgorithms".into(), json!(["ECDH"]));
        }
    }
}

/// What KeyMetadata says of a key's origin and, for imported material,
/// its expiration.
fn origin(key: &Key, out: &mut Map<String, Value>) {
    out.insert("Origin".into(), json!(key.origin.as_str()));
    if key.origin != Origin::EXTERNAL || key.material.read().is_none() {
        return;
    }
    match *key.valid_to.lock() {
        Some(t) => {
            out.insert(
                "ExpirationModel".into(),
                json!(ExpirationModel::KEY_MATERIAL_EXPIRES.as_str()),
            );
            out.insert("ValidTo".into(), json!(t));
        }
        None => {
            out.insert(
                "ExpirationModel".into(),
                json!(ExpirationModel::KEY_MATERIAL_DOES_NOT_EXPIRE.as_str()),
            );
        }
    }
}

pub fn metadata(store: &Store, key: &Key) -> Value {
    key.expire_material();
    let status = *key.status.lock();
    let mut m = Map::new();
    m.insert("AWSAccountId".into(), json!(key.account));
    m.insert("KeyId".into(), json!(key.id));
    m.insert("Arn".into(), json!(key.arn));
    m.insert("CreationDate".into(), json!(key.creation_date));
    m.insert("Enabled".into(), json!(status == KeyStatus::Enabled));
    m.insert("Description".into(), json!(key.description));
    m.insert("KeyUsage".into(), json!(key.usage.as_str()));
    m.insert("KeyState".into(), json!(status.name()));
    origin(key, &mut m);
    m.insert("KeyManager".into(), json!("CUSTOMER"));
    m.insert("CustomerMasterKeySpec".into(), json!(key.spec.as_str()));
    m.insert("KeySpec".into(), json!(key.spec.as_str()));
    algorithms(key, &mut m);
    m.insert("MultiRegion".into(), json!(key.multi_region));
    if key.multi_region {
        m.insert(
            "MultiRegionConfiguration".into(),
            multi_region_configuration(store, key),
        );
    }
    if let KeyStatus::PendingDeletion {
        deletion_date,
        window_days,
    } = status
    {
        m.insert("DeletionDate".into(), json!(deletion_date));
        m.insert("PendingDeletionWindowInDays".into(), json!(window_days));
    }
    json!({ "KeyMetadata": Value::Object(m) })
}

/// Which key of a multi-Region set this is, and where the others are.
fn multi_region_configuration(store: &Store, key: &Key) -> Value {
    let related = store.related(&key.id);
    let arn_in = |region: &str| store.key_arn(region, &key.id);
    let replicas: Vec<Value> = related
        .iter()
        .filter(|k| k.region != key.primary_region)
        .map(|k| json!({"Arn": k.arn, "Region": k.region}))
        .collect();
    json!({
        "MultiRegionKeyType": if key.region == key.primary_region { "PRIMARY" } else { "REPLICA" },
        "PrimaryKey": {"Arn": arn_in(&key.primary_region), "Region": key.primary_region},
        "ReplicaKeys": replicas,
    })
}

/// The Origin CreateKey asks for: AWS_KMS, or EXTERNAL for the key specs
/// whose material this emulator imports.
fn create_origin(req: &Request, spec: KeySpec) -> Result<Origin, KmsError> {
    let origin = match req.str_opt("Origin")? {
        Some(o) => Origin::parse(o)?,
        None => Origin::AWS_KMS,
    };
    match origin {
        Origin::AWS_KMS => Ok(origin),
        Origin::EXTERNAL if spec.import_lengths().is_some() => Ok(origin),
        Origin::EXTERNAL => Err(KmsError::new(
            "UnsupportedOperationException",
            format!(
                "Origin EXTERNAL with KeySpec {} is not supported by this emulator: it imports SYMMETRIC_DEFAULT and HMAC key material only",
                spec.as_str()
            ),
        )),
        other => Err(KmsError::new(
            "UnsupportedOperationException",
            format!("Origin {} is not supported by this emulator", other.as_str()),
        )),
    }
}

pub fn create_key(store: &Store, req: &Request) -> Result<Value, KmsError> {
    let spec = match req
        .str_opt("KeySpec")?
        .or(req.str_opt("CustomerMasterKeySpec")?)
    {
        Some(s) => KeySpec::parse(s)?,
        None => KeySpec::SYMMETRIC_DEFAULT,
    };
    let usage = match req.str_opt("KeyUsage")? {
        Some(u) => KeyUsage::parse(u)?,
        None => KeyUsage::ENCRYPT_DECRYPT,
    };
    if !spec.allows_usage(usage) {
        return Err(KmsError::validation(format!(
            "KeyUsage {} is not compatible with KeySpec {}",
            usage.as_str(),
            spec.as_str()
        )));
    }
    let origin = create_origin(req, spec)?;
    let description = req
        .str_len("Description", 0, 8192)?
        .unwrap_or("")
        .to_string();
    let multi_region = req.bool_opt("MultiRegion")?.unwrap_or(false);
    let tags = req.tags("Tags")?;
    let policy = super::policy::policy_member(req, false)?;
    let (material, status) = match origin {
        Origin::EXTERNAL => (None, KeyStatus::PendingImport),
        _ => {
            let m = KeyMaterial::generate(spec, usage).map_err(KmsError::internal)?;
            (Some(Arc::new(m)), KeyStatus::Enabled)
        }
    };
    let id = store::new_key_id(multi_region);
    let key = store.insert_key(Key {
        arn: store.key_arn(&req.region, &id),
        id,
        region: req.region.clone(),
        account: store.account.clone(),
        spec,
        usage,
        origin,
        description,
        creation_date: store::now(),
        multi_region,
        primary_region: req.region.clone(),
        tags: Mutex::new(tags),
        policy: Mutex::new(policy),
        status: Mutex::new(status),
        material: RwLock::new(material),
        valid_to: Mutex::new(None),
    });
    Ok(metadata(store, &key))
}

pub fn describe_key(store: &Store, req: &Request) -> Result<Value, KmsError> {
    let key = store.resolve(&req.region, req.key_id("KeyId")?, true)?;
    Ok(metadata(store, &key))
}

pub fn get_public_key(store: &Store, req: &Request) -> Result<Value, KmsError> {
    let key = store.resolve(&req.region, req.key_id("KeyId")?, true)?;
    if key.spec.family() != KeyFamily::Asymmetric {
        return Err(KmsError::new(
            "UnsupportedOperationException",
            format!(
                "{} key {} has no public key. GetPublicKey is only valid for asymmetric KMS keys.",
                key.spec.as_str(),
                key.arn
            ),
        ));
    }
    key.check_usable()?;
    let material = key.material()?;
    let public = material
        .public_der
        .as_ref()
        .ok_or_else(|| KmsError::internal("asymmetric key without a public key"))?;
    let mut m = Map::new();
    m.insert("KeyId".into(), json!(key.arn));
    m.insert("PublicKey".into(), b64(public));
    m.insert("CustomerMasterKeySpec".into(), json!(key.spec.as_str()));
    m.insert("KeySpec".into(), json!(key.spec.as_str()));
    m.insert("KeyUsage".into(), json!(key.usage.as_str()));
    algorithms(&key, &mut m);
    Ok(Value::Object(m))
}

/// Markers are opaque to clients; ours encode the position to continue from.
pub fn encode_marker(position: &str) -> String {
    B64.encode(position)
}

pub fn decode_marker(req: &Request) -> Result<Option<String>, KmsError> {
    let Some(m) = req.str_len("Marker", 1, 1024)? else {
        return Ok(None);
    };
    B64.decode(m)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .map(Some)
        .ok_or_else(|| KmsError::new("InvalidMarkerException", "Marker is not valid"))
}

/// One page of a listing: the items and, if more follow, the next marker.
pub fn page<T>(
    items: Vec<T>,
    limit: usize,
    position: impl Fn(&T) -> String,
) -> (Vec<T>, Option<String>) {
    let mut items = items;
    if items.len() > limit {
        items.truncate(limit);
        let next = items.last().map(|i| encode_marker(&position(i)));
        (items, next)
    } else {
        (items, None)
    }
}

pub fn paged_response(member: &str, items: Vec<Value>, next: Option<String>) -> Value {
    let mut m = Map::new();
    m.insert(member.into(), Value::Array(items));
    m.insert("Truncated".into(), json!(next.is_some()));
    if let Some(n) = next {
        m.insert("NextMarker".into(), json!(n));
    }
    Value::Object(m)
}

pub fn list_keys(store: &Store, req: &Request) -> Result<Value, KmsError> {
    let limit = req.int_opt("Limit", 1, 1000)?.unwrap_or(100) as usize;
    let after: Option<usize> = match decode_marker(req)? {
        Some(m) => Some(
            m.parse()
                .map_err(|_| KmsError::new("InvalidMarkerException", "Marker is not valid"))?,
        ),
        None => None,
    };
    let t = store.tables.read();
    let start = after.map_or(0, |i| i + 1);
    let found: Vec<(usize, Value)> = t
        .order
        .iter()
        .enumerate()
        .skip(start)
        .filter(|(_, (region, _))| *region == req.region)
        .filter_map(|(i, at)| t.keys.get(at).map(|k| (i, k)))
        .map(|(i, k)| (i, json!({"KeyId": k.id, "KeyArn": k.arn})))
        .take(limit + 1)
        .collect();
    let (items, next) = page(found, limit, |(i, _)| i.to_string());
    Ok(paged_response(
        "Keys",
        items.into_iter().map(|(_, v)| v).collect(),
        next,
    ))
}

fn set_status(
    store: &Store,
    req: &Request,
    change: impl FnOnce(&Key, &mut KeyStatus) -> Result<Value, KmsError>,
) -> Result<Value, KmsError> {
    let key = store.resolve(&req.region, req.key_id("KeyId")?, false)?;
    key.expire_material();
    let mut status = key.status.lock();
    change(&key, &mut status)
}

fn pending(key: &Key) -> KmsError {
    KmsError::invalid_state(format!("{} is pending deletion.", key.arn))
}

pub fn enable_key(store: &Store, req: &Request) -> Result<Value, KmsError> {
    set_status(store, req, |key, s| match s {
        KeyStatus::PendingDeletion { .. } => Err(pending(key)),
        KeyStatus::PendingImport => Err(key.pending_import()),
        _ => {
            *s = KeyStatus::Enabled;
            Ok(json!({}))
        }
    })
}

pub fn disable_key(store: &Store, req: &Request) -> Result<Value, KmsError> {
    set_status(store, req, |key, s| match s {
        KeyStatus::PendingDeletion { .. } => Err(pending(key)),
        KeyStatus::PendingImport => Err(key.pending_import()),
        _ => {
            *s = KeyStatus::Disabled;
            Ok(json!({}))
        }
    })
}

pub fn schedule_key_deletion(store: &Store, req: &Request) -> Result<Value, KmsError> {
    let days = req.int_opt("PendingWindowInDays", 7, 30)?.unwrap_or(30) as u32;
    set_status(store, req, |key, s| match s {
        KeyStatus::PendingDeletion { .. } => Err(pending(key)),
        _ => {
            let deletion_date = (store::now() + f64::from(days) * 86400.0).floor();
            *s = KeyStatus::PendingDeletion {
                deletion_date,
                window_days: days,
            };
            Ok(json!({
                "KeyId": key.arn,
                "DeletionDate": deletion_date,
                "KeyState": "PendingDeletion",
                "PendingWindowInDays": days,
            }))
        }
    })
}

pub fn cancel_key_deletion(store: &Store, req: &Request) -> Result<Value, KmsError> {
    set_status(store, req, |key, s| match s {
        KeyStatus::PendingDeletion { .. } => {
            // KMS leaves a key whose deletion was cancelled disabled, or
            // waiting for its key material if it has none.
            *s = if key.has_live_material() {
                KeyStatus::Disabled
            } else {
                KeyStatus::PendingImport
            };
            Ok(json!({ "KeyId": key.arn }))
        }
        _ => Err(KmsError::invalid_state(format!(
            "{} is not pending deletion.",
            key.arn
        ))),
    })
}

pub fn list_resource_tags(store: &Store, req: &Request) -> Result<Value, KmsError> {
    let key = store.resolve(&req.region, req.key_id("KeyId")?, false)?;
    let tags: Vec<Value> = key
        .tags
        .lock()
        .iter()
        .map(|(k, v)| json!({"TagKey": k, "TagValue": v}))
        .collect();
    Ok(json!({ "Tags": tags, "Truncated": false }))
}

pub fn tag_resource(store: &Store, req: &Request) -> Result<Value, KmsError> {
    let key = store.resolve(&req.region, req.key_id("KeyId")?, false)?;
    let new = req.tags("Tags")?;
    if new.is_empty() {
        return Err(KmsError::missing("Tags"));
    }
    let mut tags = key.tags.lock();
    for (k, v) in new {
        match tags.iter_mut().find(|(tk, _)| *tk == k) {
            Some(t) => t.1 = v,
            None => tags.push((k, v)),
        }
    }
    Ok(json!({}))
}

pub fn untag_resource(store: &Store, req: &Request) -> Result<Value, KmsError> {
    let key = store.resolve(&req.region, req.key_id("KeyId")?, false)?;
    let remove = req.string_list("TagKeys")?;
    key.tags.lock().retain(|(k, _)| !remove.contains(k));
    Ok(json!({}))
}

/// True when an alias may move from one key to the other.
pub fn same_kind(a: &Key, b: &Key) -> bool {
    let family = |k: &Key| -> KeyFamily { k.spec.family() };
    family(a) == family(b) && a.usage == b.usage
}
