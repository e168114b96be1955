//! Loading a token's keys in three steps: `plan` (which configured keys to
//! ask about: all of them the first time, then aliases due for a refresh
//! and keys KMS contradicted), `fetch` (all of them concurrently, from the
//! disk cache where it has a usable entry, else one GetPublicKey each), and
//! `apply` (answers become objects, in configuration order, each key
//! keeping its handles across alias moves).

use super::key::{default_id, KeyInfo};
use super::object::Object;
use super::slot::{ResolvedKey, Slot, Table};
use crate::backend::{arn_matches_reference, Backend, BackendError, Failure, RemoteKey};
use crate::cache::DiskCache;
use crate::config::{parse_hex, KeyConfig};
use crate::error::{Error, Result};
use crate::log_at;
use crate::vocabulary::{KeySpec, KeyUsage};
use cryptoki_sys::*;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

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

/// Where answers come from: the backend, the cache, and how long an alias
/// answered from the cache is believed.
#[derive(Clone)]
pub struct Sources {
    pub backend: Arc<dyn Backend>,
    pub cache: Option<DiskCache>,
    pub alias_ttl: Duration,
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

/// Which configured keys a resolution asks about.
enum Plan {
    /// Every key: the token's first resolution.
    All,
    /// Aliases, and keys marked stale.
    Refresh,
}

impl Slot {
    /// The keys to ask about; `None` for a refresh of a fresh token.
    fn plan(&self, plan: Plan) -> Option<Vec<Wanted>> {
        let t = self.table.read();
        let pick = |i: usize, k: &KeyConfig| match plan {
            Plan::All => true,
            Plan::Refresh => k.is_alias() || t.entries.get(i).is_some_and(|e| e.stale),
        };
        if matches!(plan, Plan::Refresh) && self.fresh(&t) {
            return None;
        }
        let wanted = self.keys.iter().enumerate().filter(|(i, k)| pick(*i, k));
        Some(
            wanted
                .map(|(i, k)| Wanted {
                    index: i,
                    reference: k.reference().to_string(),
                    grant_tokens: k.grant_tokens.clone(),
                    is_alias: k.is_alias(),
                })
                .collect(),
        )
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
        let wanted = self.plan(Plan::Refresh)?;
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
            let Some(wanted) = self.plan(Plan::Refresh) else {
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
        let wanted = self.plan(Plan::All).unwrap_or_default();
        self.apply(true, resolve(wanted), next_handle)
    }

    fn unreachable(&self, why: String) -> Error {
        let e = Error::new(
            CKR_DEVICE_ERROR,
            format!("token '{}': cannot reach KMS: {why}", self.label),
        );
        log_at!(Error, "{e}");
        e
    }

    /// Turns KMS's (or the cache's) answers into the token's objects.
    fn apply(&self, first: bool, answers: Result<Answers>, next_handle: &AtomicU64) -> Result<()> {
        let mut answers = match answers {
            Ok(answers) => answers,
            Err(e) if first => return Err(self.unreachable(e.to_string())),
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
                t.entries.iter_mut().for_each(|e| e.stale = false);
                return Ok(());
            }
        };
        if first {
            if let Some((_, Err(e))) = answers
                .iter()
                .find(|(_, r)| matches!(r, Err(e) if e.is_transient()))
            {
                return Err(self.unreachable(e.to_string()));
            }
        }
        // Keys resolve concurrently; objects are made in configuration
        // order, so handles and C_FindObjects order are the same in every
        // process (clients that take "the first private key" stay stable).
        answers.sort_by_key(|(i, _)| *i);
        let resolved_at = self.resolved_at(&answers);
        let mut t = self.table.write();
        if t.entries.len() != self.keys.len() {
            t.entries = self.keys.iter().map(|_| Default::default()).collect();
        }
        for (i, answer) in answers {
            t.entries[i].stale = false;
            match answer {
                Ok(found) => self.apply_found(&mut t, i, &found, next_handle),
                Err(e) => self.apply_failure(&mut t, i, e),
            }
        }
        t.resolved_at = Some(resolved_at);
        Ok(())
    }

