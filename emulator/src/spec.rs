//! The vocabulary of KMS key types and algorithms, and which combinations
//! KMS allows (AWS KMS API reference, CreateKey, Sign, Encrypt, GenerateMac,
//! DeriveSharedSecret; the developer guide's "ML-DSA keys in AWS KMS").

use crate::error::KmsError;
use aws_lc_rs::digest;

macro_rules! kms_enum {
    ($name:ident, $member:literal, [$($variant:ident),+ $(,)?]) => {
        #[allow(non_camel_case_types)]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => stringify!($variant)),+ }
            }

            /// Parses a request member, answering an unknown value as KMS's
            /// request validation does.
            pub fn parse(value: &str) -> Result<Self, KmsError> {
                Self::ALL.iter().copied().find(|v| v.as_str() == value).ok_or_else(|| {
                    let set: Vec<&str> = Self::ALL.iter().map(|v| v.as_str()).collect();
                    KmsError::validation(format!(
                        "1 validation error detected: Value '{value}' at '{}' failed to satisfy constraint: Member must satisfy enum value set: [{}]",
                        $member,
                        set.join(", ")
                    ))
                })
            }
        }
    };
}

kms_enum!(
    KeySpec,
    "keySpec",
    [
        SYMMETRIC_DEFAULT,
        RSA_2048,
        RSA_3072,
        RSA_4096,
        ECC_NIST_P256,
        ECC_NIST_P384,
        ECC_NIST_P521,
        ECC_SECG_P256K1,
        ECC_NIST_EDWARDS25519,
        ML_DSA_44,
        ML_DSA_65,
        ML_DSA_87,
        HMAC_224,
        HMAC_256,
        HMAC_384,
        HMAC_512,
    ]
);
kms_enum!(
    KeyUsage,
    "keyUsage",
    [
        SIGN_VERIFY,
        ENCRYPT_DECRYPT,
        GENERATE_VERIFY_MAC,
        KEY_AGREEMENT
    ]
);
kms_enum!(
    SigningAlgorithm,
    "signingAlgorithm",
    [
        RSASSA_PSS_SHA_256,
        RSASSA_PSS_SHA_384,
        RSASSA_PSS_SHA_512,
        RSASSA_PKCS1_V1_5_SHA_256,
        RSASSA_PKCS1_V1_5_SHA_384,
        RSASSA_PKCS1_V1_5_SHA_512,
        ECDSA_SHA_256,
        ECDSA_SHA_384,
        ECDSA_SHA_512,
        ED25519_SHA_512,
        ED25519_PH_SHA_512,
        ML_DSA_SHAKE_256,
    ]
);
kms_enum!(
    EncryptionAlgorithm,
    "encryptionAlgorithm",
    [SYMMETRIC_DEFAULT, RSAES_OAEP_SHA_1, RSAES_OAEP_SHA_256]
);
kms_enum!(
    MacAlgorithm,
    "macAlgorithm",
    [HMAC_SHA_224, HMAC_SHA_256, HMAC_SHA_384, HMAC_SHA_512]
);
kms_enum!(MessageType, "messageType", [RAW, DIGEST, EXTERNAL_MU]);
kms_enum!(
    Origin,
    "origin",
    [AWS_KMS, EXTERNAL, AWS_CLOUDHSM, EXTERNAL_KEY_STORE]
);
kms_enum!(
    WrappingAlgorithm,
    "wrappingAlgorithm",
    [
        RSAES_PKCS1_V1_5,
        RSAES_OAEP_SHA_1,
        RSAES_OAEP_SHA_256,
        RSA_AES_KEY_WRAP_SHA_1,
        RSA_AES_KEY_WRAP_SHA_256,
        SM2PKE,
    ]
);
kms_enum!(
    WrappingKeySpec,
    "wrappingKeySpec",
    [RSA_2048, RSA_3072, RSA_4096, SM2]
);
kms_enum!(
    ExpirationModel,
    "expirationModel",
    [KEY_MATERIAL_EXPIRES, KEY_MATERIAL_DOES_NOT_EXPIRE]
);

/// The three families UpdateAlias compares: an alias may only move between
/// keys of one family and one key usage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyFamily {
    Symmetric,
    Asymmetric,
    Hmac,
}

