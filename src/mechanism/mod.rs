//! What each CKM_* means for a KMS key: which key type it needs, how its
//! input becomes "sign this digest with this KMS algorithm", and how the
//! KMS signature becomes the PKCS#11 one.
//!
//! One row per mechanism (`TABLE`): C_GetMechanismList, C_GetMechanismInfo,
//! CKA_ALLOWED_MECHANISMS, C_SignInit's checks and the audit line's name
//! all read it. Adding a mechanism of an existing scheme is one row.

pub mod digest_info;
pub mod ecdh;
pub mod ecdsa;
pub mod eddsa;
pub mod feed;
pub mod hash;
pub mod hmac;
pub mod mldsa;
pub mod oaep;
pub mod prehash;
pub mod pss;

use crate::error::{Error, Result};
use crate::vocabulary::{Family, HashAlg, KeySpec, KeyUsage, MacAlg, SigningAlgorithm};
use cryptoki_sys::*;
use feed::Feed;
use prehash::PreHash;
pub use pss::{Param, PssParams};

/// The signature scheme of a mechanism, and so the key family it needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// RSASSA-PKCS1-v1_5.
    RsaPkcs1,
    /// RSASSA-PSS (takes CK_RSA_PKCS_PSS_PARAMS).
    RsaPss,
    Ecdsa,
    /// EdDSA (takes an optional CK_EDDSA_PARAMS).
    EdDsa,
    /// RSAES-OAEP (takes CK_RSA_PKCS_OAEP_PARAMS): decryption, not signing.
    RsaOaep,
    /// HMAC (KMS GenerateMac/VerifyMac) with a secret key.
    Hmac,
    /// ECDH key agreement (KMS DeriveSharedSecret): C_DeriveKey.
    Ecdh,
    /// ML-DSA (takes an optional CK_SIGN_ADDITIONAL_CONTEXT).
    MlDsa,
}

impl Scheme {
    /// CKA_KEY_TYPE of the keys the scheme signs with.
    pub const fn key_type(self) -> CK_KEY_TYPE {
        match self {
            Scheme::RsaPkcs1 | Scheme::RsaPss | Scheme::RsaOaep => CKK_RSA,
            Scheme::Ecdsa | Scheme::Ecdh => CKK_EC,
            Scheme::EdDsa => CKK_EC_EDWARDS,
            Scheme::Hmac => CKK_GENERIC_SECRET,
            Scheme::MlDsa => CKK_ML_DSA,
        }
    }

    /// Whether C_SignInit/C_VerifyInit take it (a signature or a MAC).
    pub const fn signs(self) -> bool {
        matches!(
            self.usage(),
            KeyUsage::SignVerify | KeyUsage::GenerateVerifyMac
        )
    }

    /// The KMS key usage of the keys the scheme works with.
    pub const fn usage(self) -> KeyUsage {
        match self {
            Scheme::RsaOaep => KeyUsage::EncryptDecrypt,
            Scheme::Hmac => KeyUsage::GenerateVerifyMac,
            Scheme::Ecdh => KeyUsage::KeyAgreement,
            Scheme::RsaPkcs1 | Scheme::RsaPss | Scheme::Ecdsa | Scheme::EdDsa | Scheme::MlDsa => {
                KeyUsage::SignVerify
            }
        }
    }
}

/// What a mechanism's input is, as its row states it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// A DER DigestInfo (CKM_RSA_PKCS).
    DigestInfo,
    /// A hash of the PSS parameters' hashAlg (CKM_RSA_PKCS_PSS).
    PssDigest,
    /// A hash of any length (CKM_ECDSA).
    AnyDigest,
    /// The message, hashed here with this hash (multi-part).
    Message(HashAlg),
    /// The message itself, which KMS signs (multi-part, collected up to
    /// what KMS takes).
    Whole,
    /// A ciphertext or plaintext (single-part).
    Cipher,
    /// The message, which KMS MACs with this algorithm (multi-part,
    /// collected); `general`: truncated to the parameter's length.
    Mac { alg: MacAlg, general: bool },
    /// A peer's public key (C_DeriveKey's CK_ECDH1_DERIVE_PARAMS).
    Derive,
    /// The message, of which the module computes ML-DSA's μ (multi-part),
    /// with this pre-hash first (HashML-DSA) or none (pure ML-DSA).
    Mu(Option<prehash::PreHash>),
    /// A pre-hash, of which μ is computed (CKM_HASH_ML_DSA: the parameter
    /// names the hash).
    MuDigest,
}

