//! What KMS signs with and aws-lc-rs does not offer, taken from AWS-LC
//! through aws-lc-sys (the version aws-lc-rs already brings in) behind safe
//! functions: the only unsafe code of the emulator, every block with a
//! `// SAFETY:` line.
//!
//! - `ed25519ph`: Ed25519ph, for ED25519_PH_SHA_512.
//! - `mldsa`: ML-DSA keys, pure ML-DSA (MessageType RAW) and signing an
//!   external μ (EXTERNAL_MU), for ML_DSA_SHAKE_256. aws-lc-rs has pure
//!   ML-DSA only behind its `unstable` feature, and no external μ.

mod ed25519ph;
pub mod mldsa;

pub use ed25519ph::{ed25519ph_sign, ed25519ph_verify, PRIVATE_KEY_LEN, PUBLIC_KEY_LEN};
