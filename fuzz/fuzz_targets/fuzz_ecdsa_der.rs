//! ECDSA signatures: KMS's DER `ECDSA-Sig-Value` to PKCS#11's r||s
//! (`der_to_fixed`), and back (`fixed_to_der`, for X.509 and OpenSSL).
//!
//! The first byte picks the curve and the direction. Properties: r||s is
//! exactly twice the field length and round-trips through DER; DER that is
//! accepted is the canonical encoding of the r||s it gives.

#![no_main]

#[path = "common.rs"]
mod common;

use kms11::mechanism::ecdsa::{der_to_fixed, fixed_to_der};
use kms11::vocabulary::Family;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, input)) = data.split_first() else {
        return;
    };
    let spec = common::EC_SPECS[usize::from(selector & 0x7f) % common::EC_SPECS.len()];
    let Family::Ec(curve) = spec.family() else {
        unreachable!("EC_SPECS holds EC key specs")
    };
    let n = curve.row().field_len;
    if selector & 0x80 == 0 {
        // DER from KMS.
        let Ok(fixed) = der_to_fixed(curve, input) else {
            return;
        };
        assert_eq!(fixed.len(), 2 * n);
        let der = fixed_to_der(&fixed).expect("r||s of even length encodes");
        assert_eq!(
            der.as_slice(),
            input,
            "accepted DER that is not the canonical encoding of its r and s"
        );
        assert_eq!(
            der_to_fixed(curve, &der).expect("re-encoded DER parses"),
            fixed
        );
    } else {
        // r||s from an application (kms11 sign, certificates).
        let Ok(der) = fixed_to_der(input) else {
            assert!(input.is_empty() || input.len() % 2 == 1);
            return;
        };
        if input.len() == 2 * n {
            assert_eq!(der_to_fixed(curve, &der).expect("our DER parses"), input);
        }
    }
});
