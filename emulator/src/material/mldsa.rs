//! ML-DSA key material (KeySpec ML_DSA_44/65/87): the encodings of RFC 9881
//! around the AWS-LC key of `crate::ffi::mldsa`. A new key is a random
//! 32-byte seed (FIPS 204 ξ), saved as the seed-form PKCS#8; GetPublicKey
//! answers a SubjectPublicKeyInfo with the NIST OID id-ml-dsa-44/65/87
//! (2.16.840.1.101.3.4.3.17/18/19, no parameters).

use super::{random_bytes, Loaded, Material};
use crate::ffi::mldsa::{Level, MlDsaKey};
use crate::spec::KeySpec;

const SEED_LEN: usize = 32;

fn level(spec: KeySpec) -> Result<Level, String> {
    match spec {
        KeySpec::ML_DSA_44 => Ok(Level::MlDsa44),
        KeySpec::ML_DSA_65 => Ok(Level::MlDsa65),
        KeySpec::ML_DSA_87 => Ok(Level::MlDsa87),
        other => Err(format!("{} is not an ML-DSA key spec", other.as_str())),
    }
}

/// A DER element: tag, definite length (short or long form), content.
fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let n = content.len();
    let mut out = vec![tag];
    match u8::try_from(n) {
        Ok(short) if short < 0x80 => out.push(short),
        Ok(byte) => out.extend([0x81, byte]),
        Err(_) => {
            let two = u16::try_from(n).expect("ML-DSA encodings are under 64 KiB");
            out.push(0x82);
            out.extend(two.to_be_bytes());
        }
    }
    out.extend_from_slice(content);
    out
}

/// AlgorithmIdentifier { id-ml-dsa-NN } (RFC 9881: parameters absent).
fn algorithm(level: Level) -> Vec<u8> {
    let last = match level {
        Level::MlDsa44 => 0x11,
        Level::MlDsa65 => 0x12,
        Level::MlDsa87 => 0x13,
    };
    let oid = [0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x03, last];
    tlv(0x30, &tlv(0x06, &oid))
}

/// OneAsymmetricKey v1 whose privateKey is the `seed [0]` choice.
fn pkcs8_from_seed(level: Level, seed: &[u8]) -> Vec<u8> {
    let mut body = vec![0x02, 0x01, 0x00];
    body.extend(algorithm(level));
    body.extend(tlv(0x04, &tlv(0x80, seed)));
    tlv(0x30, &body)
}

/// SubjectPublicKeyInfo: the algorithm, and the raw public key in a BIT
/// STRING with no unused bits.
fn spki(level: Level, public: &[u8]) -> Vec<u8> {
    let mut bits = vec![0x00];
    bits.extend_from_slice(public);
    let mut body = algorithm(level);
    body.extend(tlv(0x03, &bits));
    tlv(0x30, &body)
}

/// New material: the PKCS#8 of a random seed.
pub(super) fn generate(spec: KeySpec) -> Result<Vec<u8>, String> {
    Ok(pkcs8_from_seed(level(spec)?, &random_bytes(SEED_LEN)))
}

