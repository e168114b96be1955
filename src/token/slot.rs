//! A slot and its token: the configured keys, the objects they resolved
//! to, who is logged in, and what a session may see. Loading the keys
//! (when, from where, and turning answers into objects) is `loader`'s.

use super::certificate::Certificate;
use super::key::KeyInfo;
use super::login::Login;
use super::object::Object;
use crate::config::{KeyConfig, Management};
use crate::error::{Error, Result};
use crate::log_at;
use cryptoki_sys::*;
use parking_lot::{Mutex, RwLock};
use std::collections::BTreeMap;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A configured key's objects, while it resolves to one KMS key.
#[derive(Debug, Clone)]
pub struct ResolvedKey {
    pub key: Arc<KeyInfo>,
    /// The key's objects: (CKA_CLASS, handle).
    pub objects: Vec<(CK_OBJECT_CLASS, CK_OBJECT_HANDLE)>,
}

/// One configured key as the token sees it now (for the `kms11` command).
#[derive(Debug, Clone)]
pub struct KeyView {
    /// The key as configured: key ID, ARN, alias name or alias ARN.
    pub reference: String,
    pub resolved: std::result::Result<ResolvedKey, String>,
}

/// What the token knows of one key: a configured one, or one this process
/// generated (appended; an entry is never removed, so its index names it
/// for good).
#[derive(Debug)]
pub(super) struct Entry {
    /// The key as configured (a generated key: by ARN, with its label and
    /// CKA_ID).
    pub config: KeyConfig,
    /// The certificate configured for it, loaded at start.
    pub certificate: Option<Certificate>,
    pub resolved: Option<ResolvedKey>,
    /// Why it has no objects.
    pub error: Option<String>,
    /// KMS contradicted its objects; refresh it.
    pub stale: bool,
    /// Its object handles (private key, public key, certificate), kept
    /// for it across alias moves.
    pub reserved: Vec<CK_OBJECT_HANDLE>,
    /// The alias that names the key when the configuration names it by ID
    /// or ARN (the one C_GenerateKeyPair created).
    pub alias: Option<String>,
    /// C_DestroyObject scheduled its deletion: never asked about again.
    pub retired: bool,
}

impl Entry {
    pub fn new(config: KeyConfig, certificate: Option<Certificate>) -> Entry {
        Entry {
            config,
            certificate,
            resolved: None,
            error: None,
            stale: false,
            reserved: Vec::new(),
            alias: None,
            retired: false,
        }
    }

    /// The alias naming the key here: the configured one, or the one made
    /// for it.
    pub fn alias_name(&self) -> Option<String> {
        match self.config.key_ref().alias_name() {
            Some(name) => Some(name.to_string()),
            None => self.alias.clone(),
        }
    }
}

#[derive(Default)]
pub(super) struct Table {
    pub resolved_at: Option<Instant>,
    /// Per key, configured ones first in configuration order, then the
    /// ones generated here.
    pub entries: Vec<Entry>,
    pub objects: BTreeMap<CK_OBJECT_HANDLE, Arc<Object>>,
    /// How many of `objects` are session objects (C_DeriveKey's), so that
    /// closing a session scans nothing and takes no write lock when none
    /// exist.
    pub session_objects: usize,
}

impl Table {
    /// The entry whose objects hold `key`.
    pub fn index_of(&self, key: &Arc<KeyInfo>) -> Option<usize> {
        self.entries.iter().position(|e| {
            e.resolved
                .as_ref()
                .is_some_and(|r| Arc::ptr_eq(&r.key, key))
        })
    }

    /// Removes configured key `i`'s objects; its handles stay reserved.
    pub fn drop_objects(&mut self, i: usize) -> Option<ResolvedKey> {
        let old = self.entries[i].resolved.take()?;
        for (_, h) in &old.objects {
            self.objects.remove(h);
        }
        Some(old)
    }
}

