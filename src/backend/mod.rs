//! A remote key that can describe itself and sign: the trait the token
//! layer uses, and its AWS KMS implementation. Nothing above this module sees
//! an AWS type; the mapping from KMS errors to CK_RV is written once, here.

#[cfg(feature = "aws")]
mod credentials;
#[cfg(feature = "aws")]
pub mod diagnose;
#[cfg(feature = "aws")]
pub mod kms;

use crate::error::Error;
use crate::keyref::KeyRef;
use crate::vocabulary::{MacAlg, SigningAlgorithm};
use cryptoki_sys::*;
use std::future::Future;
use std::pin::Pin;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What GetPublicKey tells about a key.
#[derive(Debug, Clone)]
pub struct RemoteKey {
    pub arn: String,
    /// KeySpec as KMS names it (`None` from `KeySpec::from_kms` for the specs
    /// that do not become objects).
    pub key_spec: String,
    pub key_usage: String,
    /// DER SubjectPublicKeyInfo.
    pub public_key: Vec<u8>,
}

impl RemoteKey {
    /// The key ID: the part of the ARN after `key/` (the whole ARN if it
    /// is not a key ARN).
    pub fn key_id(&self) -> &str {
        KeyRef::key_id_in(&self.arn).unwrap_or(&self.arn)
    }

    /// Whether this key, which GetPublicKey or the disk cache gave for
    /// `reference`, can be the key the reference names
    /// (`KeyRef::names_key`).
    pub fn is_named_by(&self, reference: &KeyRef) -> bool {
        reference.names_key(&self.arn)
    }
}

/// A signature from KMS, the key that made it, and the request that made it
/// (for the audit line).
#[derive(Debug, Clone)]
pub struct Signed {
    pub signature: Vec<u8>,
    /// Sign's `KeyId`: the ARN of the key that signed (`None` if the answer
    /// had none, which the token layer refuses).
    pub key_arn: Option<String>,
    pub request_id: Option<String>,
}

/// A plaintext from KMS's Decrypt and the key that decrypted it.
pub struct Decrypted {
    /// Zeroed when dropped.
    pub plaintext: zeroize::Zeroizing<Vec<u8>>,
    /// Decrypt's `KeyId`: the ARN of the key that decrypted.
    pub key_arn: Option<String>,
    pub request_id: Option<String>,
}

/// A MAC from KMS's GenerateMac (empty from VerifyMac, which answers
/// only whether the MAC is valid) and the key that made or checked it.
#[derive(Debug, Clone)]
pub struct MacAnswer {
    pub mac: Vec<u8>,
    /// The answer's `KeyId`: the ARN of the key.
    pub key_arn: Option<String>,
    pub request_id: Option<String>,
}

/// A raw ECDH shared secret from KMS's DeriveSharedSecret and the key that
/// computed it.
pub struct SharedSecret {
    /// Zeroed when dropped.
    pub secret: zeroize::Zeroizing<Vec<u8>>,
    pub key_arn: Option<String>,
    pub request_id: Option<String>,
}

/// What DescribeKey tells about a key (what `kms11 doctor` and the
/// certificates' dates use of it, and how a key GetPublicKey does not
/// describe, a symmetric one, is known).
#[derive(Debug, Clone)]
pub struct KeyMetadata {
    pub arn: String,
    /// KeySpec and KeyUsage as KMS names them.
    pub key_spec: String,
    pub key_usage: String,
    /// Whole seconds since the Unix epoch.
    pub creation_date: i64,
    /// Enabled, Disabled, PendingDeletion, ...
    pub key_state: String,
}

/// What CreateKey is asked for (a key C_GenerateKeyPair or C_GenerateKey
/// makes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewKey {
    /// KeySpec and KeyUsage as KMS names them.
    pub key_spec: &'static str,
    pub key_usage: &'static str,
    pub description: String,
    pub tags: Vec<(String, String)>,
    pub multi_region: bool,
    /// A key policy (JSON); `None`: KMS's default policy.
    pub policy: Option<String>,
}

