//! ML-DSA (FIPS 204) verification of a signature over a μ, from aws-lc's C
//! API (EVP_PKEY_verify on an ML-DSA key takes μ, FIPS 204's external μ),
//! which aws-lc-rs does not wrap. Under `ffi/` because it calls C: this
//! directory is the one place the crate allows `unsafe`. A leaf: it imports
//! nothing of the crate.

use aws_lc_sys::{
    ERR_clear_error, EVP_PKEY_CTX_free, EVP_PKEY_CTX_new, EVP_PKEY_free,
    EVP_PKEY_pqdsa_new_raw_public_key, EVP_PKEY_verify, EVP_PKEY_verify_init, NID_MLDSA44,
    NID_MLDSA65, NID_MLDSA87,
};
use std::ptr;

/// The NID of the ML-DSA parameter set whose public keys are `len` bytes.
fn nid_for(len: usize) -> Option<i32> {
    match len {
        1312 => Some(NID_MLDSA44),
        1952 => Some(NID_MLDSA65),
        2592 => Some(NID_MLDSA87),
        _ => None,
    }
}

/// Whether `signature` is ML-DSA's signature of the 64-byte `mu` by the
/// raw (FIPS 204 pk encoding) `public_key`, its parameter set told by the
/// key's length.
pub fn verify_mu(public_key: &[u8], mu: &[u8], signature: &[u8]) -> bool {
    let Some(nid) = nid_for(public_key.len()) else {
        return false;
    };
    if mu.len() != 64 {
        return false;
    }
    // SAFETY: `public_key` is readable for its length; aws-lc copies it
    // into a new EVP_PKEY that we own (freed below), or returns null.
    let pkey =
        unsafe { EVP_PKEY_pqdsa_new_raw_public_key(nid, public_key.as_ptr(), public_key.len()) };
    if pkey.is_null() {
        // SAFETY: touches only this thread's error queue.
        unsafe { ERR_clear_error() };
        return false;
    }
    // SAFETY: `pkey` is a live key; the context takes its own reference,
    // and no engine is given.
    let ctx = unsafe { EVP_PKEY_CTX_new(pkey, ptr::null_mut()) };
    // SAFETY: `ctx`, when not null, is a live context of `pkey`; `signature`
    // and `mu` are readable for their lengths and only read; then the
    // context and our reference to the key are freed, once each, and the
    // error queue a refusal leaves is emptied.
    unsafe {
        let ok = !ctx.is_null()
            && EVP_PKEY_verify_init(ctx) == 1
            && EVP_PKEY_verify(
                ctx,
                signature.as_ptr(),
                signature.len(),
                mu.as_ptr(),
                mu.len(),
            ) == 1;
        if !ctx.is_null() {
            EVP_PKEY_CTX_free(ctx);
        }
        EVP_PKEY_free(pkey);
        if !ok {
            ERR_clear_error();
        }
        ok
    }
}
