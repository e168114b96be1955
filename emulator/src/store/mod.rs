//! Keys and aliases, per region, and how KMS resolves a key reference.
//! `key` is the key itself, `saved` the seed and state file.

mod key;
pub mod policy;
mod saved;

pub use key::{Key, KeyStatus};
pub use saved::{SavedKey, Snapshot, Tag};

use crate::error::KmsError;
use crate::import::ImportParams;
use crate::spec::{KeySpec, KeyUsage};
use parking_lot::{Mutex, RwLock};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// How long GetParametersForImport's wrapping key and token stay valid,
/// unless the emulator is told otherwise: KMS's 24 hours.
pub const IMPORT_TOKEN_TTL: f64 = 24.0 * 3600.0;

pub struct Alias {
    pub target: String,
    pub created: f64,
    pub updated: f64,
}

#[derive(Default)]
pub struct Tables {
    /// (region, key ID) → key: the replicas of a multi-Region key share
    /// its key ID, one per region.
    pub keys: HashMap<(String, String), Arc<Key>>,
    /// Keys in creation order: ListKeys pages over this.
    pub order: Vec<(String, String)>,
    /// (region, alias name) → alias.
    pub aliases: BTreeMap<(String, String), Alias>,
}

pub struct Store {
    pub account: String,
    pub default_region: String,
    pub tables: RwLock<Tables>,
    /// GetParametersForImport's answers by import token (not saved: a
    /// restarted emulator has forgotten them, as if they had expired).
    pub imports: Mutex<HashMap<Vec<u8>, ImportParams>>,
    /// Seconds an import token is valid.
    pub import_token_ttl: f64,
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
            imports: Mutex::new(HashMap::new()),
            import_token_ttl: IMPORT_TOKEN_TTL,
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
            return tables
                .keys
                .get(&(region.to_string(), alias.target.clone()))
                .cloned()
                .ok_or_else(invalid);
        }
        let id = id_or_alias.strip_prefix("key/").unwrap_or(id_or_alias);
        if reference.starts_with("arn:") != id_or_alias.starts_with("key/") || !is_key_id(id) {
            return Err(invalid());
        }
        match tables.keys.get(&(region.to_string(), id.to_string())) {
            Some(k) => Ok(k.clone()),
            None => Err(KmsError::not_found(format!(
                "Key '{}' does not exist",
                self.key_arn(region, id)
            ))),
        }
    }

    pub fn insert_key(&self, key: Key) -> Arc<Key> {
        let key = Arc::new(key);
        let mut t = self.tables.write();
        let at = (key.region.clone(), key.id.clone());
        t.order.push(at.clone());
        t.keys.insert(at, key.clone());
        key
    }

    /// The keys with key ID `id` in every region (a multi-Region key's
    /// primary and replicas), in creation order.
    pub fn related(&self, id: &str) -> Vec<Arc<Key>> {
        let t = self.tables.read();
        t.order
            .iter()
            .filter(|(_, i)| i == id)
            .filter_map(|at| t.keys.get(at).cloned())
            .collect()
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