/// How a KMS call failed, in the terms the module maps to CK_RV.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The key (or alias) does not exist where we looked.
    NotFound,
    /// The caller's identity or the key policy does not allow the call.
    AccessDenied,
    /// The key is disabled, pending deletion or otherwise unusable.
    KeyUnusable,
    /// The key cannot do this (wrong usage or algorithm).
    KeyUsage,
    /// KMS refused the request as invalid: a bug of ours.
    InvalidRequest,
    /// KMS answered without what the call asks for (a Sign answer without
    /// a signature, a DescribeKey answer without KeyMetadata).
    MalformedAnswer,
    /// Throttled after the retries.
    Throttled,
    /// Network failure, timeout or a KMS-side error after the retries.
    Unavailable,
    /// No credentials, or credentials KMS rejects (unknown, expired, or
    /// signed with a skewed clock).
    Credentials,
    /// A setting the call cannot be made without: no region for a key not
    /// named by ARN, or a CA bundle that cannot be read or used.
    Configuration,
    /// Decrypt: the ciphertext is not one of this key's (or is corrupted).
    InvalidCiphertext,
    /// VerifyMac: the MAC is not the message's under this key.
    InvalidMac,
    /// KMS refused what the caller asked for: an alias that exists, a key
    /// policy or tags it does not accept.
    Refused,
    /// KMS answered about another key than the one named (a GetPublicKey
    /// for a key ID or ARN answered with another key's ARN): a misbehaving
    /// endpoint or proxy. The key is left out; nothing from it is used.
    WrongKey,
}

#[derive(Debug, Clone)]
pub struct BackendError {
    pub failure: Failure,
    /// The AWS error code (or the SDK's failure kind) and message.
    pub code: String,
    pub message: String,
    pub request_id: Option<String>,
}

impl BackendError {
    /// The one table from KMS failures to CK_RV (docs/errors.md).
    pub fn rv(&self) -> CK_RV {
        match self.failure {
            Failure::NotFound => CKR_KEY_HANDLE_INVALID,
            Failure::AccessDenied | Failure::KeyUnusable | Failure::KeyUsage => {
                CKR_KEY_FUNCTION_NOT_PERMITTED
            }
            Failure::InvalidRequest | Failure::MalformedAnswer => CKR_GENERAL_ERROR,
            Failure::InvalidCiphertext => CKR_ENCRYPTED_DATA_INVALID,
            Failure::InvalidMac => CKR_SIGNATURE_INVALID,
            Failure::Refused => CKR_ATTRIBUTE_VALUE_INVALID,
            Failure::Throttled
            | Failure::Unavailable
            | Failure::Credentials
            | Failure::Configuration
            | Failure::WrongKey => CKR_DEVICE_ERROR,
        }
    }

    /// A transport, service or set-up failure that says nothing about the key.
    pub fn is_transient(&self) -> bool {
        matches!(
            self.failure,
            Failure::Throttled
                | Failure::Unavailable
                | Failure::Credentials
                | Failure::Configuration
        )
    }
}

impl std::fmt::Display for BackendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)?;
        if let Some(id) = &self.request_id {
            write!(f, " (request id {id})")?;
        }
        Ok(())
    }
}

impl From<BackendError> for Error {
    fn from(e: BackendError) -> Error {
        Error::new(e.rv(), e.to_string())
    }
}

