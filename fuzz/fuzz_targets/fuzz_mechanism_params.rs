//! C_SignInit/C_VerifyInit's mechanism and its parameters (already copied
//! out of C memory into `Param` by `src/ffi`), and the mechanism's input as
//! C_Sign gives it (`Mechanism::to_kms`).
//!
//! Properties: a mechanism is accepted only for a key of its kind, PSS only
//! with the one parameter set KMS can honour (MGF1 and salt of the hash),
//! EdDSA only without a context, an HMAC only of the key's hash and of a
//! length it has, a parameter only for PSS, EdDSA and _HMAC_GENERAL; what
//! goes to KMS is an algorithm of the key's kind and a digest of its
//! hash's length, or for Ed25519 a message KMS takes (at most 4,096 bytes
//! raw, exactly 64 for Ed25519ph).

#![no_main]

#[path = "common.rs"]
mod common;

use cryptoki_sys::*;
use kms11::mechanism::ecdh::{self, EcdhParams, Kdf};
use kms11::mechanism::{self, Input, Mechanism, Param, PssParams, Scheme, MECHANISMS};
use kms11::vocabulary::{Curve, Family, KeySpec, SigningAlgorithm};
use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;

const HASHES: &[CK_MECHANISM_TYPE] = &[
    CKM_SHA_1,
    CKM_SHA224,
    CKM_SHA256,
    CKM_SHA384,
    CKM_SHA512,
    CKM_SHA3_256,
];
const MGFS: &[CK_RSA_PKCS_MGF_TYPE] = &[
    CKG_MGF1_SHA1,
    CKG_MGF1_SHA224,
    CKG_MGF1_SHA256,
    CKG_MGF1_SHA384,
    CKG_MGF1_SHA512,
];

fn pick<T: Copy>(u: &mut Unstructured, known: &[T], any: impl Fn(u64) -> T) -> Result<T> {
    Ok(if u.ratio(1, 8)? {
        any(u.arbitrary()?)
    } else {
        *u.choose(known)?
    })
}

fn input(u: &mut Unstructured) -> Result<(CK_MECHANISM_TYPE, Param, u8, Vec<u8>)> {
    let mechanism = pick(u, &MECHANISMS, |v| v as CK_MECHANISM_TYPE)?;
    let param = match u.int_in_range(0..=7)? {
        0 => Param::None,
        6 | 7 => {
            let len = pick(u, &[0, 1, 255], |v| usize::from(v as u8))?;
            let context = u.bytes(len.min(u.len()))?;
            let context = mechanism::mldsa::Context::new(context).expect("at most 255 bytes");
            let hedge = pick(
                u,
                &[
                    CKH_HEDGE_PREFERRED,
                    CKH_HEDGE_REQUIRED,
                    CKH_DETERMINISTIC_REQUIRED,
                ],
                |v| v as CK_ULONG,
            )?;
            if u.arbitrary()? {
                let hash = pick(u, HASHES, |v| v as CK_MECHANISM_TYPE)?;
                Param::HashSignContext {
                    hedge,
                    context,
                    hash,
                }
            } else {
                Param::SignContext { hedge, context }
            }
        }
        5 => Param::MacLength(pick(u, &[0, 1, 28, 32, 33, 64, 65], |v| v as usize)?),
        1 => Param::Malformed,
        3 => Param::Oaep(kms11::mechanism::oaep::OaepParams {
            hash_alg: pick(u, HASHES, |v| v as CK_MECHANISM_TYPE)?,
            mgf: pick(u, MGFS, |v| v as CK_RSA_PKCS_MGF_TYPE)?,
            source: pick(u, &[0, CKZ_DATA_SPECIFIED], |v| v as CK_ULONG)?,
            source_len: pick(u, &[0, 1, 32], |v| v as usize)?,
        }),
        2 => Param::EdDsa {
            prehash: u.arbitrary()?,
            context_len: pick(u, &[0, 1, 255], |v| v as usize)?,
        },
        _ => Param::Pss(PssParams {
            hash_alg: pick(u, HASHES, |v| v as CK_MECHANISM_TYPE)?,
            mgf: pick(u, MGFS, |v| v as CK_RSA_PKCS_MGF_TYPE)?,
            salt_len: pick(u, &[0, 20, 32, 48, 64], |v| v as CK_ULONG)?,
        }),
    };
    let spec: u8 = u.arbitrary()?;
    let rest = u.bytes(u.len())?.to_vec();
    Ok((mechanism, param, spec, rest))
}

