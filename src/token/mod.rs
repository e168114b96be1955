//! PKCS#11 semantics in safe Rust. `ffi` converts C arguments and calls
//! `Module`'s methods; nothing here sees a pointer. `Module` is spread over
//! files by job:
//!
//! - `mod.rs`: the module's state (slots, sessions, the runtime, the
//!   backend) and the loading of tokens through `loader`;
//! - `info.rs`: slot, token and session information, sessions opened and
//!   closed;
//! - `login.rs`: the PIN and who is logged in (a token's `Login`);
//! - `find.rs`: object search and attributes;
//! - `sign.rs`: sign and verify operations and the one KMS call per
//!   signature, with its audit line;
//! - `cipher.rs`: RSA-OAEP decryption (one KMS Decrypt) and encryption
//!   (local, with the public key);
//! - `random.rs`: C_GenerateRandom from KMS's GenerateRandom;
//! - `mac.rs`: HMAC through GenerateMac and VerifyMac;
//! - `keygen/`: key generation and retirement (CreateKey, CreateAlias,
//!   ScheduleKeyDeletion), when the token allows it;
//! - `derive.rs`, `template.rs`: ECDH through DeriveSharedSecret, and the
//!   session secret keys it makes;
//! - `slot.rs` (a token's keys and objects), `loader/` (plan, fetch and
//!   apply its keys), `session.rs` (a session and its operations),
//!   `object.rs`, `key.rs`, `certificate.rs`, `verify.rs`.

pub mod certificate;
pub mod certstore;
pub mod cipher;
mod create;
mod derive;
pub mod failover;
mod find;
mod info;
pub mod key;
mod keygen;
pub mod loader;
pub mod login;
mod mac;
pub mod object;
mod random;
pub mod session;
mod sign;
pub mod slot;
mod template;
pub mod verify;

#[cfg(feature = "aws")]
use crate::backend::kms::KmsBackend;
use crate::backend::Backend;
use crate::cache::DiskCache;
use crate::config::{AwsConfig, Config};
use crate::error::{Error, Result};
use crate::log_at;
use crate::runtime::Executor;
use cryptoki_sys::*;
pub use info::pad;
use loader::Sources;
use session::{Session, Sessions};
use slot::Slot;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

pub struct Module {
    /// The process that initialised this state; any other (a fork child)
    /// must call C_Initialize again.
    pub pid: u32,
    /// Started by the first KMS call, not by C_Initialize: a process that
    /// initialises and forks, or never signs, has no threads of ours.
    runtime: std::sync::OnceLock<Executor>,
    backend: Arc<dyn Backend>,
    pub slots: Vec<Arc<Slot>>,
    sessions: Sessions,
    /// Shared with background refreshes, which make objects too.
    next_object: Arc<AtomicU64>,
    /// The longest a KMS call may take, retries included.
    deadline: Duration,
    /// The on-disk public-key cache, unless turned off.
    cache: Option<DiskCache>,
    alias_ttl: Duration,
    /// Check each signature from KMS before handing it out.
    verify_signatures: bool,
    /// Multi-Region failover: the fallback regions and their health.
    regions: Arc<failover::Regions>,
}

/// How long the module waits for a KMS call: the SDK's own budget, and a
/// margin so that the SDK's timeout, not ours, is what normally fires.
fn deadline(aws: &AwsConfig) -> Duration {
    aws.operation_budget() + Duration::from_secs(2)
}

impl Drop for Module {
    fn drop(&mut self) {
        if let Some(ex) = self.runtime.take() {
            ex.shutdown();
        }
    }
}

impl Module {
    /// Builds the state from a configuration. No network call.
    #[cfg(feature = "aws")]
    pub fn new(config: Config) -> Result<Module> {
        let backend: Arc<dyn Backend> = Arc::new(KmsBackend::new(config.aws.clone()));
        Module::with_backend(config, backend)
    }

    pub fn with_backend(config: Config, backend: Arc<dyn Backend>) -> Result<Module> {
        let refresh = Duration::from_secs(config.aws.alias_refresh_seconds);
        let cache = config
            .cache
            .enabled
            .then(|| config.cache.dir.clone().or_else(DiskCache::default_dir))
            .flatten()
            .map(DiskCache::new);
        let slots = config
            .tokens
            .into_iter()
            .enumerate()
            .map(|(i, t)| {
                let management = t.management();
                let pin_hash = t.pin_hash.map(|h| h.into_inner());
                let mut slot = Slot::new(
                    i as CK_SLOT_ID,
                    t.label.into_inner(),
                    t.keys,
                    refresh,
                    pin_hash,
                    management,
                );
                slot.partial_first = !config.aws.fallback_regions.is_empty();
                Arc::new(slot)
            })
            .collect();
        Ok(Module {
            pid: std::process::id(),
            runtime: std::sync::OnceLock::new(),
            backend,
            slots,
            sessions: Sessions::default(),
            next_object: Arc::new(AtomicU64::new(1)),
            deadline: deadline(&config.aws),
            cache,
            alias_ttl: refresh,
            verify_signatures: config.signing.verify_signatures,
            regions: Arc::new(
                failover::Regions::new(
                    config.aws.region.clone().or_else(|| {
                        crate::config::env_var("AWS_REGION").and_then(|r| r.into_string().ok())
                    }),
                    config.aws.fallback_regions.clone(),
                    config.aws.max_attempts,
                )
                .verifying(config.signing.verify_signatures)
                .hedging(config.signing.hedge_after_ms),
            ),
        })
    }

