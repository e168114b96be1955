//! HMAC through KMS: C_Sign with an HMAC key is one GenerateMac, C_Verify
//! one VerifyMac (a truncated MAC: one GenerateMac, compared here in
//! constant time). docs/hmac.md.

use super::key::KeyInfo;
use super::session::Operation;
use super::sign::{Call, Outcome};
use super::Module;
use crate::backend::{BackendError, MacAnswer};
use crate::error::{Error, Result};
use crate::log_at;
use crate::mechanism::hmac::truncated_matches;
use crate::vocabulary::MacAlg;
use cryptoki_sys::*;
use std::sync::Arc;
use std::time::Instant;

/// KMS's answer, judged (the key that answered must be the object's),
/// and its request ID.
fn judge(
    key: &KeyInfo,
    answer: std::result::Result<MacAnswer, BackendError>,
) -> (Outcome, Option<String>) {
    match answer {
        Err(e) => {
            let id = e.request_id.clone();
            (Outcome::Refused(e), id)
        }
        Ok(a) if a.key_arn.as_deref() != Some(key.arn.as_str()) => (
            Outcome::OtherKey(a.key_arn.unwrap_or_else(|| "an unnamed key".into())),
            a.request_id,
        ),
        Ok(a) => (Outcome::Signed(a.mac), a.request_id),
    }
}

impl Module {
    /// C_Sign/C_SignFinal with an HMAC key: the MAC, truncated to `len`.
    pub(super) fn mac_with_kms(
        &self,
        slot: usize,
        op: Operation,
        data: &[u8],
        (alg, len): (MacAlg, usize),
    ) -> Result<Vec<u8>> {
        let key = op.key.clone();
        let call = Call {
            slot,
            key: &key,
            mechanism: op.mechanism.ck_name(),
            algorithm: alg.as_kms(),
            started: Instant::now(),
            region: None,
        };
        let message = op.finish(data)?;
        let (mut outcome, request_id) = self.generate(&key, alg, message);
        if let Outcome::Signed(mac) = &mut outcome {
            mac.truncate(len);
        }
        self.after_mac("mac", &call, outcome, request_id)
    }

    /// C_Verify/C_VerifyFinal with an HMAC key. A MAC of the wrong length
    /// is refused before KMS is asked.
    pub(super) fn verify_mac_with_kms(
        &self,
        slot: usize,
        op: Operation,
        data: &[u8],
        mac: &[u8],
        (alg, len): (MacAlg, usize),
    ) -> Result<()> {
        let key = op.key.clone();
        let mechanism = op.mechanism.ck_name();
        let call = Call {
            slot,
            key: &key,
            mechanism,
            algorithm: alg.as_kms(),
            started: Instant::now(),
            region: None,
        };
        let message = op.finish(data)?;
        if mac.len() != len {
            return Err(Error::new(
                CKR_SIGNATURE_LEN_RANGE,
                format!(
                    "{mechanism} MACs here are {len} bytes; this one is {}",
                    mac.len()
                ),
            ));
        }
        let (outcome, request_id) = if len == alg.output_len() {
            let backend = self.backend.clone();
            let (k, mac) = (key.clone(), mac.to_vec());
            let answer = self.runtime()?.run(self.deadline, async move {
                backend
                    .verify_mac(&k.sign_target, alg, &message, &mac, &k.grant_tokens)
                    .await
            });
            match answer {
                Ok(answer) => judge(&key, answer),
                Err(e) => (Outcome::Failed(e), None),
            }
        } else {
            match self.generate(&key, alg, message) {
                (Outcome::Signed(full), request_id) if !truncated_matches(&full, mac) => (
                    Outcome::Refused(BackendError {
                        failure: crate::backend::Failure::InvalidMac,
                        code: "MacMismatch".into(),
                        message: "the MAC is not the message's under this key".into(),
                        request_id: request_id.clone(),
                    }),
                    request_id,
                ),
                other => other,
            }
        };
        self.after_mac("verify-mac", &call, outcome, request_id)
            .map(drop)
    }

    /// One GenerateMac.
    fn generate(
        &self,
        key: &Arc<KeyInfo>,
        alg: MacAlg,
        message: Vec<u8>,
    ) -> (Outcome, Option<String>) {
        let backend = self.backend.clone();
        let k = key.clone();
        let answer = self.runtime().and_then(|rt| {
            rt.run(self.deadline, async move {
                backend
                    .generate_mac(&k.sign_target, alg, &message, &k.grant_tokens)
                    .await
            })
        });
        match answer {
            Ok(answer) => judge(key, answer),
            Err(e) => (Outcome::Failed(e), None),
        }
    }

    /// The audit line, the clean-up after a failure, and the result. A
    /// MAC that does not verify is an answer, not a failure.
    fn after_mac(
        &self,
        what: &str,
        call: &Call<'_>,
        outcome: Outcome,
        request_id: Option<String>,
    ) -> Result<Vec<u8>> {
        self.audit(what, call, &outcome, request_id);
        let invalid = matches!(&outcome, Outcome::Refused(e) if e.rv() == CKR_SIGNATURE_INVALID);
        if !matches!(outcome, Outcome::Signed(_)) && !invalid {
            self.after_failed_sign(call.slot, call.key, &outcome);
        }
        let result = outcome.into_result(call.key);
        if let (Err(e), false) = (&result, invalid) {
            log_at!(
                Error,
                "{what} with {} ({}) failed: {e}",
                call.key.arn,
                call.algorithm
            );
        }
        result
    }
}