/// One mechanism the module offers.
#[derive(Debug, PartialEq, Eq)]
pub struct MechanismRow {
    pub ckm: CK_MECHANISM_TYPE,
    /// The CKM_* name, for log and audit lines.
    pub name: &'static str,
    pub scheme: Scheme,
    pub shape: Shape,
}

/// Generates the table from the constants' own names.
macro_rules! mechanisms {
    ($($ckm:ident => $scheme:ident, $shape:expr;)+) => {
        /// Every mechanism the module offers, in C_GetMechanismList order.
        pub const TABLE: &[MechanismRow] = &[
            $(MechanismRow { ckm: $ckm, name: stringify!($ckm), scheme: Scheme::$scheme, shape: $shape }),+
        ];
    };
}

mechanisms! {
    CKM_RSA_PKCS => RsaPkcs1, Shape::DigestInfo;
    CKM_SHA256_RSA_PKCS => RsaPkcs1, Shape::Message(HashAlg::Sha256);
    CKM_SHA384_RSA_PKCS => RsaPkcs1, Shape::Message(HashAlg::Sha384);
    CKM_SHA512_RSA_PKCS => RsaPkcs1, Shape::Message(HashAlg::Sha512);
    CKM_RSA_PKCS_PSS => RsaPss, Shape::PssDigest;
    CKM_SHA256_RSA_PKCS_PSS => RsaPss, Shape::Message(HashAlg::Sha256);
    CKM_SHA384_RSA_PKCS_PSS => RsaPss, Shape::Message(HashAlg::Sha384);
    CKM_SHA512_RSA_PKCS_PSS => RsaPss, Shape::Message(HashAlg::Sha512);
    CKM_ECDSA => Ecdsa, Shape::AnyDigest;
    CKM_ECDSA_SHA256 => Ecdsa, Shape::Message(HashAlg::Sha256);
    CKM_ECDSA_SHA384 => Ecdsa, Shape::Message(HashAlg::Sha384);
    CKM_ECDSA_SHA512 => Ecdsa, Shape::Message(HashAlg::Sha512);
    CKM_EDDSA => EdDsa, Shape::Whole;
    CKM_RSA_PKCS_OAEP => RsaOaep, Shape::Cipher;
    CKM_SHA224_HMAC => Hmac, Shape::Mac { alg: MacAlg::Sha224, general: false };
    CKM_SHA224_HMAC_GENERAL => Hmac, Shape::Mac { alg: MacAlg::Sha224, general: true };
    CKM_SHA256_HMAC => Hmac, Shape::Mac { alg: MacAlg::Sha256, general: false };
    CKM_SHA256_HMAC_GENERAL => Hmac, Shape::Mac { alg: MacAlg::Sha256, general: true };
    CKM_SHA384_HMAC => Hmac, Shape::Mac { alg: MacAlg::Sha384, general: false };
    CKM_SHA384_HMAC_GENERAL => Hmac, Shape::Mac { alg: MacAlg::Sha384, general: true };
    CKM_SHA512_HMAC => Hmac, Shape::Mac { alg: MacAlg::Sha512, general: false };
    CKM_SHA512_HMAC_GENERAL => Hmac, Shape::Mac { alg: MacAlg::Sha512, general: true };
    CKM_ECDH1_DERIVE => Ecdh, Shape::Derive;
    CKM_ML_DSA => MlDsa, Shape::Mu(None);
    CKM_HASH_ML_DSA => MlDsa, Shape::MuDigest;
    CKM_HASH_ML_DSA_SHA224 => MlDsa, Shape::Mu(Some(PreHash::Sha224));
    CKM_HASH_ML_DSA_SHA256 => MlDsa, Shape::Mu(Some(PreHash::Sha256));
    CKM_HASH_ML_DSA_SHA384 => MlDsa, Shape::Mu(Some(PreHash::Sha384));
    CKM_HASH_ML_DSA_SHA512 => MlDsa, Shape::Mu(Some(PreHash::Sha512));
    CKM_HASH_ML_DSA_SHA3_224 => MlDsa, Shape::Mu(Some(PreHash::Sha3_224));
    CKM_HASH_ML_DSA_SHA3_256 => MlDsa, Shape::Mu(Some(PreHash::Sha3_256));
    CKM_HASH_ML_DSA_SHA3_384 => MlDsa, Shape::Mu(Some(PreHash::Sha3_384));
    CKM_HASH_ML_DSA_SHA3_512 => MlDsa, Shape::Mu(Some(PreHash::Sha3_512));
    CKM_HASH_ML_DSA_SHAKE128 => MlDsa, Shape::Mu(Some(PreHash::Shake128));
    CKM_HASH_ML_DSA_SHAKE256 => MlDsa, Shape::Mu(Some(PreHash::Shake256));
}