pub struct Slot {
    pub id: CK_SLOT_ID,
    pub label: String,
    /// What PKCS#11 callers may do to the token's KMS keys.
    pub management: Management,
    pub(super) table: RwLock<Table>,
    /// Held during the first resolution, so that one thread asks KMS and
    /// the others wait for its answer; never held by readers of the table.
    pub(super) resolving: Mutex<()>,
    /// The certificates of `certificate_dir` are loaded once, after the
    /// first resolution.
    stored_loaded: std::sync::Once,
    /// Set while a refresh runs (`loader::Refreshing`).
    pub(super) refreshing: AtomicBool,
    pub(super) refresh: Duration,
    pub login: Login,
    /// The first resolution succeeds with the keys that resolved when
    /// others could not be reached (multi-Region failover is configured:
    /// a replica may sign while a single-Region key's region is down);
    /// those others are asked about again at the next refresh.
    pub(super) partial_first: bool,
}

impl Slot {
    pub fn new(
        id: CK_SLOT_ID,
        label: String,
        keys: Vec<KeyConfig>,
        refresh: Duration,
        pin_hash: Option<String>,
        management: Management,
    ) -> Slot {
        let entries = keys
            .into_iter()
            .map(|k| {
                let certificate = k.certificate.as_ref().and_then(|p| {
                    Certificate::load(p.get_ref())
                        .map_err(|e| log_at!(Error, "token '{label}': certificate left out: {e}"))
                        .ok()
                });
                Entry::new(k, certificate)
            })
            .collect();
        Slot {
            id,
            label,
            management,
            table: RwLock::new(Table {
                entries,
                ..Table::default()
            }),
            resolving: Mutex::new(()),
            stored_loaded: std::sync::Once::new(),
            refreshing: AtomicBool::new(false),
            refresh,
            login: Login::new(pin_hash),
            partial_first: false,
        }
    }

    pub(super) fn fresh(&self, t: &Table) -> bool {
        match t.resolved_at {
            None => false,
            Some(_) if t.entries.iter().any(|e| e.stale) => false,
            Some(at) => {
                let has_alias = t.entries.iter().any(|e| !e.retired && e.config.is_alias());
                !has_alias || at.elapsed() < self.refresh
            }
        }
    }

    /// Whether the token's objects are resolved and need no refresh now.
    pub fn is_fresh(&self) -> bool {
        self.fresh(&self.table.read())
    }

    /// Marks the configured key whose objects hold `key` for the next
    /// refresh: KMS contradicted them (another key signed, the signature
    /// did not verify, the key is gone). Nothing to do if the token has
    /// already moved on to other objects.
    pub fn mark_stale(&self, key: &Arc<KeyInfo>) {
        for e in self.table.write().entries.iter_mut() {
            if e.resolved
                .as_ref()
                .is_some_and(|r| Arc::ptr_eq(&r.key, key))
            {
                e.stale = true;
            }
        }
    }

    /// Each key, with its objects or why it has none.
    pub fn key_views(&self) -> Vec<KeyView> {
        let t = self.table.read();
        t.entries
            .iter()
            .map(|e| {
                let resolved = match (&e.resolved, &e.error) {
                    (Some(r), _) => Ok(r.clone()),
                    (None, _) if e.retired => Err("retired: scheduled for deletion".to_string()),
                    (None, Some(e)) => Err(e.clone()),
                    (None, None) => Err("not resolved".to_string()),
                };
                KeyView {
                    reference: e.config.reference().to_string(),
                    resolved,
                }
            })
            .collect()
    }

    /// The prefix of `discover_aliases` when the token is due for a
    /// resolution (its first, or an alias refresh).
    pub fn discovery_due(&self) -> Option<String> {
        let prefix = self.management.discover_aliases.clone()?;
        (!self.is_fresh()).then_some(prefix)
    }

