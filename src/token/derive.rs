//! C_DeriveKey with CKM_ECDH1_DERIVE: one KMS DeriveSharedSecret, the KDF
//! here, and the result as a session secret key object (docs/ecdh.md);
//! C_DestroyObject of such objects.

use super::sign::{Call, Outcome};
use super::{template, Module};
use crate::backend::{BackendError, SharedSecret};
use crate::error::{Error, Result};
use crate::log_at;
use crate::mechanism::ecdh::{self, EcdhParams};
use crate::mechanism::{row, Scheme};
use crate::token::object::Object;
use crate::vocabulary::{Family, KeyUsage};
use cryptoki_sys::*;
use std::sync::atomic::Ordering;
use std::time::Instant;

impl Module {
    /// C_DeriveKey: the handle of the new session secret key. Everything
    /// KMS cannot do is refused before it is asked.
    pub fn derive_key(
        &self,
        h: CK_SESSION_HANDLE,
        ckm: CK_MECHANISM_TYPE,
        params: Option<EcdhParams>,
        base: CK_OBJECT_HANDLE,
        template: &[(CK_ATTRIBUTE_TYPE, Vec<u8>)],
    ) -> Result<CK_OBJECT_HANDLE> {
        let session = self.session(h)?;
        let slot = &self.slots[session.slot];
        let mechanism = row(ckm)
            .filter(|r| r.scheme == Scheme::Ecdh)
            .ok_or_else(|| {
                Error::new(
                    CKR_MECHANISM_INVALID,
                    "KMS derives with CKM_ECDH1_DERIVE only",
                )
            })?;
        let key = slot.key_of_class(base, &[CKO_PRIVATE_KEY])?;
        if key.usage != KeyUsage::KeyAgreement {
            return Err(Error::new(
                CKR_KEY_FUNCTION_NOT_PERMITTED,
                format!(
                    "{} is a KMS {} key: it cannot derive",
                    key.arn,
                    key.usage.as_kms()
                ),
            ));
        }
        let Family::Ec(curve) = key.spec.family() else {
            return Err(CKR_KEY_TYPE_INCONSISTENT.into());
        };
        let params = params.ok_or_else(|| {
            Error::new(
                CKR_MECHANISM_PARAM_INVALID,
                "CKM_ECDH1_DERIVE takes CK_ECDH1_DERIVE_PARAMS",
            )
        })?;
        let (kdf, point) = ecdh::check(&params, curve)?;
        let (attributes, len) = template::derived_key(template, kdf, curve)?;
        let peer = ecdh::peer_spki(curve, &point)?;
        let call = Call {
            slot: session.slot,
            key: &key,
            mechanism: mechanism.name,
            algorithm: "ECDH",
            started: Instant::now(),
            region: None,
        };
        let backend = self.backend.clone();
        let k = key.clone();
        let answer = self.runtime()?.run(self.deadline, async move {
            backend
                .derive_shared_secret(&k.sign_target, &peer, &k.grant_tokens)
                .await
        });
        let secret = self.judge_secret(&call, answer, curve.row().field_len)?;
        let value = kdf.derive(&secret, &params.shared_data, len);
        let handle = self.next_object.fetch_add(1, Ordering::Relaxed);
        slot.add_session_object(Object::session_secret(handle, h, attributes, value));
        Ok(handle)
    }

    /// KMS's answer: a secret as long as the curve's field, from the
    /// object's key; the audit line either way.
    fn judge_secret(
        &self,
        call: &Call<'_>,
        answer: Result<std::result::Result<SharedSecret, BackendError>>,
        field_len: usize,
    ) -> Result<zeroize::Zeroizing<Vec<u8>>> {
        let (outcome, secret, request_id) = match answer {
            Err(e) => (Outcome::Failed(e), None, None),
            Ok(Err(e)) => {
                let id = e.request_id.clone();
                (Outcome::Refused(e), None, id)
            }
            Ok(Ok(s)) if s.key_arn.as_deref() != Some(call.key.arn.as_str()) => {
                let other = s.key_arn.unwrap_or_else(|| "an unnamed key".into());
                (Outcome::OtherKey(other), None, s.request_id)
            }
            Ok(Ok(s)) if s.secret.len() != field_len => {
                let e = Error::new(
                    CKR_DEVICE_ERROR,
                    format!(
                        "KMS returned a {}-byte shared secret, not {field_len}",
                        s.secret.len()
                    ),
                );
                (Outcome::Failed(e), None, s.request_id)
            }
            // The audit's word for success; the secret goes apart.
            Ok(Ok(s)) => (Outcome::Signed(Vec::new()), Some(s.secret), s.request_id),
        };
        self.audit("derive", call, &outcome, request_id);
        if let Some(secret) = secret {
            return Ok(secret);
        }
        self.after_failed_sign(call.slot, call.key, &outcome);
        let e = outcome.into_result(call.key).expect_err("not a success");
        log_at!(
            Error,
            "DeriveSharedSecret with {} failed: {e}",
            call.key.arn
        );
        Err(e)
    }

    /// C_DestroyObject: a session object goes; the KMS keys' objects
    /// cannot be destroyed through the token.
    pub fn destroy_object(&self, h: CK_SESSION_HANDLE, object: CK_OBJECT_HANDLE) -> Result<()> {
        let slot = &self.slots[self.session(h)?.slot];
        let o = slot
            .object(object)
            .ok_or(Error::from(CKR_OBJECT_HANDLE_INVALID))?;
        if o.stored.is_some() {
            return self.destroy_stored(h, &o);
        }
        if o.owner.is_none() {
            return self.retire(h, &o);
        }
        slot.remove_session_object(object);
        Ok(())
    }
}