impl MechanismRow {
    /// Whether keys of this family take the mechanism: its scheme's key
    /// type, and for HMAC the key's own hash.
    pub fn fits(&self, family: Family) -> bool {
        let hash_fits = match self.shape {
            Shape::Mac { alg, .. } => family == Family::Hmac(alg),
            _ => true,
        };
        self.scheme.key_type() == family.key_type() && hash_fits
    }
}

/// The row of a mechanism the module offers.
pub fn row(ckm: CK_MECHANISM_TYPE) -> Option<&'static MechanismRow> {
    TABLE.iter().find(|r| r.ckm == ckm)
}

/// Every mechanism the module offers, in C_GetMechanismList order.
pub const MECHANISMS: [CK_MECHANISM_TYPE; TABLE.len()] = {
    let mut out = [0; TABLE.len()];
    let mut i = 0;
    while i < TABLE.len() {
        out[i] = TABLE[i].ckm;
        i += 1;
    }
    out
};

/// CKA_ALLOWED_MECHANISMS of a key of this family and KMS key usage.
pub fn for_key(family: Family, usage: KeyUsage) -> impl Iterator<Item = CK_MECHANISM_TYPE> {
    TABLE
        .iter()
        .filter(move |r| r.fits(family) && r.scheme.usage() == usage)
        .map(|r| r.ckm)
}

/// The hash-and-sign mechanism of a scheme and hash (X.509 and the CLI
/// sign through these).
pub fn hash_and_sign(scheme: Scheme, hash: HashAlg) -> CK_MECHANISM_TYPE {
    TABLE
        .iter()
        .find(|r| r.scheme == scheme && r.shape == Shape::Message(hash))
        .map_or(CKM_VENDOR_DEFINED, |r| r.ckm)
}

