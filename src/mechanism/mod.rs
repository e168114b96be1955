//! What each CKM_* means for a KMS key: which key type it needs, how its
//! input becomes "sign this digest with this KMS algorithm", and how the
//! KMS signature becomes the PKCS#11 one.

pub mod digest_info;
pub mod ecdsa;
pub mod hash;

use crate::backend::{Hash, KeySpec, SigningAlgorithm};
use crate::error::{Error, Result};
use cryptoki_sys::*;
use hash::Hasher;

/// A signing mechanism with its parameters checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mechanism {
    /// CKM_RSA_PKCS: the input is a DER DigestInfo.
    RsaPkcs,
    /// CKM_SHAxxx_RSA_PKCS.
    RsaPkcsHash(Hash),
    /// CKM_RSA_PKCS_PSS: the input is a hash of the parameters' hashAlg.
    RsaPss(Hash),
    /// CKM_SHAxxx_RSA_PKCS_PSS.
    RsaPssHash(Hash),
    /// CKM_ECDSA: the input is a hash of any length.
    Ecdsa,
    /// CKM_ECDSA_SHAxxx.
    EcdsaHash(Hash),
}

impl Mechanism {
    /// The CKM_* name, for log and audit lines.
    pub fn ck_name(&self) -> &'static str {
        use Hash::*;
        match self {
            Mechanism::RsaPkcs => "CKM_RSA_PKCS",
            Mechanism::RsaPkcsHash(Sha256) => "CKM_SHA256_RSA_PKCS",
            Mechanism::RsaPkcsHash(Sha384) => "CKM_SHA384_RSA_PKCS",
            Mechanism::RsaPkcsHash(Sha512) => "CKM_SHA512_RSA_PKCS",
            Mechanism::RsaPss(_) => "CKM_RSA_PKCS_PSS",
            Mechanism::RsaPssHash(Sha256) => "CKM_SHA256_RSA_PKCS_PSS",
            Mechanism::RsaPssHash(Sha384) => "CKM_SHA384_RSA_PKCS_PSS",
            Mechanism::RsaPssHash(Sha512) => "CKM_SHA512_RSA_PKCS_PSS",
            Mechanism::Ecdsa => "CKM_ECDSA",
            Mechanism::EcdsaHash(Sha256) => "CKM_ECDSA_SHA256",
            Mechanism::EcdsaHash(Sha384) => "CKM_ECDSA_SHA384",
            Mechanism::EcdsaHash(Sha512) => "CKM_ECDSA_SHA512",
        }
    }
}

/// Every mechanism the module offers, in C_GetMechanismList order.
pub const MECHANISMS: &[CK_MECHANISM_TYPE] = &[
    CKM_RSA_PKCS,
    CKM_SHA256_RSA_PKCS,
    CKM_SHA384_RSA_PKCS,
    CKM_SHA512_RSA_PKCS,
    CKM_RSA_PKCS_PSS,
    CKM_SHA256_RSA_PKCS_PSS,
    CKM_SHA384_RSA_PKCS_PSS,
    CKM_SHA512_RSA_PKCS_PSS,
    CKM_ECDSA,
    CKM_ECDSA_SHA256,
    CKM_ECDSA_SHA384,
    CKM_ECDSA_SHA512,
];

/// C_GetMechanismInfo: key sizes in bits and flags. CKF_HW because the key
/// lives in KMS's HSMs (pkcs11-tool tests only CKF_HW mechanisms).
pub fn info(mechanism: CK_MECHANISM_TYPE) -> Option<CK_MECHANISM_INFO> {
    let rsa = is_rsa_mechanism(mechanism);
    let ec = matches!(
        mechanism,
        CKM_ECDSA | CKM_ECDSA_SHA256 | CKM_ECDSA_SHA384 | CKM_ECDSA_SHA512
    );
    let flags = CKF_HW | CKF_SIGN | CKF_VERIFY;
    if rsa {
        Some(CK_MECHANISM_INFO {
            ulMinKeySize: 2048,
            ulMaxKeySize: 4096,
            flags,
        })
    } else if ec {
        Some(CK_MECHANISM_INFO {
            ulMinKeySize: 256,
            ulMaxKeySize: 521,
            flags: flags | CKF_EC_F_P | CKF_EC_NAMEDCURVE | CKF_EC_UNCOMPRESS,
        })
    } else {
        None
    }
}