    fn runtime(&self) -> Result<&Executor> {
        if let Some(ex) = self.runtime.get() {
            return Ok(ex);
        }
        let ex = Executor::new()?;
        // Another thread may have won the race; its runtime is kept.
        if let Err(ours) = self.runtime.set(ex) {
            ours.shutdown_background();
        }
        Ok(self.runtime.get().expect("set above or by the winner"))
    }

    pub fn slot(&self, id: CK_SLOT_ID) -> Result<&Arc<Slot>> {
        usize::try_from(id)
            .ok()
            .and_then(|i| self.slots.get(i))
            .ok_or_else(|| CKR_SLOT_ID_INVALID.into())
    }

    fn session(&self, h: CK_SESSION_HANDLE) -> Result<Arc<Session>> {
        self.sessions.get(h)
    }

    /// Checks that a session exists (the calls that check it before their
    /// arguments, as PKCS#11 orders the checks).
    pub fn check_session(&self, h: CK_SESSION_HANDLE) -> Result<()> {
        self.session(h).map(|_| ())
    }

    fn sources(&self) -> Sources {
        Sources {
            backend: self.backend.clone(),
            regions: self.regions.clone(),
            cache: self.cache.clone(),
            alias_ttl: self.alias_ttl,
        }
    }

    /// The regions a resolved key may sign in (`failover::Regions::reach`):
    /// `None` when it does not fail over.
    pub fn regions_of(&self, key: &key::KeyInfo) -> Option<Vec<String>> {
        self.regions.reach(&key.arn, &key.sign_target)
    }

    /// Whether `[aws] fallback_regions` names any region.
    pub fn fails_over(&self) -> bool {
        self.regions.fallbacks().next().is_some()
    }

    /// Resolves a token's keys now (the `kms11` command lists them).
    pub fn resolve_token(&self, id: CK_SLOT_ID) -> Result<()> {
        self.resolve(self.slot(id)?)
    }

    /// Called by C_OpenSession and C_FindObjectsInit: when the token is
    /// resolved and fresh, nothing but that check is done.
    fn resolve(&self, slot: &Slot) -> Result<()> {
        if let Some(prefix) = slot.discovery_due() {
            self.discover(slot, prefix);
        }
        self.resolve_keys(slot)?;
        if slot.load_stored(&self.next_object) {
            // Keys of stored certificates, now part of the token.
            self.resolve_keys(slot)?;
        }
        Ok(())
    }

    /// The token's keys, resolved (or refreshed) as `Slot::ensure_resolved`
    /// says.
    fn resolve_keys(&self, slot: &Slot) -> Result<()> {
        slot.ensure_resolved(
            |wanted| {
                let fetching = loader::fetch(self.sources(), wanted);
                self.runtime()?.run(self.deadline, fetching)
            },
            &self.next_object,
        )
    }

    /// C_SignInit's freshness check: when the token's aliases are due for a
    /// refresh (or KMS contradicted a key), the refresh runs on the runtime
    /// while C_SignInit goes on with the objects it has, so it never waits
    /// for a network round trip. The operation it starts keeps its key; the
    /// next C_SignInit, with the same handle, gets the refreshed key. The
    /// task is the runtime's: C_Finalize cancels it with the runtime (the
    /// token's state it holds is reference-counted), and a forked child
    /// never sees it.
    fn refresh_in_background(&self, slot: usize) {
        let slot = &self.slots[slot];
        let Some((refreshing, wanted)) = slot.background_refresh() else {
            return;
        };
        let Ok(runtime) = self.runtime() else {
            return;
        };
        let (sources, slot, next, deadline) = (
            self.sources(),
            slot.clone(),
            self.next_object.clone(),
            self.deadline,
        );
        runtime.spawn(async move {
            let _refreshing = refreshing;
            let fetching = loader::fetch(sources, wanted);
            let answers = tokio::time::timeout(deadline, fetching).await.map_err(|_| {
                Error::new(
                    CKR_DEVICE_ERROR,
                    format!("no answer from KMS within {} ms", deadline.as_millis()),
                )
            });
            slot.apply_refresh(answers, &next);
        });
    }

    /// `discover_aliases`: the token takes in the aliases that start with
    /// the prefix (ListAliases), before a resolution or refresh asks KMS
    /// what they name. A failure keeps the keys the token has.
    fn discover(&self, slot: &Slot, prefix: String) {
        let backend = self.backend.clone();
        // In the configured region (a reference with no region of its own).
        let listed = self.runtime().and_then(|rt| {
            rt.run(self.deadline, async move {
                backend.list_aliases(&prefix, "").await
            })
        });
        match listed {
            Ok(Ok(names)) => slot.add_discovered(names),
            Ok(Err(e)) => log_at!(
                Error,
                "token '{}': listing the aliases to discover failed (kms:ListAliases): {e}",
                slot.label
            ),
            Err(e) => log_at!(
                Error,
                "token '{}': listing the aliases to discover failed: {e}",
                slot.label
            ),
        }
    }

    /// DescribeKey through the module's backend and runtime.
    pub fn describe_key(
        &self,
        key: &str,
        grant_tokens: &[String],
    ) -> Result<crate::backend::KeyMetadata> {
        let backend = self.backend.clone();
        let (key, grants) = (key.to_string(), grant_tokens.to_vec());
        self.runtime()?
            .run(self.deadline, async move {
                backend.describe_key(&key, &grants).await
            })?
            .map_err(Error::from)
    }
}
