//! The words every layer shares: the KMS key specs that become PKCS#11
//! objects (one row each), their curves, the hashes, and the KMS signing
//! algorithms and key usages. A leaf: it imports nothing of the crate, and
//! every other module (mechanism, backend, token, the CLI) reads its facts
//! about a key type from here.
//!
//! Adding a key spec is one row of `key_specs!`; a new `Family` fails to
//! compile until every `match` on it (objects, signatures, public-key
//! formats) handles it. No `_ =>` arm stands for a default key type.

use cryptoki_sys::{
    CKG_MGF1_SHA1, CKG_MGF1_SHA256, CKG_MGF1_SHA384, CKG_MGF1_SHA512, CKK_EC, CKK_EC_EDWARDS,
    CKK_RSA, CKM_EC_EDWARDS_KEY_PAIR_GEN, CKM_EC_KEY_PAIR_GEN, CKM_RSA_PKCS_KEY_PAIR_GEN,
    CKM_SHA256, CKM_SHA384, CKM_SHA512, CKM_SHA_1, CK_KEY_TYPE, CK_MECHANISM_TYPE,
    CK_RSA_PKCS_MGF_TYPE,
};
use der::asn1::ObjectIdentifier;

/// A hash KMS signs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HashAlg {
    Sha256,
    Sha384,
    Sha512,
}

/// What is known about a hash: one row per `HashAlg`.
#[derive(Debug)]
pub struct HashRow {
    /// As people write it ("SHA-256").
    pub name: &'static str,
    /// Bytes of output.
    pub len: usize,
    /// The PKCS#11 digest mechanism (a PSS parameter's hashAlg).
    pub ckm: CK_MECHANISM_TYPE,
    /// MGF1 over this hash (the PSS parameter KMS uses with it).
    pub mgf: CK_RSA_PKCS_MGF_TYPE,
    /// Its OID (DigestInfo, X.509).
    pub oid: ObjectIdentifier,
}

const SHA256_ROW: HashRow = HashRow {
    name: "SHA-256",
    len: 32,
    ckm: CKM_SHA256,
    mgf: CKG_MGF1_SHA256,
    oid: ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1"),
};
const SHA384_ROW: HashRow = HashRow {
    name: "SHA-384",
    len: 48,
    ckm: CKM_SHA384,
    mgf: CKG_MGF1_SHA384,
    oid: ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.2"),
};
const SHA512_ROW: HashRow = HashRow {
    name: "SHA-512",
    len: 64,
    ckm: CKM_SHA512,
    mgf: CKG_MGF1_SHA512,
    oid: ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.3"),
};

impl HashAlg {
    pub const ALL: [HashAlg; 3] = [HashAlg::Sha256, HashAlg::Sha384, HashAlg::Sha512];

    pub const fn row(self) -> &'static HashRow {
        match self {
            HashAlg::Sha256 => &SHA256_ROW,
            HashAlg::Sha384 => &SHA384_ROW,
            HashAlg::Sha512 => &SHA512_ROW,
        }
    }

    pub const fn output_len(self) -> usize {
        self.row().len
    }

    /// The hash a PKCS#11 digest mechanism (CKM_SHA256, ...) names.
    pub fn from_ckm(ckm: CK_MECHANISM_TYPE) -> Option<HashAlg> {
        HashAlg::ALL.into_iter().find(|h| h.row().ckm == ckm)
    }

    /// The hash an OID names.
    pub fn from_oid(oid: &ObjectIdentifier) -> Option<HashAlg> {
        HashAlg::ALL.into_iter().find(|h| h.row().oid == *oid)
    }
}

/// The elliptic curves of KMS's ECC key specs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Curve {
    P256,
    P384,
    P521,
    Secp256k1,
}

