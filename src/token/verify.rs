//! C_Verify, done locally with the public key KMS gave us: no KMS call.

use super::key::KeyInfo;
use crate::error::{Error, Result};
use crate::vocabulary::{Curve, Family, HashAlg, SigningAlgorithm};
use aws_lc_rs::{digest, signature};
use cryptoki_sys::{CKR_SIGNATURE_INVALID, CKR_SIGNATURE_LEN_RANGE};

fn digest_alg(h: HashAlg) -> &'static digest::Algorithm {
    match h {
        HashAlg::Sha256 => &digest::SHA256,
        HashAlg::Sha384 => &digest::SHA384,
        HashAlg::Sha512 => &digest::SHA512,
    }
}

/// aws-lc-rs's verifier for a KMS algorithm on a key of this family;
/// `None` for a pair KMS would not sign with.
fn verifier(
    family: Family,
    alg: SigningAlgorithm,
) -> Option<&'static dyn signature::VerificationAlgorithm> {
    use signature::*;
    use HashAlg::*;
    Some(match (family, alg) {
        (Family::Rsa { .. }, SigningAlgorithm::RsaPkcs1(h)) => match h {
            Sha256 => &RSA_PKCS1_2048_8192_SHA256,
            Sha384 => &RSA_PKCS1_2048_8192_SHA384,
            Sha512 => &RSA_PKCS1_2048_8192_SHA512,
        },
        (Family::Rsa { .. }, SigningAlgorithm::RsaPss(h)) => match h {
            Sha256 => &RSA_PSS_2048_8192_SHA256,
            Sha384 => &RSA_PSS_2048_8192_SHA384,
            Sha512 => &RSA_PSS_2048_8192_SHA512,
        },
        (Family::Ec(curve), SigningAlgorithm::Ecdsa(h)) if h == curve.row().hash => match curve {
            Curve::P256 => &ECDSA_P256_SHA256_FIXED,
            Curve::P384 => &ECDSA_P384_SHA384_FIXED,
            Curve::P521 => &ECDSA_P521_SHA512_FIXED,
            Curve::Secp256k1 => &ECDSA_P256K1_SHA256_FIXED,
        },
        (Family::Rsa { .. } | Family::Ec(_), _) => return None,
    })
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
    let valg = verifier(key.spec.family(), alg).ok_or(Error::from(CKR_SIGNATURE_INVALID))?;
    let d = digest::Digest::import_less_safe(digest_bytes, digest_alg(alg.hash()))
        .map_err(|_| Error::from(CKR_SIGNATURE_INVALID))?;
    signature::UnparsedPublicKey::new(valg, &key.public_key)
        .verify_digest(&d, sig)
        .map_err(|_| CKR_SIGNATURE_INVALID.into())
}
