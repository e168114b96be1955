//! kms11: a PKCS#11 module whose private keys live in AWS KMS.
//!
//! Layers, data flowing one way: `ffi` (the C ABI) checks and converts
//! arguments and calls `token` (PKCS#11 semantics: slots, sessions, objects,
//! operations), which asks `mechanism` what a CKM_* means for a KMS key, and
//! `backend` makes the network call. Nothing below `ffi` sees a raw pointer;
//! nothing above `backend` sees an AWS type.

// Raw pointers and `unsafe` belong to the C ABI alone: `mod ffi` is the one
// place allowed them, and each of its unsafe blocks says why it is sound.
#![deny(unsafe_code)]
#![deny(clippy::undocumented_unsafe_blocks)]

pub mod attribute;
pub mod backend;
pub mod cache;
pub mod config;
pub mod error;
#[cfg(feature = "aws")]
#[allow(unsafe_code)]
mod ffi;
// A C function the token layer calls (aws-lc's Ed25519ph verification):
// under `ffi/` with the other unsafe code, built with or without the C ABI.
#[allow(unsafe_code)]
#[path = "ffi/ed25519ph.rs"]
pub mod ed25519ph;
// The same for ML-DSA over a μ.
pub mod keyref;
#[allow(unsafe_code)]
#[path = "ffi/mldsa.rs"]
pub mod mldsa_verify;
#[cfg(feature = "aws")]
pub use ffi::secure_execution;
pub mod files;
pub mod log;
pub mod mechanism;
pub mod pin;
pub mod public_key;
pub mod runtime;
pub mod token;
pub mod uri;
pub mod vendor;
pub mod vocabulary;
pub mod x509;

/// The module's version, as CK_INFO and CK_TOKEN_INFO report it.
pub fn version() -> (u8, u8) {
    let major = env!("CARGO_PKG_VERSION_MAJOR").parse().unwrap_or(0);
    let minor = env!("CARGO_PKG_VERSION_MINOR").parse().unwrap_or(0);
    (major, minor)
}