/// What is known about a curve: one row per `Curve`.
#[derive(Debug)]
pub struct CurveRow {
    /// The named curve's OID (CKA_EC_PARAMS, SubjectPublicKeyInfo).
    pub oid: ObjectIdentifier,
    /// KMS allows one algorithm per curve: ECDSA with this hash.
    pub hash: HashAlg,
    /// Bits of the order (C_GetMechanismInfo's key sizes).
    pub bits: usize,
    /// Bytes of one coordinate, and of one of r and s.
    pub field_len: usize,
    /// The JWK `crv` (RFC 7518, RFC 8812).
    pub jwk: &'static str,
    /// The JOSE algorithm of the curve's one KMS algorithm.
    pub jose: &'static str,
}

const P256_ROW: CurveRow = CurveRow {
    oid: ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7"),
    hash: HashAlg::Sha256,
    bits: 256,
    field_len: 32,
    jwk: "P-256",
    jose: "ES256",
};
const P384_ROW: CurveRow = CurveRow {
    oid: ObjectIdentifier::new_unwrap("1.3.132.0.34"),
    hash: HashAlg::Sha384,
    bits: 384,
    field_len: 48,
    jwk: "P-384",
    jose: "ES384",
};
const P521_ROW: CurveRow = CurveRow {
    oid: ObjectIdentifier::new_unwrap("1.3.132.0.35"),
    hash: HashAlg::Sha512,
    bits: 521,
    field_len: 66,
    jwk: "P-521",
    jose: "ES512",
};
const SECP256K1_ROW: CurveRow = CurveRow {
    oid: ObjectIdentifier::new_unwrap("1.3.132.0.10"),
    hash: HashAlg::Sha256,
    bits: 256,
    field_len: 32,
    jwk: "secp256k1",
    jose: "ES256K",
};

impl Curve {
    pub const fn row(self) -> &'static CurveRow {
        match self {
            Curve::P256 => &P256_ROW,
            Curve::P384 => &P384_ROW,
            Curve::P521 => &P521_ROW,
            Curve::Secp256k1 => &SECP256K1_ROW,
        }
    }

    /// The curve's one KMS signing algorithm.
    pub const fn algorithm(self) -> SigningAlgorithm {
        SigningAlgorithm::Ecdsa(self.row().hash)
    }
}

/// The kind of key a spec is: what its public key, its signatures and its
/// PKCS#11 objects look like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    Rsa {
        modulus_len: usize,
    },
    Ec(Curve),
    /// Ed25519 (RFC 8032): a 32-byte public key, 64-byte signatures.
    Ed25519,
}

/// The OID of Ed25519 keys (RFC 8410): their SubjectPublicKeyInfo
/// algorithm, CKA_EC_PARAMS and X.509 signature algorithm.
pub const ED25519_OID: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");

/// Bytes of an Ed25519 public key.
pub const ED25519_KEY_LEN: usize = 32;

impl Family {
    /// CKA_KEY_TYPE.
    pub const fn key_type(self) -> CK_KEY_TYPE {
        match self {
            Family::Rsa { .. } => CKK_RSA,
            Family::Ec(_) => CKK_EC,
            Family::Ed25519 => CKK_EC_EDWARDS,
        }
    }

    /// Key size in bits, as C_GetMechanismInfo counts it: the modulus, the
    /// curve's order, 256 for Ed25519 (as PKCS#11 tokens report it).
    pub const fn bits(self) -> usize {
        match self {
            Family::Rsa { modulus_len } => modulus_len * 8,
            Family::Ec(curve) => curve.row().bits,
            Family::Ed25519 => 256,
        }
    }

    /// CKA_KEY_GEN_MECHANISM: how such a key is made.
    pub const fn key_gen_mechanism(self) -> CK_MECHANISM_TYPE {
        match self {
            Family::Rsa { .. } => CKM_RSA_PKCS_KEY_PAIR_GEN,
            Family::Ec(_) => CKM_EC_KEY_PAIR_GEN,
            Family::Ed25519 => CKM_EC_EDWARDS_KEY_PAIR_GEN,
        }
    }
}

