//! `apply`: KMS's (or the cache's) answers become the token's objects.

use super::{Answers, Found};
use crate::backend::{BackendError, RemoteKey};
use crate::cache::DiskCache;
use crate::config::parse_hex;
use crate::error::{Error, Result};
use crate::keyref::KeyRef;
use crate::log_at;
use crate::token::key::{default_id, KeyInfo, PublicParts};
use crate::token::object::Object;
use crate::token::slot::{Entry, ResolvedKey, Slot, Table};
use crate::vocabulary::{KeySpec, KeyUsage};
use cryptoki_sys::*;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

impl Slot {
    fn unreachable(&self, why: String) -> Error {
        let e = Error::new(
            CKR_DEVICE_ERROR,
            format!("token '{}': cannot reach KMS: {why}", self.label),
        );
        log_at!(Error, "{e}");
        e
    }

    /// Turns KMS's (or the cache's) answers into the token's objects.
    pub(super) fn apply(
        &self,
        first: bool,
        answers: Result<Answers>,
        next_handle: &AtomicU64,
    ) -> Result<()> {
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
            let some_resolved = answers.iter().any(|(_, r)| r.is_ok());
            if let Some((_, Err(e))) = answers
                .iter()
                .find(|(_, r)| matches!(r, Err(e) if e.is_transient()))
            {
                if !(self.partial_first && some_resolved) {
                    return Err(self.unreachable(e.to_string()));
                }
            }
        }
        // Keys resolve concurrently; objects are made in configuration
        // order, so handles and C_FindObjects order are the same in every
        // process (clients that take "the first private key" stay stable).
        answers.sort_by_key(|(i, _)| *i);
        let mut t = self.table.write();
        let resolved_at = resolved_at(&t, &answers);
        for (i, answer) in answers {
            t.entries[i].stale = false;
            match answer {
                Ok(found) => self.apply_found(&mut t, i, &found, next_handle),
                Err(e) => {
                    // Not reached: asked about again at the next refresh.
                    t.entries[i].stale = e.is_transient() && t.entries[i].resolved.is_none();
                    self.apply_failure(&mut t, i, e);
                }
            }
        }
        t.resolved_at = Some(resolved_at);
        Ok(())
    }

    pub(in crate::token) fn apply_found(
        &self,
        t: &mut Table,
        i: usize,
        found: &Found,
        next_handle: &AtomicU64,
    ) {
        let reference = t.entries[i].config.reference().to_string();
        let remote = &found.key;
        log_at!(
            Debug,
            "token '{}': {reference} is {} ({})",
            self.label,
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
                "{reference} now names {} (was {}); its objects keep their handles",
                remote.arn,
                old.key.arn
            );
        }
        match self.make_objects(&mut t.entries[i], found, next_handle) {
            Ok((key, objects)) => {
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
                    "token '{}': key {reference} left out: {e}",
                    self.label
                );
                if let (Some(path), Some(_)) = (&found.entry, &found.cached) {
                    DiskCache::forget(path);
                }
                t.entries[i].error = Some(e.reason.unwrap_or_default());
            }
        }
    }

    fn apply_failure(&self, t: &mut Table, i: usize, e: BackendError) {
        let reference = t.entries[i].config.reference().to_string();
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

    /// The objects of key `entry`. Their handles are the key's own
    /// (`reserved`, allocated at its first resolution): when an alias moves,
    /// the new key's objects take the old ones' handles, so an application
    /// that holds a handle (a server that found its key once) signs with the
    /// key the configuration names now, not with a handle that went invalid.
    fn make_objects(
        &self,
        entry: &mut Entry,
        found: &Found,
        next_handle: &AtomicU64,
    ) -> Result<(Arc<KeyInfo>, Vec<Object>)> {
        let info = key_info(entry, found)?;
        let reference = entry.config.reference();
        let certificate = entry.certificate.as_ref().filter(|c| {
            let same = c.spki == info.spki;
            if info.parts == PublicParts::Secret {
                log_at!(
                    Error,
                    "{reference} is a secret ({}) key, which has no certificate; certificate left out",
                    info.spec.as_kms()
                );
            } else if !same {
                log_at!(
                    Error,
                    "certificate for {reference} holds another public key; left out"
                );
            }
            same
        });
        let mut info = info;
        info.managed = self.management.allowed;
        info.certificate = certificate.map(|c| c.der.clone());
        let subject = certificate.map(|c| c.subject.clone()).unwrap_or_default();
        let info = Arc::new(info);
        let reserved = &mut entry.reserved;
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
        if info.parts == PublicParts::Secret {
            return Ok((
                info.clone(),
                vec![Object::secret_key(handle(), info, private)],
            ));
        }
        let mut objects = vec![
            Object::private_key(handle(), info.clone(), &subject, private),
            Object::public_key(handle(), info.clone(), &subject),
        ];
        if let Some(c) = certificate {
            objects.push(Object::certificate(handle(), info.clone(), c));
        }
        Ok((info, objects))
    }
}

/// An alias answered from the cache is as old as its entry: the next
/// refresh comes when the oldest such entry reaches the interval.
fn resolved_at(t: &Table, answers: &Answers) -> Instant {
    let now = Instant::now();
    answers
        .iter()
        .filter(|(i, _)| t.entries[*i].config.is_alias())
        .filter_map(|(_, r)| r.as_ref().ok()?.cached)
        .max()
        .and_then(|age| now.checked_sub(age))
        .unwrap_or(now)
}

