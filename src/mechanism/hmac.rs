//! CKM_SHA*_HMAC and CKM_SHA*_HMAC_GENERAL on KMS's HMAC keys
//! (docs/hmac.md).
//!
//! - GenerateMac takes 1 to 4,096 bytes of message: multi-part input is
//!   collected up to that, a longer (or empty) message is
//!   CKR_DATA_LEN_RANGE.
//! - The mechanism's hash must be the key's (KMS has one MacAlgorithm per
//!   key spec): another is CKR_KEY_TYPE_INCONSISTENT.
//! - The _GENERAL mechanisms take CK_MAC_GENERAL_PARAMS, the MAC's length,
//!   1 to the hash's length: KMS makes the whole MAC, the token returns its
//!   first bytes (RFC 2104's truncation) and verifies by comparing them in
//!   constant time.

use super::{Input, Param};
use crate::error::{Error, Result};
use crate::vocabulary::{MacAlg, RAW_MESSAGE_MAX};
use cryptoki_sys::{CKR_DATA_LEN_RANGE, CKR_MECHANISM_PARAM_INVALID};

/// Where the rules are explained.
pub const DOC: &str = "docs/hmac.md";

/// The longest message GenerateMac and VerifyMac take.
pub const MESSAGE_MAX: usize = RAW_MESSAGE_MAX;

/// The input of an HMAC mechanism of `alg` with this parameter.
pub fn check(alg: MacAlg, general: bool, param: Param) -> Result<Input> {
    let full = alg.output_len();
    match (general, param) {
        (false, Param::None) => Ok(Input::Mac { alg, len: full }),
        (true, Param::MacLength(len)) if (1..=full).contains(&len) => Ok(Input::Mac { alg, len }),
        (true, Param::MacLength(len)) => Err(Error::new(
            CKR_MECHANISM_PARAM_INVALID,
            format!(
                "an HMAC of {} is 1 to {full} bytes long, not {len}",
                alg.as_kms()
            ),
        )),
        (true, _) => Err(Error::new(
            CKR_MECHANISM_PARAM_INVALID,
            "a _HMAC_GENERAL mechanism takes CK_MAC_GENERAL_PARAMS (the MAC's length)",
        )),
        (false, _) => Err(Error::new(
            CKR_MECHANISM_PARAM_INVALID,
            "a full-length HMAC mechanism takes no parameter",
        )),
    }
}

/// Why a message of `len` bytes is refused.
pub fn out_of_range(len: usize) -> Error {
    Error::new(
        CKR_DATA_LEN_RANGE,
        format!(
            "KMS computes HMACs of messages of 1 to {MESSAGE_MAX} bytes; this one is {len} \
             (docs/hmac.md)"
        ),
    )
}

/// Whether `mac` is the first `mac.len()` bytes of `full`, in time that
/// does not depend on where they differ.
pub fn truncated_matches(full: &[u8], mac: &[u8]) -> bool {
    mac.len() <= full.len()
        && aws_lc_rs::constant_time::verify_slices_are_equal(&full[..mac.len()], mac).is_ok()
}
