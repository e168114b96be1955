//! Keys and aliases, per region, and how KMS resolves a key reference.

use crate::error::KmsError;
use crate::material::KeyMaterial;
use crate::spec::{KeySpec, KeyUsage};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use parking_lot::{Mutex, RwLock};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum KeyStatus {
    Enabled,
    Disabled,
    PendingDeletion {
        deletion_date: f64,
        window_days: u32,
    },
}

impl KeyStatus {
    pub fn name(self) -> &'static str {
        match self {
            KeyStatus::Enabled => "Enabled",
            KeyStatus::Disabled => "Disabled",
            KeyStatus::PendingDeletion { .. } => "PendingDeletion",
        }
    }
}

pub struct Key {
    pub id: String,
    pub arn: String,
    pub region: String,
    pub account: String,
    pub spec: KeySpec,
    pub usage: KeyUsage,
    pub description: String,
    pub creation_date: f64,
    pub multi_region: bool,
    pub tags: Mutex<Vec<(String, String)>>,
    pub status: Mutex<KeyStatus>,
    pub material: KeyMaterial,
}

impl Key {
    /// Refuses keys that cannot be used for cryptography, as KMS does:
    /// DisabledException for a disabled key, KMSInvalidStateException for one
    /// pending deletion.
    pub fn check_usable(&self) -> Result<(), KmsError> {
        match *self.status.lock() {
            KeyStatus::Enabled => Ok(()),
            KeyStatus::Disabled => Err(KmsError::new(
                "DisabledException",
                format!("{} is disabled.", self.arn),
            )),
            KeyStatus::PendingDeletion { .. } => Err(KmsError::invalid_state(format!(
                "{} is pending deletion.",
                self.arn
            ))),
        }
    }
}

pub struct Alias {
    pub target: String,
    pub created: f64,
    pub updated: f64,
}

#[derive(Default)]
pub struct Tables {
    pub keys: HashMap<String, Arc<Key>>,
    /// Key IDs in creation order: ListKeys pages over this.
    pub order: Vec<String>,
    /// (region, alias name) → alias.
    pub aliases: BTreeMap<(String, String), Alias>,
}

pub struct Store {
    pub account: String,
    pub default_region: String,
    pub tables: RwLock<Tables>,
}

pub fn now() -> f64 {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    // KMS reports whole milliseconds.
    (d.as_millis() as f64) / 1000.0
}

fn is_uuid(s: &str) -> bool {
    uuid::Uuid::parse_str(s).is_ok() && s.len() == 36
}

pub fn is_key_id(s: &str) -> bool {
    is_uuid(s)
        || (s.len() == 36
            && s.starts_with("mrk-")
            && s[4..]
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()))
}

/// Alias names as KMS accepts them: `alias/` then 1–250 of `[a-zA-Z0-9/_-]`.
pub fn check_alias_name(name: &str) -> Result<(), KmsError> {
    let Some(rest) = name.strip_prefix("alias/") else {
        return Err(KmsError::validation(
            "Alias must start with the prefix \"alias/\". Please see https://docs.aws.amazon.com/kms/latest/developerguide/kms-alias.html",
        ));
    };
    if name.len() > 256
        || rest.is_empty()
        || !rest
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'_' | b'-'))
    {
        return Err(KmsError::validation(format!(
            "1 validation error detected: Value '{name}' at 'aliasName' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9:/_-]+$"
        )));
    }
    if rest.starts_with("aws/") {
        return Err(KmsError::new(
            "NotAuthorizedException",
            "The alias/aws/ prefix is reserved for AWS managed keys.",
        ));
    }
    Ok(())
}

/// A parsed `arn:PARTITION:kms:REGION:ACCOUNT:key/ID` or `...:alias/NAME`.
struct Arn<'a> {
    region: &'a str,
    account: &'a str,
    resource: &'a str,
}

fn parse_arn(s: &str) -> Option<Arn<'_>> {
    let mut parts = s.splitn(6, ':');
    if parts.next()? != "arn" {
        return None;
    }
    let _partition = parts.next()?;
    if parts.next()? != "kms" {
        return None;
    }
    Some(Arn {
        region: parts.next()?,
        account: parts.next()?,
        resource: parts.next()?,
    })
}