impl KeySpec {
    pub fn family(self) -> KeyFamily {
        match self {
            KeySpec::SYMMETRIC_DEFAULT => KeyFamily::Symmetric,
            KeySpec::HMAC_224 | KeySpec::HMAC_256 | KeySpec::HMAC_384 | KeySpec::HMAC_512 => {
                KeyFamily::Hmac
            }
            _ => KeyFamily::Asymmetric,
        }
    }

    pub fn is_rsa(self) -> bool {
        matches!(
            self,
            KeySpec::RSA_2048 | KeySpec::RSA_3072 | KeySpec::RSA_4096
        )
    }

    pub fn is_nist_curve(self) -> bool {
        matches!(
            self,
            KeySpec::ECC_NIST_P256 | KeySpec::ECC_NIST_P384 | KeySpec::ECC_NIST_P521
        )
    }

    /// ML-DSA (FIPS 204) key pairs: signing and verification only.
    pub fn is_ml_dsa(self) -> bool {
        matches!(
            self,
            KeySpec::ML_DSA_44 | KeySpec::ML_DSA_65 | KeySpec::ML_DSA_87
        )
    }

    /// The key usages CreateKey accepts for this spec.
    pub fn allows_usage(self, usage: KeyUsage) -> bool {
        use KeyUsage::*;
        match self.family() {
            KeyFamily::Symmetric => usage == ENCRYPT_DECRYPT,
            KeyFamily::Hmac => usage == GENERATE_VERIFY_MAC,
            KeyFamily::Asymmetric if self.is_rsa() => {
                matches!(usage, SIGN_VERIFY | ENCRYPT_DECRYPT)
            }
            KeyFamily::Asymmetric if self.is_nist_curve() => {
                matches!(usage, SIGN_VERIFY | KEY_AGREEMENT)
            }
            KeyFamily::Asymmetric => usage == SIGN_VERIFY,
        }
    }

    pub fn signing_algorithms(self) -> &'static [SigningAlgorithm] {
        use SigningAlgorithm::*;
        match self {
            KeySpec::RSA_2048 | KeySpec::RSA_3072 | KeySpec::RSA_4096 => &[
                RSASSA_PKCS1_V1_5_SHA_256,
                RSASSA_PKCS1_V1_5_SHA_384,
                RSASSA_PKCS1_V1_5_SHA_512,
                RSASSA_PSS_SHA_256,
                RSASSA_PSS_SHA_384,
                RSASSA_PSS_SHA_512,
            ],
            KeySpec::ECC_NIST_P256 | KeySpec::ECC_SECG_P256K1 => &[ECDSA_SHA_256],
            KeySpec::ECC_NIST_P384 => &[ECDSA_SHA_384],
            KeySpec::ECC_NIST_P521 => &[ECDSA_SHA_512],
            KeySpec::ECC_NIST_EDWARDS25519 => &[ED25519_SHA_512, ED25519_PH_SHA_512],
            KeySpec::ML_DSA_44 | KeySpec::ML_DSA_65 | KeySpec::ML_DSA_87 => &[ML_DSA_SHAKE_256],
            _ => &[],
        }
    }

    pub fn encryption_algorithms(self) -> &'static [EncryptionAlgorithm] {
        use EncryptionAlgorithm::*;
        match self {
            KeySpec::SYMMETRIC_DEFAULT => &[SYMMETRIC_DEFAULT],
            s if s.is_rsa() => &[RSAES_OAEP_SHA_1, RSAES_OAEP_SHA_256],
            _ => &[],
        }
    }

    pub fn mac_algorithm(self) -> Option<MacAlgorithm> {
        match self {
            KeySpec::HMAC_224 => Some(MacAlgorithm::HMAC_SHA_224),
            KeySpec::HMAC_256 => Some(MacAlgorithm::HMAC_SHA_256),
            KeySpec::HMAC_384 => Some(MacAlgorithm::HMAC_SHA_384),
            KeySpec::HMAC_512 => Some(MacAlgorithm::HMAC_SHA_512),
            _ => None,
        }
    }

    /// The lengths of key material ImportKeyMaterial accepts (the KMS
    /// developer guide's "Requirements for imported key material"), or None
    /// for a spec whose material this emulator does not import.
    pub fn import_lengths(self) -> Option<std::ops::RangeInclusive<usize>> {
        match self {
            KeySpec::SYMMETRIC_DEFAULT => Some(32..=32),
            KeySpec::HMAC_224 => Some(28..=64),
            KeySpec::HMAC_256 => Some(32..=64),
            KeySpec::HMAC_384 => Some(48..=128),
            KeySpec::HMAC_512 => Some(64..=128),
            _ => None,
        }
    }

    /// Length of generated HMAC key material: the hash's output length.
    pub fn hmac_key_len(self) -> usize {
        match self {
            KeySpec::HMAC_224 => 28,
            KeySpec::HMAC_256 => 32,
            KeySpec::HMAC_384 => 48,
            _ => 64,
        }
    }
}