pub trait Backend: Management {
    /// GetPublicKey: the key ARN, spec, usage, algorithms and public key.
    fn get_public_key<'a>(
        &'a self,
        key: &'a str,
        grant_tokens: &'a [String],
    ) -> BoxFuture<'a, Result<RemoteKey, BackendError>>;

    /// GetPublicKey in `region` (a fallback region of a multi-Region key):
    /// `key` is a key ID or alias name asked there, or an ARN of that
    /// region.
    fn get_public_key_in<'a>(
        &'a self,
        _region: &'a str,
        _key: &'a str,
        _grant_tokens: &'a [String],
    ) -> BoxFuture<'a, Result<RemoteKey, BackendError>> {
        Box::pin(async { Err(not_offered("GetPublicKey in another region")) })
    }

    /// DescribeKey: the key's state and creation date.
    fn describe_key<'a>(
        &'a self,
        key: &'a str,
        grant_tokens: &'a [String],
    ) -> BoxFuture<'a, Result<KeyMetadata, BackendError>>;

    /// Where this backend would send requests about `key` and as whom, as
    /// the public-key cache's scope (endpoint, region, profile, account);
    /// `None`: do not cache. Makes no KMS call (it may run the credential
    /// provider once per process, whose answer the KMS client then uses).
    fn cache_scope<'a>(&'a self, _key: &'a str) -> BoxFuture<'a, Option<String>> {
        Box::pin(async { None })
    }

    /// Sign `message` (a digest, or the message itself: the algorithm's
    /// `message_type` says which). `key` is any key reference KMS takes
    /// (key ID, key ARN, alias name, alias ARN); the answer names the key
    /// that signed.
    fn sign<'a>(
        &'a self,
        key: &'a str,
        algorithm: SigningAlgorithm,
        message: &'a [u8],
        grant_tokens: &'a [String],
    ) -> BoxFuture<'a, Result<Signed, BackendError>>;

    /// Sign, one attempt only (no retry by the SDK): what multi-Region
    /// failover sends, retrying in the next region instead
    /// (`token::failover`).
    fn sign_once<'a>(
        &'a self,
        key: &'a str,
        algorithm: SigningAlgorithm,
        message: &'a [u8],
        grant_tokens: &'a [String],
    ) -> BoxFuture<'a, Result<Signed, BackendError>> {
        self.sign(key, algorithm, message, grant_tokens)
    }

    /// Decrypt with an asymmetric key (`algorithm`: the KMS
    /// EncryptionAlgorithm, RSAES_OAEP_SHA_1 or _256).
    fn decrypt<'a>(
        &'a self,
        key: &'a str,
        algorithm: &'a str,
        ciphertext: &'a [u8],
        grant_tokens: &'a [String],
    ) -> BoxFuture<'a, Result<Decrypted, BackendError>>;

    /// GenerateMac: the HMAC of `message` (1 to 4,096 bytes) with an HMAC
    /// key of `algorithm`.
    fn generate_mac<'a>(
        &'a self,
        key: &'a str,
        algorithm: MacAlg,
        message: &'a [u8],
        grant_tokens: &'a [String],
    ) -> BoxFuture<'a, Result<MacAnswer, BackendError>>;

    /// VerifyMac: Ok when `mac` is the message's HMAC (KMS compares in
    /// constant time), `Failure::InvalidMac` when it is not.
    fn verify_mac<'a>(
        &'a self,
        key: &'a str,
        algorithm: MacAlg,
        message: &'a [u8],
        mac: &'a [u8],
        grant_tokens: &'a [String],
    ) -> BoxFuture<'a, Result<MacAnswer, BackendError>>;

    /// DeriveSharedSecret (ECDH) of a KEY_AGREEMENT key with the peer's
    /// public key (DER SubjectPublicKeyInfo): the raw shared secret.
    fn derive_shared_secret<'a>(
        &'a self,
        key: &'a str,
        peer_spki: &'a [u8],
        grant_tokens: &'a [String],
    ) -> BoxFuture<'a, Result<SharedSecret, BackendError>>;

    /// GenerateRandom: exactly `len` bytes (1 to `RANDOM_MAX`) from KMS, in
    /// the region of `near` (a key reference of the caller's token: a key
    /// ARN's region, else the configured one).
    fn generate_random<'a>(
        &'a self,
        near: &'a str,
        len: usize,
    ) -> BoxFuture<'a, Result<Vec<u8>, BackendError>>;
}