impl Store {
    pub fn new(account: String, default_region: String) -> Self {
        Store {
            account,
            default_region,
            tables: RwLock::new(Tables::default()),
        }
    }

    pub fn key_arn(&self, region: &str, id: &str) -> String {
        format!("arn:aws:kms:{region}:{}:key/{id}", self.account)
    }

    pub fn alias_arn(&self, region: &str, name: &str) -> String {
        format!("arn:aws:kms:{region}:{}:{name}", self.account)
    }

    /// Resolves a key reference the way KMS does for the given request region.
    /// `allow_alias` is false for operations that take only a key ID or ARN.
    pub fn resolve(
        &self,
        region: &str,
        reference: &str,
        allow_alias: bool,
    ) -> Result<Arc<Key>, KmsError> {
        let tables = self.tables.read();
        self.resolve_in(&tables, region, reference, allow_alias)
    }

    pub fn resolve_in(
        &self,
        tables: &Tables,
        region: &str,
        reference: &str,
        allow_alias: bool,
    ) -> Result<Arc<Key>, KmsError> {
        let invalid = || KmsError::not_found(format!("Invalid keyId '{reference}'"));
        let (region, id_or_alias) = if let Some(arn) = parse_arn(reference) {
            // A key in another account or region is not visible from here.
            if arn.account != self.account || arn.region != region {
                return Err(KmsError::not_found(format!("Invalid arn {reference}")));
            }
            (arn.region, arn.resource)
        } else {
            (region, reference)
        };
        if let Some(name) = id_or_alias.strip_prefix("alias/").map(|_| id_or_alias) {
            if !allow_alias {
                return Err(invalid());
            }
            let alias = tables
                .aliases
                .get(&(region.to_string(), name.to_string()))
                .ok_or_else(|| {
                    KmsError::not_found(format!(
                        "Alias {} is not found.",
                        self.alias_arn(region, name)
                    ))
                })?;
            return tables.keys.get(&alias.target).cloned().ok_or_else(invalid);
        }
        let id = id_or_alias.strip_prefix("key/").unwrap_or(id_or_alias);
        if reference.starts_with("arn:") != id_or_alias.starts_with("key/") || !is_key_id(id) {
            return Err(invalid());
        }
        match tables.keys.get(id) {
            Some(k) if k.region == region => Ok(k.clone()),
            _ => Err(KmsError::not_found(format!(
                "Key '{}' does not exist",
                self.key_arn(region, id)
            ))),
        }
    }

    pub fn insert_key(&self, key: Key) -> Arc<Key> {
        let key = Arc::new(key);
        let mut t = self.tables.write();
        t.order.push(key.id.clone());
        t.keys.insert(key.id.clone(), key.clone());
        key
    }

    /// Everything needed to rebuild the store: the seed/state file format.
    pub fn snapshot(&self) -> Snapshot {
        let t = self.tables.read();
        let keys = t
            .order
            .iter()
            .filter_map(|id| t.keys.get(id))
            .map(|k| {
                let status = *k.status.lock();
                SavedKey {
                    key_id: Some(k.id.clone()),
                    region: Some(k.region.clone()),
                    key_spec: k.spec.as_str().to_string(),
                    key_usage: Some(k.usage.as_str().to_string()),
                    aliases: t
                        .aliases
                        .iter()
                        .filter(|((r, _), a)| *r == k.region && a.target == k.id)
                        .map(|((_, n), _)| n.clone())
                        .collect(),
                    description: k.description.clone(),
                    material: Some(B64.encode(&k.material.bytes)),
                    creation_date: Some(k.creation_date),
                    multi_region: k.multi_region,
                    enabled: status == KeyStatus::Enabled,
                    deletion_date: match status {
                        KeyStatus::PendingDeletion { deletion_date, .. } => Some(deletion_date),
                        _ => None,
                    },
                    pending_window_in_days: match status {
                        KeyStatus::PendingDeletion { window_days, .. } => Some(window_days),
                        _ => None,
                    },
                    tags: k
                        .tags
                        .lock()
                        .iter()
                        .map(|(key, value)| Tag {
                            tag_key: key.clone(),
                            tag_value: value.clone(),
                        })
                        .collect(),
                }
            })
            .collect();
        Snapshot { keys }
    }