/// C_GetMechanismInfo: key sizes (`Family::key_sizes`) and flags, from the
/// key specs that take the mechanism. CKF_HW because the key lives in KMS's
/// HSMs (pkcs11-tool tests only CKF_HW mechanisms).
pub fn info(ckm: CK_MECHANISM_TYPE) -> Option<CK_MECHANISM_INFO> {
    let row = row(ckm)?;
    let scheme = row.scheme;
    let key_type = scheme.key_type();
    let sizes = KeySpec::ALL
        .iter()
        .filter(|s| row.fits(s.family()))
        .map(|s| s.family().key_sizes());
    let (min, max) = sizes.fold((usize::MAX, 0), |(lo, hi), (a, b)| (lo.min(a), hi.max(b)));
    let mut flags = match scheme.usage() {
        KeyUsage::EncryptDecrypt => CKF_HW | CKF_ENCRYPT | CKF_DECRYPT,
        KeyUsage::KeyAgreement => CKF_HW | CKF_DERIVE,
        KeyUsage::SignVerify | KeyUsage::GenerateVerifyMac => CKF_HW | CKF_SIGN | CKF_VERIFY,
    };
    if key_type == CKK_EC {
        flags |= CKF_EC_F_P | CKF_EC_NAMEDCURVE | CKF_EC_UNCOMPRESS;
    }
    Some(CK_MECHANISM_INFO {
        ulMinKeySize: min as CK_ULONG,
        ulMaxKeySize: max as CK_ULONG,
        flags,
    })
}

/// The key-generation mechanisms (C_GenerateKeyPair's and
/// C_GenerateKey's), from the key specs' rows: each family's
/// `key_gen_mechanism`, and the HMACs' CKM_SHA*_KEY_GEN.
pub fn key_gen_mechanisms() -> Vec<CK_MECHANISM_TYPE> {
    let mut out: Vec<CK_MECHANISM_TYPE> = Vec::new();
    let families = KeySpec::ALL.iter().map(|s| s.family().key_gen_mechanism());
    let hmacs = MacAlg::ALL.iter().map(|a| a.row().key_gen);
    for m in families.chain(hmacs) {
        if !out.contains(&m) {
            out.push(m);
        }
    }
    out
}

/// C_GetMechanismInfo of a key-generation mechanism: the sizes of the keys
/// it makes (as `Family::key_sizes` counts them) and its flag.
pub fn key_gen_info(ckm: CK_MECHANISM_TYPE) -> Option<CK_MECHANISM_INFO> {
    let makes = |s: &&KeySpec| match s.family() {
        Family::Hmac(alg) if alg.row().key_gen == ckm => true,
        f => f.key_gen_mechanism() == ckm,
    };
    let specs: Vec<KeySpec> = KeySpec::ALL.iter().filter(makes).copied().collect();
    let first = specs.first()?;
    let (min, max) = specs
        .iter()
        .map(|s| s.family().key_sizes())
        .fold((usize::MAX, 0), |(lo, hi), (a, b)| (lo.min(a), hi.max(b)));
    let mut flags = match first.family() {
        Family::Hmac(_) => CKF_HW | CKF_GENERATE,
        _ => CKF_HW | CKF_GENERATE_KEY_PAIR,
    };
    if first.family().key_type() == CKK_EC {
        flags |= CKF_EC_F_P | CKF_EC_NAMEDCURVE | CKF_EC_UNCOMPRESS;
    }
    Some(CK_MECHANISM_INFO {
        ulMinKeySize: min as CK_ULONG,
        ulMaxKeySize: max as CK_ULONG,
        flags,
    })
}

/// What a mechanism's input is, once its parameters are known.
// ML-DSA's context is held (at most 255 bytes) so that Input and Mechanism
// stay Copy; one per operation.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    /// A DER DigestInfo.
    DigestInfo,
    /// A hash of exactly this algorithm.
    Digest(HashAlg),
    /// A hash of any length, fitted to the curve.
    AnyDigest,
    /// The message, hashed here.
    Message(HashAlg),
    /// The message itself (Ed25519: at most 4,096 bytes).
    Whole,
    /// Ed25519ph's message, which must be 64 bytes (docs/eddsa.md).
    Prehash,
    /// The message of an HMAC of this algorithm, `len` bytes long (the
    /// hash's whole output, or less for _GENERAL).
    Mac { alg: MacAlg, len: usize },
    /// ML-DSA: the message (or its pre-hash), of which μ is computed with
    /// this context.
    Mu {
        context: mldsa::Context,
        pre: mldsa::Prehash,
    },
}

