//! The seed and state file: everything needed to rebuild the store.

use super::{
    check_alias_name, default_usage, is_key_id, new_key_id, now, Alias, Key, KeyStatus, Store,
};
use crate::material::KeyMaterial;
use crate::spec::{KeySpec, KeyUsage, Origin};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use parking_lot::{Mutex, RwLock};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

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
    /// "EXTERNAL" for a key of imported material; AWS_KMS when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    #[serde(default)]
    pub aliases: Vec<String>,
    #[serde(default)]
    pub description: String,
    /// Absent: new material, or for an EXTERNAL key none (PendingImport).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub material: Option<String>,
    /// When imported material expires (seconds since the epoch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_to: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creation_date: Option<f64>,
    #[serde(default)]
    pub multi_region: bool,
    /// A multi-Region replica's primary Region (absent: the key is its own
    /// primary). A replica without Material shares its primary's, which
    /// must come before it in the file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary_region: Option<String>,
    #[serde(default = "yes")]
    pub enabled: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deletion_date: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_window_in_days: Option<u32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Tag>,
    /// The key policy, when it is not the default one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
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

fn saved_key(k: &Key, aliases: Vec<String>) -> SavedKey {
    let status = *k.status.lock();
    SavedKey {
        key_id: Some(k.id.clone()),
        region: Some(k.region.clone()),
        key_spec: k.spec.as_str().to_string(),
        key_usage: Some(k.usage.as_str().to_string()),
        origin: (k.origin != Origin::AWS_KMS).then(|| k.origin.as_str().to_string()),
        aliases,
        description: k.description.clone(),
        material: k.material.read().as_ref().map(|m| B64.encode(&m.bytes)),
        valid_to: *k.valid_to.lock(),
        creation_date: Some(k.creation_date),
        multi_region: k.multi_region,
        primary_region: (k.primary_region != k.region).then(|| k.primary_region.clone()),
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
        policy: k.policy.lock().clone(),
    }
}

/// The spec, usage and origin of a saved key, checked as CreateKey would.
fn kind(saved: &SavedKey) -> Result<(KeySpec, KeyUsage, Origin), String> {
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
    let origin = match &saved.origin {
        Some(o) => Origin::parse(o).map_err(|e| e.message)?,
        None => Origin::AWS_KMS,
    };
    match origin {
        Origin::AWS_KMS => {}
        Origin::EXTERNAL if spec.import_lengths().is_some() => {}
        _ => {
            return Err(format!(
                "Origin {} is not supported for {}",
                origin.as_str(),
                spec.as_str()
            ))
        }
    }
    Ok((spec, usage, origin))
}

/// The saved key's material: the saved bytes, new material, or for an
/// EXTERNAL key without any, none.
fn material(
    saved: &SavedKey,
    spec: KeySpec,
    usage: KeyUsage,
    origin: Origin,
) -> Result<Option<KeyMaterial>, String> {
    match (&saved.material, origin) {
        (Some(m), _) => {
            let bytes = B64.decode(m).map_err(|e| format!("Material: {e}"))?;
            KeyMaterial::load(spec, usage, bytes).map(Some)
        }
        (None, Origin::EXTERNAL) => Ok(None),
        (None, _) => KeyMaterial::generate(spec, usage).map(Some),
    }
}

fn status(saved: &SavedKey, has_material: bool) -> KeyStatus {
    let expired = saved.valid_to.is_some_and(|t| t <= now());
    match saved.deletion_date {
        Some(d) => KeyStatus::PendingDeletion {
            deletion_date: d,
            window_days: saved.pending_window_in_days.unwrap_or(30),
        },
        None if !has_material || expired => KeyStatus::PendingImport,
        None if saved.enabled => KeyStatus::Enabled,
        None => KeyStatus::Disabled,
    }
}

impl Store {
    /// Everything needed to rebuild the store: the seed/state file format.
    pub fn snapshot(&self) -> Snapshot {
        let t = self.tables.read();
        let keys = t
            .order
            .iter()
            .filter_map(|at| t.keys.get(at))
            .map(|k| {
                let aliases = t
                    .aliases
                    .iter()
                    .filter(|((r, _), a)| *r == k.region && a.target == k.id)
                    .map(|((_, n), _)| n.clone())
                    .collect();
                saved_key(k, aliases)
            })
            .collect();
        Snapshot { keys }
    }