pub(super) fn load(spec: KeySpec, bytes: &[u8]) -> Result<Loaded, String> {
    let level = level(spec)?;
    let key = MlDsaKey::from_pkcs8(level, bytes)
        .ok_or_else(|| super::bad(&format!("{} PKCS#8 key", spec.as_str())))?;
    let public = key
        .public_key()
        .ok_or_else(|| "ML-DSA key without a public key".to_string())?;
    Ok((Material::MlDsa(key), Some(spki(level, &public))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ffi::mldsa::MU_LEN;
    use crate::material::{KeyMaterial, SignInput};
    use crate::spec::{KeyUsage, SigningAlgorithm};
    use aws_lc_rs::digest;

    const SPECS: [KeySpec; 3] = [KeySpec::ML_DSA_44, KeySpec::ML_DSA_65, KeySpec::ML_DSA_87];
    const ALG: SigningAlgorithm = SigningAlgorithm::ML_DSA_SHAKE_256;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    fn seed() -> Vec<u8> {
        (0..32).collect()
    }

    fn material(spec: KeySpec, pkcs8: Vec<u8>) -> Result<KeyMaterial, String> {
        KeyMaterial::load(spec, KeyUsage::SIGN_VERIFY, pkcs8)
    }

    #[test]
    fn a_seed_gives_the_public_key_another_implementation_derives() {
        // SHA-256 of the public key that pyca/cryptography 50 (OpenSSL)
        // derives from the seed 00 01 .. 1f, and the SPKI prefixes
        // (RFC 9881, as pyca encodes them).
        for (spec, spki_prefix, public_sha256) in [
            (
                KeySpec::ML_DSA_44,
                "30820532300b060960864801650304031103820521",
                "9f107644c1084526af3bc8098680b05499a2325a644e388fb4f970e058d19d46",
            ),
            (
                KeySpec::ML_DSA_65,
                "308207b2300b0609608648016503040312038207a1",
                "d666806e11cee19a7c989f7445f90dd419cf4d2d51db8c0fdb4c0f0a542238c9",
            ),
            (
                KeySpec::ML_DSA_87,
                "30820a32300b060960864801650304031303820a21",
                "91dc389cfaa01470b7f66eee45a4ae9026d154817c754dfe22298b3fa241ffcd",
            ),
        ] {
            let pkcs8 = pkcs8_from_seed(level(spec).unwrap(), &seed());
            let m = material(spec, pkcs8).unwrap();
            let der = m.public_der.as_ref().unwrap();
            let prefix = hex(spki_prefix);
            assert_eq!(der[..prefix.len()], prefix[..], "{spec:?}");
            // The BIT STRING's "no unused bits" byte, then the key.
            assert_eq!(der[prefix.len()], 0, "{spec:?}");
            let public = &der[prefix.len() + 1..];
            assert_eq!(public.len(), level(spec).unwrap().public_key_len());
            let sha = digest::digest(&digest::SHA256, public);
            assert_eq!(sha.as_ref(), hex(public_sha256), "{spec:?}");
        }
    }

    #[test]
    fn seed_form_pkcs8_is_what_pyca_writes() {
        let expected = "3034020100300b0609608648016503040311042280200001";
        let pkcs8 = pkcs8_from_seed(Level::MlDsa44, &seed());
        assert_eq!(pkcs8.len(), 54);
        assert_eq!(pkcs8[..24], hex(expected)[..]);
    }

    #[test]
    fn a_saved_key_loads_again_as_the_same_key() {
        for spec in SPECS {
            let made = KeyMaterial::generate(spec, KeyUsage::SIGN_VERIFY).unwrap();
            let again = material(spec, made.bytes.clone()).unwrap();
            assert_eq!(made.public_der, again.public_der, "{spec:?}");
            let input = SignInput::Message(b"saved".to_vec());
            let sig = made.sign(ALG, &input).unwrap();
            assert!(again.verify(ALG, &input, &sig), "{spec:?}");
        }
    }

    #[test]
    fn refuses_other_parameter_sets_and_bad_encodings() {
        let pkcs8 = pkcs8_from_seed(Level::MlDsa65, &seed());
        assert!(material(KeySpec::ML_DSA_44, pkcs8.clone()).is_err());
        assert!(material(KeySpec::ML_DSA_87, pkcs8.clone()).is_err());
        assert!(material(KeySpec::ML_DSA_65, pkcs8.clone()).is_ok());
        let mut trailing = pkcs8.clone();
        trailing.push(0);
        assert!(material(KeySpec::ML_DSA_65, trailing).is_err());
        assert!(material(KeySpec::ML_DSA_65, pkcs8[..40].to_vec()).is_err());
        let short_seed = pkcs8_from_seed(Level::MlDsa65, &seed()[..31]);
        assert!(material(KeySpec::ML_DSA_65, short_seed).is_err());
        let ed25519 = aws_lc_rs::signature::Ed25519KeyPair::generate_pkcs8v1(
            &aws_lc_rs::rand::SystemRandom::new(),
        )
        .unwrap();
        assert!(material(KeySpec::ML_DSA_65, ed25519.as_ref().to_vec()).is_err());
    }

    #[test]
    fn signs_and_verifies_raw_messages_and_external_mu() {
        for spec in SPECS {
            let m = KeyMaterial::generate(spec, KeyUsage::SIGN_VERIFY).unwrap();
            let len = level(spec).unwrap().signature_len();
            let message = SignInput::Message(vec![7u8; MU_LEN]);
            let mu = SignInput::Mu([7u8; MU_LEN]);
            for (input, other) in [(&message, &mu), (&mu, &message)] {
                let sig = m.sign(ALG, input).unwrap();
                assert_eq!(sig.len(), len, "{spec:?}");
                assert!(m.verify(ALG, input, &sig), "{spec:?}");
                // The same 64 bytes as a message are not the μ, and back.
                assert!(!m.verify(ALG, other, &sig), "{spec:?}");
                let mut bad = sig.clone();
                bad[0] ^= 1;
                assert!(!m.verify(ALG, input, &bad), "{spec:?}");
                assert!(!m.verify(ALG, input, &sig[..len - 1]), "{spec:?}");
                assert!(!m.verify(ALG, input, &[sig.as_slice(), &[0]].concat()));
            }
        }
    }

    #[test]
    fn a_key_refuses_another_keys_signature() {
        let a = KeyMaterial::generate(KeySpec::ML_DSA_44, KeyUsage::SIGN_VERIFY).unwrap();
        let b = KeyMaterial::generate(KeySpec::ML_DSA_44, KeyUsage::SIGN_VERIFY).unwrap();
        let input = SignInput::Mu([1u8; MU_LEN]);
        let sig = a.sign(ALG, &input).unwrap();
        assert!(!b.verify(ALG, &input, &sig));
    }
}
