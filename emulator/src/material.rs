//! Key material and the cryptography done with it. Everything here is
//! aws-lc-rs, which signs a digest handed to it (KMS's MessageType=DIGEST)
//! without hashing it again.

use crate::error::KmsError;
use crate::spec::{EncryptionAlgorithm, KeySpec, KeyUsage, SigningAlgorithm};
use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der, PublicKeyX509Der};
use aws_lc_rs::rsa::{
    KeySize, OaepPrivateDecryptingKey, OaepPublicEncryptingKey, PrivateDecryptingKey,
    OAEP_SHA1_MGF1SHA1, OAEP_SHA256_MGF1SHA256,
};
use aws_lc_rs::signature::{self, EcdsaKeyPair, EcdsaSigningAlgorithm, KeyPair};
use aws_lc_rs::{aead, agreement, digest, hmac, rand};

pub enum Material {
    /// AES-256-GCM key for SYMMETRIC_DEFAULT.
    Symmetric(aead::LessSafeKey),
    Hmac(Box<hmac::Key>),
    RsaSign(signature::RsaKeyPair),
    RsaDecrypt(OaepPrivateDecryptingKey, OaepPublicEncryptingKey),
    EcSign(EcdsaKeyPair),
    EcAgree(agreement::PrivateKey),
}

/// Material with the bytes it was made from, so it can be saved and reloaded.
pub struct KeyMaterial {
    pub material: Material,
    /// PKCS#8 DER for RSA and EC keys, raw bytes for symmetric and HMAC keys.
    pub bytes: Vec<u8>,
    /// DER SubjectPublicKeyInfo for asymmetric keys.
    pub public_der: Option<Vec<u8>>,
}

fn ecdsa_alg(spec: KeySpec) -> &'static EcdsaSigningAlgorithm {
    match spec {
        KeySpec::ECC_NIST_P256 => &signature::ECDSA_P256_SHA256_ASN1_SIGNING,
        KeySpec::ECC_NIST_P384 => &signature::ECDSA_P384_SHA384_ASN1_SIGNING,
        KeySpec::ECC_NIST_P521 => &signature::ECDSA_P521_SHA512_ASN1_SIGNING,
        _ => &signature::ECDSA_P256K1_SHA256_ASN1_SIGNING,
    }
}

fn ecdh_alg(spec: KeySpec) -> &'static agreement::Algorithm {
    match spec {
        KeySpec::ECC_NIST_P256 => &agreement::ECDH_P256,
        KeySpec::ECC_NIST_P384 => &agreement::ECDH_P384,
        _ => &agreement::ECDH_P521,
    }
}

fn rsa_size(spec: KeySpec) -> KeySize {
    match spec {
        KeySpec::RSA_2048 => KeySize::Rsa2048,
        KeySpec::RSA_3072 => KeySize::Rsa3072,
        _ => KeySize::Rsa4096,
    }
}

fn rsa_bits(spec: KeySpec) -> usize {
    match spec {
        KeySpec::RSA_2048 => 2048,
        KeySpec::RSA_3072 => 3072,
        _ => 4096,
    }
}

fn random_bytes(len: usize) -> Vec<u8> {
    let mut out = vec![0u8; len];
    rand::fill(&mut out).expect("system random generator");
    out
}

fn bad(what: &str) -> String {
    format!("key material is not a valid {what}")
}