/// A signing mechanism with its parameters checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mechanism {
    pub row: &'static MechanismRow,
    pub input: Input,
}

impl Mechanism {
    /// Parses C_SignInit's mechanism for a key of the given spec.
    pub fn new(ckm: CK_MECHANISM_TYPE, param: Param, spec: KeySpec) -> Result<Mechanism> {
        let row = row(ckm);
        if row.is_some_and(|r| !r.fits(spec.family())) {
            return Err(CKR_KEY_TYPE_INCONSISTENT.into());
        }
        if matches!(param, Param::Malformed) {
            return Err(CKR_MECHANISM_PARAM_INVALID.into());
        }
        let row = row
            .filter(|r| r.scheme.signs())
            .ok_or(Error::from(CKR_MECHANISM_INVALID))?;
        let input = match (row.scheme, row.shape) {
            (Scheme::RsaPss, Shape::PssDigest) => Input::Digest(pss::check(param, None)?),
            (Scheme::RsaPss, Shape::Message(h)) => Input::Message(pss::check(param, Some(h))?),
            (Scheme::EdDsa, _) => eddsa::check(param)?,
            (_, Shape::Mac { alg, general }) => hmac::check(alg, general, param)?,
            (Scheme::MlDsa, Shape::Mu(pre)) => mldsa::check(Some(pre), param)?,
            (Scheme::MlDsa, _) => mldsa::check(None, param)?,
            _ if !matches!(param, Param::None) => return Err(CKR_MECHANISM_PARAM_INVALID.into()),
            (_, Shape::DigestInfo) => Input::DigestInfo,
            (_, Shape::PssDigest) => return Err(CKR_MECHANISM_PARAM_INVALID.into()),
            (_, Shape::AnyDigest) => Input::AnyDigest,
            (_, Shape::Message(h)) => Input::Message(h),
            (_, Shape::Whole) => Input::Whole,
            (_, Shape::Cipher | Shape::Derive | Shape::Mu(_) | Shape::MuDigest) => {
                return Err(CKR_MECHANISM_INVALID.into())
            }
        };
        Ok(Mechanism { row, input })
    }

