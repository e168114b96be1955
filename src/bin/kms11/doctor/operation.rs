//! The test operation of a key: a Sign checked with the public key, an
//! encryption with the public key that KMS must decrypt back, a MAC that
//! KMS must verify, or an ECDH whose secret a local key agrees with.

use super::{KeyCheck, Report};
use kms11::backend::kms::KmsBackend;
use kms11::backend::Backend;
use kms11::mechanism::ecdh;
use kms11::mechanism::hash::Hasher;
use kms11::mechanism::mldsa::{Context, MuHasher, Prehash};
use kms11::token::key::KeyInfo;
use kms11::token::key::PublicParts;
use kms11::vocabulary::{Curve, Family, OaepHash, SigningAlgorithm};

/// The algorithm and message of the test signature: the key spec's first
/// algorithm (PKCS#1 v1.5 with SHA-256 for RSA, the curve's one algorithm
/// for ECDSA, pure Ed25519, ML-DSA), and the digest, μ or message it takes.
fn test_signature(info: &KeyInfo) -> (SigningAlgorithm, Vec<u8>) {
    let alg = info.spec.row().algorithms[0];
    let message = b"kms11 doctor: test signature";
    if alg == SigningAlgorithm::MlDsa {
        // KMS signs ML-DSA's μ, which the module computes (EXTERNAL_MU).
        let mut mu = MuHasher::new(&info.mldsa_tr, &Context::EMPTY, Prehash::None);
        // Pure ML-DSA takes any message: neither call can fail.
        let mu = mu
            .update(message)
            .and_then(|()| mu.finish())
            .unwrap_or_default();
        return (alg, mu);
    }
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
        let (alg, digest) = test_signature(info);
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

    /// A GenerateMac of a test message, then a VerifyMac of that MAC, as
    /// C_Sign then C_Verify would.
    pub(super) async fn mac(&self, r: &mut Report, backend: &KmsBackend, info: &KeyInfo) {
        let Family::Hmac(alg) = info.spec.family() else {
            return r.fail(&self.what, "not an HMAC key", "report this as a bug");
        };
        let message = b"kms11 doctor: test MAC";
        let grants = &self.key.grant_tokens;
        let made = {
            let _p = crate::progress::Progress::start(format!("GenerateMac with {}", info.arn));
            backend.generate_mac(&info.arn, alg, message, grants).await
        };
        let mac = match made {
            Ok(m) => m.mac,
            Err(e) => return self.fail(r, "GenerateMac", &e),
        };
        let checked = {
            let _p = crate::progress::Progress::start(format!("VerifyMac with {}", info.arn));
            backend
                .verify_mac(&info.arn, alg, message, &mac, grants)
                .await
        };
        match checked {
            Ok(_) => r.ok(
                &self.what,
                format!("GenerateMac and VerifyMac: {}", alg.as_kms()),
            ),
            Err(e) => self.fail(r, "VerifyMac", &e),
        }
    }

    /// DeriveSharedSecret with a fresh local key's public key, whose own
    /// ECDH with the KMS public key must give the same secret.
    pub(super) async fn derive(&self, r: &mut Report, backend: &KmsBackend, info: &KeyInfo) {
        use aws_lc_rs::agreement::{self, EphemeralPrivateKey, UnparsedPublicKey};
        let PublicParts::Ec { curve, point } = &info.parts else {
            return r.fail(&self.what, "not an EC key", "report this as a bug");
        };
        let alg = match curve {
            Curve::P256 => &agreement::ECDH_P256,
            Curve::P384 => &agreement::ECDH_P384,
            Curve::P521 => &agreement::ECDH_P521,
            Curve::Secp256k1 => {
                return r.fail(
                    &self.what,
                    "KMS has no ECDH on secp256k1",
                    "use a NIST curve",
                )
            }
        };
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let local = EphemeralPrivateKey::generate(alg, &rng).and_then(|k| {
            let public = k.compute_public_key()?;
            Ok((k, public.as_ref().to_vec()))
        });
        let spki = local
            .as_ref()
            .ok()
            .and_then(|(_, p)| ecdh::peer_spki(*curve, p).ok());
        let (Ok((mine, _)), Some(spki)) = (local, spki) else {
            return r.fail(
                &self.what,
                "cannot make a local ECDH key",
                "report this as a bug",
            );
        };
        let derived = {
            let _p =
                crate::progress::Progress::start(format!("DeriveSharedSecret with {}", info.arn));
            backend
                .derive_shared_secret(&info.arn, &spki, &self.key.grant_tokens)
                .await
        };
        let theirs = match derived {
            Ok(s) => s.secret,
            Err(e) => return self.fail(r, "DeriveSharedSecret", &e),
        };
        let peer = UnparsedPublicKey::new(alg, point);
        let same = agreement::agree_ephemeral(mine, peer, (), |z| Ok(z == theirs.as_slice()));
        match same {
            Ok(true) => r.ok(
                &self.what,
                "DeriveSharedSecret: ECDH secret agreed with a local key",
            ),
            _ => r.fail(
                &self.what,
                "DeriveSharedSecret: KMS's secret is not the one the public key gives",
                "something between kms11 and KMS changes answers (a proxy?), or the endpoint is not KMS",
            ),
        }
    }
}