/// What is known about a key spec: one row per `KeySpec`.
#[derive(Debug)]
pub struct SpecRow {
    pub family: Family,
    /// Bytes of a PKCS#11 signature: the modulus, r||s, or Ed25519's R||S.
    pub signature_len: usize,
    /// The JOSE algorithm a key of this spec signs with by default.
    pub jose: &'static str,
    /// The OpenSSH key type, if OpenSSH has one for it.
    pub ssh: Option<&'static str>,
    /// The KMS signing algorithms a key of this spec takes.
    pub algorithms: &'static [SigningAlgorithm],
    /// The key usages of this spec that become PKCS#11 objects.
    pub usages: &'static [KeyUsage],
}

const RSA_ALGORITHMS: &[SigningAlgorithm] = &[
    SigningAlgorithm::RsaPkcs1(HashAlg::Sha256),
    SigningAlgorithm::RsaPkcs1(HashAlg::Sha384),
    SigningAlgorithm::RsaPkcs1(HashAlg::Sha512),
    SigningAlgorithm::RsaPss(HashAlg::Sha256),
    SigningAlgorithm::RsaPss(HashAlg::Sha384),
    SigningAlgorithm::RsaPss(HashAlg::Sha512),
];

impl SpecRow {
    const fn rsa(modulus_len: usize) -> SpecRow {
        SpecRow {
            family: Family::Rsa { modulus_len },
            signature_len: modulus_len,
            jose: "RS256",
            ssh: Some("ssh-rsa"),
            algorithms: RSA_ALGORITHMS,
            usages: &[KeyUsage::SignVerify, KeyUsage::EncryptDecrypt],
        }
    }

    const fn ec(
        curve: Curve,
        algorithm: &'static [SigningAlgorithm],
        ssh: Option<&'static str>,
    ) -> SpecRow {
        SpecRow {
            family: Family::Ec(curve),
            signature_len: 2 * curve.row().field_len,
            jose: curve.row().jose,
            ssh,
            algorithms: algorithm,
            usages: &[KeyUsage::SignVerify],
        }
    }
}

/// Generates `KeySpec` from one list: each variant, its KMS name, its row.
macro_rules! key_specs {
    ($($variant:ident = $kms:literal => $row:expr;)+) => {
        /// The KMS key specs that become PKCS#11 objects.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum KeySpec {
            $($variant),+
        }

        impl KeySpec {
            pub const ALL: &'static [KeySpec] = &[$(KeySpec::$variant),+];

            /// The KeySpec as KMS names it.
            pub const fn as_kms(self) -> &'static str {
                match self {
                    $(KeySpec::$variant => $kms),+
                }
            }

            pub const fn row(self) -> &'static SpecRow {
                match self {
                    $(KeySpec::$variant => {
                        const ROW: SpecRow = $row;
                        &ROW
                    }),+
                }
            }
        }
    };
}

key_specs! {
    Rsa2048 = "RSA_2048" => SpecRow::rsa(256);
    Rsa3072 = "RSA_3072" => SpecRow::rsa(384);
    Rsa4096 = "RSA_4096" => SpecRow::rsa(512);
    EccNistP256 = "ECC_NIST_P256" =>
        SpecRow::ec(Curve::P256, &[Curve::P256.algorithm()], Some("ecdsa-sha2-nistp256"));
    EccNistP384 = "ECC_NIST_P384" =>
        SpecRow::ec(Curve::P384, &[Curve::P384.algorithm()], Some("ecdsa-sha2-nistp384"));
    EccNistP521 = "ECC_NIST_P521" =>
        SpecRow::ec(Curve::P521, &[Curve::P521.algorithm()], Some("ecdsa-sha2-nistp521"));
    // OpenSSH has no secp256k1 key type.
    EccSecgP256k1 = "ECC_SECG_P256K1" =>
        SpecRow::ec(Curve::Secp256k1, &[Curve::Secp256k1.algorithm()], None);
    EccNistEdwards25519 = "ECC_NIST_EDWARDS25519" => SpecRow {
        family: Family::Ed25519,
        signature_len: 64,
        jose: "EdDSA",
        ssh: Some("ssh-ed25519"),
        algorithms: &[SigningAlgorithm::Ed25519, SigningAlgorithm::Ed25519Ph],
        usages: &[KeyUsage::SignVerify],
    };
}

