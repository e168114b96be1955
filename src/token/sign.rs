//! C_SignInit ... C_VerifyFinal: starting, feeding and finishing a
//! session's operations, and the one KMS call a signature costs, with its
//! audit line.

use super::key::KeyInfo;
use super::session::{Finish, OpKind, Operation, Output};
use super::{verify, Module};
use crate::backend::{BackendError, Signed};
use crate::cache::DiskCache;
use crate::error::{rv_name, Error, Result};
use crate::log_at;
use crate::mechanism::{Input, Mechanism, Param};
use crate::vocabulary::{KeyUsage, SigningAlgorithm};
use cryptoki_sys::*;
use std::sync::Arc;
use std::time::Instant;

/// How a KMS Sign (or GenerateMac, VerifyMac) ended, for the caller, the
/// audit line and the clean-up.
pub(super) enum Outcome {
    Signed(Vec<u8>),
    /// KMS refused or could not be reached (after the SDK's retries).
    Refused(BackendError),
    /// KMS signed with another key than the object's.
    OtherKey(String),
    /// The signature does not verify with the object's public key.
    Unverified,
    /// No answer in time, or an answer that is not a signature.
    Failed(Error),
}

impl Outcome {
    /// The audit line's outcome word.
    fn word(&self) -> String {
        match self {
            Outcome::Signed(_) => "ok".into(),
            Outcome::Refused(e) => format!("{} ({})", rv_name(e.rv()), e.code),
            Outcome::OtherKey(_) => "CKR_DEVICE_ERROR (signed by another key)".into(),
            Outcome::Unverified => "CKR_DEVICE_ERROR (signature did not verify)".into(),
            Outcome::Failed(e) => rv_name(e.rv),
        }
    }

    pub(super) fn into_result(self, key: &KeyInfo) -> Result<Vec<u8>> {
        match self {
            Outcome::Signed(signature) => Ok(signature),
            Outcome::Refused(e) => Err(e.into()),
            Outcome::OtherKey(signer) => Err(Error::new(
                CKR_DEVICE_ERROR,
                format!(
                    "KMS answered with {signer}, not with {}, the key of this object \
                     ({} names another key now, or a cache entry named the wrong key); \
                     the answer is not returned, the token will be refreshed",
                    key.arn, key.sign_target
                ),
            )),
            Outcome::Unverified => Err(Error::new(
                CKR_DEVICE_ERROR,
                "the signature KMS returned does not verify with the key's public key \
                 (a wrong key, a corrupted answer or a misbehaving proxy); not returned",
            )),
            Outcome::Failed(e) => Err(e),
        }
    }
}

/// One KMS call of an operation, for its audit line.
pub(super) struct Call<'a> {
    pub slot: usize,
    pub key: &'a Arc<KeyInfo>,
    /// The CKM_* name.
    pub mechanism: &'static str,
    /// The KMS algorithm's name.
    pub algorithm: &'static str,
    pub started: Instant,
    /// For a key that fails over: the region of the last attempt, the
    /// attempts made, and whether a hedge was sent.
    pub region: Option<(String, u32, bool)>,
}

/// What KMS answered, judged: the key that signed must be the object's,
/// the signature converts to PKCS#11's form and (unless turned off)
/// verifies with the object's public key.
fn judge(
    key: &KeyInfo,
    expected: &str,
    algorithm: SigningAlgorithm,
    digest: &[u8],
    answer: std::result::Result<Signed, BackendError>,
    verify_signatures: bool,
) -> Outcome {
    let signed = match answer {
        Ok(signed) => signed,
        Err(e) => return Outcome::Refused(e),
    };
    if signed.key_arn.as_deref() != Some(expected) {
        return Outcome::OtherKey(signed.key_arn.unwrap_or_else(|| "an unnamed key".into()));
    }
    let signature = match crate::mechanism::signature_from_kms(key.spec, signed.signature) {
        Ok(signature) => signature,
        Err(e) => return Outcome::Failed(e),
    };
    if verify_signatures && verify::verify(key, algorithm, digest, &signature).is_err() {
        return Outcome::Unverified;
    }
    Outcome::Signed(signature)
}

impl Module {
    /// C_SignInit (a private key) and C_VerifyInit (a public key).
    pub fn init_operation(
        &self,
        h: CK_SESSION_HANDLE,
        kind: OpKind,
        ckm: CK_MECHANISM_TYPE,
        param: Param,
        handle: CK_OBJECT_HANDLE,
    ) -> Result<()> {
        let session = self.session(h)?;
        if kind == OpKind::Sign {
            self.refresh_in_background(session.slot);
        }
        let mut s = session.state.lock();
        if s.op(kind).is_some() {
            return Err(CKR_OPERATION_ACTIVE.into());
        }
        let classes = match kind {
            OpKind::Sign => [CKO_PRIVATE_KEY, CKO_SECRET_KEY],
            OpKind::Verify => [CKO_PUBLIC_KEY, CKO_SECRET_KEY],
        };
        let key = self.slots[session.slot].key_of_class(handle, &classes)?;
        if !matches!(
            key.usage,
            KeyUsage::SignVerify | KeyUsage::GenerateVerifyMac
        ) {
            return Err(Error::new(
                CKR_KEY_FUNCTION_NOT_PERMITTED,
                format!(
                    "{} is a KMS {} key: it cannot sign",
                    key.arn,
                    key.usage.as_kms()
                ),
            ));
        }
        let mechanism = Mechanism::new(ckm, param, key.spec)?;
        *s.op(kind) = Some(Operation::new(key, mechanism));
        Ok(())
    }

