//! A remote key that can describe itself and sign: the trait the token
//! layer uses, and its AWS KMS implementation. Nothing above this module sees
//! an AWS type; the mapping from KMS errors to CK_RV is written once, here.

#[cfg(feature = "aws")]
pub mod diagnose;
#[cfg(feature = "aws")]
pub mod kms;

use crate::error::Error;
use cryptoki_sys::*;
use std::future::Future;
use std::pin::Pin;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The KMS key specs that become PKCS#11 objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeySpec {
    Rsa2048,
    Rsa3072,
    Rsa4096,
    EccNistP256,
    EccNistP384,
    EccNistP521,
    EccSecgP256k1,
}

impl KeySpec {
    pub fn from_kms(s: &str) -> Option<KeySpec> {
        Some(match s {
            "RSA_2048" => KeySpec::Rsa2048,
            "RSA_3072" => KeySpec::Rsa3072,
            "RSA_4096" => KeySpec::Rsa4096,
            "ECC_NIST_P256" => KeySpec::EccNistP256,
            "ECC_NIST_P384" => KeySpec::EccNistP384,
            "ECC_NIST_P521" => KeySpec::EccNistP521,
            "ECC_SECG_P256K1" => KeySpec::EccSecgP256k1,
            _ => return None,
        })
    }

    pub fn as_kms(self) -> &'static str {
        match self {
            KeySpec::Rsa2048 => "RSA_2048",
            KeySpec::Rsa3072 => "RSA_3072",
            KeySpec::Rsa4096 => "RSA_4096",
            KeySpec::EccNistP256 => "ECC_NIST_P256",
            KeySpec::EccNistP384 => "ECC_NIST_P384",
            KeySpec::EccNistP521 => "ECC_NIST_P521",
            KeySpec::EccSecgP256k1 => "ECC_SECG_P256K1",
        }
    }

    pub fn is_rsa(self) -> bool {
        matches!(self, KeySpec::Rsa2048 | KeySpec::Rsa3072 | KeySpec::Rsa4096)
    }

    /// Bytes of an RSA modulus (0 for EC keys).
    pub fn rsa_modulus_len(self) -> usize {
        match self {
            KeySpec::Rsa2048 => 256,
            KeySpec::Rsa3072 => 384,
            KeySpec::Rsa4096 => 512,
            _ => 0,
        }
    }
}

/// The hash of a KMS signing algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hash {
    Sha256,
    Sha384,
    Sha512,
}

impl Hash {
    pub fn output_len(self) -> usize {
        match self {
            Hash::Sha256 => 32,
            Hash::Sha384 => 48,
            Hash::Sha512 => 64,
        }
    }
}

/// The KMS signing algorithms the module uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SigningAlgorithm {
    RsaPkcs1(Hash),
    RsaPss(Hash),
    Ecdsa(Hash),
}

impl SigningAlgorithm {
    pub fn as_kms(self) -> &'static str {
        use Hash::*;
        use SigningAlgorithm::*;
        match self {
            RsaPkcs1(Sha256) => "RSASSA_PKCS1_V1_5_SHA_256",
            RsaPkcs1(Sha384) => "RSASSA_PKCS1_V1_5_SHA_384",
            RsaPkcs1(Sha512) => "RSASSA_PKCS1_V1_5_SHA_512",
            RsaPss(Sha256) => "RSASSA_PSS_SHA_256",
            RsaPss(Sha384) => "RSASSA_PSS_SHA_384",
            RsaPss(Sha512) => "RSASSA_PSS_SHA_512",
            Ecdsa(Sha256) => "ECDSA_SHA_256",
            Ecdsa(Sha384) => "ECDSA_SHA_384",
            Ecdsa(Sha512) => "ECDSA_SHA_512",
        }
    }
}

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

/// A signature from KMS, and the request that made it (for the audit line).
#[derive(Debug, Clone)]
pub struct Signed {
    pub signature: Vec<u8>,
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
            Failure::Throttled | Failure::Unavailable | Failure::Credentials => CKR_DEVICE_ERROR,
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

    /// Sign with MessageType=DIGEST.
    fn sign<'a>(
        &'a self,
        arn: &'a str,
        algorithm: SigningAlgorithm,
        digest: &'a [u8],
        grant_tokens: &'a [String],
    ) -> BoxFuture<'a, Result<Signed, BackendError>>;
}