/// True for the RSA mechanisms of MECHANISMS.
pub fn is_rsa_mechanism(mechanism: CK_MECHANISM_TYPE) -> bool {
    matches!(
        mechanism,
        CKM_RSA_PKCS
            | CKM_SHA256_RSA_PKCS
            | CKM_SHA384_RSA_PKCS
            | CKM_SHA512_RSA_PKCS
            | CKM_RSA_PKCS_PSS
            | CKM_SHA256_RSA_PKCS_PSS
            | CKM_SHA384_RSA_PKCS_PSS
            | CKM_SHA512_RSA_PKCS_PSS
    )
}

fn hash_of_mechanism(m: CK_MECHANISM_TYPE) -> Option<Hash> {
    Some(match m {
        CKM_SHA256 | CKM_SHA256_RSA_PKCS | CKM_SHA256_RSA_PKCS_PSS | CKM_ECDSA_SHA256 => {
            Hash::Sha256
        }
        CKM_SHA384 | CKM_SHA384_RSA_PKCS | CKM_SHA384_RSA_PKCS_PSS | CKM_ECDSA_SHA384 => {
            Hash::Sha384
        }
        CKM_SHA512 | CKM_SHA512_RSA_PKCS | CKM_SHA512_RSA_PKCS_PSS | CKM_ECDSA_SHA512 => {
            Hash::Sha512
        }
        _ => return None,
    })
}

fn mgf_of(hash: Hash) -> CK_RSA_PKCS_MGF_TYPE {
    match hash {
        Hash::Sha256 => CKG_MGF1_SHA256,
        Hash::Sha384 => CKG_MGF1_SHA384,
        Hash::Sha512 => CKG_MGF1_SHA512,
    }
}

/// PSS parameters as the caller gave them, already copied out of C memory.
#[derive(Debug, Clone, Copy)]
pub struct PssParams {
    pub hash_alg: CK_MECHANISM_TYPE,
    pub mgf: CK_RSA_PKCS_MGF_TYPE,
    pub salt_len: CK_ULONG,
}

/// The parameter of a mechanism, as ffi found it.
#[derive(Debug, Clone, Copy)]
pub enum Param {
    None,
    Pss(PssParams),
    /// A parameter of a size no mechanism here takes.
    Malformed,
}

/// KMS signs PSS with MGF1 over the same hash and salt length = hash
/// length; other parameters cannot be honoured.
fn check_pss(param: Param, expected: Option<Hash>) -> Result<Hash> {
    let invalid = |why: &str| Error::new(CKR_MECHANISM_PARAM_INVALID, why.to_string());
    let Param::Pss(p) = param else {
        return Err(invalid("RSA-PSS needs CK_RSA_PKCS_PSS_PARAMS"));
    };
    let hash = hash_of_mechanism(p.hash_alg)
        .filter(|_| matches!(p.hash_alg, CKM_SHA256 | CKM_SHA384 | CKM_SHA512))
        .ok_or_else(|| invalid("PSS hashAlg must be CKM_SHA256, CKM_SHA384 or CKM_SHA512"))?;
    if expected.is_some_and(|e| e != hash) {
        return Err(invalid("PSS hashAlg must be the mechanism's own hash"));
    }
    if p.mgf != mgf_of(hash) {
        return Err(invalid("KMS uses MGF1 over the same hash as hashAlg"));
    }
    if p.salt_len as usize != hash.output_len() {
        return Err(invalid("KMS uses a PSS salt as long as the hash"));
    }
    Ok(hash)
}