    /// Adds an entry for each discovered alias the token does not hold yet,
    /// labelled by its name without `alias/` and the token's
    /// `alias_prefix` (the label a key made here was given).
    pub fn add_discovered(&self, names: Vec<String>) {
        let mut t = self.table.write();
        for name in names {
            let held = t
                .entries
                .iter()
                .any(|e| !e.retired && e.alias_name().as_deref() == Some(name.as_str()));
            let Ok(key) = crate::keyref::KeyRef::parse(&name) else {
                continue;
            };
            if held {
                continue;
            }
            log_at!(Info, "token '{}': discovered {name}", self.label);
            // The label a key made here had: alias/<alias_prefix><label>.
            let label = name
                .strip_prefix("alias/")
                .map(|n| n.strip_prefix(&self.management.alias_prefix).unwrap_or(n))
                .filter(|l| !l.is_empty())
                .map(|l| toml::Spanned::new(0..0, l.to_string()));
            let config = KeyConfig {
                key: toml::Spanned::new(0..0, key),
                label,
                id: None,
                grant_tokens: Vec::new(),
                certificate: None,
            };
            t.entries.push(Entry::new(config, None));
        }
    }

    /// Whether the configuration names `reference` (as written).
    pub fn configures(&self, reference: &str) -> bool {
        let t = self.table.read();
        t.entries.iter().any(|e| e.config.reference() == reference)
    }

    /// The key reference of the token's first key (where GenerateRandom
    /// goes), if it has one.
    pub fn first_reference(&self) -> Option<String> {
        let t = self.table.read();
        t.entries.first().map(|e| e.config.reference().to_string())
    }

    /// An object the session may see (private objects only after login).
    pub fn object(&self, handle: CK_OBJECT_HANDLE) -> Option<Arc<Object>> {
        let o = self.table.read().objects.get(&handle).cloned()?;
        (!o.private || self.login.private_visible()).then_some(o)
    }

    /// Handles of the objects matching a template, in handle order.
    pub fn find(&self, template: &[(CK_ATTRIBUTE_TYPE, Vec<u8>)]) -> Vec<CK_OBJECT_HANDLE> {
        let private = self.login.private_visible();
        self.table
            .read()
            .objects
            .values()
            .filter(|o| (private || !o.private) && o.matches(template))
            .map(|o| o.handle)
            .collect()
    }

    /// Loads the certificates stored in `certificate_dir` as token objects
    /// (once per process, after the first resolution). A certificate stored
    /// for a key brings that key too, with the certificate's CKA_ID unless
    /// the configuration gives one (Java's keystore pairs a key and its
    /// certificate by CKA_ID): true when keys were added, which the caller
    /// then resolves.
    pub fn load_stored(&self, next_handle: &std::sync::atomic::AtomicU64) -> bool {
        let Some(dir) = self.management.certificate_dir.clone() else {
            return false;
        };
        let mut added = false;
        self.stored_loaded.call_once(|| {
            let store = super::certstore::CertStore::new(dir);
            for (path, cert, made) in store.load_all(&self.label) {
                if let Some(arn) = &made.key_arn {
                    added |= self.adopt(arn, &made, next_handle);
                }
                let handle = next_handle.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let o = Object::created_certificate(handle, &cert, &made, None, Some(path));
                self.table.write().objects.insert(handle, Arc::new(o));
            }
        });
        added
    }