/// Making, naming and retiring keys (C_GenerateKeyPair, C_GenerateKey,
/// C_DestroyObject, C_SetAttributeValue of a label), in the configured
/// region unless a reference says otherwise.
pub trait Management: Send + Sync {
    /// CreateKey in the configured region: the new key's metadata.
    fn create_key<'a>(
        &'a self,
        _key: &'a NewKey,
    ) -> BoxFuture<'a, Result<KeyMetadata, BackendError>> {
        Box::pin(async { Err(not_offered("CreateKey")) })
    }

    /// CreateAlias `alias` (alias/NAME) for the key `target` (its ARN, whose
    /// region the alias is made in).
    fn create_alias<'a>(
        &'a self,
        _alias: &'a str,
        _target: &'a str,
    ) -> BoxFuture<'a, Result<(), BackendError>> {
        Box::pin(async { Err(not_offered("CreateAlias")) })
    }

    /// DeleteAlias `alias` (alias/NAME) in the region of `near` (a key
    /// ARN's, else the configured one).
    fn delete_alias<'a>(
        &'a self,
        _alias: &'a str,
        _near: &'a str,
    ) -> BoxFuture<'a, Result<(), BackendError>> {
        Box::pin(async { Err(not_offered("DeleteAlias")) })
    }

    /// ScheduleKeyDeletion of the key `arn` after `days` (7 to 30).
    fn schedule_key_deletion<'a>(
        &'a self,
        _arn: &'a str,
        _days: u32,
    ) -> BoxFuture<'a, Result<(), BackendError>> {
        Box::pin(async { Err(not_offered("ScheduleKeyDeletion")) })
    }

    /// ListAliases in the region of `near` (a key ARN's, else the
    /// configured one), every page: the names of the aliases that start
    /// with `prefix` and name a key.
    fn list_aliases<'a>(
        &'a self,
        _prefix: &'a str,
        _near: &'a str,
    ) -> BoxFuture<'a, Result<Vec<String>, BackendError>> {
        Box::pin(async { Err(not_offered("ListAliases")) })
    }

    /// TagResource: adds `tags` to the key `arn`.
    fn tag_resource<'a>(
        &'a self,
        _arn: &'a str,
        _tags: &'a [(String, String)],
    ) -> BoxFuture<'a, Result<(), BackendError>> {
        Box::pin(async { Err(not_offered("TagResource")) })
    }
}

/// The refusal of a backend that does not offer operation `op`.
fn not_offered(op: &str) -> BackendError {
    BackendError {
        failure: Failure::InvalidRequest,
        code: "NotOffered".into(),
        message: format!("this backend does not offer {op}"),
        request_id: None,
    }
}

/// The most bytes one GenerateRandom request returns.
pub const RANDOM_MAX: usize = 1024;

#[cfg(test)]
mod tests {
    use super::*;

    fn error(failure: Failure) -> BackendError {
        BackendError {
            failure,
            code: String::new(),
            message: String::new(),
            request_id: None,
        }
    }

    /// The table of docs/errors.md, pinned: each failure's CK_RV, and
    /// whether it says nothing about the key.
    #[test]
    fn each_failure_has_its_ck_rv() {
        use Failure::*;
        for (failure, rv, transient) in [
            (NotFound, CKR_KEY_HANDLE_INVALID, false),
            (AccessDenied, CKR_KEY_FUNCTION_NOT_PERMITTED, false),
            (KeyUnusable, CKR_KEY_FUNCTION_NOT_PERMITTED, false),
            (KeyUsage, CKR_KEY_FUNCTION_NOT_PERMITTED, false),
            (InvalidRequest, CKR_GENERAL_ERROR, false),
            (MalformedAnswer, CKR_GENERAL_ERROR, false),
            (Throttled, CKR_DEVICE_ERROR, true),
            (Unavailable, CKR_DEVICE_ERROR, true),
            (Credentials, CKR_DEVICE_ERROR, true),
            (Configuration, CKR_DEVICE_ERROR, true),
            (WrongKey, CKR_DEVICE_ERROR, false),
            (InvalidCiphertext, CKR_ENCRYPTED_DATA_INVALID, false),
            (InvalidMac, CKR_SIGNATURE_INVALID, false),
            (Refused, CKR_ATTRIBUTE_VALUE_INVALID, false),
        ] {
            let e = error(failure.clone());
            assert_eq!((e.rv(), e.is_transient()), (rv, transient), "{failure:?}");
        }
    }

    #[test]
    fn a_remote_key_knows_its_key_id_and_whom_it_answers() {
        let arn = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
        let key = RemoteKey {
            arn: arn.into(),
            key_spec: "ECC_NIST_P256".into(),
            key_usage: "SIGN_VERIFY".into(),
            public_key: Vec::new(),
        };
        assert_eq!(key.key_id(), "1234abcd-12ab-34cd-56ef-1234567890ab");
        let named = |r: &str| key.is_named_by(&KeyRef::parse(r).unwrap());
        assert!(named("1234abcd-12ab-34cd-56ef-1234567890ab"));
        assert!(named(arn));
        assert!(named("alias/any"));
        assert!(!named("ffffffff-12ab-34cd-56ef-1234567890ab"));
        assert!(!named("arn:aws:kms:eu-west-1:111122223333:alias/any"));
        let odd = RemoteKey {
            arn: "not an arn".into(),
            ..key.clone()
        };
        assert_eq!(odd.key_id(), "not an arn");
    }
}
