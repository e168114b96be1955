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
        (Family::Ed25519, SigningAlgorithm::Ed25519) => &ED25519,
        (
            Family::Rsa { .. }
            | Family::Ec(_)
            | Family::Ed25519
            | Family::Hmac(_)
            | Family::MlDsa(_),
            _,
        ) => return None,
    })
}

/// Checks `signature` (PKCS#11 form) over `sent` (the digest or message
/// that KMS was or would have been sent) with the KMS algorithm of the
/// same request.
pub fn verify(key: &KeyInfo, alg: SigningAlgorithm, sent: &[u8], sig: &[u8]) -> Result<()> {
    if sig.len() != key.signature_len() {
        return Err(Error::new(
            CKR_SIGNATURE_LEN_RANGE,
            format!("a signature with this key is {} bytes", key.signature_len()),
        ));
    }
    let valid = match (alg, alg.digest()) {
        // KMS signs Ed25519ph of the 64 bytes it is sent.
        (SigningAlgorithm::Ed25519Ph, _) => {
            matches!(key.spec.family(), Family::Ed25519)
                && crate::ed25519ph::verify(&key.public_key, sent, sig)
        }
        // KMS signs the μ it is sent (EXTERNAL_MU).
        (SigningAlgorithm::MlDsa, _) => {
            matches!(key.spec.family(), Family::MlDsa(_))
                && crate::mldsa_verify::verify_mu(&key.public_key, sent, sig)
        }
        (_, Some(hash)) => {
            let valg =
                verifier(key.spec.family(), alg).ok_or(Error::from(CKR_SIGNATURE_INVALID))?;
            digest::Digest::import_less_safe(sent, digest_alg(hash)).is_ok_and(|d| {
                signature::UnparsedPublicKey::new(valg, &key.public_key)
                    .verify_digest(&d, sig)
                    .is_ok()
            })
        }
        // The message itself (pure Ed25519).
        (_, None) => verifier(key.spec.family(), alg).is_some_and(|valg| {
            signature::UnparsedPublicKey::new(valg, &key.public_key)
                .verify(sent, sig)
                .is_ok()
        }),
    };
    if valid {
        Ok(())
    } else {
        Err(CKR_SIGNATURE_INVALID.into())
    }
}
