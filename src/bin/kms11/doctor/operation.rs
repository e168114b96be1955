//! The test operation of a key: a Sign checked with the public key, or an
//! encryption with the public key that KMS must decrypt back.

use super::{KeyCheck, Report};
use kms11::backend::kms::KmsBackend;
use kms11::backend::Backend;
use kms11::mechanism::hash::Hasher;
use kms11::token::key::KeyInfo;
use kms11::vocabulary::{KeySpec, OaepHash, SigningAlgorithm};

/// The algorithm and message of the test signature: the key spec's first
/// algorithm (PKCS#1 v1.5 with SHA-256 for RSA, the curve's one algorithm
/// for ECDSA, pure Ed25519), and the digest it takes or the message itself.
fn test_signature(spec: KeySpec) -> (SigningAlgorithm, Vec<u8>) {
    let alg = spec.row().algorithms[0];
    let message = b"kms11 doctor: test signature";
    match alg.digest() {
        Some(hash) => {
            let mut hasher = Hasher::new(hash);
            hasher.update(message);
            (alg, hasher.finish())
        }
        None => (alg, message.to_vec()),
    }
}

impl KeyCheck<'_> {
    /// Signs through KMS and checks the signature as C_Sign does: KMS's
    /// DER ECDSA signature as r||s, then verified with the public key.
    pub(super) async fn sign(&self, r: &mut Report, backend: &KmsBackend, info: &KeyInfo) {
        let (alg, digest) = test_signature(info.spec);
        let signed = {
            let _p = crate::progress::Progress::start(format!("Sign with {}", info.arn));
            backend
                .sign(&info.arn, alg, &digest, &self.key.grant_tokens)
                .await
        };
        let sig = match signed {
            Ok(signed) => signed.signature,
            Err(e) => return self.fail(r, "Sign", &e),
        };
        let fixed = kms11::mechanism::signature_from_kms(info.spec, sig);
        match fixed.and_then(|s| kms11::token::verify::verify(info, alg, &digest, &s)) {
            Ok(()) => r.ok(
                &self.what,
                format!("Sign: {} signature verified with the public key", alg.as_kms()),
            ),
            Err(e) => r.fail(
                &self.what,
                format!("Sign: the signature does not verify with the key's public key ({e})"),
                "something between kms11 and KMS changes answers (a proxy?), or the endpoint is not KMS",
            ),
        }
    }

    /// Encrypts a test message with the public key (RSA-OAEP, SHA-256) and
    /// asks KMS to decrypt it, as C_Encrypt then C_Decrypt would.
    pub(super) async fn decrypt(&self, r: &mut Report, backend: &KmsBackend, info: &KeyInfo) {
        let message = b"kms11 doctor: test decryption";
        let hash = OaepHash::Sha256;
        let ciphertext = match kms11::token::cipher::encrypt_locally(info, hash, message) {
            Ok(c) => c,
            Err(e) => {
                return r.fail(
                    &self.what,
                    format!("encrypting: {e}"),
                    "report this as a bug",
                )
            }
        };
        let decrypted = {
            let _p = crate::progress::Progress::start(format!("Decrypt with {}", info.arn));
            backend
                .decrypt(
                    &info.arn,
                    hash.as_kms(),
                    &ciphertext,
                    &self.key.grant_tokens,
                )
                .await
        };
        match decrypted {
            Ok(d) if d.plaintext.as_slice() == message => r.ok(
                &self.what,
                format!("Decrypt: {} of the public key's encryption", hash.as_kms()),
            ),
            Ok(_) => r.fail(
                &self.what,
                "Decrypt: KMS returned another plaintext than was encrypted",
                "something between kms11 and KMS changes answers (a proxy?), or the endpoint is not KMS",
            ),
            Err(e) => self.fail(r, "Decrypt", &e),
        }
    }
}