impl KeyMaterial {
    /// New material for a key spec and usage (the pair is already validated).
    pub fn generate(spec: KeySpec, usage: KeyUsage) -> Result<Self, String> {
        let bytes = match (spec.family(), usage) {
            (crate::spec::KeyFamily::Symmetric, _) => random_bytes(32),
            (crate::spec::KeyFamily::Hmac, _) => random_bytes(spec.hmac_key_len()),
            _ if spec.is_rsa() => {
                let kp =
                    signature::RsaKeyPair::generate(rsa_size(spec)).map_err(|e| e.to_string())?;
                let der: Pkcs8V1Der = kp.as_der().map_err(|e| e.to_string())?;
                der.as_ref().to_vec()
            }
            (_, KeyUsage::KEY_AGREEMENT) => {
                let pk =
                    agreement::PrivateKey::generate(ecdh_alg(spec)).map_err(|e| e.to_string())?;
                let der: Pkcs8V1Der = pk.as_der().map_err(|e| e.to_string())?;
                der.as_ref().to_vec()
            }
            _ => {
                let doc = EcdsaKeyPair::generate_pkcs8(ecdsa_alg(spec), &rand::SystemRandom::new())
                    .map_err(|e| e.to_string())?;
                doc.as_ref().to_vec()
            }
        };
        Self::load(spec, usage, bytes)
    }

    /// Material from saved bytes (a state or seed file).
    pub fn load(spec: KeySpec, usage: KeyUsage, bytes: Vec<u8>) -> Result<Self, String> {
        let (material, public_der) = match spec.family() {
            crate::spec::KeyFamily::Symmetric => {
                let key = aead::UnboundKey::new(&aead::AES_256_GCM, &bytes)
                    .map_err(|_| bad("256-bit AES key"))?;
                (Material::Symmetric(aead::LessSafeKey::new(key)), None)
            }
            crate::spec::KeyFamily::Hmac => {
                let alg = spec.mac_algorithm().expect("HMAC spec").hmac();
                if bytes.is_empty() {
                    return Err(bad("HMAC key"));
                }
                (Material::Hmac(Box::new(hmac::Key::new(alg, &bytes))), None)
            }
            _ if spec.is_rsa() && usage == KeyUsage::ENCRYPT_DECRYPT => {
                let key =
                    PrivateDecryptingKey::from_pkcs8(&bytes).map_err(|_| bad("RSA PKCS#8 key"))?;
                if key.key_size_bits() != rsa_bits(spec) {
                    return Err(format!("RSA key is not {} bits", rsa_bits(spec)));
                }
                let public: PublicKeyX509Der =
                    key.public_key().as_der().map_err(|e| e.to_string())?;
                let public = public.as_ref().to_vec();
                let encrypting =
                    OaepPublicEncryptingKey::new(key.public_key()).map_err(|e| e.to_string())?;
                let key = OaepPrivateDecryptingKey::new(key).map_err(|e| e.to_string())?;
                (Material::RsaDecrypt(key, encrypting), Some(public))
            }
            _ if spec.is_rsa() => {
                let kp =
                    signature::RsaKeyPair::from_pkcs8(&bytes).map_err(|_| bad("RSA PKCS#8 key"))?;
                if kp.public_modulus_len() * 8 != rsa_bits(spec) {
                    return Err(format!("RSA key is not {} bits", rsa_bits(spec)));
                }
                let public: PublicKeyX509Der =
                    kp.public_key().as_der().map_err(|e| e.to_string())?;
                (Material::RsaSign(kp), Some(public.as_ref().to_vec()))
            }
            _ if usage == KeyUsage::KEY_AGREEMENT => {
                let pk = agreement::PrivateKey::from_private_key_der(ecdh_alg(spec), &bytes)
                    .map_err(|_| bad("EC private key for this curve"))?;
                let public = pk.compute_public_key().map_err(|e| e.to_string())?;
                let public: PublicKeyX509Der = public.as_der().map_err(|e| e.to_string())?;
                (Material::EcAgree(pk), Some(public.as_ref().to_vec()))
            }
            _ => {
                let kp = EcdsaKeyPair::from_pkcs8(ecdsa_alg(spec), &bytes)
                    .map_err(|_| bad("EC PKCS#8 key for this curve"))?;
                let public: PublicKeyX509Der =
                    kp.public_key().as_der().map_err(|e| e.to_string())?;
                (Material::EcSign(kp), Some(public.as_ref().to_vec()))
            }
        };
        Ok(KeyMaterial {
            material,
            bytes,
            public_der,
        })
    }