    /// Adds the keys and aliases of a seed or state file; keys whose ID is
    /// already present are left as they are.
    pub fn load(&self, snapshot: Snapshot) -> Result<(), String> {
        for saved in snapshot.keys {
            let spec = KeySpec::parse(&saved.key_spec).map_err(|e| e.message)?;
            let usage = match &saved.key_usage {
                Some(u) => KeyUsage::parse(u).map_err(|e| e.message)?,
                None => default_usage(spec),
            };
            if !spec.allows_usage(usage) {
                return Err(format!(
                    "KeyUsage {} is not valid for {}",
                    usage.as_str(),
                    spec.as_str()
                ));
            }
            let region = saved
                .region
                .clone()
                .unwrap_or_else(|| self.default_region.clone());
            let id = match &saved.key_id {
                Some(id) if is_key_id(id) => id.clone(),
                Some(id) => return Err(format!("'{id}' is not a KMS key ID")),
                None => new_key_id(saved.multi_region),
            };
            if self.tables.read().keys.contains_key(&id) {
                continue;
            }
            let material = match &saved.material {
                Some(m) => {
                    let bytes = B64
                        .decode(m)
                        .map_err(|e| format!("key {id}: Material: {e}"))?;
                    KeyMaterial::load(spec, usage, bytes)
                }
                None => KeyMaterial::generate(spec, usage),
            }
            .map_err(|e| format!("key {id}: {e}"))?;
            let status = match (saved.deletion_date, saved.enabled) {
                (Some(d), _) => KeyStatus::PendingDeletion {
                    deletion_date: d,
                    window_days: saved.pending_window_in_days.unwrap_or(30),
                },
                (None, true) => KeyStatus::Enabled,
                (None, false) => KeyStatus::Disabled,
            };
            let key = Key {
                arn: self.key_arn(&region, &id),
                id: id.clone(),
                region: region.clone(),
                account: self.account.clone(),
                spec,
                usage,
                description: saved.description.clone(),
                creation_date: saved.creation_date.unwrap_or_else(now),
                multi_region: saved.multi_region,
                tags: Mutex::new(
                    saved
                        .tags
                        .into_iter()
                        .map(|t| (t.tag_key, t.tag_value))
                        .collect(),
                ),
                status: Mutex::new(status),
                material,
            };
            self.insert_key(key);
            let mut t = self.tables.write();
            for alias in saved.aliases {
                check_alias_name(&alias).map_err(|e| format!("{alias}: {}", e.message))?;
                let when = now();
                t.aliases.insert(
                    (region.clone(), alias),
                    Alias {
                        target: id.clone(),
                        created: when,
                        updated: when,
                    },
                );
            }
        }
        Ok(())
    }
}

pub fn default_usage(spec: KeySpec) -> KeyUsage {
    match spec.family() {
        crate::spec::KeyFamily::Hmac => KeyUsage::GENERATE_VERIFY_MAC,
        crate::spec::KeyFamily::Symmetric => KeyUsage::ENCRYPT_DECRYPT,
        _ if spec.is_rsa() => KeyUsage::ENCRYPT_DECRYPT,
        _ => KeyUsage::SIGN_VERIFY,
    }
}

/// A fresh key ID: a UUID, or `mrk-` and 32 hex digits for a multi-Region key.
pub fn new_key_id(multi_region: bool) -> String {
    let u = uuid::Uuid::new_v4();
    if multi_region {
        format!("mrk-{}", u.simple())
    } else {
        u.to_string()
    }
}

#[derive(Serialize, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct Snapshot {
    #[serde(alias = "keys")]
    pub keys: Vec<SavedKey>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct SavedKey {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    pub key_spec: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_usage: Option<String>,
    #[serde(default)]
    pub aliases: Vec<String>,
    #[serde(default)]
    pub description: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub material: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creation_date: Option<f64>,
    #[serde(default)]
    pub multi_region: bool,
    #[serde(default = "yes")]
    pub enabled: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deletion_date: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_window_in_days: Option<u32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Tag>,
}

#[derive(Serialize, Deserialize, Clone)]
#[serde(rename_all = "PascalCase")]
pub struct Tag {
    pub tag_key: String,
    pub tag_value: String,
}

fn yes() -> bool {
    true
}
