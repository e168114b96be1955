//! The KMS key specs that become objects: one row each.

use super::{Curve, HashAlg, KeyUsage, MacAlg, MlDsaSet, SigningAlgorithm};
use cryptoki_sys::*;
use der::asn1::ObjectIdentifier;

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
    /// An HMAC key: a secret key object, no public half.
    Hmac(MacAlg),
    /// ML-DSA (FIPS 204): signs a μ the module computes (EXTERNAL_MU).
    MlDsa(MlDsaSet),
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
            // Not CKK_SHA256_HMAC and friends (PKCS#11 3.0): OpenSC 0.23,
            // SoftHSM and Java's SunPKCS11 know generic secret keys, and
            // CKA_ALLOWED_MECHANISMS names the one hash (docs/hmac.md).
            Family::Hmac(_) => CKK_GENERIC_SECRET,
            Family::MlDsa(_) => CKK_ML_DSA,
        }
    }

    /// Key sizes as C_GetMechanismInfo counts them: bits of the modulus,
    /// of the curve's order, 256 for Ed25519 (as PKCS#11 tokens report
    /// it); bytes of key material for HMAC (generated, to most imported),
    /// as the spec counts generic secret keys; bytes of the public key for
    /// ML-DSA (PKCS#11 3.2).
    pub const fn key_sizes(self) -> (usize, usize) {
        match self {
            Family::Rsa { modulus_len } => (modulus_len * 8, modulus_len * 8),
            Family::Ec(curve) => (curve.row().bits, curve.row().bits),
            Family::Ed25519 => (256, 256),
            Family::Hmac(alg) => (alg.row().len, alg.row().key_max),
            // PKCS#11 3.2: bytes of the ML-DSA public key.
            Family::MlDsa(set) => (set.row().public_key_len, set.row().public_key_len),
        }
    }

    /// CKA_KEY_GEN_MECHANISM: how such a key is made.
    pub const fn key_gen_mechanism(self) -> CK_MECHANISM_TYPE {
        match self {
            Family::Rsa { .. } => CKM_RSA_PKCS_KEY_PAIR_GEN,
            Family::Ec(_) => CKM_EC_KEY_PAIR_GEN,
            Family::Ed25519 => CKM_EC_EDWARDS_KEY_PAIR_GEN,
            Family::Hmac(_) => CKM_GENERIC_SECRET_KEY_GEN,
            Family::MlDsa(_) => CKM_ML_DSA_KEY_PAIR_GEN,
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

    const fn mldsa(set: MlDsaSet) -> SpecRow {
        SpecRow {
            family: Family::MlDsa(set),
            signature_len: set.row().signature_len,
            // The name the JOSE/COSE drafts give it (the CLI's --alg); no
            // JWK or OpenSSH form is registered yet.
            jose: set.row().name,
            ssh: None,
            algorithms: &[SigningAlgorithm::MlDsa],
            usages: &[KeyUsage::SignVerify],
        }
    }

    const fn hmac(alg: MacAlg) -> SpecRow {
        SpecRow {
            family: Family::Hmac(alg),
            signature_len: alg.row().len,
            jose: match alg {
                MacAlg::Sha224 => "",
                MacAlg::Sha256 => "HS256",
                MacAlg::Sha384 => "HS384",
                MacAlg::Sha512 => "HS512",
            },
            ssh: None,
            algorithms: &[],
            usages: &[KeyUsage::GenerateVerifyMac],
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
            usages: NIST_EC_USAGES,
        }
    }

    /// secp256k1: KMS signs with it, and has no key agreement on it.
    const fn secp256k1() -> SpecRow {
        const ALGORITHMS: &[SigningAlgorithm] = &[Curve::Secp256k1.algorithm()];
        SpecRow {
            usages: &[KeyUsage::SignVerify],
            ..SpecRow::ec(Curve::Secp256k1, ALGORITHMS, None)
        }
    }
}

/// The usages of KMS's NIST curve keys: signing, or ECDH key agreement
/// (DeriveSharedSecret).
const NIST_EC_USAGES: &[KeyUsage] = &[KeyUsage::SignVerify, KeyUsage::KeyAgreement];

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
        SpecRow::secp256k1();
    EccNistEdwards25519 = "ECC_NIST_EDWARDS25519" => SpecRow {
        family: Family::Ed25519,
        signature_len: 64,
        jose: "EdDSA",
        ssh: Some("ssh-ed25519"),
        algorithms: &[SigningAlgorithm::Ed25519, SigningAlgorithm::Ed25519Ph],
        usages: &[KeyUsage::SignVerify],
    };
    Hmac224 = "HMAC_224" => SpecRow::hmac(MacAlg::Sha224);
    Hmac256 = "HMAC_256" => SpecRow::hmac(MacAlg::Sha256);
    Hmac384 = "HMAC_384" => SpecRow::hmac(MacAlg::Sha384);
    Hmac512 = "HMAC_512" => SpecRow::hmac(MacAlg::Sha512);
    MlDsa44 = "ML_DSA_44" => SpecRow::mldsa(MlDsaSet::MlDsa44);
    MlDsa65 = "ML_DSA_65" => SpecRow::mldsa(MlDsaSet::MlDsa65);
    MlDsa87 = "ML_DSA_87" => SpecRow::mldsa(MlDsaSet::MlDsa87);
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
