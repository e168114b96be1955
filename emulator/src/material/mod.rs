//! Key material and the cryptography done with it. Everything here is
//! aws-lc-rs (and, for Ed25519ph and ML-DSA, the AWS-LC functions in
//! `crate::ffi`), which signs a digest handed to it (KMS's
//! MessageType=DIGEST) without hashing it again.
//!
//! This file makes and loads material; `sign` signs and verifies; `cipher`
//! does MACs, encryption and key agreement; `mldsa` makes and loads ML-DSA
//! keys.

mod cipher;
mod mldsa;
mod sign;

pub use sign::SignInput;

use crate::ffi;
use crate::ffi::mldsa::MlDsaKey;
use crate::spec::{KeyFamily, KeySpec, KeyUsage};
use aws_lc_rs::encoding::{AsBigEndian, AsDer, Pkcs8V1Der, PublicKeyX509Der};
use aws_lc_rs::rsa::{
    KeySize, OaepPrivateDecryptingKey, OaepPublicEncryptingKey, PrivateDecryptingKey,
};
use aws_lc_rs::signature::{self, EcdsaKeyPair, EcdsaSigningAlgorithm, Ed25519KeyPair, KeyPair};
use aws_lc_rs::{aead, agreement, hmac, rand};

pub enum Material {
    /// AES-256-GCM key for SYMMETRIC_DEFAULT.
    Symmetric(aead::LessSafeKey),
    Hmac(Box<hmac::Key>),
    RsaSign(signature::RsaKeyPair),
    RsaDecrypt(OaepPrivateDecryptingKey, OaepPublicEncryptingKey),
    EcSign(EcdsaKeyPair),
    EcAgree(agreement::PrivateKey),
    Ed25519(Box<Ed25519Key>),
    /// ML-DSA-44, -65 or -87, held by AWS-LC.
    MlDsa(MlDsaKey),
}

/// An Ed25519 key in the two forms its two algorithms need: aws-lc-rs's
/// key pair for pure Ed25519, AWS-LC's 64-byte private key (seed, public
/// key) for Ed25519ph.
pub struct Ed25519Key {
    pair: Ed25519KeyPair,
    ph_private: [u8; ffi::PRIVATE_KEY_LEN],
    public: [u8; ffi::PUBLIC_KEY_LEN],
}

/// Material with the bytes it was made from, so it can be saved and reloaded.
pub struct KeyMaterial {
    pub material: Material,
    /// PKCS#8 DER for RSA, EC, Ed25519 and ML-DSA keys, raw bytes for
    /// symmetric and HMAC keys.
    pub bytes: Vec<u8>,
    /// DER SubjectPublicKeyInfo for asymmetric keys.
    pub public_der: Option<Vec<u8>>,
}

type Loaded = (Material, Option<Vec<u8>>);

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

pub(crate) fn random_bytes(len: usize) -> Vec<u8> {
    let mut out = vec![0u8; len];
    rand::fill(&mut out).expect("system random generator");
    out
}

fn bad(what: &str) -> String {
    format!("key material is not a valid {what}")
}

fn spki(public: &impl AsDer<PublicKeyX509Der<'static>>) -> Result<Vec<u8>, String> {
    let der: PublicKeyX509Der = public.as_der().map_err(|e| e.to_string())?;
    Ok(der.as_ref().to_vec())
}

fn pkcs8(key: &impl AsDer<Pkcs8V1Der<'static>>) -> Result<Vec<u8>, String> {
    let der: Pkcs8V1Der = key.as_der().map_err(|e| e.to_string())?;
    Ok(der.as_ref().to_vec())
}

fn generate_bytes(spec: KeySpec, usage: KeyUsage) -> Result<Vec<u8>, String> {
    let rng = rand::SystemRandom::new();
    match (spec.family(), usage) {
        (KeyFamily::Symmetric, _) => Ok(random_bytes(32)),
        (KeyFamily::Hmac, _) => Ok(random_bytes(spec.hmac_key_len())),
        _ if spec.is_rsa() => {
            pkcs8(&signature::RsaKeyPair::generate(rsa_size(spec)).map_err(|e| e.to_string())?)
        }
        _ if spec == KeySpec::ECC_NIST_EDWARDS25519 => Ed25519KeyPair::generate_pkcs8v1(&rng)
            .map(|d| d.as_ref().to_vec())
            .map_err(|e| e.to_string()),
        _ if spec.is_ml_dsa() => mldsa::generate(spec),
        (_, KeyUsage::KEY_AGREEMENT) => {
            pkcs8(&agreement::PrivateKey::generate(ecdh_alg(spec)).map_err(|e| e.to_string())?)
        }
        _ => EcdsaKeyPair::generate_pkcs8(ecdsa_alg(spec), &rng)
            .map(|d| d.as_ref().to_vec())
            .map_err(|e| e.to_string()),
    }
}

