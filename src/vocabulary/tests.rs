//! The rows against the standards they come from.

use super::*;

#[test]
fn every_spec_reads_back_from_its_kms_name() {
    for spec in KeySpec::ALL {
        assert_eq!(KeySpec::from_kms(spec.as_kms()), Some(*spec));
    }
    assert_eq!(KeySpec::from_kms("SYMMETRIC_DEFAULT"), None);
    assert_eq!(KeySpec::from_kms("HMAC_256"), Some(KeySpec::Hmac256));
    assert_eq!(KeySpec::from_kms("HMAC_SHA_256"), None);
    for usage in KeyUsage::ALL {
        assert_eq!(KeyUsage::from_kms(usage.as_kms()), Some(*usage));
    }
    assert_eq!(KeyUsage::from_kms("sign_verify"), None);
}

#[test]
fn rows_agree_with_the_standards() {
    let rsa = |s: KeySpec| match s.family() {
        Family::Rsa { modulus_len } => modulus_len * 8,
        Family::Ec(_) | Family::Ed25519 | Family::Hmac(_) | Family::MlDsa(_) => 0,
    };
    assert_eq!(rsa(KeySpec::Rsa2048), 2048);
    assert_eq!(rsa(KeySpec::Rsa3072), 3072);
    assert_eq!(rsa(KeySpec::Rsa4096), 4096);
    // r||s: twice the field, which holds the order's bits.
    for spec in KeySpec::ALL {
        match spec.family() {
            Family::Rsa { modulus_len } => assert_eq!(spec.signature_len(), modulus_len),
            Family::Ec(c) => {
                assert_eq!(spec.signature_len(), 2 * c.row().field_len);
                assert_eq!(c.row().field_len, c.row().bits.div_ceil(8));
                // The curve's hash is the one FIPS 186 pairs with it.
                assert!(c.row().hash.output_len() * 8 >= c.row().bits.min(512));
                assert_eq!(spec.row().algorithms, &[c.algorithm()]);
            }
            // RFC 8032: R || S, 32 bytes each.
            Family::Ed25519 => assert_eq!(spec.signature_len(), 64),
            // RFC 2104/FIPS 198: the MAC is the hash's output; KMS makes
            // key material as long, and imports up to the hash's block.
            Family::Hmac(alg) => {
                assert_eq!(spec.signature_len(), alg.output_len());
                assert_eq!(spec.as_kms()[5..], alg.as_kms()[9..]);
                assert!(alg.row().key_max >= alg.row().len);
            }
            // FIPS 204 table 2, and the NIST CSOR OIDs in order.
            Family::MlDsa(set) => {
                assert_eq!(spec.signature_len(), set.row().signature_len);
                assert_eq!(spec.row().algorithms, &[SigningAlgorithm::MlDsa]);
                let arc = set.row().oid.arcs().last();
                assert_eq!(arc, Some(16 + set.row().ckp as u32));
            }
        }
        assert!(spec.family().key_sizes().0 > 0);
    }
    assert_eq!(KeySpec::EccNistP521.signature_len(), 132);
    assert_eq!(Curve::P384.row().oid.to_string(), "1.3.132.0.34");
}

#[test]
fn hashes_are_found_by_mechanism_and_oid() {
    for h in HashAlg::ALL {
        assert_eq!(HashAlg::from_ckm(h.row().ckm), Some(h));
        assert_eq!(HashAlg::from_oid(&h.row().oid), Some(h));
    }
    assert_eq!(HashAlg::from_ckm(cryptoki_sys::CKM_SHA_1), None);
    assert_eq!(
        SigningAlgorithm::RsaPss(HashAlg::Sha384).as_kms(),
        "RSASSA_PSS_SHA_384"
    );
    assert_eq!(
        SigningAlgorithm::Ecdsa(HashAlg::Sha512).digest(),
        Some(HashAlg::Sha512)
    );
    // KMS's rule: Ed25519 only as RAW, Ed25519ph only as DIGEST.
    assert_eq!(SigningAlgorithm::Ed25519.message_type(), MessageType::Raw);
    assert_eq!(
        SigningAlgorithm::Ed25519Ph.message_type(),
        MessageType::Digest
    );
    assert_eq!(KeySpec::EccNistEdwards25519.row().jose, "EdDSA");
    // RFC 8017: 2048-bit RSA with SHA-256 OAEP takes 190 bytes, SHA-1 214.
    assert_eq!(OaepHash::Sha256.max_message(256), 190);
    assert_eq!(OaepHash::Sha1.max_message(256), 214);
    for spec in KeySpec::ALL {
        let decrypts = spec.row().usages.contains(&KeyUsage::EncryptDecrypt);
        assert_eq!(decrypts, matches!(spec.family(), Family::Rsa { .. }));
    }
    assert_eq!(ED25519_OID.to_string(), "1.3.101.112");
    let macs: Vec<_> = MacAlg::ALL.iter().map(|a| a.output_len() * 8).collect();
    assert_eq!(macs, [224, 256, 384, 512]);
}
