//! A local stand-in for AWS KMS, speaking its JSON 1.1 protocol, for the
//! tests, benchmarks and demo of kms11. See README.md.

// Unsafe code only in `mod ffi` (the Ed25519ph and ML-DSA functions of
// AWS-LC that aws-lc-rs lacks), each block with a SAFETY comment.
#![deny(unsafe_code)]
#![deny(clippy::undocumented_unsafe_blocks)]

pub mod error;
pub mod faults;
#[allow(unsafe_code)]
mod ffi;
pub mod import;
pub mod material;
mod ops;
pub mod request;
pub mod server;
pub mod spec;
pub mod store;

pub use faults::{Deny, Faults};
pub use server::{start, Options, Running};

/// Rejects fault settings that make no sense, with a message naming the field.
pub fn check_faults(f: &Faults) -> Result<(), String> {
    for (name, v) in [
        ("error_rate", f.error_rate),
        ("drop_rate", f.drop_rate),
        ("wrong_signature_rate", f.wrong_signature_rate),
        ("slow_rate", f.slow_rate),
    ] {
        if !(0.0..=1.0).contains(&v) {
            return Err(format!("{name} must be between 0 and 1, not {v}"));
        }
    }
    if f.throttle_rps < 0.0 || !f.throttle_rps.is_finite() {
        return Err(format!(
            "throttle_rps must be 0 (off) or positive, not {}",
            f.throttle_rps
        ));
    }
    Ok(())
}
