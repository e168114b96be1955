//! The words every layer shares: the KMS key specs that become PKCS#11
//! objects (one row each), their curves, the hashes, and the KMS signing
//! algorithms and key usages. A leaf: it imports nothing of the crate, and
//! every other module (mechanism, backend, token, the CLI) reads its facts
//! about a key type from here.
//!
//! Adding a key spec is one row of `key_specs!`; a new `Family` fails to
//! compile until every `match` on it (objects, signatures, public-key
//! formats) handles it. No `_ =>` arm stands for a default key type.

/// Generates a KMS enumeration from its values' own names.
macro_rules! kms_names {
    ($(#[$doc:meta])* $name:ident { $($variant:ident = $kms:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($variant),+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub const fn as_kms(self) -> &'static str {
                match self {
                    $($name::$variant => $kms),+
                }
            }

            pub fn from_kms(s: &str) -> Option<$name> {
                $name::ALL.iter().copied().find(|v| v.as_kms() == s)
            }
        }
    };
}

mod algorithm;
mod curve;
mod hash;
mod mldsa;
mod spec;

pub use algorithm::{MessageType, SigningAlgorithm, RAW_MESSAGE_MAX};
pub use curve::{Curve, CurveRow};
pub use hash::{HashAlg, HashRow, MacAlg, MacRow, OaepHash};
pub use mldsa::{MlDsaRow, MlDsaSet};
pub use spec::{Family, KeySpec, SpecRow, ED25519_KEY_LEN, ED25519_OID};

kms_names! {
    /// What a KMS key is for (DescribeKey's and GetPublicKey's KeyUsage).
    KeyUsage {
        SignVerify = "SIGN_VERIFY",
        EncryptDecrypt = "ENCRYPT_DECRYPT",
        GenerateVerifyMac = "GENERATE_VERIFY_MAC",
        KeyAgreement = "KEY_AGREEMENT",
    }
}

#[cfg(test)]
mod tests;