/// The key of `entry` as KMS (or the cache) described it, with its label
/// and CKA_ID.
fn key_info(entry: &Entry, found: &Found) -> Result<KeyInfo> {
    let remote = &found.key;
    let config = &entry.config;
    let usage = KeyUsage::from_kms(&remote.key_usage);
    let spec = KeySpec::from_kms(&remote.key_spec);
    let (Some(spec), Some(usage)) = (
        spec,
        usage.filter(|u| spec.is_some_and(|s| s.row().usages.contains(u))),
    ) else {
        return Err(Error::new(
            CKR_GENERAL_ERROR,
            format!(
                "{} is a {} {} key; asymmetric SIGN_VERIFY keys, RSA ENCRYPT_DECRYPT \
                 keys and HMAC keys become objects",
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
    let mut info = KeyInfo::new(remote, spec, usage, label, id, config.grant_tokens.clone())?;
    info.sign_target = config.reference().to_string();
    info.alias = entry.alias_name().unwrap_or_default();
    info.cache_entry = found.entry.clone();
    info.from_cache = found.cached.is_some();
    Ok(info)
}

impl Slot {
    /// Adds a key this process made (C_GenerateKeyPair, C_GenerateKey) and
    /// its objects: (class, handle) of each.
    pub(in crate::token) fn add_key(
        &self,
        entry: Entry,
        found: &Found,
        next_handle: &AtomicU64,
    ) -> Result<Vec<(CK_OBJECT_CLASS, CK_OBJECT_HANDLE)>> {
        let mut t = self.table.write();
        t.entries.push(entry);
        let i = t.entries.len() - 1;
        self.apply_found(&mut t, i, found, next_handle);
        match (&t.entries[i].resolved, &t.entries[i].error) {
            (Some(r), _) => Ok(r.objects.clone()),
            (None, why) => Err(Error::new(
                CKR_DEVICE_ERROR,
                why.clone()
                    .unwrap_or_else(|| "the new key has no objects".into()),
            )),
        }
    }

    /// Takes the objects of `key` out of the token for good (its KMS key is
    /// pending deletion): the alias that named it here, if any.
    pub(in crate::token) fn retire(&self, key: &Arc<KeyInfo>) -> Option<String> {
        let mut t = self.table.write();
        let i = t.index_of(key)?;
        t.drop_objects(i);
        t.entries[i].retired = true;
        t.entries[i].alias_name()
    }
}

impl Slot {
    /// The alias naming `key` here, if any.
    pub(in crate::token) fn alias_of(&self, key: &Arc<KeyInfo>) -> Option<String> {
        let t = self.table.read();
        let i = t.index_of(key)?;
        t.entries[i].alias_name()
    }

    /// Gives `key` a new label and alias (its objects are made again, with
    /// the same handles). Returns the configured reference that named the
    /// old alias, which later processes will not find, if there was one.
    pub(in crate::token) fn relabel(
        &self,
        key: &Arc<KeyInfo>,
        label: &str,
        alias: &str,
        next_handle: &AtomicU64,
    ) -> Result<Option<String>> {
        self.rebuild(key, next_handle, |entry| {
            let mut stale_reference = None;
            if let Some(old) = entry.config.key_ref().alias_name().map(str::to_string) {
                let old_reference = entry.config.reference().to_string();
                let new_reference = old_reference.replace(&old, alias);
                let parsed = KeyRef::parse(&new_reference)
                    .map_err(|e| Error::new(CKR_GENERAL_ERROR, e.to_string()))?;
                entry.config.key = toml::Spanned::new(0..0, parsed);
                stale_reference = Some(old_reference);
            } else {
                entry.alias = Some(alias.to_string());
            }
            entry.config.label = Some(toml::Spanned::new(0..0, label.to_string()));
            Ok(stale_reference)
        })
    }

    /// Gives `key` a new CKA_ID in this process (its objects are made
    /// again, with the same handles).
    pub(in crate::token) fn set_id(
        &self,
        key: &Arc<KeyInfo>,
        id: &[u8],
        next_handle: &AtomicU64,
    ) -> Result<()> {
        self.rebuild(key, next_handle, |entry| {
            let hex = data_encoding::HEXLOWER.encode(id);
            entry.config.id = Some(toml::Spanned::new(0..0, hex));
            Ok(())
        })
    }

    /// Changes the entry holding `key`, then makes its objects again from
    /// the same KMS key (handles kept).
    fn rebuild<R>(
        &self,
        key: &Arc<KeyInfo>,
        next_handle: &AtomicU64,
        change: impl FnOnce(&mut Entry) -> Result<R>,
    ) -> Result<R> {
        let mut t = self.table.write();
        let i = t
            .index_of(key)
            .ok_or_else(|| Error::from(CKR_OBJECT_HANDLE_INVALID))?;
        let out = change(&mut t.entries[i])?;
        let found = Found {
            key: RemoteKey {
                arn: key.arn.clone(),
                key_spec: key.spec.as_kms().to_string(),
                key_usage: key.usage.as_kms().to_string(),
                public_key: key.spki.clone(),
            },
            cached: None,
            entry: key.cache_entry.clone(),
        };
        t.drop_objects(i);
        self.apply_found(&mut t, i, &found, next_handle);
        Ok(out)
    }
}