    /// C_SignInit/C_VerifyInit with a NULL mechanism (PKCS#11 3.0), and any
    /// failure the C boundary meets: ends the operation, if any.
    pub fn cancel_operation(&self, h: CK_SESSION_HANDLE, kind: OpKind) -> Result<()> {
        *self.session(h)?.state.lock().op(kind) = None;
        Ok(())
    }

    /// C_SessionCancel: ends the operations named by the flags.
    pub fn session_cancel(&self, h: CK_SESSION_HANDLE, flags: CK_FLAGS) -> Result<()> {
        let session = self.session(h)?;
        let mut s = session.state.lock();
        if flags & CKF_SIGN != 0 {
            *s.op(OpKind::Sign) = None;
        }
        if flags & CKF_VERIFY != 0 {
            *s.op(OpKind::Verify) = None;
        }
        if flags & CKF_FIND_OBJECTS != 0 {
            s.find = None;
        }
        if flags & CKF_DECRYPT != 0 {
            s.decrypt = None;
        }
        if flags & CKF_ENCRYPT != 0 {
            s.encrypt = None;
        }
        Ok(())
    }

    pub fn sign_update(&self, h: CK_SESSION_HANDLE, data: &[u8]) -> Result<()> {
        self.session(h)?.state.lock().update(OpKind::Sign, data)
    }

    pub fn verify_update(&self, h: CK_SESSION_HANDLE, data: &[u8]) -> Result<()> {
        self.session(h)?.state.lock().update(OpKind::Verify, data)
    }

    pub fn sign(
        &self,
        h: CK_SESSION_HANDLE,
        data: &[u8],
        capacity: Option<usize>,
    ) -> Result<Output> {
        self.finish_sign(h, data, capacity, Finish::Single)
    }

    pub fn sign_final(&self, h: CK_SESSION_HANDLE, capacity: Option<usize>) -> Result<Output> {
        self.finish_sign(h, &[], capacity, Finish::Final)
    }

    pub fn verify(&self, h: CK_SESSION_HANDLE, data: &[u8], signature: &[u8]) -> Result<()> {
        self.finish_verify(h, data, signature, Finish::Single)
    }

    pub fn verify_final(&self, h: CK_SESSION_HANDLE, signature: &[u8]) -> Result<()> {
        self.finish_verify(h, &[], signature, Finish::Final)
    }

    /// C_Sign and C_SignFinal: a size query leaves the operation active;
    /// anything else ends it.
    fn finish_sign(
        &self,
        h: CK_SESSION_HANDLE,
        data: &[u8],
        capacity: Option<usize>,
        how: Finish,
    ) -> Result<Output> {
        let session = self.session(h)?;
        let mut s = session.state.lock();
        let len = s.check_finish(OpKind::Sign, how)?.output_len();
        if !self.slots[session.slot].login.private_visible() {
            // Logged out since C_SignInit.
            *s.op(OpKind::Sign) = None;
            return Err(CKR_USER_NOT_LOGGED_IN.into());
        }
        match capacity {
            None => return Ok(Output::Length(len)),
            Some(c) if c < len => return Ok(Output::TooSmall(len)),
            Some(_) => {}
        }
        let op = s.op(OpKind::Sign).take().expect("checked above");
        // No lock is held across the KMS call, not even the session's.
        drop(s);
        self.sign_with_kms(session.slot, op, data)
            .map(|sig| Output::Done(sig.into()))
    }

