//! C_Verify, done locally with the public key KMS gave us: no KMS call.

use super::key::KeyInfo;
use crate::backend::{Hash, KeySpec, SigningAlgorithm};
use crate::error::{Error, Result};
use aws_lc_rs::{digest, signature};
use cryptoki_sys::{CKR_SIGNATURE_INVALID, CKR_SIGNATURE_LEN_RANGE};

fn digest_alg(h: Hash) -> &'static digest::Algorithm {
    match h {
        Hash::Sha256 => &digest::SHA256,
        Hash::Sha384 => &digest::SHA384,
        Hash::Sha512 => &digest::SHA512,
    }
}

/// Checks `signature` (PKCS#11 form) over `digest` with the KMS algorithm
/// the same request would have been signed with.
pub fn verify(key: &KeyInfo, alg: SigningAlgorithm, digest_bytes: &[u8], sig: &[u8]) -> Result<()> {
    if sig.len() != key.signature_len() {
        return Err(Error::new(
            CKR_SIGNATURE_LEN_RANGE,
            format!("a signature with this key is {} bytes", key.signature_len()),
        ));
    }
    use signature::*;
    let (valg, hash): (&'static dyn VerificationAlgorithm, Hash) = match alg {
        SigningAlgorithm::RsaPkcs1(h) => (
            match h {
                Hash::Sha256 => &RSA_PKCS1_2048_8192_SHA256,
                Hash::Sha384 => &RSA_PKCS1_2048_8192_SHA384,
                Hash::Sha512 => &RSA_PKCS1_2048_8192_SHA512,
            },
            h,
        ),
        SigningAlgorithm::RsaPss(h) => (
            match h {
                Hash::Sha256 => &RSA_PSS_2048_8192_SHA256,
                Hash::Sha384 => &RSA_PSS_2048_8192_SHA384,
                Hash::Sha512 => &RSA_PSS_2048_8192_SHA512,
            },
            h,
        ),
        SigningAlgorithm::Ecdsa(h) => (
            match key.spec {
                KeySpec::EccNistP384 => &ECDSA_P384_SHA384_FIXED,
                KeySpec::EccNistP521 => &ECDSA_P521_SHA512_FIXED,
                KeySpec::EccSecgP256k1 => &ECDSA_P256K1_SHA256_FIXED,
                _ => &ECDSA_P256_SHA256_FIXED,
            },
            h,
        ),
    };
    let d = digest::Digest::import_less_safe(digest_bytes, digest_alg(hash))
        .map_err(|_| Error::from(CKR_SIGNATURE_INVALID))?;
    UnparsedPublicKey::new(valg, &key.public_key)
        .verify_digest(&d, sig)
        .map_err(|_| CKR_SIGNATURE_INVALID.into())
}
