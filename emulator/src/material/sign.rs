//! Sign and Verify with RSA, ECDSA, Ed25519 and ML-DSA key material.

use super::{Ed25519Key, KeyMaterial, Material};
use crate::error::KmsError;
use crate::ffi;
use crate::ffi::mldsa::MU_LEN;
use crate::spec::SigningAlgorithm;
use aws_lc_rs::digest;
use aws_lc_rs::signature::{self, EcdsaKeyPair, KeyPair, RsaKeyPair};

/// What Sign and Verify hand to the key.
pub enum SignInput {
    /// RSA and ECDSA: the digest to sign, computed from a RAW message or
    /// received as a DIGEST.
    Digest(digest::Digest),
    /// Ed25519, Ed25519ph and ML-DSA: the message as received, which the
    /// algorithm hashes itself (for ED25519_PH_SHA_512 that message is a
    /// digest).
    Message(Vec<u8>),
    /// ML-DSA with MessageType EXTERNAL_MU: FIPS 204's μ, computed by the
    /// caller, signed without hashing.
    Mu([u8; MU_LEN]),
}

fn rsa_encoding(alg: SigningAlgorithm) -> Option<&'static dyn signature::RsaEncoding> {
    use SigningAlgorithm::*;
    Some(match alg {
        RSASSA_PKCS1_V1_5_SHA_256 => &signature::RSA_PKCS1_SHA256,
        RSASSA_PKCS1_V1_5_SHA_384 => &signature::RSA_PKCS1_SHA384,
        RSASSA_PKCS1_V1_5_SHA_512 => &signature::RSA_PKCS1_SHA512,
        RSASSA_PSS_SHA_256 => &signature::RSA_PSS_SHA256,
        RSASSA_PSS_SHA_384 => &signature::RSA_PSS_SHA384,
        RSASSA_PSS_SHA_512 => &signature::RSA_PSS_SHA512,
        _ => return None,
    })
}

fn rsa_verification(
    alg: SigningAlgorithm,
) -> Option<&'static dyn signature::VerificationAlgorithm> {
    use SigningAlgorithm::*;
    Some(match alg {
        RSASSA_PKCS1_V1_5_SHA_256 => &signature::RSA_PKCS1_2048_8192_SHA256,
        RSASSA_PKCS1_V1_5_SHA_384 => &signature::RSA_PKCS1_2048_8192_SHA384,
        RSASSA_PKCS1_V1_5_SHA_512 => &signature::RSA_PKCS1_2048_8192_SHA512,
        RSASSA_PSS_SHA_256 => &signature::RSA_PSS_2048_8192_SHA256,
        RSASSA_PSS_SHA_384 => &signature::RSA_PSS_2048_8192_SHA384,
        RSASSA_PSS_SHA_512 => &signature::RSA_PSS_2048_8192_SHA512,
        _ => return None,
    })
}

/// The verification algorithm of an ECDSA key pair's curve. The signing
/// algorithms are `const`s, so they are compared by value, not by address.
fn ecdsa_verification(kp: &EcdsaKeyPair) -> &'static dyn signature::VerificationAlgorithm {
    let alg = kp.algorithm();
    if *alg == signature::ECDSA_P256_SHA256_ASN1_SIGNING {
        &signature::ECDSA_P256_SHA256_ASN1
    } else if *alg == signature::ECDSA_P384_SHA384_ASN1_SIGNING {
        &signature::ECDSA_P384_SHA384_ASN1
    } else if *alg == signature::ECDSA_P521_SHA512_ASN1_SIGNING {
        &signature::ECDSA_P521_SHA512_ASN1
    } else {
        &signature::ECDSA_P256K1_SHA256_ASN1
    }
}

fn rsa_sign(
    kp: &RsaKeyPair,
    alg: SigningAlgorithm,
    digest: &digest::Digest,
) -> Result<Vec<u8>, KmsError> {
    let encoding = rsa_encoding(alg)
        .ok_or_else(|| KmsError::internal("RSA key asked for a non-RSA algorithm"))?;
    let mut sig = vec![0u8; kp.public_modulus_len()];
    kp.sign_digest(encoding, digest, &mut sig)
        .map_err(|_| KmsError::internal("RSA signing failed"))?;
    Ok(sig)
}

impl Ed25519Key {
    fn sign(&self, alg: SigningAlgorithm, message: &[u8]) -> Result<Vec<u8>, KmsError> {
        match alg {
            SigningAlgorithm::ED25519_SHA_512 => self
                .pair
                .try_sign(message)
                .map(|s| s.as_ref().to_vec())
                .map_err(|_| KmsError::internal("Ed25519 signing failed")),
            SigningAlgorithm::ED25519_PH_SHA_512 => ffi::ed25519ph_sign(&self.ph_private, message)
                .map(|s| s.to_vec())
                .ok_or_else(|| KmsError::internal("Ed25519ph signing failed")),
            _ => Err(KmsError::internal(
                "Ed25519 key asked for another algorithm",
            )),
        }
    }

    fn verify(&self, alg: SigningAlgorithm, message: &[u8], sig: &[u8]) -> bool {
        match alg {
            SigningAlgorithm::ED25519_SHA_512 => {
                signature::UnparsedPublicKey::new(&signature::ED25519, self.public)
                    .verify(message, sig)
                    .is_ok()
            }
            SigningAlgorithm::ED25519_PH_SHA_512 => {
                ffi::ed25519ph_verify(&self.public, message, sig)
            }
            _ => false,
        }
    }
}