impl SigningAlgorithm {
    /// The hash of the algorithm, and so the length of a DIGEST message;
    /// None for ML-DSA, whose SHAKE-256 is part of the algorithm.
    pub fn digest(self) -> Option<&'static digest::Algorithm> {
        use SigningAlgorithm::*;
        match self {
            RSASSA_PSS_SHA_256 | RSASSA_PKCS1_V1_5_SHA_256 | ECDSA_SHA_256 => Some(&digest::SHA256),
            RSASSA_PSS_SHA_384 | RSASSA_PKCS1_V1_5_SHA_384 | ECDSA_SHA_384 => Some(&digest::SHA384),
            RSASSA_PSS_SHA_512
            | RSASSA_PKCS1_V1_5_SHA_512
            | ECDSA_SHA_512
            | ED25519_SHA_512
            | ED25519_PH_SHA_512 => Some(&digest::SHA512),
            ML_DSA_SHAKE_256 => None,
        }
    }

    /// The MessageTypes KMS takes with the algorithm. Pure Ed25519 signs
    /// the message itself (RAW only); Ed25519ph takes a SHA-512 digest
    /// (DIGEST only), which KMS then hashes once more as RFC 8032 HashEdDSA
    /// does with its input; ML-DSA signs a message (RAW) or a μ the caller
    /// computed (EXTERNAL_MU), never a digest; RSA and ECDSA take RAW or
    /// DIGEST.
    pub fn message_types(self) -> &'static [MessageType] {
        use MessageType::*;
        match self {
            SigningAlgorithm::ED25519_SHA_512 => &[RAW],
            SigningAlgorithm::ED25519_PH_SHA_512 => &[DIGEST],
            SigningAlgorithm::ML_DSA_SHAKE_256 => &[RAW, EXTERNAL_MU],
            _ => &[RAW, DIGEST],
        }
    }

    /// True where the key gets what Sign received, which the algorithm
    /// hashes itself (Ed25519, Ed25519ph, ML-DSA); RSA and ECDSA get a
    /// digest, computed by the emulator from a RAW message.
    pub fn takes_message(self) -> bool {
        use SigningAlgorithm::*;
        matches!(
            self,
            ED25519_SHA_512 | ED25519_PH_SHA_512 | ML_DSA_SHAKE_256
        )
    }

    /// The length a message of `message_type` must have: a DIGEST the
    /// hash's, an EXTERNAL_MU 64 bytes (FIPS 204's μ); None for RAW.
    pub fn input_len(self, message_type: MessageType) -> Option<usize> {
        match message_type {
            MessageType::RAW => None,
            MessageType::DIGEST => self.digest().map(|d| d.output_len()),
            MessageType::EXTERNAL_MU => Some(64),
        }
    }
}

impl MacAlgorithm {
    pub fn hmac(self) -> aws_lc_rs::hmac::Algorithm {
        use aws_lc_rs::hmac;
        match self {
            MacAlgorithm::HMAC_SHA_224 => hmac::HMAC_SHA224,
            MacAlgorithm::HMAC_SHA_256 => hmac::HMAC_SHA256,
            MacAlgorithm::HMAC_SHA_384 => hmac::HMAC_SHA384,
            MacAlgorithm::HMAC_SHA_512 => hmac::HMAC_SHA512,
        }
    }
}
