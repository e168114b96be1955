//! RSA-PSS parameters: what KMS can honour of CK_RSA_PKCS_PSS_PARAMS.

use crate::error::{Error, Result};
use crate::vocabulary::HashAlg;
use cryptoki_sys::*;

/// PSS parameters as the caller gave them, already copied out of C memory.
#[derive(Debug, Clone, Copy)]
pub struct PssParams {
    pub hash_alg: CK_MECHANISM_TYPE,
    pub mgf: CK_RSA_PKCS_MGF_TYPE,
    pub salt_len: CK_ULONG,
}

/// The parameter of a mechanism, as ffi found it.
// An ML-DSA context is copied in (at most 255 bytes) so that Param stays
// Copy; there is one per C_SignInit, on the stack.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, Copy)]
pub enum Param {
    None,
    Pss(PssParams),
    /// CK_EDDSA_PARAMS: phFlag, and the context's length (KMS takes no
    /// context, so its bytes are never read).
    EdDsa {
        prehash: bool,
        context_len: usize,
    },
    /// CK_RSA_PKCS_OAEP_PARAMS.
    Oaep(super::oaep::OaepParams),
    /// CK_MAC_GENERAL_PARAMS: the length of MAC asked for.
    MacLength(usize),
    /// CK_SIGN_ADDITIONAL_CONTEXT (ML-DSA): the hedging asked for and the
    /// context.
    SignContext {
        hedge: CK_ULONG,
        context: super::mldsa::Context,
    },
    /// CK_HASH_SIGN_ADDITIONAL_CONTEXT (HashML-DSA of a given hash): the
    /// same, and the hash's mechanism.
    HashSignContext {
        hedge: CK_ULONG,
        context: super::mldsa::Context,
        hash: CK_MECHANISM_TYPE,
    },
    /// A parameter of a size no mechanism here takes.
    Malformed,
}

/// KMS signs PSS with MGF1 over the same hash and salt length = hash
/// length; other parameters cannot be honoured. `expected`: the hash of a
/// hash-and-sign mechanism, which hashAlg must name.
pub fn check(param: Param, expected: Option<HashAlg>) -> Result<HashAlg> {
    let invalid = |why: &str| Error::new(CKR_MECHANISM_PARAM_INVALID, why.to_string());
    let Param::Pss(p) = param else {
        return Err(invalid("RSA-PSS needs CK_RSA_PKCS_PSS_PARAMS"));
    };
    let hash = HashAlg::from_ckm(p.hash_alg)
        .ok_or_else(|| invalid("PSS hashAlg must be CKM_SHA256, CKM_SHA384 or CKM_SHA512"))?;
    if expected.is_some_and(|e| e != hash) {
        return Err(invalid("PSS hashAlg must be the mechanism's own hash"));
    }
    if p.mgf != hash.row().mgf {
        return Err(invalid("KMS uses MGF1 over the same hash as hashAlg"));
    }
    if p.salt_len as usize != hash.output_len() {
        return Err(invalid("KMS uses a PSS salt as long as the hash"));
    }
    Ok(hash)
}