impl KeySpec {
    /// The spec KMS names `s`; `None` for the specs that do not become
    /// objects (symmetric, HMAC, ...).
    pub fn from_kms(s: &str) -> Option<KeySpec> {
        KeySpec::ALL.iter().copied().find(|k| k.as_kms() == s)
    }

    pub const fn family(self) -> Family {
        self.row().family
    }

    /// Bytes of a PKCS#11 signature.
    pub const fn signature_len(self) -> usize {
        self.row().signature_len
    }
}

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
}

/// How KMS reads Sign's message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageType {
    /// The message itself, at most `RAW_MESSAGE_MAX` bytes.
    Raw,
    /// A digest of the algorithm's hash (Ed25519ph: 64 bytes).
    Digest,
}

impl MessageType {
    pub const fn as_kms(self) -> &'static str {
        match self {
            MessageType::Raw => "RAW",
            MessageType::Digest => "DIGEST",
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
        }
    }

    /// The hash whose digest the module sends, `None` for the algorithms
    /// KMS gets the message of (RAW), or that hash what they get.
    pub const fn digest(self) -> Option<HashAlg> {
        match self {
            SigningAlgorithm::RsaPkcs1(h)
            | SigningAlgorithm::RsaPss(h)
            | SigningAlgorithm::Ecdsa(h) => Some(h),
            SigningAlgorithm::Ed25519 | SigningAlgorithm::Ed25519Ph => None,
        }
    }

    /// Sign's MessageType for this algorithm: KMS takes ED25519_SHA_512
    /// only as RAW, and ED25519_PH_SHA_512 only as DIGEST.
    pub const fn message_type(self) -> MessageType {
        match self {
            SigningAlgorithm::Ed25519 => MessageType::Raw,
            SigningAlgorithm::RsaPkcs1(_)
            | SigningAlgorithm::RsaPss(_)
            | SigningAlgorithm::Ecdsa(_)
            | SigningAlgorithm::Ed25519Ph => MessageType::Digest,
        }
    }
}

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

/// The hashes of KMS's RSAES-OAEP (MGF1 over the same hash, no label).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OaepHash {
    Sha1,
    Sha256,
}

impl OaepHash {
    pub const ALL: [OaepHash; 2] = [OaepHash::Sha1, OaepHash::Sha256];

    /// The KMS EncryptionAlgorithm.
    pub const fn as_kms(self) -> &'static str {
        match self {
            OaepHash::Sha1 => "RSAES_OAEP_SHA_1",
            OaepHash::Sha256 => "RSAES_OAEP_SHA_256",
        }
    }

    /// The PKCS#11 hash mechanism (CK_RSA_PKCS_OAEP_PARAMS.hashAlg).
    pub const fn ckm(self) -> CK_MECHANISM_TYPE {
        match self {
            OaepHash::Sha1 => CKM_SHA_1,
            OaepHash::Sha256 => CKM_SHA256,
        }
    }

    /// MGF1 over the same hash (CK_RSA_PKCS_OAEP_PARAMS.mgf).
    pub const fn mgf(self) -> CK_RSA_PKCS_MGF_TYPE {
        match self {
            OaepHash::Sha1 => CKG_MGF1_SHA1,
            OaepHash::Sha256 => CKG_MGF1_SHA256,
        }
    }

    /// Bytes of the hash's output.
    pub const fn output_len(self) -> usize {
        match self {
            OaepHash::Sha1 => 20,
            OaepHash::Sha256 => 32,
        }
    }

    /// The longest message OAEP with this hash encrypts under a modulus of
    /// `modulus_len` bytes (RFC 8017 7.1.1: k - 2hLen - 2).
    pub const fn max_message(self, modulus_len: usize) -> usize {
        modulus_len.saturating_sub(2 * self.output_len() + 2)
    }
}

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
