//! The SubjectPublicKeyInfo from KMS's GetPublicKey, as `KeyInfo::new`
//! parses it into PKCS#11 attributes, and what is made from a parsed key
//! (CKA_EC_PARAMS/CKA_EC_POINT, JWK, OpenSSH, C_Verify).
//!
//! The first byte picks the KeySpec KMS claims. Properties: an accepted key
//! is the kind its KeySpec says, with the SPKI kept byte for byte; EC keys
//! carry the curve of their KeySpec, and CKA_EC_POINT is the DER OCTET
//! STRING of the SPKI's point; nothing made from it panics.

#![no_main]

#[path = "common.rs"]
mod common;

use der::asn1::{ObjectIdentifier, OctetString};
use der::{Decode, Encode};
use kms11::token::key::{KeyInfo, PublicParts};
use kms11::vocabulary::Family;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, spki)) = data.split_first() else {
        return;
    };
    let spec = common::spec(selector);
    let remote = common::remote(spec, spki);
    let usage = kms11::vocabulary::KeyUsage::SignVerify;
    let Ok(key) = KeyInfo::new(&remote, spec, usage, "k".into(), vec![1], Vec::new()) else {
        return;
    };
    assert_eq!(key.spki, spki);
    assert_eq!(remote.key_id(), "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0");
    match &key.parts {
        PublicParts::Rsa { modulus, .. } => {
            assert!(matches!(spec.family(), Family::Rsa { .. }));
            assert_eq!(key.signature_len(), modulus.len());
            assert!(key.modulus_bits() <= modulus.len() * 8);
            assert!(key.ec_params().is_none() && key.ec_point().is_none());
        }
        PublicParts::Ec { curve, point } => {
            assert_eq!(spec.family(), Family::Ec(*curve));
            assert_eq!(key.modulus_bits(), 0);
            let params = key.ec_params().expect("an OID encodes");
            assert_eq!(
                ObjectIdentifier::from_der(&params).ok(),
                Some(curve.row().oid)
            );
            let ec_point = key.ec_point().expect("a point encodes");
            let decoded = OctetString::from_der(&ec_point).expect("CKA_EC_POINT is DER");
            assert_eq!(decoded.as_bytes(), point.as_slice());
            assert_eq!(point, &key.public_key);
        }
        PublicParts::Ed25519 { point } => {
            assert_eq!(spec.family(), Family::Ed25519);
            assert_eq!(point.len(), 32);
            assert_eq!(point, &key.public_key);
            let ec_point = key.ec_point().expect("a point encodes");
            let decoded = OctetString::from_der(&ec_point).expect("CKA_EC_POINT is DER");
            assert_eq!(decoded.as_bytes(), point.as_slice());
        }
        PublicParts::MlDsa(set) => {
            assert_eq!(spec.family(), Family::MlDsa(*set));
            assert_eq!(key.public_key.len(), set.row().public_key_len);
            assert!(key.ec_params().is_none() && key.ec_point().is_none());
        }
        // SPECS holds asymmetric specs only: a secret key has no SPKI.
        PublicParts::Secret => panic!("{} parsed as a secret key", spec.as_kms()),
    }
    // The SPKI is DER: it re-encodes to the same bytes.
    let reparsed = spki::SubjectPublicKeyInfoRef::from_der(spki).expect("accepted above");
    assert_eq!(reparsed.to_der().expect("re-encodes"), spki);

    // What the kms11 command and C_Verify make from the key.
    let _ = kms11::public_key::jwk(&key, &kms11::public_key::jwk_thumbprint(&key), None);
    let _ = kms11::public_key::openssh(&key, "comment");
    let _ = kms11::public_key::libtrust_kid(&key.spki);
    let alg = spec.row().algorithms[0];
    let digest = vec![0u8; 64];
    let len = match alg.digest() {
        Some(h) => h.output_len(),
        // Ed25519: the message itself.
        None => 64,
    };
    let zero = vec![0u8; key.signature_len()];
    assert!(kms11::token::verify::verify(&key, alg, &digest[..len], &zero).is_err());
});