    /// An alias answered from the cache is as old as its entry: the next
    /// refresh comes when the oldest such entry reaches the interval.
    fn resolved_at(&self, answers: &Answers) -> Instant {
        let now = Instant::now();
        answers
            .iter()
            .filter(|(i, _)| self.keys[*i].is_alias())
            .filter_map(|(_, r)| r.as_ref().ok()?.cached)
            .max()
            .and_then(|age| now.checked_sub(age))
            .unwrap_or(now)
    }

    fn apply_found(&self, t: &mut Table, i: usize, found: &Found, next_handle: &AtomicU64) {
        let config = &self.keys[i];
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
        let same = t.entries[i]
            .resolved
            .as_ref()
            .is_some_and(|r| r.key.arn == remote.arn && r.key.spki == remote.public_key);
        if same {
            return;
        }
        if let Some(old) = t.drop_objects(i) {
            log_at!(
                Info,
                "{} now names {} (was {}); its objects keep their handles",
                config.reference(),
                remote.arn,
                old.key.arn
            );
        }
        match self.make_objects(i, found, &mut t.entries[i].reserved, next_handle) {
            Ok(objects) => {
                let key = objects[0].key.clone();
                let classes = objects.iter().map(|o| (o.class, o.handle)).collect();
                for o in objects {
                    t.objects.insert(o.handle, Arc::new(o));
                }
                t.entries[i].resolved = Some(ResolvedKey {
                    key,
                    objects: classes,
                });
                t.entries[i].error = None;
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
                t.entries[i].error = Some(e.reason.unwrap_or_default());
            }
        }
    }

    fn apply_failure(&self, t: &mut Table, i: usize, e: BackendError) {
        let reference = self.keys[i].reference();
        if e.is_transient() {
            log_at!(
                Warn,
                "token '{}': key {reference} not refreshed: {e}",
                self.label
            );
            return;
        }
        log_at!(
            Error,
            "token '{}': key {reference} left out: {e}",
            self.label
        );
        t.drop_objects(i);
        t.entries[i].error = Some(e.to_string());
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
        let info = self.key_info(i, found)?;
        let certificate = self.certificates[i].as_ref().filter(|c| {
            let same = c.spki == info.spki;
            if !same {
                log_at!(
                    Error,
                    "certificate for {} holds another public key; left out",
                    self.keys[i].reference()
                );
            }
            same
        });
        let mut info = info;
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
        let private = self.login.has_pin();
        let mut objects = vec![
            Object::private_key(handle(), info.clone(), &subject, private),
            Object::public_key(handle(), info.clone(), &subject),
        ];
        if let Some(c) = certificate {
            objects.push(Object::certificate(handle(), info, c));
        }
        Ok(objects)
    }

