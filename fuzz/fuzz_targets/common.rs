//! What the targets share: fixed public keys (DER SubjectPublicKeyInfos made
//! once with `openssl`, in `fuzz/keys/`) and the KeyInfos built from them.

#![allow(dead_code)]

use kms11::backend::RemoteKey;
use kms11::token::key::KeyInfo;
use kms11::vocabulary::KeySpec;

pub const RSA2048_SPKI: &[u8] = include_bytes!("../keys/rsa2048.spki.der");
pub const P256_SPKI: &[u8] = include_bytes!("../keys/p256.spki.der");
pub const P384_SPKI: &[u8] = include_bytes!("../keys/p384.spki.der");
pub const P521_SPKI: &[u8] = include_bytes!("../keys/p521.spki.der");
pub const SECP256K1_SPKI: &[u8] = include_bytes!("../keys/secp256k1.spki.der");
pub const ED25519_SPKI: &[u8] = include_bytes!("../keys/ed25519.spki.der");

/// Every KeySpec that becomes an object, indexed by a selector byte.
pub const SPECS: [KeySpec; 11] = [
    KeySpec::Rsa2048,
    KeySpec::Rsa3072,
    KeySpec::Rsa4096,
    KeySpec::EccNistP256,
    KeySpec::EccNistP384,
    KeySpec::EccNistP521,
    KeySpec::EccSecgP256k1,
    KeySpec::EccNistEdwards25519,
    KeySpec::MlDsa44,
    KeySpec::MlDsa65,
    KeySpec::MlDsa87,
];

pub const EC_SPECS: [KeySpec; 4] = [
    KeySpec::EccNistP256,
    KeySpec::EccNistP384,
    KeySpec::EccNistP521,
    KeySpec::EccSecgP256k1,
];

pub fn spec(selector: u8) -> KeySpec {
    SPECS[usize::from(selector) % SPECS.len()]
}

/// What GetPublicKey would answer for a key with this public key.
pub fn remote(spec: KeySpec, spki: &[u8]) -> RemoteKey {
    RemoteKey {
        arn: "arn:aws:kms:us-east-1:111122223333:key/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
            .to_string(),
        key_spec: spec.as_kms().to_string(),
        key_usage: "SIGN_VERIFY".to_string(),
        public_key: spki.to_vec(),
    }
}

/// A KeyInfo from one of the fixed keys.
pub fn key_info(spec: KeySpec, spki: &[u8], label: &str) -> KeyInfo {
    KeyInfo::new(
        &remote(spec, spki),
        spec,
        kms11::vocabulary::KeyUsage::SignVerify,
        label.to_string(),
        vec![0x0f, 0x1e, 0x2d, 0x3c],
        Vec::new(),
    )
    .expect("the fixed SPKIs parse")
}
