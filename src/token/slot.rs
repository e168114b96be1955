//! A slot and its token: the configured keys, resolved on first need (all
//! keys of the token concurrently, one GetPublicKey each) and, for keys
//! named by alias, again after the refresh interval.

use super::certificate::Certificate;
use super::key::{default_id, KeyInfo};
use super::object::Object;
use crate::backend::{Backend, BackendError, Failure, KeySpec, RemoteKey};
use crate::cache::DiskCache;
use crate::config::{parse_hex, KeyConfig};
use crate::error::{Error, Result};
use crate::keyref::KeyRef;
use crate::log_at;
use cryptoki_sys::*;
use parking_lot::{Mutex, RwLock};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The objects of one configured key, while it resolves to one KMS key.
struct Resolved {
    arn: String,
    key: Arc<KeyInfo>,
    handles: Vec<CK_OBJECT_HANDLE>,
}

/// One configured key as the token sees it now (for the `kms11` command).
#[derive(Debug, Clone)]
pub struct KeyView {
    /// The key as configured: key ID, ARN, alias name or alias ARN.
    pub reference: String,
    pub resolved: std::result::Result<ResolvedKey, String>,
}

#[derive(Debug, Clone)]
pub struct ResolvedKey {
    pub key: Arc<KeyInfo>,
    /// The key's objects: (CKA_CLASS, handle).
    pub objects: Vec<(CK_OBJECT_CLASS, CK_OBJECT_HANDLE)>,
}

/// A configured key to resolve.
#[derive(Debug, Clone)]
pub struct Wanted {
    pub index: usize,
    /// The key as configured.
    pub reference: String,
    pub grant_tokens: Vec<String>,
    pub is_alias: bool,
}

/// What a key resolved to, and whether the answer came from the disk cache.
#[derive(Debug, Clone)]
pub struct Found {
    pub key: RemoteKey,
    /// The age of the cache entry used, if the answer came from the cache.
    pub cached: Option<Duration>,
    /// The key's cache entry: the one read, or the one KMS's answer is
    /// written to (to drop if KMS later contradicts it).
    pub entry: Option<std::path::PathBuf>,
}

pub type Answers = Vec<(usize, std::result::Result<Found, BackendError>)>;

#[derive(Default)]
struct Table {
    resolved_at: Option<Instant>,
    /// Per configured key, in configuration order.
    keys: Vec<Option<Resolved>>,
    /// Why a configured key has no objects, per configured key.
    errors: Vec<Option<String>>,
    /// Per configured key: KMS contradicted its objects; refresh it.
    stale: Vec<bool>,
    /// Per configured key: its object handles (private key, public key,
    /// certificate), kept for it across alias moves.
    reserved: Vec<Vec<CK_OBJECT_HANDLE>>,
    objects: BTreeMap<CK_OBJECT_HANDLE, Arc<Object>>,
}

/// Marks that a refresh runs (at most one per token at a time, in the
/// foreground or in the background); cleared when dropped, also when a
/// background refresh is cancelled by C_Finalize.
pub struct Refreshing<S: std::ops::Deref<Target = Slot>>(S);

impl<S: std::ops::Deref<Target = Slot>> Refreshing<S> {
    fn begin(slot: S) -> Option<Refreshing<S>> {
        slot.refreshing
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .ok()?;
        Some(Refreshing(slot))
    }
}

impl<S: std::ops::Deref<Target = Slot>> Drop for Refreshing<S> {
    fn drop(&mut self) {
        self.0.refreshing.store(false, Ordering::Release);
    }
}

pub struct Slot {
    pub id: CK_SLOT_ID,
    pub label: String,
    keys: Vec<KeyConfig>,
    certificates: Vec<Option<Certificate>>,
    table: RwLock<Table>,
    /// Held during the first resolution, so that one thread asks KMS and
    /// the others wait for its answer; never held by readers of the table.
    resolving: Mutex<()>,
    /// Set while a refresh runs (`Refreshing`).
    refreshing: AtomicBool,
    refresh: Duration,
    /// Whether any key is named by alias (only those are refreshed).
    has_alias: bool,
    pub logged_in: Mutex<Option<CK_USER_TYPE>>,
    /// The token's PIN as an argon2id PHC string; `None`: no login needed.
    pub pin_hash: Option<String>,
    /// Wrong PINs in a row in this process (`Module::login` slows down).
    pub failed_logins: std::sync::atomic::AtomicU32,
    /// The earliest moment the next slowed-down C_Login may check a PIN:
    /// concurrent tries queue one delay apart instead of waiting side by
    /// side. Held only to reserve a moment, never while waiting.
    pub next_login: Mutex<Option<Instant>>,
}

