//! Importing key material: the RSA wrapping key and import token that
//! GetParametersForImport hands out, and the unwrapping ImportKeyMaterial
//! does with them.
//!
//! RSAES_OAEP_SHA_1/_256 encrypt the key material with the wrapping key
//! (OAEP, MGF1 over the same hash). RSA_AES_KEY_WRAP_SHA_1/_256 encrypt a
//! fresh AES-256 key with it and wrap the material under that key with
//! AES key wrap with padding (RFC 5649); the two are concatenated, the RSA
//! ciphertext first.

use crate::error::KmsError;
use crate::material::random_bytes;
use crate::spec::{WrappingAlgorithm, WrappingKeySpec};
use aws_lc_rs::encoding::{AsDer, PublicKeyX509Der};
use aws_lc_rs::key_wrap::{AesKek, KeyWrapPadded, AES_256};
use aws_lc_rs::rsa::{
    KeySize, OaepAlgorithm, OaepPrivateDecryptingKey, PrivateDecryptingKey, OAEP_SHA1_MGF1SHA1,
    OAEP_SHA256_MGF1SHA256,
};

/// The length of our import tokens (KMS's are opaque blobs too).
const TOKEN_LEN: usize = 64;

/// One GetParametersForImport answer, kept until its token is used or
/// long after it expired.
pub struct ImportParams {
    pub key_id: String,
    pub algorithm: WrappingAlgorithm,
    pub valid_to: f64,
    wrapping_key: OaepPrivateDecryptingKey,
}

/// Refuses the wrapping algorithms and key specs this emulator does not do.
pub fn check_supported(alg: WrappingAlgorithm, spec: WrappingKeySpec) -> Result<(), KmsError> {
    let refused = match (alg, spec) {
        (WrappingAlgorithm::RSAES_PKCS1_V1_5, _) => Some(
            "WrappingAlgorithm RSAES_PKCS1_V1_5 is not supported: KMS stopped supporting it on October 10, 2023",
        ),
        (WrappingAlgorithm::SM2PKE, _) | (_, WrappingKeySpec::SM2) => Some(
            "SM2 wrapping (China Regions only) is not supported by this emulator",
        ),
        _ => None,
    };
    match refused {
        Some(message) => Err(KmsError::new("UnsupportedOperationException", message)),
        None => Ok(()),
    }
}

fn key_size(spec: WrappingKeySpec) -> KeySize {
    match spec {
        WrappingKeySpec::RSA_2048 => KeySize::Rsa2048,
        WrappingKeySpec::RSA_3072 => KeySize::Rsa3072,
        _ => KeySize::Rsa4096,
    }
}

fn oaep(alg: WrappingAlgorithm) -> &'static OaepAlgorithm {
    match alg {
        WrappingAlgorithm::RSAES_OAEP_SHA_1 | WrappingAlgorithm::RSA_AES_KEY_WRAP_SHA_1 => {
            &OAEP_SHA1_MGF1SHA1
        }
        _ => &OAEP_SHA256_MGF1SHA256,
    }
}

impl ImportParams {
    /// A new wrapping key pair and token for `key_id`; also returns the
    /// token and the public key (DER SubjectPublicKeyInfo).
    pub fn new(
        key_id: &str,
        algorithm: WrappingAlgorithm,
        spec: WrappingKeySpec,
        valid_to: f64,
    ) -> Result<(Self, Vec<u8>, Vec<u8>), KmsError> {
        let private = PrivateDecryptingKey::generate(key_size(spec))
            .map_err(|_| KmsError::internal("RSA key generation failed"))?;
        let public: PublicKeyX509Der = private
            .public_key()
            .as_der()
            .map_err(|_| KmsError::internal("RSA public key encoding failed"))?;
        let public = public.as_ref().to_vec();
        let wrapping_key = OaepPrivateDecryptingKey::new(private)
            .map_err(|_| KmsError::internal("RSA key refused for OAEP"))?;
        let params = ImportParams {
            key_id: key_id.to_string(),
            algorithm,
            valid_to,
            wrapping_key,
        };
        Ok((params, random_bytes(TOKEN_LEN), public))
    }

    fn rsa_decrypt(&self, ciphertext: &[u8]) -> Option<Vec<u8>> {
        let mut out = vec![0u8; self.wrapping_key.min_output_size()];
        let plain = self
            .wrapping_key
            .decrypt(oaep(self.algorithm), ciphertext, &mut out, None)
            .ok()?;
        Some(plain.to_vec())
    }

    /// The key material inside `encrypted`, or None if it does not unwrap.
    pub fn unwrap(&self, encrypted: &[u8]) -> Option<Vec<u8>> {
        match self.algorithm {
            WrappingAlgorithm::RSAES_OAEP_SHA_1 | WrappingAlgorithm::RSAES_OAEP_SHA_256 => {
                self.rsa_decrypt(encrypted)
            }
            WrappingAlgorithm::RSA_AES_KEY_WRAP_SHA_1
            | WrappingAlgorithm::RSA_AES_KEY_WRAP_SHA_256 => {
                let split = self.wrapping_key.key_size_bytes();
                if encrypted.len() <= split {
                    return None;
                }
                let (rsa_part, wrapped) = encrypted.split_at(split);
                let aes_key = self.rsa_decrypt(rsa_part)?;
                let kek = AesKek::new(&AES_256, &aes_key).ok()?;
                let mut out = vec![0u8; wrapped.len()];
                let plain = kek.unwrap_with_padding(wrapped, &mut out).ok()?;
                Some(plain.to_vec())
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::rsa::{OaepPublicEncryptingKey, PublicEncryptingKey};

    fn wrap_oaep(public_der: &[u8], alg: WrappingAlgorithm, plain: &[u8]) -> Vec<u8> {
        let key = OaepPublicEncryptingKey::new(PublicEncryptingKey::from_der(public_der).unwrap())
            .unwrap();
        let mut out = vec![0u8; key.ciphertext_size()];
        key.encrypt(oaep(alg), plain, &mut out, None)
            .unwrap()
            .to_vec()
    }

    #[test]
    fn unwraps_each_algorithm() {
        let material = [0x5au8; 45];
        for alg in [
            WrappingAlgorithm::RSAES_OAEP_SHA_1,
            WrappingAlgorithm::RSAES_OAEP_SHA_256,
            WrappingAlgorithm::RSA_AES_KEY_WRAP_SHA_1,
            WrappingAlgorithm::RSA_AES_KEY_WRAP_SHA_256,
        ] {
            let (params, token, public) =
                ImportParams::new("k", alg, WrappingKeySpec::RSA_2048, 0.0).unwrap();
            assert_eq!(token.len(), TOKEN_LEN);
            let wrapped = if matches!(
                alg,
                WrappingAlgorithm::RSAES_OAEP_SHA_1 | WrappingAlgorithm::RSAES_OAEP_SHA_256
            ) {
                wrap_oaep(&public, alg, &material)
            } else {
                let aes = [7u8; 32];
                let mut out = vec![0u8; material.len() + 15];
                let kw = AesKek::new(&AES_256, &aes)
                    .unwrap()
                    .wrap_with_padding(&material, &mut out)
                    .unwrap()
                    .to_vec();
                [wrap_oaep(&public, alg, &aes), kw].concat()
            };
            assert_eq!(
                params.unwrap(&wrapped).as_deref(),
                Some(&material[..]),
                "{alg:?}"
            );
            let mut bad = wrapped.clone();
            bad[10] ^= 1;
            assert_eq!(params.unwrap(&bad), None, "{alg:?}");
        }
    }
}
