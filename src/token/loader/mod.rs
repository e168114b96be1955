//! Loading a token's keys in three steps: `plan` (which configured keys to
//! ask about: all of them the first time, then aliases due for a refresh
//! and keys KMS contradicted), `fetch` (all of them concurrently, from the
//! disk cache where it has a usable entry, else one GetPublicKey each), and
//! `apply` (answers become objects, in configuration order, each key
//! keeping its handles across alias moves).

mod apply;
mod fetch;

pub use fetch::fetch;

use super::slot::{Entry, Slot};
use crate::backend::{Backend, BackendError, RemoteKey};
use crate::cache::DiskCache;
use crate::config::KeyConfig;
use crate::error::Result;
use crate::keyref::KeyRef;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// A configured key to resolve.
#[derive(Debug, Clone)]
pub struct Wanted {
    pub index: usize,
    /// The key as configured, parsed.
    pub key: KeyRef,
    /// The key as configured.
    pub reference: String,
    pub grant_tokens: Vec<String>,
    pub is_alias: bool,
}

impl Wanted {
    pub fn of(index: usize, k: &KeyConfig) -> Wanted {
        Wanted {
            index,
            key: k.key_ref().clone(),
            reference: k.reference().to_string(),
            grant_tokens: k.grant_tokens.clone(),
            is_alias: k.is_alias(),
        }
    }
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
    /// Where a multi-Region key is looked for when its region fails.
    pub regions: Arc<super::failover::Regions>,
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
        if matches!(plan, Plan::Refresh) && self.fresh(&t) {
            return None;
        }
        let pick = |e: &Entry| match plan {
            Plan::All => true,
            Plan::Refresh => e.config.is_alias() || e.stale,
        };
        Some(
            t.entries
                .iter()
                .enumerate()
                .filter(|(_, e)| !e.retired && pick(e))
                .map(|(i, e)| Wanted::of(i, &e.config))
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
}

#[cfg(test)]
mod tests;