    fn finish_verify(
        &self,
        h: CK_SESSION_HANDLE,
        data: &[u8],
        signature: &[u8],
        how: Finish,
    ) -> Result<()> {
        let session = self.session(h)?;
        let mut s = session.state.lock();
        s.check_finish(OpKind::Verify, how)?;
        let op = s.op(OpKind::Verify).take().expect("checked above");
        if let Input::Mac { alg, len } = op.mechanism.input {
            // No lock is held across the KMS call.
            drop(s);
            if !self.slots[session.slot].login.private_visible() {
                return Err(CKR_USER_NOT_LOGGED_IN.into());
            }
            return self.verify_mac_with_kms(session.slot, op, data, signature, (alg, len));
        }
        let key = op.key.clone();
        let mechanism = op.mechanism;
        let input = op.finish(data)?;
        let (algorithm, digest) = mechanism.to_kms(key.spec, &input)?;
        verify::verify(&key, algorithm, &digest, signature)
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
        if let Input::Mac { alg, len } = op.mechanism.input {
            return self.mac_with_kms(slot, op, data, (alg, len));
        }
        let key = op.key.clone();
        let mechanism = op.mechanism;
        let input = op.finish(data)?;
        let (algorithm, digest) = mechanism.to_kms(key.spec, &input)?;
        let started = Instant::now();
        let backend = self.backend.clone();
        let k = key.clone();
        let regions = self.regions.clone();
        let fails_over = regions.covers(&key.arn);
        // The digest goes to the runtime and comes back for the check.
        let answer = self.runtime()?.run(self.deadline, async move {
            if fails_over {
                let a = regions
                    .sign(
                        &*backend,
                        &k.arn,
                        &k.sign_target,
                        algorithm,
                        &digest,
                        &k.grant_tokens,
                    )
                    .await;
                let probe = regions.due_for_probe();
                if let Some(region) = probe {
                    let (regions, arn) = (regions.clone(), k.arn.clone());
                    tokio::spawn(async move { regions.probe(&*backend, region, &arn).await });
                }
                let region = Some((a.attempt, a.attempts, a.hedged));
                (a.signed, region, digest)
            } else {
                let signed = backend
                    .sign(&k.sign_target, algorithm, &digest, &k.grant_tokens)
                    .await;
                (signed, None, digest)
            }
        });
        let (outcome, request_id, region) = match answer {
            Ok((signed, region, digest)) => {
                let request_id = match &signed {
                    Ok(s) => s.request_id.clone(),
                    Err(e) => e.request_id.clone(),
                };
                let verify = self.verify_signatures;
                let expected = region
                    .as_ref()
                    .map_or(key.arn.as_str(), |(a, _, _)| &a.expected);
                let outcome = judge(&key, expected, algorithm, &digest, signed, verify);
                (outcome, request_id, region)
            }
            Err(e) => (Outcome::Failed(e), None, None),
        };
        let call = Call {
            slot,
            key: &key,
            mechanism: mechanism.ck_name(),
            algorithm: algorithm.as_kms(),
            started,
            region: region.map(|(a, n, hedged)| (a.region, n, hedged)),
        };
        self.audit("sign", &call, &outcome, request_id);
        if !matches!(outcome, Outcome::Signed(_)) {
            self.after_failed_sign(slot, &key, &outcome);
        }
        let result = outcome.into_result(&key);
        if let Err(e) = &result {
            log_at!(
                Error,
                "Sign with {} ({}) failed: {e}",
                key.arn,
                algorithm.as_kms()
            );
        }
        result
    }

    /// One line per KMS call (`what`: sign, mac, verify-mac), for audit:
    /// no data, digest, signature or MAC.
    pub(super) fn audit(
        &self,
        what: &str,
        call: &Call,
        outcome: &Outcome,
        request_id: Option<String>,
    ) {
        if !crate::log::enabled(crate::log::Level::Audit) {
            return;
        }
        let region = match &call.region {
            Some((region, attempts, hedged)) => {
                format!(" region={region} attempts={attempts} hedged={hedged}")
            }
            None => String::new(),
        };
        log_at!(
            Audit,
            "{what} token={:?} key={} mechanism={} algorithm={} outcome={} request_id={} ms={}{region}",
            self.slots[call.slot].label,
            call.key.arn,
            call.mechanism,
            call.algorithm,
            outcome.word(),
            request_id.as_deref().unwrap_or("-"),
            call.started.elapsed().as_millis()
        );
    }

    /// What KMS contradicted is dropped: a cache entry for a key it no
    /// longer knows, refuses us, or whose signatures do not verify (the
    /// next process asks KMS), and any entry naming a key that did not sign
    /// (even one this process wrote: the alias moved). Objects KMS
    /// contradicted are refreshed now, in the background, so that the
    /// caller's next C_SignInit finds the current key.
    pub(super) fn after_failed_sign(&self, slot: usize, key: &Arc<KeyInfo>, outcome: &Outcome) {
        let (other_key, wrong, denied) = match outcome {
            Outcome::OtherKey(_) => (true, false, false),
            Outcome::Unverified => (false, true, false),
            Outcome::Refused(e) => (
                false,
                e.rv() == CKR_KEY_HANDLE_INVALID,
                e.rv() == CKR_KEY_FUNCTION_NOT_PERMITTED && e.code == "AccessDeniedException",
            ),
            Outcome::Failed(e) => (false, e.rv == CKR_KEY_HANDLE_INVALID, false),
            Outcome::Signed(_) => return,
        };
        let drop_entry = other_key || (key.from_cache && (wrong || denied));
        if let (true, Some(path)) = (drop_entry, &key.cache_entry) {
            DiskCache::forget(path);
        }
        if other_key || wrong {
            self.slots[slot].mark_stale(key);
            self.refresh_in_background(slot);
        }
    }
}
