//! PKCS#11 semantics in safe Rust: the module's state, its slots and
//! tokens, sessions, objects, search and the sign/verify state machine.
//! `ffi` converts C arguments and calls these; nothing here sees a pointer.

pub mod certificate;
pub mod key;
pub mod object;
pub mod session;
pub mod slot;
pub mod verify;

#[cfg(feature = "aws")]
use crate::backend::kms::KmsBackend;
use crate::backend::Backend;
use crate::cache::DiskCache;
use crate::config::{AwsConfig, Config};
use crate::error::{Error, Result};
use crate::log_at;
use crate::mechanism::{Mechanism, Param};
use crate::runtime::Executor;
use cryptoki_sys::*;
use object::Object;
use parking_lot::{Mutex, RwLock};
use session::{Find, Operation, Operations, Output, Session};
use slot::Slot;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

pub struct Module {
    /// The process that initialised this state; any other (a fork child)
    /// must call C_Initialize again.
    pub pid: u32,
    pub config_source: String,
    /// Started by the first KMS call, not by C_Initialize: a process that
    /// initialises and forks, or never signs, has no threads of ours.
    runtime: std::sync::OnceLock<Executor>,
    backend: Arc<dyn Backend>,
    pub slots: Vec<Arc<Slot>>,
    sessions: RwLock<HashMap<CK_SESSION_HANDLE, Arc<Session>>>,
    next_session: AtomicU64,
    /// Shared with background refreshes, which make objects too.
    next_object: Arc<AtomicU64>,
    /// The longest a KMS call may take, retries included.
    deadline: Duration,
    /// The on-disk public-key cache, unless turned off.
    cache: Option<DiskCache>,
    alias_ttl: Duration,
    /// Check each signature from KMS before handing it out.
    verify_signatures: bool,
}

/// Blank-padded fixed-width text for the info structures.
pub fn pad<const N: usize>(s: &str) -> [u8; N] {
    let mut out = [b' '; N];
    let mut end = s.len().min(N);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    out[..end].copy_from_slice(&s.as_bytes()[..end]);
    out
}

/// Wrong PINs a token takes without delay (typing mistakes).
const FREE_LOGINS: u32 = 3;
/// The first delay after those, doubling with each wrong PIN, and its cap:
/// a guesser gets about one try in MAX_LOGIN_DELAY per process, a person
/// who mistyped waits a second or two.
const FIRST_LOGIN_DELAY: Duration = Duration::from_millis(250);
const MAX_LOGIN_DELAY: Duration = Duration::from_secs(4);

/// How long C_Login waits after `failures` wrong PINs in a row.
fn login_delay(failures: u32) -> Option<Duration> {
    let over = failures.checked_sub(FREE_LOGINS)?;
    Some(
        FIRST_LOGIN_DELAY
            .saturating_mul(1 << over.min(16))
            .min(MAX_LOGIN_DELAY),
    )
}

/// How long the module waits for a KMS call: the SDK's own budget, and a
/// margin so that the SDK's timeout, not ours, is what normally fires.
fn deadline(aws: &AwsConfig) -> Duration {
    aws.operation_budget() + Duration::from_secs(2)
}