impl Slot {
    pub fn new(
        id: CK_SLOT_ID,
        label: String,
        keys: Vec<KeyConfig>,
        refresh: Duration,
        pin_hash: Option<String>,
    ) -> Slot {
        let certificates = keys
            .iter()
            .map(|k| {
                k.certificate.as_ref().and_then(|p| {
                    Certificate::load(p.get_ref())
                        .map_err(|e| log_at!(Error, "token '{label}': certificate left out: {e}"))
                        .ok()
                })
            })
            .collect();
        let has_alias = keys.iter().any(KeyConfig::is_alias);
        Slot {
            id,
            label,
            keys,
            has_alias,
            certificates,
            table: RwLock::new(Table::default()),
            resolving: Mutex::new(()),
            refreshing: AtomicBool::new(false),
            refresh,
            logged_in: Mutex::new(None),
            pin_hash,
            failed_logins: std::sync::atomic::AtomicU32::new(0),
            next_login: Mutex::new(None),
        }
    }

    fn fresh(&self, t: &Table) -> bool {
        match t.resolved_at {
            None => false,
            Some(_) if t.stale.iter().any(|s| *s) => false,
            Some(at) => !self.has_alias || at.elapsed() < self.refresh,
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
        let mut t = self.table.write();
        let t = &mut *t;
        for (resolved, stale) in t.keys.iter().zip(t.stale.iter_mut()) {
            if resolved.as_ref().is_some_and(|r| Arc::ptr_eq(&r.key, key)) {
                *stale = true;
            }
        }
    }

    /// The configured keys a refresh asks about: aliases, and keys marked
    /// stale; `None` when the token is fresh.
    fn refresh_plan(&self) -> Option<Vec<Wanted>> {
        let t = self.table.read();
        if self.fresh(&t) {
            return None;
        }
        let stale = |i: usize| t.stale.get(i).copied().unwrap_or(false);
        Some(self.wanted(|i, k| k.is_alias() || stale(i)))
    }

    fn wanted(&self, pick: impl Fn(usize, &KeyConfig) -> bool) -> Vec<Wanted> {
        self.keys
            .iter()
            .enumerate()
            .filter(|(i, k)| pick(*i, k))
            .map(|(i, k)| Wanted {
                index: i,
                reference: k.reference().to_string(),
                grant_tokens: k.grant_tokens.clone(),
                is_alias: k.is_alias(),
            })
            .collect()
    }

    /// For a refresh in the background (C_SignInit's freshness check, and
    /// after KMS contradicted a key): when one is due and none is running,
    /// the keys to ask about, and the mark that a refresh runs (cleared
    /// when it is dropped). The caller runs the refresh and hands the
    /// answers to `apply_refresh`; until then the token keeps its objects.
    /// `None` also before the first resolution: a token without objects
    /// has nothing to refresh (C_SignInit needs one).
    pub fn background_refresh(self: &Arc<Self>) -> Option<(Refreshing<Arc<Slot>>, Vec<Wanted>)> {
        {
            let t = self.table.read();
            if t.resolved_at.is_none() || self.fresh(&t) {
                return None;
            }
        }
        let guard = Refreshing::begin(self.clone())?;
        let wanted = self.refresh_plan()?;
        Some((guard, wanted))
    }

    /// Applies the answers of a refresh made by `background_refresh`.
    pub fn apply_refresh(&self, answers: Result<Answers>, next_handle: &AtomicU64) {
        // A refresh never fails the caller: it keeps what the token has.
        let _ = self.apply(false, answers, next_handle);
    }

    /// Makes sure the token's keys are resolved. The first resolution that
    /// cannot reach KMS fails (CKR_DEVICE_ERROR) and is tried again by the
    /// next call; a refresh that cannot reach KMS keeps what it had.
    pub fn ensure_resolved(
        &self,
        resolve: impl FnOnce(Vec<Wanted>) -> Result<Answers>,
        next_handle: &AtomicU64,
    ) -> Result<()> {
        let resolved_before = {
            let t = self.table.read();
            if self.fresh(&t) {
                return Ok(());
            }
            t.resolved_at.is_some()
        };
        if resolved_before {
            // A refresh is not waited for: while one thread (or a
            // background refresh) asks KMS, the others go on with the
            // objects the token already has.
            let Some(_refreshing) = Refreshing::begin(self) else {
                return Ok(());
            };
            let Some(wanted) = self.refresh_plan() else {
                return Ok(());
            };
            return self.apply(false, resolve(wanted), next_handle);
        }
        // The first resolution is waited for: there is nothing to answer
        // with before it.
        let _one_at_a_time = self.resolving.lock();
        if self.table.read().resolved_at.is_some() {
            // Another thread resolved the token meanwhile.
            return Ok(());
        }
        let wanted = self.wanted(|_, _| true);
        self.apply(true, resolve(wanted), next_handle)
    }

    /// Turns KMS's (or the cache's) answers into the token's objects.
    fn apply(&self, first: bool, answers: Result<Answers>, next_handle: &AtomicU64) -> Result<()> {
        let unreachable = |why: String| {
            let e = Error::new(
                CKR_DEVICE_ERROR,
                format!("token '{}': cannot reach KMS: {why}", self.label),
            );
            log_at!(Error, "{e}");
            e
        };
        let mut answers = match answers {
            Ok(answers) => answers,
            Err(e) if first => return Err(unreachable(e.to_string())),
            Err(e) => {
                // A refresh that gets no answer keeps what the token has and
                // tries again after the next interval (a key marked stale is
                // marked again by its next contradicted signature).
                log_at!(
                    Warn,
                    "token '{}': alias refresh failed, keeping the current keys: {e}",
                    self.label
                );
                let mut t = self.table.write();
                t.resolved_at = Some(Instant::now());
                t.stale.iter_mut().for_each(|s| *s = false);
                return Ok(());
            }
        };
        if first {
            if let Some((_, Err(e))) = answers
                .iter()
                .find(|(_, r)| matches!(r, Err(e) if e.is_transient()))
            {
                return Err(unreachable(e.to_string()));
            }
        }
        // Keys resolve concurrently; objects are made in configuration
        // order, so handles and C_FindObjects order are the same in every
        // process (clients that take "the first private key" stay stable).
        answers.sort_by_key(|(i, _)| *i);
        // An alias answered from the cache is as old as its entry: the next
        // refresh comes when the oldest such entry reaches the interval.
        let now = Instant::now();
        let resolved_at = answers
            .iter()
            .filter(|(i, _)| self.keys[*i].is_alias())
            .filter_map(|(_, r)| r.as_ref().ok()?.cached)
            .max()
            .and_then(|age| now.checked_sub(age))
            .unwrap_or(now);
        let mut t = self.table.write();
        if t.keys.len() != self.keys.len() {
            t.keys = (0..self.keys.len()).map(|_| None).collect();
            t.errors = vec![None; self.keys.len()];
            t.stale = vec![false; self.keys.len()];
            t.reserved = vec![Vec::new(); self.keys.len()];
        }
        let t = &mut *t;
        for (i, answer) in answers {
            let config = &self.keys[i];
            t.stale[i] = false;
            match answer {
                Ok(found) => {
                    let remote = &found.key;
                    log_at!(
                        Debug,
                        "token '{}': {} is {} ({})",
                        self.label,
                        config.reference(),
                        remote.arn,
                        match &found.cached {
                            Some(age) => format!("from the cache, {} s old", age.as_secs()),
                            None => "from KMS".to_string(),
                        }
                    );
                    let same = t.keys[i]
                        .as_ref()
                        .is_some_and(|r| r.arn == remote.arn && r.key.spki == remote.public_key);
                    if same {
                        continue;
                    }
                    if let Some(old) = t.keys[i].take() {
                        log_at!(
                            Info,
                            "{} now names {} (was {}); its objects keep their handles",
                            config.reference(),
                            remote.arn,
                            old.arn
                        );
                        for h in old.handles {
                            t.objects.remove(&h);
                        }
                    }
                    match self.make_objects(i, &found, &mut t.reserved[i], next_handle) {
                        Ok(objects) => {
                            let handles = objects.iter().map(|o| o.handle).collect();
                            let key = objects[0].key.clone();
                            for o in objects {
                                t.objects.insert(o.handle, Arc::new(o));
                            }
                            t.keys[i] = Some(Resolved {
                                arn: found.key.arn.clone(),
                                key,
                                handles,
                            });
                            t.errors[i] = None;
                        }
                        Err(e) => {
                            log_at!(
                                Warn,
                                "token '{}': key {} left out: {e}",
                                self.label,
                                config.reference()
                            );
                            if let (Some(path), Some(_)) = (&found.entry, &found.cached) {
                                DiskCache::forget(path);
                            }
                            t.errors[i] = Some(e.reason.unwrap_or_default());
                        }
                    }
                }
                Err(e) if e.is_transient() => {
                    log_at!(
                        Warn,
                        "token '{}': key {} not refreshed: {e}",
                        self.label,
                        config.reference()
                    );
                }
                Err(e) => {
                    log_at!(
                        Error,
                        "token '{}': key {} left out: {e}",
                        self.label,
                        config.reference()
                    );
                    if let Some(old) = t.keys[i].take() {
                        for h in old.handles {
                            t.objects.remove(&h);
                        }
                    }
                    t.errors[i] = Some(e.to_string());
                }
            }
        }
        t.resolved_at = Some(resolved_at);
        Ok(())
    }

    /// The objects of configured key `i`. Their handles are the key's own
    /// (`reserved`, allocated at its first resolution): when an alias moves,
    /// the new key's objects take the old ones' handles, so an application
    /// that holds a handle (a server that found its key once) signs with the
    /// key the configuration names now, not with a handle that went invalid.
    fn make_objects(
        &self,
        i: usize,
        found: &Found,
        reserved: &mut Vec<CK_OBJECT_HANDLE>,
        next_handle: &AtomicU64,
    ) -> Result<Vec<Object>> {
        let remote = &found.key;
        let config = &self.keys[i];
        let Some(spec) =
            KeySpec::from_kms(&remote.key_spec).filter(|_| remote.key_usage == "SIGN_VERIFY")
        else {
            return Err(Error::new(
                CKR_GENERAL_ERROR,
                format!(
                    "{} is a {} {} key; only asymmetric SIGN_VERIFY keys become objects",
                    remote.arn, remote.key_spec, remote.key_usage
                ),
            ));
        };
        let label = match &config.label {
            Some(l) => l.get_ref().clone(),
            None => {
                let r = config.reference();
                match r.rsplit_once("alias/") {
                    Some((_, name)) if config.is_alias() => name.to_string(),
                    _ => remote.key_id().to_string(),
                }
            }
        };
        let id = match &config.id {
            Some(hex) => parse_hex(hex.get_ref()).unwrap_or_default(),
            None => default_id(remote.key_id()),
        };
        let mut info = KeyInfo::new(remote, spec, label, id, config.grant_tokens.clone())?;
        info.sign_target = config.reference().to_string();
        info.cache_entry = found.entry.clone();
        info.from_cache = found.cached.is_some();
        let certificate = self.certificates[i].as_ref().filter(|c| {
            let same = c.spki == info.spki;
            if !same {
                log_at!(
                    Error,
                    "certificate for {} holds another public key; left out",
                    config.reference()
                );
            }
            same
        });
        info.certificate = certificate.map(|c| c.der.clone());
        let subject = certificate.map(|c| c.subject.clone()).unwrap_or_default();
        let info = Arc::new(info);
        let mut n = 0;
        let mut handle = || {
            let h = match reserved.get(n) {
                Some(h) => *h,
                None => {
                    let h = next_handle.fetch_add(1, Ordering::Relaxed);
                    reserved.push(h);
                    h
                }
            };
            n += 1;
            h
        };
        let mut objects = vec![
            Object::private_key(handle(), info.clone(), &subject, self.pin_hash.is_some()),
            Object::public_key(handle(), info.clone(), &subject),
        ];
        if let Some(c) = certificate {
            objects.push(Object::certificate(handle(), info, c));
        }
        Ok(objects)
    }

    /// Each configured key, with its objects or why it has none.
    pub fn key_views(&self) -> Vec<KeyView> {
        let t = self.table.read();
        self.keys
            .iter()
            .enumerate()
            .map(|(i, config)| {
                let resolved = match (t.keys.get(i).and_then(Option::as_ref), t.errors.get(i)) {
                    (Some(r), _) => Ok(ResolvedKey {
                        key: r.key.clone(),
                        objects: r
                            .handles
                            .iter()
                            .filter_map(|h| t.objects.get(h).map(|o| (o.class, *h)))
                            .collect(),
                    }),
                    (None, Some(Some(e))) => Err(e.clone()),
                    (None, _) => Err("not resolved".to_string()),
                };
                KeyView {
                    reference: config.reference().to_string(),
                    resolved,
                }
            })
            .collect()
    }

    /// Whether private objects are visible: the token has no PIN, or the
    /// user is logged in.
    pub fn private_visible(&self) -> bool {
        self.pin_hash.is_none() || self.logged_in.lock().is_some()
    }

    /// An object the session may see (private objects only after login).
    pub fn object(&self, handle: CK_OBJECT_HANDLE) -> Option<Arc<Object>> {
        let o = self.table.read().objects.get(&handle).cloned()?;
        (!o.private || self.private_visible()).then_some(o)
    }

    /// Handles of the objects matching a template, in handle order.
    pub fn find(&self, template: &[(CK_ATTRIBUTE_TYPE, Vec<u8>)]) -> Vec<CK_OBJECT_HANDLE> {
        let private = self.private_visible();
        self.table
            .read()
            .objects
            .values()
            .filter(|o| (private || !o.private) && o.matches(template))
            .map(|o| o.handle)
            .collect()
    }
}

/// Resolves keys concurrently: from the disk cache where it has a usable
/// entry, else with GetPublicKey. What KMS said is written to the cache
/// afterwards, on the runtime's blocking pool: the caller does not wait for
/// the files, and a process that goes on to sign has long written them by
/// the time its Sign comes back (a runtime shut down by C_Finalize finishes
/// the writes first; a process that exits without it may leave them out,
/// which costs the next process a GetPublicKey, nothing more).
pub async fn resolve_all(
    backend: Arc<dyn Backend>,
    cache: Option<DiskCache>,
    alias_ttl: Duration,
    wanted: Vec<Wanted>,
) -> Answers {
    let mut set = tokio::task::JoinSet::new();
    for w in wanted {
        let backend = backend.clone();
        let cache = cache.clone();
        set.spawn(async move {
            let scope = match &cache {
                Some(_) => backend.cache_scope(&w.reference).await,
                None => None,
            };
            let entry = match (&cache, &scope) {
                (Some(c), Some(scope)) => Some(c.path(scope, &w.reference)),
                _ => None,
            };
            if let (Some(c), Some(scope)) = (&cache, &scope) {
                let max_age = w.is_alias.then_some(alias_ttl);
                if let Some(hit) = c.load(scope, &w.reference, max_age) {
                    if KeyRef::parse(&w.reference).is_ok_and(|r| hit.key.is_named_by(&r)) {
                        let found = Found {
                            key: hit.key,
                            cached: Some(hit.age),
                            entry: Some(hit.path),
                        };
                        return (w.index, Ok(found), None);
                    }
                    // Well-formed, but not the key the configuration names
                    // (another key's entry, edited or restored from
                    // elsewhere): never used, and replaced by KMS's answer.
                    log_at!(
                        Warn,
                        "cache: the entry for {} names {}, which is not that key; dropped",
                        w.reference,
                        hit.key.arn
                    );
                    DiskCache::forget(&hit.path);
                }
            }
            let answer = backend
                .get_public_key(&w.reference, &w.grant_tokens)
                .await
                .and_then(|key| {
                    // The same rule for KMS's own answer: an endpoint that
                    // answers for a key ID with another key is not believed.
                    if KeyRef::parse(&w.reference).is_ok_and(|r| key.is_named_by(&r)) {
                        Ok(key)
                    } else {
                        Err(BackendError {
                            failure: Failure::WrongKey,
                            code: "WrongKey".into(),
                            message: format!(
                                "GetPublicKey for {} answered with the key {}",
                                w.reference, key.arn
                            ),
                            request_id: None,
                        })
                    }
                });
            let to_store = match (scope, &answer) {
                (Some(scope), Ok(key)) => Some((scope, w.reference, key.clone())),
                _ => None,
            };
            let found = answer.map(|key| Found {
                key,
                cached: None,
                entry,
            });
            (w.index, found, to_store)
        });
    }
    let mut out = Vec::new();
    let mut to_store = Vec::new();
    while let Some(r) = set.join_next().await {
        if let Ok((index, answer, store)) = r {
            out.push((index, answer));
            to_store.extend(store);
        }
    }
    if let (Some(c), false) = (cache, to_store.is_empty()) {
        tokio::task::spawn_blocking(move || {
            for (scope, reference, key) in to_store {
                c.store(&scope, &reference, &key);
            }
        });
    }
    out
}