/// CK_ECDH1_DERIVE_PARAMS from the input's bytes: only an uncompressed
/// point of the key's curve (raw or in an OCTET STRING), a KDF of the list,
/// shared data only with a KDF; the SubjectPublicKeyInfo sent to KMS holds
/// that point.
fn check_ecdh(data: &[u8]) {
    let Some((&k, rest)) = data.split_first() else {
        return;
    };
    const KDFS: [CK_EC_KDF_TYPE; 7] = [
        CKD_NULL,
        CKD_SHA1_KDF,
        CKD_SHA224_KDF,
        CKD_SHA256_KDF,
        CKD_SHA384_KDF,
        CKD_SHA512_KDF,
        CKD_SHA3_256_KDF,
    ];
    let kdf = KDFS[usize::from(k) % KDFS.len()];
    let (shared, public) = rest.split_at(rest.len().min(usize::from(k >> 5)));
    for curve in [Curve::P256, Curve::P384, Curve::P521, Curve::Secp256k1] {
        let params = EcdhParams {
            kdf,
            shared_data: shared.to_vec(),
            public_data: public.to_vec(),
        };
        let Ok((chosen, point)) = ecdh::check(&params, curve) else {
            continue;
        };
        assert_ne!(curve, Curve::Secp256k1, "KMS has no ECDH on secp256k1");
        assert!(![CKD_SHA1_KDF, CKD_SHA3_256_KDF].contains(&kdf));
        assert_eq!(point.len(), 1 + 2 * curve.row().field_len);
        assert_eq!(point[0], 0x04);
        assert!(public.ends_with(&point), "the point is the caller's");
        assert!(chosen != Kdf::Null || shared.is_empty());
        let spki = ecdh::peer_spki(curve, &point).expect("a SubjectPublicKeyInfo");
        assert!(spki[0] == 0x30 && spki.ends_with(&point));
        assert_eq!(chosen.derive(&point[1..], shared, 16).len(), 16);
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok((mechanism, param, spec, data)) = input(&mut Unstructured::new(data)) else {
        return;
    };
    check_ecdh(&data);
    // OAEP: only what KMS decrypts (SHA-1 or SHA-256, MGF1 of it, no label).
    if let Ok(hash) = mechanism::oaep::check(param) {
        let Param::Oaep(p) = param else {
            panic!("OAEP accepted without its parameters")
        };
        assert_eq!(
            (p.hash_alg, p.mgf, p.source_len),
            (hash.ckm(), hash.mgf(), 0)
        );
    }
    // Every key spec, HMAC keys included.
    let spec = KeySpec::ALL[usize::from(spec) % KeySpec::ALL.len()];
    let Ok(m) = Mechanism::new(mechanism, param, spec) else {
        return;
    };
    assert!(MECHANISMS.contains(&mechanism));
    assert!(mechanism::info(mechanism).is_some());
    assert_eq!(m.row.scheme.key_type(), spec.family().key_type());
    assert_eq!(mechanism::row(mechanism), Some(m.row));
    assert!(m.ck_name().starts_with("CKM_"));
    let pss = m.row.scheme == Scheme::RsaPss;
    match param {
        Param::Pss(p) => {
            assert!(pss);
            let (Input::Digest(h) | Input::Message(h)) = m.input else {
                unreachable!("PSS takes a hash")
            };
            assert_eq!(p.salt_len as usize, h.output_len());
        }
        Param::EdDsa { context_len, .. } => {
            assert_eq!(m.row.scheme, Scheme::EdDsa);
            assert_eq!(context_len, 0, "a context KMS cannot take was accepted");
        }
        Param::SignContext { hedge, .. } | Param::HashSignContext { hedge, .. } => {
            assert_eq!(m.row.scheme, Scheme::MlDsa);
            assert_eq!(
                hedge, CKH_HEDGE_PREFERRED,
                "a promise KMS cannot keep was accepted"
            );
            let given = matches!(param, Param::HashSignContext { .. });
            assert_eq!(
                given,
                mechanism == CKM_HASH_ML_DSA,
                "each ML-DSA mechanism its parameter"
            );
        }
        Param::MacLength(len) => {
            let Input::Mac { alg, len: out } = m.input else {
                panic!("a MAC length built a {} mechanism", m.ck_name())
            };
            assert_eq!(len, out);
            assert!((1..=alg.output_len()).contains(&len));
        }
        Param::Oaep(_) => panic!("an OAEP parameter built a signing mechanism"),
        Param::Malformed => panic!("a malformed parameter was accepted"),
        Param::None => assert!(!pss, "PSS without parameters was accepted"),
    }
    if let Input::Mac { alg, len } = m.input {
        // An HMAC of the key's own hash, over what GenerateMac takes.
        assert_eq!(spec.family(), Family::Hmac(alg));
        assert!((1..=alg.output_len()).contains(&len));
        let feed = m.feed(&[]).expect("HMAC input is collected");
        if let Ok(message) = feed.finish(&data) {
            assert!(message.len() <= 4096 && message == data);
            assert_eq!(
                m.raw_input_len(spec, message.len()).is_ok(),
                !message.is_empty()
            );
        }
        return;
    }
    // The mechanism's input: the data for raw mechanisms, else the hash.
    let input = match m.feed(&[]) {
        Some(feed) => match feed.finish(&data) {
            Ok(input) => input,
            Err(_) => return,
        },
        None => data.clone(),
    };
    let Ok((alg, digest)) = m.to_kms(spec, &input) else {
        return;
    };
    let hash = match alg {
        // μ, whatever the message's length.
        SigningAlgorithm::MlDsa => {
            assert!(matches!(spec.family(), Family::MlDsa(_)));
            assert_eq!(digest.len(), 64);
            return;
        }
        SigningAlgorithm::Ed25519 | SigningAlgorithm::Ed25519Ph => {
            assert_eq!(spec.family(), Family::Ed25519);
            assert_eq!(digest, input, "KMS gets the message itself");
            if alg == SigningAlgorithm::Ed25519 {
                assert!(digest.len() <= 4096);
            } else {
                assert_eq!(digest.len(), 64);
            }
            return;
        }
        SigningAlgorithm::RsaPkcs1(h) | SigningAlgorithm::RsaPss(h) => {
            assert!(matches!(spec.family(), Family::Rsa { .. }));
            h
        }
        SigningAlgorithm::Ecdsa(h) => {
            let Family::Ec(curve) = spec.family() else {
                panic!("ECDSA with an RSA key")
            };
            assert_eq!(h, curve.row().hash);
            h
        }
    };
    assert_eq!(digest.len(), hash.output_len());
    assert!(alg
        .as_kms()
        .contains(&hash.output_len().wrapping_mul(8).to_string()));
});
