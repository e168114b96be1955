//! MACs, encryption and key agreement with key material.

use super::{KeyMaterial, Material};
use crate::error::KmsError;
use crate::spec::EncryptionAlgorithm;
use aws_lc_rs::rsa::{OAEP_SHA1_MGF1SHA1, OAEP_SHA256_MGF1SHA256};
use aws_lc_rs::{aead, agreement, hmac};

impl KeyMaterial {
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

    pub(crate) fn oaep(alg: EncryptionAlgorithm) -> &'static aws_lc_rs::rsa::OaepAlgorithm {
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