impl Mechanism {
    /// Parses C_SignInit's mechanism for a key of the given spec.
    pub fn new(mechanism: CK_MECHANISM_TYPE, param: Param, spec: KeySpec) -> Result<Mechanism> {
        if MECHANISMS.contains(&mechanism) && is_rsa_mechanism(mechanism) != spec.is_rsa() {
            return Err(CKR_KEY_TYPE_INCONSISTENT.into());
        }
        if matches!(param, Param::Malformed) {
            return Err(CKR_MECHANISM_PARAM_INVALID.into());
        }
        let m = match mechanism {
            CKM_RSA_PKCS => Mechanism::RsaPkcs,
            CKM_SHA256_RSA_PKCS | CKM_SHA384_RSA_PKCS | CKM_SHA512_RSA_PKCS => {
                Mechanism::RsaPkcsHash(hash_of_mechanism(mechanism).expect("listed"))
            }
            CKM_RSA_PKCS_PSS => Mechanism::RsaPss(check_pss(param, None)?),
            CKM_SHA256_RSA_PKCS_PSS | CKM_SHA384_RSA_PKCS_PSS | CKM_SHA512_RSA_PKCS_PSS => {
                let hash = hash_of_mechanism(mechanism).expect("listed");
                Mechanism::RsaPssHash(check_pss(param, Some(hash))?)
            }
            CKM_ECDSA => Mechanism::Ecdsa,
            CKM_ECDSA_SHA256 | CKM_ECDSA_SHA384 | CKM_ECDSA_SHA512 => {
                Mechanism::EcdsaHash(hash_of_mechanism(mechanism).expect("listed"))
            }
            _ => return Err(CKR_MECHANISM_INVALID.into()),
        };
        if !matches!(m, Mechanism::RsaPss(_) | Mechanism::RsaPssHash(_))
            && matches!(param, Param::Pss(_))
        {
            return Err(CKR_MECHANISM_PARAM_INVALID.into());
        }
        Ok(m)
    }

    pub fn is_rsa(self) -> bool {
        !matches!(self, Mechanism::Ecdsa | Mechanism::EcdsaHash(_))
    }

    /// A hasher for the mechanisms that hash locally (and so take multi-part input).
    pub fn hasher(self) -> Option<Hasher> {
        match self {
            Mechanism::RsaPkcsHash(h) | Mechanism::RsaPssHash(h) | Mechanism::EcdsaHash(h) => {
                Some(Hasher::new(h))
            }
            _ => None,
        }
    }

    /// Turns the mechanism's input (the data for single-part raw
    /// mechanisms, the finished hash for the others) into the KMS algorithm
    /// and the digest to send.
    /// How many bytes of a single-part mechanism's `len`-byte input it
    /// uses, decided from the length alone (so a caller's buffer is never
    /// read further than needed), or why the length is refused.
    pub fn raw_input_len(&self, spec: KeySpec, len: usize) -> Result<usize> {
        match self {
            Mechanism::RsaPkcs if len > spec.rsa_modulus_len().saturating_sub(11) => {
                Err(Error::new(
                    CKR_DATA_LEN_RANGE,
                    "CKM_RSA_PKCS input is longer than the modulus allows",
                ))
            }
            Mechanism::RsaPss(h) if len != h.output_len() => Err(Error::new(
                CKR_DATA_LEN_RANGE,
                format!("RSA-PSS input must be a {}-byte hash", h.output_len()),
            )),
            // fit_hash keeps the leading bytes of a longer hash, so those
            // are all it needs; P-521 cannot cut one (its order has 521 bits).
            Mechanism::Ecdsa => {
                let want = ecdsa::curve_hash(spec).output_len();
                if len > want && spec == KeySpec::EccNistP521 {
                    Err(Error::new(
                        CKR_DATA_LEN_RANGE,
                        "CKM_ECDSA input over 64 bytes cannot be signed on P-521",
                    ))
                } else {
                    Ok(len.min(want))
                }
            }
            _ => Ok(len),
        }
    }

    pub fn to_kms(self, spec: KeySpec, input: &[u8]) -> Result<(SigningAlgorithm, Vec<u8>)> {
        match self {
            Mechanism::RsaPkcs => {
                // PKCS#1 v1.5 padding needs 11 bytes of the modulus.
                self.raw_input_len(spec, input.len())?;
                let (hash, digest) = digest_info::parse(input)?;
                Ok((SigningAlgorithm::RsaPkcs1(hash), digest.to_vec()))
            }
            Mechanism::RsaPkcsHash(h) => Ok((SigningAlgorithm::RsaPkcs1(h), input.to_vec())),
            Mechanism::RsaPss(h) => {
                self.raw_input_len(spec, input.len())?;
                Ok((SigningAlgorithm::RsaPss(h), input.to_vec()))
            }
            Mechanism::RsaPssHash(h) => Ok((SigningAlgorithm::RsaPss(h), input.to_vec())),
            Mechanism::Ecdsa | Mechanism::EcdsaHash(_) => {
                let curve_hash = ecdsa::curve_hash(spec);
                Ok((
                    SigningAlgorithm::Ecdsa(curve_hash),
                    ecdsa::fit_hash(spec, input)?,
                ))
            }
        }
    }
}