    /// Signs a digest already computed (or checked) by the caller.
    pub fn sign(
        &self,
        alg: SigningAlgorithm,
        digest: &digest::Digest,
    ) -> Result<Vec<u8>, KmsError> {
        use SigningAlgorithm::*;
        match &self.material {
            Material::RsaSign(kp) => {
                let encoding: &'static dyn signature::RsaEncoding = match alg {
                    RSASSA_PKCS1_V1_5_SHA_256 => &signature::RSA_PKCS1_SHA256,
                    RSASSA_PKCS1_V1_5_SHA_384 => &signature::RSA_PKCS1_SHA384,
                    RSASSA_PKCS1_V1_5_SHA_512 => &signature::RSA_PKCS1_SHA512,
                    RSASSA_PSS_SHA_256 => &signature::RSA_PSS_SHA256,
                    RSASSA_PSS_SHA_384 => &signature::RSA_PSS_SHA384,
                    RSASSA_PSS_SHA_512 => &signature::RSA_PSS_SHA512,
                    _ => return Err(KmsError::internal("RSA key asked for a non-RSA algorithm")),
                };
                let mut sig = vec![0u8; kp.public_modulus_len()];
                kp.sign_digest(encoding, digest, &mut sig)
                    .map_err(|_| KmsError::internal("RSA signing failed"))?;
                Ok(sig)
            }
            Material::EcSign(kp) => kp
                .sign_digest(digest)
                .map(|s| s.as_ref().to_vec())
                .map_err(|_| KmsError::internal("ECDSA signing failed")),
            _ => Err(KmsError::internal("key cannot sign")),
        }
    }

    pub fn verify(&self, alg: SigningAlgorithm, digest: &digest::Digest, sig: &[u8]) -> bool {
        use SigningAlgorithm::*;
        let (valg, public): (&'static dyn signature::VerificationAlgorithm, &[u8]) = match &self
            .material
        {
            Material::RsaSign(kp) => (
                match alg {
                    RSASSA_PKCS1_V1_5_SHA_256 => &signature::RSA_PKCS1_2048_8192_SHA256,
                    RSASSA_PKCS1_V1_5_SHA_384 => &signature::RSA_PKCS1_2048_8192_SHA384,
                    RSASSA_PKCS1_V1_5_SHA_512 => &signature::RSA_PKCS1_2048_8192_SHA512,
                    RSASSA_PSS_SHA_256 => &signature::RSA_PSS_2048_8192_SHA256,
                    RSASSA_PSS_SHA_384 => &signature::RSA_PSS_2048_8192_SHA384,
                    RSASSA_PSS_SHA_512 => &signature::RSA_PSS_2048_8192_SHA512,
                    _ => return false,
                },
                kp.public_key().as_ref(),
            ),
            Material::EcSign(kp) => {
                let valg: &'static dyn signature::VerificationAlgorithm =
                    if std::ptr::eq(kp.algorithm(), &signature::ECDSA_P256_SHA256_ASN1_SIGNING) {
                        &signature::ECDSA_P256_SHA256_ASN1
                    } else if std::ptr::eq(
                        kp.algorithm(),
                        &signature::ECDSA_P384_SHA384_ASN1_SIGNING,
                    ) {
                        &signature::ECDSA_P384_SHA384_ASN1
                    } else if std::ptr::eq(
                        kp.algorithm(),
                        &signature::ECDSA_P521_SHA512_ASN1_SIGNING,
                    ) {
                        &signature::ECDSA_P521_SHA512_ASN1
                    } else {
                        &signature::ECDSA_P256K1_SHA256_ASN1
                    };
                (valg, kp.public_key().as_ref())
            }
            _ => return false,
        };
        signature::UnparsedPublicKey::new(valg, public)
            .verify_digest(digest, sig)
            .is_ok()
    }

    pub fn mac(&self, message: &[u8]) -> Option<Vec<u8>> {
        match &self.material {
            Material::Hmac(key) => Some(hmac::sign(key, message).as_ref().to_vec()),
            _ => None,
        }
    }

    /// Seals with AES-256-GCM; the caller frames the result.
    pub fn seal(&self, nonce: [u8; 12], aad: &[u8], plaintext: &[u8]) -> Option<Vec<u8>> {
        let Material::Symmetric(key) = &self.material else {
            return None;
        };
        let mut buf = plaintext.to_vec();
        key.seal_in_place_append_tag(
            aead::Nonce::assume_unique_for_key(nonce),
            aead::Aad::from(aad),
            &mut buf,
        )
        .ok()?;
        Some(buf)
    }

    pub fn open(&self, nonce: [u8; 12], aad: &[u8], sealed: &[u8]) -> Option<Vec<u8>> {
        let Material::Symmetric(key) = &self.material else {
            return None;
        };
        let mut buf = sealed.to_vec();
        let plain = key
            .open_in_place(
                aead::Nonce::assume_unique_for_key(nonce),
                aead::Aad::from(aad),
                &mut buf,
            )
            .ok()?;
        Some(plain.to_vec())
    }

    fn oaep(alg: EncryptionAlgorithm) -> &'static aws_lc_rs::rsa::OaepAlgorithm {
        if alg == EncryptionAlgorithm::RSAES_OAEP_SHA_1 {
            &OAEP_SHA1_MGF1SHA1
        } else {
            &OAEP_SHA256_MGF1SHA256
        }
    }

    /// RSA-OAEP with MGF1 over the same hash, as KMS does.
    pub fn rsa_encrypt(
        &self,
        alg: EncryptionAlgorithm,
        plaintext: &[u8],
    ) -> Result<Vec<u8>, KmsError> {
        let Material::RsaDecrypt(_, public) = &self.material else {
            return Err(KmsError::internal("not an RSA encryption key"));
        };
        let max = public.max_plaintext_size(Self::oaep(alg));
        if plaintext.len() > max {
            return Err(KmsError::validation(format!(
                "Plaintext length {} exceeds the maximum of {max} bytes for {} with this key",
                plaintext.len(),
                alg.as_str()
            )));
        }
        let mut out = vec![0u8; public.ciphertext_size()];
        let n = public
            .encrypt(Self::oaep(alg), plaintext, &mut out, None)
            .map_err(|_| KmsError::internal("RSA encryption failed"))?
            .len();
        out.truncate(n);
        Ok(out)
    }

    pub fn rsa_decrypt(&self, alg: EncryptionAlgorithm, ciphertext: &[u8]) -> Option<Vec<u8>> {
        let Material::RsaDecrypt(key, _) = &self.material else {
            return None;
        };
        let mut out = vec![0u8; key.min_output_size()];
        let plain = key
            .decrypt(Self::oaep(alg), ciphertext, &mut out, None)
            .ok()?;
        Some(plain.to_vec())
    }

    /// ECDH with a peer's DER SubjectPublicKeyInfo; the shared secret is the
    /// x coordinate, as KMS returns it.
    pub fn derive(&self, peer_spki: &[u8]) -> Result<Vec<u8>, KmsError> {
        let Material::EcAgree(key) = &self.material else {
            return Err(KmsError::internal("not a key agreement key"));
        };
        let peer = agreement::UnparsedPublicKey::new(key.algorithm(), peer_spki);
        agreement::agree(key, peer, aws_lc_rs::error::Unspecified, |secret| {
            Ok(secret.to_vec())
        })
        .map_err(|_| {
            KmsError::validation(
                "PublicKey is not a valid DER-encoded SubjectPublicKeyInfo on the key's curve",
            )
        })
    }
}
