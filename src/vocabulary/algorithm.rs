//! The KMS signing algorithms and how Sign reads its message.

use super::HashAlg;

/// The KMS signing algorithms the module uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SigningAlgorithm {
    RsaPkcs1(HashAlg),
    RsaPss(HashAlg),
    Ecdsa(HashAlg),
    /// PureEdDSA over the message (KMS: RAW, at most 4,096 bytes).
    Ed25519,
    /// HashEdDSA (RFC 8032 Ed25519ph, no context) over the 64 bytes sent,
    /// which KMS hashes with SHA-512 itself (KMS: DIGEST).
    Ed25519Ph,
    /// ML-DSA over a μ the module computed (KMS: EXTERNAL_MU, 64 bytes).
    MlDsa,
}

/// How KMS reads Sign's message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageType {
    /// The message itself, at most `RAW_MESSAGE_MAX` bytes.
    Raw,
    /// A digest of the algorithm's hash (Ed25519ph: 64 bytes).
    Digest,
    /// ML-DSA's μ (FIPS 204 section 6.2's external μ, 64 bytes).
    ExternalMu,
}

impl MessageType {
    pub const fn as_kms(self) -> &'static str {
        match self {
            MessageType::Raw => "RAW",
            MessageType::Digest => "DIGEST",
            MessageType::ExternalMu => "EXTERNAL_MU",
        }
    }
}

/// The longest message KMS signs with MessageType=RAW.
pub const RAW_MESSAGE_MAX: usize = 4096;

impl SigningAlgorithm {
    pub const fn as_kms(self) -> &'static str {
        use HashAlg::*;
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
            Ed25519 => "ED25519_SHA_512",
            Ed25519Ph => "ED25519_PH_SHA_512",
            MlDsa => "ML_DSA_SHAKE_256",
        }
    }

    /// The hash whose digest the module sends, `None` for the algorithms
    /// KMS gets the message of (RAW), or that hash what they get.
    pub const fn digest(self) -> Option<HashAlg> {
        match self {
            SigningAlgorithm::RsaPkcs1(h)
            | SigningAlgorithm::RsaPss(h)
            | SigningAlgorithm::Ecdsa(h) => Some(h),
            SigningAlgorithm::Ed25519 | SigningAlgorithm::Ed25519Ph | SigningAlgorithm::MlDsa => {
                None
            }
        }
    }

    /// Sign's MessageType for this algorithm: KMS takes ED25519_SHA_512
    /// only as RAW, and ED25519_PH_SHA_512 only as DIGEST.
    pub const fn message_type(self) -> MessageType {
        match self {
            SigningAlgorithm::Ed25519 => MessageType::Raw,
            SigningAlgorithm::MlDsa => MessageType::ExternalMu,
            SigningAlgorithm::RsaPkcs1(_)
            | SigningAlgorithm::RsaPss(_)
            | SigningAlgorithm::Ecdsa(_)
            | SigningAlgorithm::Ed25519Ph => MessageType::Digest,
        }
    }
}