/// What C_Sign/C_SignFinal and C_Verify/C_VerifyFinal check before doing
/// anything: an operation is active, and the call can finish it. A call that
/// cannot ends the operation, as any failure does.
fn check_finish(op: &mut Option<Operation>, final_call: bool) -> Result<()> {
    let active = op
        .as_ref()
        .ok_or(Error::from(CKR_OPERATION_NOT_INITIALIZED))?;
    let problem = if !final_call && active.updated {
        // C_Sign/C_Verify cannot finish a multi-part operation.
        Some(Error::from(CKR_OPERATION_ACTIVE))
    } else if final_call && active.hasher.is_none() {
        Some(Error::new(
            CKR_FUNCTION_NOT_SUPPORTED,
            "this mechanism is single-part only",
        ))
    } else {
        None
    };
    match problem {
        Some(e) => {
            *op = None;
            Err(e)
        }
        None => Ok(()),
    }
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
                let pin_hash = t.pin_hash.map(|h| h.into_inner());
                Arc::new(Slot::new(
                    i as CK_SLOT_ID,
                    t.label.into_inner(),
                    t.keys,
                    refresh,
                    pin_hash,
                ))
            })
            .collect();
        Ok(Module {
            pid: std::process::id(),
            config_source: config.source,
            runtime: std::sync::OnceLock::new(),
            backend,
            slots,
            sessions: RwLock::new(HashMap::new()),
            next_session: AtomicU64::new(1),
            next_object: Arc::new(AtomicU64::new(1)),
            deadline: deadline(&config.aws),
            cache,
            alias_ttl: refresh,
            verify_signatures: config.signing.verify_signatures,
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

    /// Resolves a token's keys now (the `kms11` command lists them).
    pub fn resolve_token(&self, id: CK_SLOT_ID) -> Result<()> {
        self.resolve(self.slot(id)?)
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
        let (backend, cache) = (self.backend.clone(), self.cache.clone());
        let (slot, next, ttl, deadline) = (
            slot.clone(),
            self.next_object.clone(),
            self.alias_ttl,
            self.deadline,
        );
        runtime.spawn(async move {
            let _refreshing = refreshing;
            let resolving = slot::resolve_all(backend, cache, ttl, wanted);
            let answers = tokio::time::timeout(deadline, resolving)
                .await
                .map_err(|_| {
                    Error::new(
                        CKR_DEVICE_ERROR,
                        format!("no answer from KMS within {} ms", deadline.as_millis()),
                    )
                });
            slot.apply_refresh(answers, &next);
        });
    }

    /// Called by C_OpenSession and C_FindObjectsInit: when the token is
    /// resolved and fresh, nothing but that check is done.
    fn resolve(&self, slot: &Slot) -> Result<()> {
        slot.ensure_resolved(
            |wanted| {
                let (backend, cache) = (self.backend.clone(), self.cache.clone());
                let resolving = slot::resolve_all(backend, cache, self.alias_ttl, wanted);
                self.runtime()?.run(self.deadline, resolving)
            },
            &self.next_object,
        )
    }

    fn session(&self, h: CK_SESSION_HANDLE) -> Result<Arc<Session>> {
        self.sessions
            .read()
            .get(&h)
            .cloned()
            .ok_or_else(|| CKR_SESSION_HANDLE_INVALID.into())
    }

    fn sessions_of(&self, slot: usize) -> (usize, usize) {
        let sessions = self.sessions.read();
        let mine = sessions.values().filter(|s| s.slot == slot);
        mine.fold((0, 0), |(all, rw), s| {
            (all + 1, rw + usize::from(s.is_rw()))
        })
    }

    pub fn slot_info(&self, id: CK_SLOT_ID) -> Result<CK_SLOT_INFO> {
        let slot = self.slot(id)?;
        Ok(CK_SLOT_INFO {
            slotDescription: pad(&format!("kms11 token {}", slot.label)),
            manufacturerID: pad("kms11"),
            flags: CKF_TOKEN_PRESENT,
            hardwareVersion: CK_VERSION { major: 0, minor: 0 },
            firmwareVersion: CK_VERSION { major: 0, minor: 0 },
        })
    }

    pub fn token_info(&self, id: CK_SLOT_ID) -> Result<CK_TOKEN_INFO> {
        let slot = self.slot(id)?;
        let (sessions, rw) = self.sessions_of(id as usize);
        // The serial depends only on the label, so it is the same on every host.
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, slot.label.as_bytes());
        let serial = data_encoding::HEXLOWER.encode(&digest.as_ref()[..8]);
        let (major, minor) = crate::version();
        Ok(CK_TOKEN_INFO {
            label: pad(&slot.label),
            manufacturerID: pad("kms11"),
            model: pad("AWS KMS"),
            serialNumber: pad(&serial),
            flags: CKF_TOKEN_INITIALIZED
                | CKF_USER_PIN_INITIALIZED
                | if slot.pin_hash.is_some() {
                    CKF_LOGIN_REQUIRED
                } else {
                    0
                },
            ulMaxSessionCount: CK_EFFECTIVELY_INFINITE,
            ulSessionCount: sessions as CK_ULONG,
            ulMaxRwSessionCount: CK_EFFECTIVELY_INFINITE,
            ulRwSessionCount: rw as CK_ULONG,
            ulMaxPinLen: 255,
            ulMinPinLen: 0,
            ulTotalPublicMemory: CK_UNAVAILABLE_INFORMATION,
            ulFreePublicMemory: CK_UNAVAILABLE_INFORMATION,
            ulTotalPrivateMemory: CK_UNAVAILABLE_INFORMATION,
            ulFreePrivateMemory: CK_UNAVAILABLE_INFORMATION,
            hardwareVersion: CK_VERSION { major: 0, minor: 0 },
            firmwareVersion: CK_VERSION { major, minor },
            utcTime: [b' '; 16],
        })
    }

    pub fn open_session(&self, slot_id: CK_SLOT_ID, flags: CK_FLAGS) -> Result<CK_SESSION_HANDLE> {
        let slot = self.slot(slot_id)?;
        if flags & CKF_SERIAL_SESSION == 0 {
            return Err(CKR_SESSION_PARALLEL_NOT_SUPPORTED.into());
        }
        if flags & CKF_RW_SESSION == 0 && *slot.logged_in.lock() == Some(CKU_SO) {
            return Err(CKR_SESSION_READ_WRITE_SO_EXISTS.into());
        }
        self.resolve(slot)?;
        let h = self.next_session.fetch_add(1, Ordering::Relaxed);
        let session = Session {
            slot: slot_id as usize,
            flags,
            state: Mutex::new(Operations::default()),
        };
        self.sessions.write().insert(h, Arc::new(session));
        Ok(h)
    }

    fn forget_login_if_idle(&self, slot: usize) {
        if self.sessions_of(slot).0 == 0 {
            if let Some(s) = self.slots.get(slot) {
                *s.logged_in.lock() = None;
            }
        }
    }

    pub fn close_session(&self, h: CK_SESSION_HANDLE) -> Result<()> {
        let session = self
            .sessions
            .write()
            .remove(&h)
            .ok_or(Error::from(CKR_SESSION_HANDLE_INVALID))?;
        self.forget_login_if_idle(session.slot);
        Ok(())
    }

    pub fn close_all_sessions(&self, slot_id: CK_SLOT_ID) -> Result<()> {
        self.slot(slot_id)?;
        self.sessions
            .write()
            .retain(|_, s| s.slot != slot_id as usize);
        self.forget_login_if_idle(slot_id as usize);
        Ok(())
    }

    pub fn session_info(&self, h: CK_SESSION_HANDLE) -> Result<CK_SESSION_INFO> {
        let session = self.session(h)?;
        let s = &session;
        let login = *self.slots[s.slot].logged_in.lock();
        let state = match (login, s.is_rw()) {
            (Some(CKU_SO), _) => CKS_RW_SO_FUNCTIONS,
            (Some(_), true) => CKS_RW_USER_FUNCTIONS,
            (Some(_), false) => CKS_RO_USER_FUNCTIONS,
            (None, true) => CKS_RW_PUBLIC_SESSION,
            (None, false) => CKS_RO_PUBLIC_SESSION,
        };
        Ok(CK_SESSION_INFO {
            slotID: s.slot as CK_SLOT_ID,
            state,
            flags: s.flags,
            ulDeviceError: 0,
        })
    }

    /// With no `pin_hash` configured any PIN is accepted (KMS authorises
    /// with AWS credentials, not PINs); with one, the PIN must match it.
    pub fn login(&self, h: CK_SESSION_HANDLE, user: CK_USER_TYPE, pin: &[u8]) -> Result<()> {
        let session = self.session(h)?;
        let (slot, signing) = (session.slot, session.state.lock().sign.is_some());
        if matches!(user, CKU_USER | CKU_SO | CKU_CONTEXT_SPECIFIC) {
            let token = &self.slots[slot];
            if let Some(phc) = &token.pin_hash {
                // After FREE_LOGINS wrong PINs in a row, each further try
                // waits (no lock is held: other sessions go on). Per
                // process, in memory: a counter on disk would let anyone
                // who can load the module lock the token for everyone.
                let failures = token.failed_logins.load(Ordering::Relaxed);
                if let Some(delay) = login_delay(failures) {
                    // Each try takes the next free moment, one delay after
                    // the last one reserved: concurrent tries queue, so a
                    // guesser gets one PIN checked per delay, not N.
                    let now = std::time::Instant::now();
                    let at = {
                        let mut next = token.next_login.lock();
                        let at = next.map_or(now, |n| n.max(now)) + delay;
                        *next = Some(at);
                        at
                    };
                    let wait = at - now;
                    log_at!(
                        Warn,
                        "token '{}': {failures} wrong PINs in a row; waiting {} ms before checking this one",
                        token.label,
                        wait.as_millis()
                    );
                    std::thread::sleep(wait);
                }
                // Slow by design (argon2id); no lock is held meanwhile.
                if !crate::pin::verify(phc, pin) {
                    let failures = token.failed_logins.fetch_add(1, Ordering::Relaxed) + 1;
                    log_at!(
                        Warn,
                        "token '{}': C_Login with a wrong PIN ({failures} in a row)",
                        token.label
                    );
                    return Err(CKR_PIN_INCORRECT.into());
                }
                token.failed_logins.store(0, Ordering::Relaxed);
            }
        }
        match user {
            CKU_CONTEXT_SPECIFIC => {
                return if signing {
                    Ok(())
                } else {
                    Err(CKR_OPERATION_NOT_INITIALIZED.into())
                };
            }
            CKU_USER | CKU_SO => {}
            _ => return Err(CKR_USER_TYPE_INVALID.into()),
        }
        let has_ro = user == CKU_SO
            && self
                .sessions
                .read()
                .values()
                .any(|s| s.slot == slot && !s.is_rw());
        let mut logged = self.slots[slot].logged_in.lock();
        match *logged {
            Some(u) if u == user => Err(CKR_USER_ALREADY_LOGGED_IN.into()),
            Some(_) => Err(CKR_USER_ANOTHER_ALREADY_LOGGED_IN.into()),
            None if has_ro => Err(CKR_SESSION_READ_ONLY_EXISTS.into()),
            None => {
                *logged = Some(user);
                Ok(())
            }
        }
    }

    pub fn logout(&self, h: CK_SESSION_HANDLE) -> Result<()> {
        let slot = self.session(h)?.slot;
        match self.slots[slot].logged_in.lock().take() {
            Some(_) => Ok(()),
            None => Err(CKR_USER_NOT_LOGGED_IN.into()),
        }
    }

    pub fn find_init(
        &self,
        h: CK_SESSION_HANDLE,
        template: &[(CK_ATTRIBUTE_TYPE, Vec<u8>)],
    ) -> Result<()> {
        let session = self.session(h)?;
        let slot = session.slot;
        if session.state.lock().find.is_some() {
            return Err(CKR_OPERATION_ACTIVE.into());
        }
        self.resolve(&self.slots[slot])?;
        let handles = self.slots[slot].find(template);
        let mut s = session.state.lock();
        if s.find.is_some() {
            return Err(CKR_OPERATION_ACTIVE.into());
        }
        s.find = Some(Find { handles, next: 0 });
        Ok(())
    }

    pub fn find(&self, h: CK_SESSION_HANDLE, max: usize) -> Result<Vec<CK_OBJECT_HANDLE>> {
        let session = self.session(h)?;
        let mut s = session.state.lock();
        let find = s
            .find
            .as_mut()
            .ok_or(Error::from(CKR_OPERATION_NOT_INITIALIZED))?;
        let end = find.next.saturating_add(max).min(find.handles.len());
        let out = find.handles[find.next..end].to_vec();
        find.next = end;
        Ok(out)
    }

    pub fn find_final(&self, h: CK_SESSION_HANDLE) -> Result<()> {
        let session = self.session(h)?;
        let mut s = session.state.lock();
        s.find
            .take()
            .map(|_| ())
            .ok_or_else(|| CKR_OPERATION_NOT_INITIALIZED.into())
    }

    /// Runs `f` on an object visible to the session.
    pub fn with_object<R>(
        &self,
        h: CK_SESSION_HANDLE,
        object: CK_OBJECT_HANDLE,
        f: impl FnOnce(&Object) -> R,
    ) -> Result<R> {
        let slot = self.session(h)?.slot;
        let o = self.slots[slot]
            .object(object)
            .ok_or(Error::from(CKR_OBJECT_HANDLE_INVALID))?;
        Ok(f(&o))
    }

    fn key_for(
        &self,
        slot: usize,
        handle: CK_OBJECT_HANDLE,
        class: CK_OBJECT_CLASS,
    ) -> Result<Arc<key::KeyInfo>> {
        if class == CKO_PRIVATE_KEY && !self.slots[slot].private_visible() {
            return Err(CKR_USER_NOT_LOGGED_IN.into());
        }
        let o = self.slots[slot]
            .object(handle)
            .ok_or(Error::from(CKR_KEY_HANDLE_INVALID))?;
        if o.class == CKO_CERTIFICATE {
            return Err(CKR_KEY_HANDLE_INVALID.into());
        }
        if o.class != class {
            return Err(CKR_KEY_FUNCTION_NOT_PERMITTED.into());
        }
        Ok(o.key.clone())
    }

    fn init_operation(
        &self,
        h: CK_SESSION_HANDLE,
        mechanism: CK_MECHANISM_TYPE,
        param: Param,
        handle: CK_OBJECT_HANDLE,
        sign: bool,
    ) -> Result<()> {
        let session = self.session(h)?;
        if sign {
            self.refresh_in_background(session.slot);
        }
        let mut s = session.state.lock();
        let active = if sign { &s.sign } else { &s.verify };
        if active.is_some() {
            return Err(CKR_OPERATION_ACTIVE.into());
        }
        let class = if sign {
            CKO_PRIVATE_KEY
        } else {
            CKO_PUBLIC_KEY
        };
        let key = self.key_for(session.slot, handle, class)?;
        let m = Mechanism::new(mechanism, param, key.spec)?;
        let op = Some(Operation::new(key, m));
        if sign {
            s.sign = op;
        } else {
            s.verify = op;
        }
        Ok(())
    }

    /// C_SignInit/C_VerifyInit with a NULL mechanism (PKCS#11 3.0): ends
    /// the active operation, if any.
    pub fn cancel_operation(&self, h: CK_SESSION_HANDLE, sign: bool) -> Result<()> {
        let session = self.session(h)?;
        let mut s = session.state.lock();
        if sign {
            s.sign = None;
        } else {
            s.verify = None;
        }
        Ok(())
    }

    pub fn sign_init(
        &self,
        h: CK_SESSION_HANDLE,
        mechanism: CK_MECHANISM_TYPE,
        param: Param,
        key: CK_OBJECT_HANDLE,
    ) -> Result<()> {
        self.init_operation(h, mechanism, param, key, true)
    }

    pub fn verify_init(
        &self,
        h: CK_SESSION_HANDLE,
        mechanism: CK_MECHANISM_TYPE,
        param: Param,
        key: CK_OBJECT_HANDLE,
    ) -> Result<()> {
        self.init_operation(h, mechanism, param, key, false)
    }

    /// Asks KMS to sign the mechanism's input and returns the PKCS#11
    /// signature, checked against the key's public key unless that is
    /// turned off. Writes the audit line of the KMS call.
    ///
    /// Sign goes to the key as configured (`KeyInfo::sign_target`), not to
    /// the ARN the objects were built from, and KMS's answer names the key
    /// that signed (`KeyId`), which must be that ARN. Whatever the disk
    /// cache held, then: a key named by key ID or ARN is the only key that
    /// can sign, and a signature by any other key (an alias that moved, a
    /// cache entry that named another key) never leaves the module, with or
    /// without verify_signatures. This costs nothing: the one Sign request
    /// is the check, where asking KMS which key an alias names (DescribeKey
    /// or GetPublicKey per signature) would double the requests of a warm
    /// process. The price is that the first signature after an alias move,
    /// in a process that still holds the old key, fails (CKR_DEVICE_ERROR)
    /// rather than being made with the old key: that key's cache entry is
    /// dropped and the token refreshed, so the next C_SignInit signs with
    /// the key the alias names now.
    fn sign_with_kms(&self, slot: usize, op: Operation, data: &[u8]) -> Result<Vec<u8>> {
        let key = op.key.clone();
        let mechanism = op.mechanism;
        let input = op.finish(data)?;
        let (algorithm, digest) = mechanism.to_kms(key.spec, &input)?;
        let backend = self.backend.clone();
        let k = key.clone();
        let started = std::time::Instant::now();
        // The digest goes to the runtime and comes back for the check.
        let answer = self.runtime()?.run(self.deadline, async move {
            let signed = backend
                .sign(&k.sign_target, algorithm, &digest, &k.grant_tokens)
                .await;
            (signed, digest)
        });
        let (answer, digest) = match answer {
            Ok((signed, digest)) => (Ok(signed), digest),
            Err(e) => (Err(e), Vec::new()),
        };
        let mut request_id = None;
        let mut aws_code = None;
        let mut unverified = false;
        // The key that signed, when it is not the key of the objects.
        let mut other_key: Option<String> = None;
        let signature = answer
            .and_then(|a| match a {
                Ok(signed) if signed.key_arn.as_deref() == Some(key.arn.as_str()) => {
                    request_id = signed.request_id;
                    Ok(signed.signature)
                }
                Ok(signed) => {
                    request_id = signed.request_id;
                    let signer = signed.key_arn.unwrap_or_else(|| "an unnamed key".into());
                    let e = Error::new(
                        CKR_DEVICE_ERROR,
                        format!(
                            "KMS signed with {signer}, not with {}, the key of this object \
                             ({} names another key now, or a cache entry named the wrong key); \
                             signature not returned, the token will be refreshed",
                            key.arn, key.sign_target
                        ),
                    );
                    other_key = Some(signer);
                    Err(e)
                }
                Err(e) => {
                    request_id = e.request_id.clone();
                    aws_code = Some(e.code.clone());
                    Err(Error::from(e))
                }
            })
            .and_then(|sig| crate::mechanism::signature_from_kms(key.spec, sig))
            .and_then(|sig| {
                if self.verify_signatures {
                    verify::verify(&key, algorithm, &digest, &sig).map_err(|_| {
                        unverified = true;
                        Error::new(
                            CKR_DEVICE_ERROR,
                            "the signature KMS returned does not verify with the key's public key \
                             (a wrong key, a corrupted answer or a misbehaving proxy); not returned",
                        )
                    })?;
                }
                Ok(sig)
            });
        // One line per KMS Sign, for audit: no data, digest or signature.
        if crate::log::enabled(crate::log::Level::Audit) {
            let outcome = match (&signature, &aws_code) {
                (Ok(_), _) => "ok".to_string(),
                (Err(e), Some(code)) => format!("{} ({code})", crate::error::rv_name(e.rv)),
                (Err(_), None) if unverified => {
                    "CKR_DEVICE_ERROR (signature did not verify)".into()
                }
                (Err(_), None) if other_key.is_some() => {
                    "CKR_DEVICE_ERROR (signed by another key)".into()
                }
                (Err(e), None) => crate::error::rv_name(e.rv),
            };
            log_at!(
                Audit,
                "sign token={:?} key={} mechanism={} algorithm={} outcome={outcome} request_id={} ms={}",
                self.slots[slot].label,
                key.arn,
                mechanism.ck_name(),
                algorithm.as_kms(),
                request_id.as_deref().unwrap_or("-"),
                started.elapsed().as_millis()
            );
        }
        if let Err(e) = &signature {
            // What KMS contradicted is dropped: a cache entry for a key it
            // no longer knows, refuses us, or whose signatures do not verify
            // (the next process asks KMS), and any entry naming a key that
            // did not sign (even one this process wrote: the alias moved).
            let denied = e.rv == CKR_KEY_FUNCTION_NOT_PERMITTED
                && aws_code.as_deref() == Some("AccessDeniedException");
            let wrong = unverified || e.rv == CKR_KEY_HANDLE_INVALID;
            let drop_entry = other_key.is_some() || (key.from_cache && (wrong || denied));
            if let (true, Some(path)) = (drop_entry, &key.cache_entry) {
                DiskCache::forget(path);
            }
            // Objects KMS contradicted are refreshed now, in the background,
            // so that the caller's next C_SignInit finds the current key.
            if other_key.is_some() || wrong {
                self.slots[slot].mark_stale(&key);
                self.refresh_in_background(slot);
            }
            log_at!(
                Error,
                "Sign with {} ({}) failed: {e}",
                key.arn,
                algorithm.as_kms()
            );
        }
        signature
    }

    /// C_Sign and C_SignFinal: a size query leaves the operation active;
    /// anything else ends it.
    fn finish_sign(
        &self,
        h: CK_SESSION_HANDLE,
        data: &[u8],
        capacity: Option<usize>,
        final_call: bool,
    ) -> Result<Output> {
        let session = self.session(h)?;
        let mut s = session.state.lock();
        check_finish(&mut s.sign, final_call)?;
        if !self.slots[session.slot].private_visible() {
            // Logged out since C_SignInit.
            s.sign = None;
            return Err(CKR_USER_NOT_LOGGED_IN.into());
        }
        let op = s.sign.as_ref().expect("checked above");
        let len = op.key.signature_len();
        match capacity {
            None => return Ok(Output::Length(len)),
            Some(c) if c < len => return Ok(Output::TooSmall(len)),
            Some(_) => {}
        }
        let op = s.sign.take().expect("checked above");
        // No lock is held across the KMS call, not even the session's.
        drop(s);
        self.sign_with_kms(session.slot, op, data).map(Output::Done)
    }

    pub fn sign(
        &self,
        h: CK_SESSION_HANDLE,
        data: &[u8],
        capacity: Option<usize>,
    ) -> Result<Output> {
        self.finish_sign(h, data, capacity, false)
    }

    pub fn sign_final(&self, h: CK_SESSION_HANDLE, capacity: Option<usize>) -> Result<Output> {
        self.finish_sign(h, &[], capacity, true)
    }

    fn update(&self, h: CK_SESSION_HANDLE, data: &[u8], sign: bool) -> Result<()> {
        let session = self.session(h)?;
        let mut s = session.state.lock();
        let slot = if sign { &mut s.sign } else { &mut s.verify };
        let op = slot
            .as_mut()
            .ok_or(Error::from(CKR_OPERATION_NOT_INITIALIZED))?;
        match op.hasher.as_mut() {
            Some(hasher) => {
                hasher.update(data);
                op.updated = true;
                Ok(())
            }
            None => {
                *slot = None;
                Err(Error::new(
                    CKR_FUNCTION_NOT_SUPPORTED,
                    "this mechanism is single-part only",
                ))
            }
        }
    }

    pub fn sign_update(&self, h: CK_SESSION_HANDLE, data: &[u8]) -> Result<()> {
        self.update(h, data, true)
    }

    pub fn verify_update(&self, h: CK_SESSION_HANDLE, data: &[u8]) -> Result<()> {
        self.update(h, data, false)
    }

    fn finish_verify(
        &self,
        h: CK_SESSION_HANDLE,
        data: &[u8],
        signature: &[u8],
        final_call: bool,
    ) -> Result<()> {
        let session = self.session(h)?;
        let mut s = session.state.lock();
        check_finish(&mut s.verify, final_call)?;
        let op = s.verify.take().expect("checked above");
        let key = op.key.clone();
        let mechanism = op.mechanism;
        let input = op.finish(data)?;
        let (algorithm, digest) = mechanism.to_kms(key.spec, &input)?;
        verify::verify(&key, algorithm, &digest, signature)
    }

    pub fn verify(&self, h: CK_SESSION_HANDLE, data: &[u8], signature: &[u8]) -> Result<()> {
        self.finish_verify(h, data, signature, false)
    }

    pub fn verify_final(&self, h: CK_SESSION_HANDLE, signature: &[u8]) -> Result<()> {
        self.finish_verify(h, &[], signature, true)
    }

    /// C_SessionCancel: ends the operations named by the flags.
    pub fn session_cancel(&self, h: CK_SESSION_HANDLE, flags: CK_FLAGS) -> Result<()> {
        let session = self.session(h)?;
        let mut s = session.state.lock();
        if flags & CKF_SIGN != 0 {
            s.sign = None;
        }
        if flags & CKF_VERIFY != 0 {
            s.verify = None;
        }
        if flags & CKF_FIND_OBJECTS != 0 {
            s.find = None;
        }
        Ok(())
    }

    /// Checks that a session exists (for calls that only need that).
    pub fn check_session(&self, h: CK_SESSION_HANDLE) -> Result<()> {
        self.session(h).map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrong_pins_slow_down_after_three_doubling_to_a_cap() {
        let ms = |n| login_delay(n).map(|d| d.as_millis());
        assert_eq!((ms(0), ms(1), ms(2)), (None, None, None));
        assert_eq!(ms(3), Some(250));
        assert_eq!(ms(4), Some(500));
        assert_eq!(ms(5), Some(1000));
        assert_eq!(ms(6), Some(2000));
        assert_eq!(ms(7), Some(4000));
        assert_eq!(ms(8), Some(4000));
        assert_eq!(ms(u32::MAX), Some(4000));
    }
}