    /// The key of configured key `i` as KMS (or the cache) described it,
    /// with its label and CKA_ID.
    fn key_info(&self, i: usize, found: &Found) -> Result<KeyInfo> {
        let remote = &found.key;
        let config = &self.keys[i];
        let usable = KeyUsage::from_kms(&remote.key_usage) == Some(KeyUsage::SignVerify);
        let Some(spec) = KeySpec::from_kms(&remote.key_spec).filter(|_| usable) else {
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
            None => match config.reference().rsplit_once("alias/") {
                Some((_, name)) if config.is_alias() => name.to_string(),
                _ => remote.key_id().to_string(),
            },
        };
        let id = match &config.id {
            Some(hex) => parse_hex(hex.get_ref()).unwrap_or_default(),
            None => default_id(remote.key_id()),
        };
        let mut info = KeyInfo::new(remote, spec, label, id, config.grant_tokens.clone())?;
        info.sign_target = config.reference().to_string();
        info.cache_entry = found.entry.clone();
        info.from_cache = found.cached.is_some();
        Ok(info)
    }
}

/// What one key's fetch gives: its index, its answer, and what to write to
/// the cache afterwards.
type Fetched = (
    usize,
    std::result::Result<Found, BackendError>,
    Option<(String, String, RemoteKey)>,
);

/// Resolves keys concurrently. What KMS said is written to the cache
/// afterwards, on the runtime's blocking pool: the caller does not wait for
/// the files, and a process that goes on to sign has long written them by
/// the time its Sign comes back (a runtime shut down by C_Finalize finishes
/// the writes first; a process that exits without it may leave them out,
/// which costs the next process a GetPublicKey, nothing more).
pub async fn fetch(sources: Sources, wanted: Vec<Wanted>) -> Answers {
    let mut set = tokio::task::JoinSet::new();
    for w in wanted {
        set.spawn(fetch_one(sources.clone(), w));
    }
    let mut out = Vec::new();
    let mut to_store = Vec::new();
    while let Some(r) = set.join_next().await {
        if let Ok((index, answer, store)) = r {
            out.push((index, answer));
            to_store.extend(store);
        }
    }
    if let (Some(c), false) = (sources.cache, to_store.is_empty()) {
        tokio::task::spawn_blocking(move || {
            for (scope, reference, key) in to_store {
                c.store(&scope, &reference, &key);
            }
        });
    }
    out
}

async fn fetch_one(sources: Sources, w: Wanted) -> Fetched {
    let Sources {
        backend,
        cache,
        alias_ttl,
    } = sources;
    let scope = match &cache {
        Some(_) => backend.cache_scope(&w.reference).await,
        None => None,
    };
    let (cache, scope) = match (cache, scope) {
        (Some(c), Some(scope)) => (Some(c), Some(scope)),
        _ => (None, None),
    };
    if let (Some(c), Some(scope)) = (&cache, &scope) {
        if let Some(found) = from_cache(c, scope, &w, alias_ttl) {
            return (w.index, Ok(found), None);
        }
    }
    let entry = match (&cache, &scope) {
        (Some(c), Some(scope)) => Some(c.path(scope, &w.reference)),
        _ => None,
    };
    let answer = from_kms(&*backend, &w).await;
    let to_store = match (scope, &answer) {
        (Some(scope), Ok(key)) => Some((scope, w.reference.clone(), key.clone())),
        _ => None,
    };
    let found = answer.map(|key| Found {
        key,
        cached: None,
        entry,
    });
    (w.index, found, to_store)
}

/// A usable cache entry for the key: young enough for an alias, and naming
/// a key the reference can name. An entry that names another key (edited,
/// or restored from elsewhere) is never used, and is replaced by KMS's
/// answer.
fn from_cache(c: &DiskCache, scope: &str, w: &Wanted, alias_ttl: Duration) -> Option<Found> {
    let max_age = w.is_alias.then_some(alias_ttl);
    let hit = c.load(scope, &w.reference, max_age)?;
    if arn_matches_reference(&w.reference, &hit.key.arn) {
        return Some(Found {
            key: hit.key,
            cached: Some(hit.age),
            entry: Some(hit.path),
        });
    }
    log_at!(
        Warn,
        "cache: the entry for {} names {}, which is not that key; dropped",
        w.reference,
        hit.key.arn
    );
    DiskCache::forget(&hit.path);
    None
}

/// GetPublicKey, with the cache's rule for KMS's own answer: an endpoint
/// that answers for a key ID with another key is not believed.
async fn from_kms(
    backend: &dyn Backend,
    w: &Wanted,
) -> std::result::Result<RemoteKey, BackendError> {
    let key = backend
        .get_public_key(&w.reference, &w.grant_tokens)
        .await?;
    if arn_matches_reference(&w.reference, &key.arn) {
        return Ok(key);
    }
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