fn load_symmetric(bytes: &[u8]) -> Result<Loaded, String> {
    let key =
        aead::UnboundKey::new(&aead::AES_256_GCM, bytes).map_err(|_| bad("256-bit AES key"))?;
    Ok((Material::Symmetric(aead::LessSafeKey::new(key)), None))
}

fn load_hmac(spec: KeySpec, bytes: &[u8]) -> Result<Loaded, String> {
    let alg = spec.mac_algorithm().expect("HMAC spec").hmac();
    if bytes.is_empty() {
        return Err(bad("HMAC key"));
    }
    Ok((Material::Hmac(Box::new(hmac::Key::new(alg, bytes))), None))
}

fn load_rsa_decrypt(spec: KeySpec, bytes: &[u8]) -> Result<Loaded, String> {
    let key = PrivateDecryptingKey::from_pkcs8(bytes).map_err(|_| bad("RSA PKCS#8 key"))?;
    if key.key_size_bits() != rsa_bits(spec) {
        return Err(format!("RSA key is not {} bits", rsa_bits(spec)));
    }
    let public = spki(&key.public_key())?;
    let encrypting = OaepPublicEncryptingKey::new(key.public_key()).map_err(|e| e.to_string())?;
    let key = OaepPrivateDecryptingKey::new(key).map_err(|e| e.to_string())?;
    Ok((Material::RsaDecrypt(key, encrypting), Some(public)))
}

fn load_rsa_sign(spec: KeySpec, bytes: &[u8]) -> Result<Loaded, String> {
    let kp = signature::RsaKeyPair::from_pkcs8(bytes).map_err(|_| bad("RSA PKCS#8 key"))?;
    if kp.public_modulus_len() * 8 != rsa_bits(spec) {
        return Err(format!("RSA key is not {} bits", rsa_bits(spec)));
    }
    let public = spki(kp.public_key())?;
    Ok((Material::RsaSign(kp), Some(public)))
}

fn load_ec_agree(spec: KeySpec, bytes: &[u8]) -> Result<Loaded, String> {
    let pk = agreement::PrivateKey::from_private_key_der(ecdh_alg(spec), bytes)
        .map_err(|_| bad("EC private key for this curve"))?;
    let public = spki(&pk.compute_public_key().map_err(|e| e.to_string())?)?;
    Ok((Material::EcAgree(pk), Some(public)))
}

fn load_ec_sign(spec: KeySpec, bytes: &[u8]) -> Result<Loaded, String> {
    let kp = EcdsaKeyPair::from_pkcs8(ecdsa_alg(spec), bytes)
        .map_err(|_| bad("EC PKCS#8 key for this curve"))?;
    let public = spki(kp.public_key())?;
    Ok((Material::EcSign(kp), Some(public)))
}

fn load_ed25519(bytes: &[u8]) -> Result<Loaded, String> {
    let pair = Ed25519KeyPair::from_pkcs8(bytes).map_err(|_| bad("Ed25519 PKCS#8 key"))?;
    let seed = pair
        .seed()
        .and_then(|s| s.as_be_bytes())
        .map_err(|e| e.to_string())?;
    let public: [u8; ffi::PUBLIC_KEY_LEN] = pair
        .public_key()
        .as_ref()
        .try_into()
        .map_err(|_| bad("Ed25519 key"))?;
    let mut ph_private = [0u8; ffi::PRIVATE_KEY_LEN];
    ph_private[..32].copy_from_slice(seed.as_ref());
    ph_private[32..].copy_from_slice(&public);
    let der = spki(pair.public_key())?;
    let key = Ed25519Key {
        pair,
        ph_private,
        public,
    };
    Ok((Material::Ed25519(Box::new(key)), Some(der)))
}

impl KeyMaterial {
    /// New material for a key spec and usage (the pair is already validated).
    pub fn generate(spec: KeySpec, usage: KeyUsage) -> Result<Self, String> {
        Self::load(spec, usage, generate_bytes(spec, usage)?)
    }

    /// Material from saved bytes (a state or seed file).
    pub fn load(spec: KeySpec, usage: KeyUsage, bytes: Vec<u8>) -> Result<Self, String> {
        let (material, public_der) = match spec.family() {
            KeyFamily::Symmetric => load_symmetric(&bytes)?,
            KeyFamily::Hmac => load_hmac(spec, &bytes)?,
            _ if spec.is_rsa() && usage == KeyUsage::ENCRYPT_DECRYPT => {
                load_rsa_decrypt(spec, &bytes)?
            }
            _ if spec.is_rsa() => load_rsa_sign(spec, &bytes)?,
            _ if spec == KeySpec::ECC_NIST_EDWARDS25519 => load_ed25519(&bytes)?,
            _ if spec.is_ml_dsa() => mldsa::load(spec, &bytes)?,
            _ if usage == KeyUsage::KEY_AGREEMENT => load_ec_agree(spec, &bytes)?,
            _ => load_ec_sign(spec, &bytes)?,
        };
        Ok(KeyMaterial {
            material,
            bytes,
            public_der,
        })
    }
}
