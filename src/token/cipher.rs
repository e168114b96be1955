//! C_DecryptInit/C_Decrypt and C_EncryptInit/C_Encrypt with RSA keys of
//! usage ENCRYPT_DECRYPT: CKM_RSA_PKCS_OAEP (SHA-1 or SHA-256, MGF1 over the
//! same hash, no label), what KMS's RSAES_OAEP_SHA_1/_256 do. Decryption is
//! one KMS Decrypt; encryption needs only the public key and runs here.
//!
//! PKCS#11's size convention meets a remote decryption here: the length of
//! a plaintext is unknown until KMS answers. A NULL-buffer query answers
//! the modulus length (an upper bound) without asking KMS; a buffer that
//! turns out too small after KMS answered keeps the plaintext in the
//! operation for the caller's next call with the same ciphertext, so KMS
//! is not asked twice. The kept plaintext is zeroed when the operation
//! ends, however it ends.

use super::key::KeyInfo;
use super::session::Output;
use super::sign::{Call, Outcome};
use super::Module;
use crate::error::{Error, Result};
use crate::log_at;
use crate::mechanism::{oaep, row, Param, Scheme};
use crate::vocabulary::{Family, KeyUsage, OaepHash};
use cryptoki_sys::*;
use std::sync::Arc;
use std::time::Instant;
use zeroize::Zeroizing;

/// Which of the two a call is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CipherKind {
    Encrypt,
    Decrypt,
}

/// An OAEP operation between its Init and its end.
pub struct CipherOp {
    key: Arc<KeyInfo>,
    hash: OaepHash,
    /// A decryption whose output did not fit: (ciphertext, plaintext).
    held: Option<(Vec<u8>, Zeroizing<Vec<u8>>)>,
}

fn modulus_len(key: &KeyInfo) -> usize {
    match key.spec.family() {
        Family::Rsa { modulus_len } => modulus_len,
        Family::Ec(_) | Family::Ed25519 | Family::Hmac(_) | Family::MlDsa(_) => 0,
    }
}

/// The key and hash of an OAEP operation, or why there is none.
fn check(key: &KeyInfo, ckm: CK_MECHANISM_TYPE, param: Param) -> Result<OaepHash> {
    match row(ckm).map(|r| r.scheme) {
        Some(Scheme::RsaOaep) => {}
        _ => {
            return Err(Error::new(
                CKR_MECHANISM_INVALID,
                "KMS decrypts with CKM_RSA_PKCS_OAEP only",
            ))
        }
    }
    if !matches!(key.spec.family(), Family::Rsa { .. }) {
        return Err(CKR_KEY_TYPE_INCONSISTENT.into());
    }
    if key.usage != KeyUsage::EncryptDecrypt {
        return Err(Error::new(
            CKR_KEY_FUNCTION_NOT_PERMITTED,
            format!(
                "{} is a KMS {} key: it cannot decrypt",
                key.arn,
                key.usage.as_kms()
            ),
        ));
    }
    oaep::check(param)
}

/// RSAES-OAEP encryption with the public key (aws-lc).
pub fn encrypt_locally(key: &KeyInfo, hash: OaepHash, plaintext: &[u8]) -> Result<Vec<u8>> {
    use aws_lc_rs::rsa::{
        OaepPublicEncryptingKey, PublicEncryptingKey, OAEP_SHA1_MGF1SHA1, OAEP_SHA256_MGF1SHA256,
    };
    if plaintext.len() > hash.max_message(modulus_len(key)) {
        return Err(Error::new(
            CKR_DATA_LEN_RANGE,
            format!(
                "OAEP with {} encrypts at most {} bytes with this key",
                hash.as_kms(),
                hash.max_message(modulus_len(key))
            ),
        ));
    }
    let algorithm = match hash {
        OaepHash::Sha1 => &OAEP_SHA1_MGF1SHA1,
        OaepHash::Sha256 => &OAEP_SHA256_MGF1SHA256,
    };
    let failed = || Error::new(CKR_GENERAL_ERROR, "the key's public key cannot encrypt");
    let public = PublicEncryptingKey::from_der(&key.spki).map_err(|_| failed())?;
    let oaep = OaepPublicEncryptingKey::new(public).map_err(|_| failed())?;
    let mut out = vec![0u8; oaep.ciphertext_size()];
    let n = oaep
        .encrypt(algorithm, plaintext, &mut out, None)
        .map_err(|_| failed())?
        .len();
    out.truncate(n);
    Ok(out)
}

impl Module {
    /// C_DecryptInit (a private key) and C_EncryptInit (a public key).
    pub fn cipher_init(
        &self,
        h: CK_SESSION_HANDLE,
        kind: CipherKind,
        ckm: CK_MECHANISM_TYPE,
        param: Param,
        handle: CK_OBJECT_HANDLE,
    ) -> Result<()> {
        let session = self.session(h)?;
        let mut s = session.state.lock();
        let (slot, class) = match kind {
            CipherKind::Decrypt => (&mut s.decrypt, CKO_PRIVATE_KEY),
            CipherKind::Encrypt => (&mut s.encrypt, CKO_PUBLIC_KEY),
        };
        if slot.is_some() {
            return Err(CKR_OPERATION_ACTIVE.into());
        }
        let key = self.slots[session.slot].key_for(handle, class)?;
        let hash = check(&key, ckm, param)?;
        *slot = Some(CipherOp {
            key,
            hash,
            held: None,
        });
        Ok(())
    }