    /// The CKM_* name, for log and audit lines.
    pub fn ck_name(&self) -> &'static str {
        self.row.name
    }

    /// What takes multi-part input in: a hasher for the mechanisms that
    /// hash locally, a bounded buffer for those whose message KMS gets;
    /// `None` for the single-part ones.
    /// `tr`: the key's ML-DSA tr (`mldsa::tr`, where μ starts; unused by
    /// the other mechanisms).
    pub fn feed(self, tr: &[u8]) -> Option<Feed> {
        match self.input {
            Input::Message(h) => Some(Feed::hash(h)),
            Input::Mu { context, pre } => {
                Some(Feed::Mu(Box::new(mldsa::MuHasher::new(tr, &context, pre))))
            }
            Input::Whole => Some(Feed::collect(
                eddsa::PURE_MAX,
                self.row.name,
                ("sign", eddsa::DOC),
            )),
            Input::Prehash => Some(Feed::collect(
                eddsa::PREHASH_LEN,
                self.row.name,
                ("sign", eddsa::DOC),
            )),
            Input::Mac { .. } => Some(Feed::collect(
                hmac::MESSAGE_MAX,
                self.row.name,
                ("MAC", hmac::DOC),
            )),
            Input::DigestInfo | Input::Digest(_) | Input::AnyDigest => None,
        }
    }

    /// How many bytes of a single-part mechanism's `len`-byte input it
    /// uses, decided from the length alone (so a caller's buffer is never
    /// read further than needed), or why the length is refused.
    pub fn raw_input_len(&self, spec: KeySpec, len: usize) -> Result<usize> {
        match (self.input, spec.family()) {
            // PKCS#1 v1.5 padding needs 11 bytes of the modulus.
            (Input::DigestInfo, Family::Rsa { modulus_len })
                if len > modulus_len.saturating_sub(11) =>
            {
                Err(Error::new(
                    CKR_DATA_LEN_RANGE,
                    "CKM_RSA_PKCS input is longer than the modulus allows",
                ))
            }
            (Input::Digest(h), _) if len != h.output_len() => Err(Error::new(
                CKR_DATA_LEN_RANGE,
                format!("RSA-PSS input must be a {}-byte hash", h.output_len()),
            )),
            (Input::AnyDigest, Family::Ec(curve)) => ecdsa::raw_input_len(curve, len),
            (Input::Whole, _) if !(1..=eddsa::PURE_MAX).contains(&len) => {
                Err(eddsa::out_of_range(len))
            }
            (Input::Prehash, _) if len != eddsa::PREHASH_LEN => Err(eddsa::not_prehash_len(len)),
            (Input::Mac { .. }, _) if !(1..=hmac::MESSAGE_MAX).contains(&len) => {
                Err(hmac::out_of_range(len))
            }
            _ => Ok(len),
        }
    }

    /// Turns the mechanism's input (the data for single-part raw
    /// mechanisms, the finished hash for the others) into the KMS algorithm
    /// and the digest to send.
    pub fn to_kms(self, spec: KeySpec, input: &[u8]) -> Result<(SigningAlgorithm, Vec<u8>)> {
        self.raw_input_len(spec, input.len())?;
        match (self.row.scheme, self.input, spec.family()) {
            (Scheme::RsaPkcs1, Input::DigestInfo, _) => {
                let (hash, digest) = digest_info::parse(input)?;
                Ok((SigningAlgorithm::RsaPkcs1(hash), digest.to_vec()))
            }
            (Scheme::RsaPkcs1, Input::Message(h) | Input::Digest(h), _) => {
                Ok((SigningAlgorithm::RsaPkcs1(h), input.to_vec()))
            }
            (Scheme::RsaPss, Input::Message(h) | Input::Digest(h), _) => {
                Ok((SigningAlgorithm::RsaPss(h), input.to_vec()))
            }
            (Scheme::Ecdsa, _, Family::Ec(curve)) => {
                Ok((curve.algorithm(), ecdsa::fit_hash(curve, input)?))
            }
            (Scheme::EdDsa, Input::Whole, Family::Ed25519) => {
                Ok((SigningAlgorithm::Ed25519, input.to_vec()))
            }
            (Scheme::EdDsa, Input::Prehash, Family::Ed25519) => {
                Ok((SigningAlgorithm::Ed25519Ph, input.to_vec()))
            }
            (Scheme::MlDsa, Input::Mu { .. }, Family::MlDsa(_)) if input.len() == mldsa::MU_LEN => {
                Ok((SigningAlgorithm::MlDsa, input.to_vec()))
            }
            // Mechanism::new pairs schemes with inputs and key types.
            _ => Err(CKR_KEY_TYPE_INCONSISTENT.into()),
        }
    }
}

/// KMS's signature as PKCS#11's: r||s for ECDSA (KMS sends DER), the
/// modulus-long signature for RSA, Ed25519's 64 bytes as they are.
pub fn signature_from_kms(spec: KeySpec, signature: Vec<u8>) -> Result<Vec<u8>> {
    match spec.family() {
        Family::Ec(curve) => ecdsa::der_to_fixed(curve, &signature),
        Family::Rsa { .. } | Family::Ed25519 | Family::Hmac(_) | Family::MlDsa(_)
            if signature.len() == spec.signature_len() =>
        {
            Ok(signature)
        }
        Family::Rsa { .. } | Family::Ed25519 | Family::Hmac(_) | Family::MlDsa(_) => {
            Err(Error::new(
                CKR_DEVICE_ERROR,
                format!(
                    "KMS returned a {}-byte signature for a {} key, whose signatures are {} bytes",
                    signature.len(),
                    spec.as_kms(),
                    spec.signature_len()
                ),
            ))
        }
    }
}

#[cfg(test)]
mod tests;
