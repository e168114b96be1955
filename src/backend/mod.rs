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
use crate::vocabulary::SigningAlgorithm;
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
    pub signing_algorithms: Vec<String>,
    /// DER SubjectPublicKeyInfo.
    pub public_key: Vec<u8>,
}

impl RemoteKey {
    /// The key ID: the part of the ARN after `key/`.
    pub fn key_id(&self) -> &str {
        self.arn.rsplit_once("key/").map_or(&self.arn, |(_, id)| id)
    }
}

/// Whether `arn`, a key ARN that GetPublicKey or the disk cache gave for
/// `reference`, can be the key the reference names.
///
/// A key ID or key ARN names one key for ever, so the ARN must be that key:
/// the whole ARN for a key ARN, its `key/<id>` part for a key ID (UUID or
/// `mrk-...`). An alias may name any key of its account and region, so
/// only that much is checked (an alias ARN's partition, region and account;
/// for an alias name, that the ARN is a key ARN at all): which key an alias
/// names now is checked on every signature, against Sign's answer.
pub fn arn_matches_reference(reference: &str, arn: &str) -> bool {
    let Some((prefix, id)) = arn.split_once(":key/") else {
        return false;
    };
    let well_formed = arn.starts_with("arn:")
        && prefix.split(':').count() == 5
        && !id.is_empty()
        && !id.contains(['/', ':']);
    if !well_formed {
        return false;
    }
    if let Some((alias_prefix, _)) = reference.split_once(":alias/") {
        return reference.starts_with("arn:") && alias_prefix == prefix;
    }
    if reference.starts_with("alias/") {
        return true;
    }
    if reference.starts_with("arn:") {
        return arn == reference;
    }
    id == reference
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

/// What DescribeKey tells about a key.
#[derive(Debug, Clone)]
pub struct KeyMetadata {
    pub arn: String,
    /// Whole seconds since the Unix epoch.
    pub creation_date: i64,
    pub enabled: bool,
    /// Enabled, Disabled, PendingDeletion, ...
    pub key_state: String,
    pub key_spec: String,
    pub key_usage: String,
    pub description: String,
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
    /// Throttled after the retries.
    Throttled,
    /// Network failure, timeout or a KMS-side error after the retries.
    Unavailable,
    /// No credentials or a configuration the SDK could not use.
    Credentials,
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
            Failure::InvalidRequest => CKR_GENERAL_ERROR,
            Failure::Throttled
            | Failure::Unavailable
            | Failure::Credentials
            | Failure::WrongKey => CKR_DEVICE_ERROR,
        }
    }

    /// A transport or service failure that says nothing about the key.
    pub fn is_transient(&self) -> bool {
        matches!(
            self.failure,
            Failure::Throttled | Failure::Unavailable | Failure::Credentials
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

pub trait Backend: Send + Sync {
    /// GetPublicKey: the key ARN, spec, usage, algorithms and public key.
    fn get_public_key<'a>(
        &'a self,
        key: &'a str,
        grant_tokens: &'a [String],
    ) -> BoxFuture<'a, Result<RemoteKey, BackendError>>;

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

    /// Sign with MessageType=DIGEST. `key` is any key reference KMS takes
    /// (key ID, key ARN, alias name, alias ARN); the answer names the key
    /// that signed.
    fn sign<'a>(
        &'a self,
        key: &'a str,
        algorithm: SigningAlgorithm,
        digest: &'a [u8],
        grant_tokens: &'a [String],
    ) -> BoxFuture<'a, Result<Signed, BackendError>>;
}

#[cfg(test)]
mod tests {
    use super::arn_matches_reference as matches;

    const ID: &str = "1234abcd-12ab-34cd-56ef-1234567890ab";
    const ARN: &str = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    const OTHER: &str =
        "arn:aws:kms:us-east-1:111122223333:key/ffffffff-12ab-34cd-56ef-1234567890ab";

    #[test]
    fn a_key_id_or_key_arn_matches_only_its_key() {
        assert!(matches(ID, ARN));
        assert!(!matches(ID, OTHER));
        assert!(matches(ARN, ARN));
        assert!(!matches(ARN, OTHER));
        // The same key ID in another account or region is another key.
        let elsewhere = ARN.replace("111122223333", "444455556666");
        assert!(
            matches(ID, &elsewhere),
            "a key ID says nothing of the account"
        );
        assert!(!matches(ARN, &elsewhere));
        assert!(!matches(ARN, &ARN.replace("us-east-1", "eu-west-1")));
        // Multi-Region keys.
        let mrk = "arn:aws:kms:eu-west-1:111122223333:key/mrk-1234abcd12ab34cd56ef1234567890ab";
        assert!(matches("mrk-1234abcd12ab34cd56ef1234567890ab", mrk));
        assert!(!matches("mrk-1234abcd12ab34cd56ef1234567890ab", ARN));
        // Not key ARNs at all.
        for bad in [
            "",
            ID,
            "arn:aws:kms:us-east-1:111122223333:alias/x",
            "key/1234",
        ] {
            assert!(!matches(ID, bad), "{bad:?}");
        }
        assert!(!matches(ID, &format!("{ARN}/x")));
        assert!(!matches(ID, &format!("arn:aws:kms:us-east-1:key/{ID}")));
    }

    #[test]
    fn an_alias_matches_keys_of_its_account_and_region() {
        assert!(matches("alias/release", ARN));
        assert!(matches("alias/release", OTHER));
        let alias_arn = "arn:aws:kms:us-east-1:111122223333:alias/release";
        assert!(matches(alias_arn, ARN));
        assert!(!matches(
            alias_arn,
            &ARN.replace("111122223333", "444455556666")
        ));
        assert!(!matches(alias_arn, &ARN.replace("us-east-1", "eu-west-1")));
        assert!(!matches("alias/release", "not an arn"));
    }
}