    /// A NULL mechanism (PKCS#11 3.0), or an error the C boundary met:
    /// ends the operation, if any.
    pub fn cipher_cancel(&self, h: CK_SESSION_HANDLE, kind: CipherKind) -> Result<()> {
        let session = self.session(h)?;
        let mut s = session.state.lock();
        match kind {
            CipherKind::Decrypt => s.decrypt = None,
            CipherKind::Encrypt => s.encrypt = None,
        }
        Ok(())
    }

    /// C_Encrypt: local, with the public key. A size query (NULL buffer)
    /// or a buffer too small leaves the operation active.
    pub fn encrypt(
        &self,
        h: CK_SESSION_HANDLE,
        data: &[u8],
        capacity: Option<usize>,
    ) -> Result<Output> {
        let session = self.session(h)?;
        let mut s = session.state.lock();
        let op = s
            .encrypt
            .as_ref()
            .ok_or(Error::from(CKR_OPERATION_NOT_INITIALIZED))?;
        let len = modulus_len(&op.key);
        match capacity {
            None => return Ok(Output::Length(len)),
            Some(c) if c < len => return Ok(Output::TooSmall(len)),
            Some(_) => {}
        }
        let op = s.encrypt.take().expect("checked above");
        encrypt_locally(&op.key, op.hash, data).map(|c| Output::Done(c.into()))
    }

    /// C_Decrypt: one KMS Decrypt per ciphertext.
    pub fn decrypt(
        &self,
        h: CK_SESSION_HANDLE,
        data: &[u8],
        capacity: Option<usize>,
    ) -> Result<Output> {
        let session = self.session(h)?;
        let mut s = session.state.lock();
        let op = s
            .decrypt
            .as_ref()
            .ok_or(Error::from(CKR_OPERATION_NOT_INITIALIZED))?;
        if !self.slots[session.slot].login.private_visible() {
            s.decrypt = None;
            return Err(CKR_USER_NOT_LOGGED_IN.into());
        }
        let modulus = modulus_len(&op.key);
        if data.len() != modulus {
            s.decrypt = None;
            return Err(Error::new(
                CKR_ENCRYPTED_DATA_LEN_RANGE,
                format!("an RSA ciphertext of this key is {modulus} bytes"),
            ));
        }
        let held = op.held.as_ref().filter(|(c, _)| c == data);
        match (capacity, held) {
            (None, Some((_, p))) => return Ok(Output::Length(p.len())),
            (None, None) => return Ok(Output::Length(modulus)),
            (Some(c), Some((_, p))) if c < p.len() => return Ok(Output::TooSmall(p.len())),
            _ => {}
        }
        let mut op = s.decrypt.take().expect("checked above");
        if let Some((_, plaintext)) = op.held.take().filter(|(c, _)| c == data) {
            return Ok(Output::Done(plaintext));
        }
        // No lock is held across the KMS call.
        drop(s);
        let plaintext = self.decrypt_with_kms(session.slot, &op, data)?;
        match capacity {
            Some(c) if c < plaintext.len() => {
                let len = plaintext.len();
                op.held = Some((data.to_vec(), plaintext));
                session.state.lock().decrypt = Some(op);
                Ok(Output::TooSmall(len))
            }
            _ => Ok(Output::Done(plaintext)),
        }
    }

    /// KMS's Decrypt, to the key as configured; the key that decrypted must
    /// be the object's, as for Sign, and what KMS contradicted is dropped
    /// and refreshed as after a failed Sign. One audit line either way.
    fn decrypt_with_kms(
        &self,
        slot: usize,
        op: &CipherOp,
        ciphertext: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>> {
        let call = Call {
            slot,
            key: &op.key,
            mechanism: "CKM_RSA_PKCS_OAEP",
            algorithm: op.hash.as_kms(),
            started: Instant::now(),
            region: None,
        };
        let backend = self.backend.clone();
        let key = op.key.clone();
        let algorithm = op.hash.as_kms();
        let ciphertext = ciphertext.to_vec();
        let answer = self.runtime()?.run(self.deadline, async move {
            backend
                .decrypt(&key.sign_target, algorithm, &ciphertext, &key.grant_tokens)
                .await
        });
        let (outcome, plaintext, request_id) = match answer {
            Err(e) => (Outcome::Failed(e), None, None),
            Ok(Err(e)) => {
                let id = e.request_id.clone();
                (Outcome::Refused(e), None, id)
            }
            Ok(Ok(d)) if d.key_arn.as_deref() != Some(op.key.arn.as_str()) => {
                let other = d.key_arn.unwrap_or_else(|| "an unnamed key".into());
                (Outcome::OtherKey(other), None, d.request_id)
            }
            // The audit's word for success; the plaintext goes apart.
            Ok(Ok(d)) => (Outcome::Signed(Vec::new()), Some(d.plaintext), d.request_id),
        };
        self.audit("decrypt", &call, &outcome, request_id);
        if let Some(plaintext) = plaintext {
            return Ok(plaintext);
        }
        // A ciphertext that is not this key's says nothing about the key.
        let invalid =
            matches!(&outcome, Outcome::Refused(e) if e.rv() == CKR_ENCRYPTED_DATA_INVALID);
        if !invalid {
            self.after_failed_sign(slot, &op.key, &outcome);
        }
        let e = outcome.into_result(&op.key).expect_err("not a success");
        log_at!(
            Error,
            "Decrypt with {} ({algorithm}) failed: {e}",
            op.key.arn
        );
        Err(e)
    }
}
