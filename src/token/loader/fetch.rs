//! `fetch`: every wanted key at once, from the disk cache where it has a
//! usable entry, else one GetPublicKey each.

use super::{Answers, Found, Sources, Wanted};
use crate::backend::{Backend, BackendError, Failure, RemoteKey};
use crate::cache::DiskCache;
use crate::keyref::KeyRef;
use crate::log_at;
use crate::token::failover::{arn_in_region, fails_over, Regions};
use crate::vocabulary::{Family, KeySpec};
use std::time::Duration;

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
        regions,
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
    // A fallback region's answer is used, never cached: the cache's scope
    // is the key's own region.
    let (answer, cacheable) = match from_kms(&*backend, &w).await {
        Err(e) if fails_over(&e) => match elsewhere(&*backend, &regions, &w).await {
            Some(key) => (Ok(key), false),
            None => (Err(e), true),
        },
        answer => (answer, true),
    };
    if let Ok(key) = &answer {
        if cacheable && regions.claim_check(&key.arn) {
            let (regions, backend, key) = (regions.clone(), backend.clone(), key.clone());
            let grants = w.grant_tokens.clone();
            tokio::spawn(async move { regions.check_replicas(&*backend, &key, &grants).await });
        }
    }
    let to_store = match (scope, &answer) {
        (Some(scope), Ok(key)) if cacheable => Some((scope, w.reference.clone(), key.clone())),
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
    if hit.key.is_named_by(&w.key) {
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

/// A multi-Region key whose own region fails, resolved in the fallback
/// regions in order: its key ID or alias name asked there, or its ARN moved
/// there (aliases are per region: one must exist in each region where it
/// should resolve). A single-Region key (a key ID or ARN not `mrk-`) has
/// nowhere else to be.
async fn elsewhere(backend: &dyn Backend, regions: &Regions, w: &Wanted) -> Option<RemoteKey> {
    let single = w.key.key_id().is_some_and(|id| !id.starts_with("mrk-"));
    if single {
        return None;
    }
    let home = regions.home_of(&w.reference, "");
    for region in regions.fallbacks().filter(|r| Some(*r) != home.as_deref()) {
        let there = if w.reference.starts_with("arn:") {
            match arn_in_region(&w.reference, region) {
                Some(arn) => arn,
                None => continue,
            }
        } else {
            w.reference.clone()
        };
        let Ok(named) = KeyRef::parse(&there) else {
            continue;
        };
        match backend
            .get_public_key_in(region, &there, &w.grant_tokens)
            .await
        {
            Ok(key)
                if key.is_named_by(&named) && crate::token::failover::is_multi_region(&key.arn) =>
            {
                log_at!(
                    Warn,
                    "{} resolved in {region}: its own region does not answer",
                    w.reference
                );
                return Some(key);
            }
            Ok(key) => log_at!(
                Warn,
                "{} in {region} is {}, not a replica of a multi-Region key; not used",
                w.reference,
                key.arn
            ),
            Err(e) => log_at!(Info, "{} in {region}: {e}", w.reference),
        }
    }
    None
}

/// GetPublicKey, with the cache's rule for KMS's own answer: an endpoint
/// that answers for a key ID with another key is not believed. A key
/// GetPublicKey cannot describe (a symmetric one) is asked about with
/// DescribeKey: an HMAC key's objects need only its spec and usage.
async fn from_kms(
    backend: &dyn Backend,
    w: &Wanted,
) -> std::result::Result<RemoteKey, BackendError> {
    let key = match backend.get_public_key(&w.reference, &w.grant_tokens).await {
        Err(e) if e.code == "UnsupportedOperationException" => {
            let meta = backend.describe_key(&w.reference, &w.grant_tokens).await?;
            if !KeySpec::from_kms(&meta.key_spec)
                .is_some_and(|s| matches!(s.family(), Family::Hmac(_)))
            {
                return Err(e);
            }
            RemoteKey {
                arn: meta.arn,
                key_spec: meta.key_spec,
                key_usage: meta.key_usage,
                public_key: Vec::new(),
            }
        }
        answer => answer?,
    };
    if key.is_named_by(&w.key) {
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