    /// Adds the keys and aliases of a seed or state file; keys whose ID is
    /// already present are left as they are.
    pub fn load(&self, snapshot: Snapshot) -> Result<(), String> {
        for saved in snapshot.keys {
            let (spec, usage, origin) = kind(&saved)?;
            let region = saved
                .region
                .clone()
                .unwrap_or_else(|| self.default_region.clone());
            let id = match &saved.key_id {
                Some(id) if is_key_id(id) => id.clone(),
                Some(id) => return Err(format!("'{id}' is not a KMS key ID")),
                None => new_key_id(saved.multi_region),
            };
            if self
                .tables
                .read()
                .keys
                .contains_key(&(region.clone(), id.clone()))
            {
                continue;
            }
            let primary_region = saved.primary_region.clone().unwrap_or(region.clone());
            let material = if primary_region == region || saved.material.is_some() {
                material(&saved, spec, usage, origin)
                    .map_err(|e| format!("key {id}: {e}"))?
                    .map(Arc::new)
            } else {
                let primary = self
                    .tables
                    .read()
                    .keys
                    .get(&(primary_region.clone(), id.clone()))
                    .cloned();
                let primary = primary.ok_or_else(|| {
                    format!(
                        "key {id} in {region}: a replica without Material needs its primary \
                         (in {primary_region}) earlier in the file"
                    )
                })?;
                let shared = primary.material.read().clone();
                shared
            };
            if primary_region != region && !saved.multi_region {
                return Err(format!(
                    "key {id} in {region}: only a multi-Region key (MultiRegion true, an mrk- key ID) has a PrimaryRegion"
                ));
            }
            if let Some(policy) = &saved.policy {
                super::policy::check_policy(policy)
                    .map_err(|e| format!("key {id}: policy: {}", e.message))?;
            }
            let key = Key {
                arn: self.key_arn(&region, &id),
                id: id.clone(),
                region: region.clone(),
                account: self.account.clone(),
                spec,
                usage,
                origin,
                description: saved.description.clone(),
                creation_date: saved.creation_date.unwrap_or_else(now),
                multi_region: saved.multi_region,
                primary_region,
                tags: Mutex::new(
                    saved
                        .tags
                        .iter()
                        .map(|t| (t.tag_key.clone(), t.tag_value.clone()))
                        .collect(),
                ),
                policy: Mutex::new(saved.policy.clone()),
                status: Mutex::new(status(&saved, material.is_some())),
                material: RwLock::new(material),
                valid_to: Mutex::new(saved.valid_to),
            };
            self.insert_key(key);
            self.add_aliases(&region, &id, saved.aliases)?;
        }
        Ok(())
    }

    fn add_aliases(&self, region: &str, id: &str, aliases: Vec<String>) -> Result<(), String> {
        let mut t = self.tables.write();
        for alias in aliases {
            check_alias_name(&alias).map_err(|e| format!("{alias}: {}", e.message))?;
            let when = now();
            t.aliases.insert(
                (region.to_string(), alias),
                Alias {
                    target: id.to_string(),
                    created: when,
                    updated: when,
                },
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::material::SignInput;
    use crate::spec::SigningAlgorithm;

    fn only_key(store: &Store) -> Arc<Key> {
        let t = store.tables.read();
        assert_eq!(t.order.len(), 1);
        t.keys[&t.order[0]].clone()
    }

    #[test]
    fn ml_dsa_keys_survive_the_state_file() {
        for spec in ["ML_DSA_44", "ML_DSA_65", "ML_DSA_87"] {
            let before = Store::new("111122223333".into(), "us-east-1".into());
            let seed =
                format!(r#"{{"Keys": [{{"KeySpec": "{spec}", "KeyUsage": "SIGN_VERIFY"}}]}}"#);
            before.load(serde_json::from_str(&seed).unwrap()).unwrap();
            let state = serde_json::to_string(&before.snapshot()).unwrap();
            let after = Store::new("111122223333".into(), "us-east-1".into());
            after.load(serde_json::from_str(&state).unwrap()).unwrap();

            let (made, loaded) = (only_key(&before), only_key(&after));
            assert_eq!(
                (made.id.as_str(), loaded.spec.as_str()),
                (loaded.id.as_str(), spec)
            );
            let (made, loaded) = (made.material().unwrap(), loaded.material().unwrap());
            assert_eq!(made.bytes, loaded.bytes, "{spec}");
            assert_eq!(made.public_der, loaded.public_der, "{spec}");
            let alg = SigningAlgorithm::ML_DSA_SHAKE_256;
            let input = SignInput::Message(b"before the restart".to_vec());
            let signature = made.sign(alg, &input).unwrap();
            assert!(loaded.verify(alg, &input, &signature), "{spec}");
        }
    }
}