impl KeyMaterial {
    /// Signs a digest already computed (or checked) by the caller, or for
    /// Ed25519 and ML-DSA the message (or μ).
    pub fn sign(&self, alg: SigningAlgorithm, input: &SignInput) -> Result<Vec<u8>, KmsError> {
        let ml_dsa = || KmsError::internal("ML-DSA signing failed");
        match (&self.material, input) {
            (Material::RsaSign(kp), SignInput::Digest(d)) => rsa_sign(kp, alg, d),
            (Material::EcSign(kp), SignInput::Digest(d)) => kp
                .sign_digest(d)
                .map(|s| s.as_ref().to_vec())
                .map_err(|_| KmsError::internal("ECDSA signing failed")),
            (Material::Ed25519(key), SignInput::Message(m)) => key.sign(alg, m),
            (Material::MlDsa(key), SignInput::Message(m)) => key.sign_message(m).ok_or_else(ml_dsa),
            (Material::MlDsa(key), SignInput::Mu(mu)) => key.sign_mu(mu).ok_or_else(ml_dsa),
            _ => Err(KmsError::internal("key cannot sign this input")),
        }
    }

    pub fn verify(&self, alg: SigningAlgorithm, input: &SignInput, sig: &[u8]) -> bool {
        let (valg, public, digest) = match (&self.material, input) {
            (Material::RsaSign(kp), SignInput::Digest(d)) => match rsa_verification(alg) {
                Some(valg) => (valg, kp.public_key().as_ref(), d),
                None => return false,
            },
            (Material::EcSign(kp), SignInput::Digest(d)) => {
                (ecdsa_verification(kp), kp.public_key().as_ref(), d)
            }
            (Material::Ed25519(key), SignInput::Message(m)) => return key.verify(alg, m, sig),
            (Material::MlDsa(key), SignInput::Message(m)) => return key.verify_message(m, sig),
            (Material::MlDsa(key), SignInput::Mu(mu)) => return key.verify_mu(mu, sig),
            _ => return false,
        };
        signature::UnparsedPublicKey::new(valg, public)
            .verify_digest(digest, sig)
            .is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{KeySpec, KeyUsage};
    use aws_lc_rs::signature::Ed25519KeyPair;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// Ed25519 material from an RFC 8032 secret key, through PKCS#8 as a
    /// seed or state file holds it.
    fn material(secret: &str) -> KeyMaterial {
        let pair = Ed25519KeyPair::from_seed_unchecked(&hex(secret)).unwrap();
        let pkcs8 = pair.to_pkcs8v1().unwrap().as_ref().to_vec();
        KeyMaterial::load(KeySpec::ECC_NIST_EDWARDS25519, KeyUsage::SIGN_VERIFY, pkcs8).unwrap()
    }

    fn sign(m: &KeyMaterial, alg: SigningAlgorithm, message: &[u8]) -> Vec<u8> {
        m.sign(alg, &SignInput::Message(message.to_vec())).unwrap()
    }

    #[test]
    fn pure_ed25519_matches_rfc_8032_test_1() {
        let m = material("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60");
        let expected = hex(
            "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
        );
        assert_eq!(sign(&m, SigningAlgorithm::ED25519_SHA_512, b""), expected);
        let public = hex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
        // The SubjectPublicKeyInfo is RFC 8410's: id-Ed25519 (1.3.101.112)
        // and the 32-byte key.
        let spki = m.public_der.as_ref().unwrap();
        assert_eq!(spki[..12], hex("302a300506032b6570032100")[..]);
        assert_eq!(spki[12..], public[..]);
    }

    #[test]
    fn ed25519ph_matches_rfc_8032_test_abc() {
        let m = material("833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42");
        let expected = hex(
            "98a70222f0b8121aa9d30f813d683f809e462b469c7ff87639499bb94e6dae4131f85042463c2a355a2003d062adf5aaa10b8c61e636062aaad11c2a26083406",
        );
        assert_eq!(
            sign(&m, SigningAlgorithm::ED25519_PH_SHA_512, b"abc"),
            expected
        );
    }

    #[test]
    fn verify_takes_each_algorithm_and_refuses_the_other() {
        let m = material("833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42");
        let message = SignInput::Message([7u8; 64].to_vec());
        for (alg, other) in [
            (
                SigningAlgorithm::ED25519_SHA_512,
                SigningAlgorithm::ED25519_PH_SHA_512,
            ),
            (
                SigningAlgorithm::ED25519_PH_SHA_512,
                SigningAlgorithm::ED25519_SHA_512,
            ),
        ] {
            let sig = m.sign(alg, &message).unwrap();
            assert_eq!(sig.len(), 64);
            assert!(m.verify(alg, &message, &sig));
            assert!(!m.verify(other, &message, &sig));
            let mut bad = sig.clone();
            bad[10] ^= 1;
            assert!(!m.verify(alg, &message, &bad));
        }
    }

    #[test]
    fn ecdsa_verify_finds_each_curve() {
        // The curve is found by comparing `const` signing algorithms; one
        // compared by address once made Verify refuse good signatures.
        for (spec, alg) in [
            (KeySpec::ECC_NIST_P256, SigningAlgorithm::ECDSA_SHA_256),
            (KeySpec::ECC_NIST_P384, SigningAlgorithm::ECDSA_SHA_384),
            (KeySpec::ECC_NIST_P521, SigningAlgorithm::ECDSA_SHA_512),
            (KeySpec::ECC_SECG_P256K1, SigningAlgorithm::ECDSA_SHA_256),
        ] {
            let m = KeyMaterial::generate(spec, KeyUsage::SIGN_VERIFY).unwrap();
            let input = SignInput::Digest(digest::digest(alg.digest().unwrap(), b"message"));
            let sig = m.sign(alg, &input).unwrap();
            assert!(m.verify(alg, &input, &sig), "{spec:?}");
            let other = SignInput::Digest(digest::digest(alg.digest().unwrap(), b"other"));
            assert!(!m.verify(alg, &other, &sig), "{spec:?}");
        }
    }
}