    /// The key of a stored certificate: a key the token holds takes the
    /// certificate's CKA_ID (unless configured); another is added, named by
    /// its ARN (true: it still has to be resolved).
    fn adopt(
        &self,
        arn: &str,
        made: &super::certstore::Stored,
        next_handle: &std::sync::atomic::AtomicU64,
    ) -> bool {
        let held = {
            let t = self.table.read();
            t.entries
                .iter()
                .filter(|e| !e.retired)
                .find(|e| e.resolved.as_ref().is_some_and(|r| r.key.arn == arn))
                .map(|e| {
                    (
                        e.config.id.is_none(),
                        e.resolved.as_ref().map(|r| r.key.clone()),
                    )
                })
        };
        match held {
            Some((true, Some(key))) if !made.id.is_empty() && key.id != made.id => {
                let _ = self.set_id(&key, &made.id, next_handle);
                false
            }
            Some(_) => false,
            None => {
                let Ok(key) = crate::keyref::KeyRef::parse(arn) else {
                    return false;
                };
                let hex = data_encoding::HEXLOWER.encode(&made.id);
                let config = KeyConfig {
                    key: toml::Spanned::new(0..0, key),
                    label: (!made.label.is_empty())
                        .then(|| toml::Spanned::new(0..0, made.label.clone())),
                    id: (!made.id.is_empty()).then(|| toml::Spanned::new(0..0, hex)),
                    grant_tokens: Vec::new(),
                    certificate: None,
                };
                let mut entry = Entry::new(config, None);
                entry.stale = true;
                self.table.write().entries.push(entry);
                log_at!(
                    Info,
                    "token '{}': {arn} joins with its stored certificate",
                    self.label
                );
                true
            }
        }
    }

    /// The key of this token whose public key is `spki`, if any.
    pub fn key_with_spki(&self, spki: &[u8]) -> Option<Arc<KeyInfo>> {
        let t = self.table.read();
        t.entries
            .iter()
            .filter_map(|e| e.resolved.as_ref())
            .find(|r| r.key.spki == spki)
            .map(|r| r.key.clone())
    }

    /// Adds a session object (C_DeriveKey's).
    pub fn add_session_object(&self, o: Object) {
        let mut t = self.table.write();
        t.objects.insert(o.handle, Arc::new(o));
        t.session_objects += 1;
    }

    pub fn remove_session_object(&self, handle: CK_OBJECT_HANDLE) {
        let mut t = self.table.write();
        if t.objects.get(&handle).is_some_and(|o| o.owner.is_some()) {
            t.objects.remove(&handle);
            t.session_objects -= 1;
        }
    }

    /// Drops the session objects of session `owner` (of every session:
    /// `None`), as closing it does.
    pub fn drop_session_objects(&self, owner: Option<CK_SESSION_HANDLE>) {
        if self.table.read().session_objects == 0 {
            return;
        }
        let mut t = self.table.write();
        t.objects
            .retain(|_, o| o.owner.is_none() || (owner.is_some() && o.owner != owner));
        t.session_objects = t.objects.values().filter(|o| o.owner.is_some()).count();
    }

    /// The key of an object that C_SignInit (a private key) or C_VerifyInit
    /// (a public key) is given.
    pub fn key_for(
        &self,
        handle: CK_OBJECT_HANDLE,
        class: CK_OBJECT_CLASS,
    ) -> Result<Arc<KeyInfo>> {
        self.key_of_class(handle, &[class])
    }

    /// The key of object `handle`, which must be of one of `classes` (a
    /// key pair's half, or a secret key); private objects are seen only
    /// after C_Login.
    pub fn key_of_class(
        &self,
        handle: CK_OBJECT_HANDLE,
        classes: &[CK_OBJECT_CLASS],
    ) -> Result<Arc<KeyInfo>> {
        if classes.contains(&CKO_PRIVATE_KEY) && !self.login.private_visible() {
            return Err(CKR_USER_NOT_LOGGED_IN.into());
        }
        let o = self
            .object(handle)
            .ok_or(Error::from(CKR_KEY_HANDLE_INVALID))?;
        if o.class == CKO_CERTIFICATE {
            return Err(CKR_KEY_HANDLE_INVALID.into());
        }
        if !classes.contains(&o.class) {
            return Err(CKR_KEY_FUNCTION_NOT_PERMITTED.into());
        }
        // A session object (a derived key) has no KMS key to use.
        o.key.clone().ok_or_else(|| {
            Error::new(
                CKR_KEY_FUNCTION_NOT_PERMITTED,
                "a derived key is kept for its value only: this token cannot use it",
            )
        })
    }
}
