//! CKM_EDDSA on KMS's Ed25519 keys: which PKCS#11 requests KMS can answer
//! with a standard RFC 8032 signature (docs/eddsa.md).
//!
//! - Ed25519 (PureEdDSA): no parameter, or CK_EDDSA_PARAMS with phFlag
//!   false and no context. KMS signs it as `ED25519_SHA_512` with
//!   MessageType=RAW, which takes 1 to 4,096 bytes of message (Sign's
//!   Message is never empty).
//! - Ed25519ph (HashEdDSA, phFlag true, no context): the token computes
//!   SHA-512 of the message and signs that. KMS's `ED25519_PH_SHA_512`
//!   takes MessageType=DIGEST, 64 bytes, and hashes them with SHA-512
//!   itself: what it signs is Ed25519ph of the 64 bytes it received. Sent
//!   the message, then, KMS gives the standard Ed25519ph signature of that
//!   message exactly when the message is 64 bytes long; any other length
//!   cannot be signed (CKR_DATA_LEN_RANGE).
//! - Ed25519ctx and a context with Ed25519ph: KMS has no context input
//!   (CKR_MECHANISM_PARAM_INVALID).

use super::{Input, Param};
use crate::error::{Error, Result};
use crate::vocabulary::RAW_MESSAGE_MAX;
use cryptoki_sys::{CKR_DATA_LEN_RANGE, CKR_MECHANISM_PARAM_INVALID};

/// Where the rules are explained.
pub const DOC: &str = "docs/eddsa.md";

/// The longest message of pure Ed25519: what KMS signs as RAW.
pub const PURE_MAX: usize = RAW_MESSAGE_MAX;

/// The one length of message Ed25519ph can sign through KMS.
pub const PREHASH_LEN: usize = 64;

/// The input of CKM_EDDSA with this parameter, or why KMS cannot honour it.
pub fn check(param: Param) -> Result<Input> {
    match param {
        Param::None
        | Param::EdDsa {
            prehash: false,
            context_len: 0,
        } => Ok(Input::Whole),
        Param::EdDsa {
            prehash: true,
            context_len: 0,
        } => Ok(Input::Prehash),
        Param::EdDsa { .. } => Err(Error::new(
            CKR_MECHANISM_PARAM_INVALID,
            "KMS signs Ed25519 without a context: Ed25519ctx and Ed25519ph with a context \
             cannot be honoured",
        )),
        Param::Pss(_)
        | Param::Oaep(_)
        | Param::MacLength(_)
        | Param::SignContext { .. }
        | Param::HashSignContext { .. }
        | Param::Malformed => Err(Error::new(
            CKR_MECHANISM_PARAM_INVALID,
            "CKM_EDDSA takes no parameter or a CK_EDDSA_PARAMS",
        )),
    }
}

/// Why a pure Ed25519 message of `len` bytes is refused.
pub fn out_of_range(len: usize) -> Error {
    Error::new(
        CKR_DATA_LEN_RANGE,
        format!(
            "KMS signs Ed25519 messages of 1 to {PURE_MAX} bytes; this one is {len} \
             (docs/eddsa.md)"
        ),
    )
}

/// Why an Ed25519ph message of `len` bytes is refused.
pub fn not_prehash_len(len: usize) -> Error {
    Error::new(
        CKR_DATA_LEN_RANGE,
        format!(
            "through KMS, Ed25519ph signs messages of exactly {PREHASH_LEN} bytes; this one is \
             {len} (KMS hashes the 64 bytes it is sent; docs/eddsa.md)"
        ),
    )
}
