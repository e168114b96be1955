//! Mechanism construction, parameter checks and input conversion, per row.

use super::*;
use crate::vocabulary::Curve;

const RSA: KeySpec = KeySpec::Rsa2048;
const P256: KeySpec = KeySpec::EccNistP256;
const ED: KeySpec = KeySpec::EccNistEdwards25519;

fn pss(hash_alg: CK_MECHANISM_TYPE, mgf: CK_RSA_PKCS_MGF_TYPE, salt_len: CK_ULONG) -> Param {
    Param::Pss(PssParams {
        hash_alg,
        mgf,
        salt_len,
    })
}

fn good_pss(h: HashAlg) -> Param {
    pss(h.row().ckm, h.row().mgf, h.output_len() as CK_ULONG)
}

fn rv<T: std::fmt::Debug>(r: Result<T>) -> CK_RV {
    r.expect_err("refused").rv
}

#[test]
fn the_table_names_each_mechanism_by_its_constant() {
    assert_eq!(MECHANISMS.len(), 35);
    for r in TABLE {
        assert!(r.name.starts_with("CKM_"), "{}", r.name);
        assert_eq!(row(r.ckm).map(|x| x.name), Some(r.name));
    }
    assert_eq!(
        row(CKM_SHA384_RSA_PKCS_PSS).unwrap().name,
        "CKM_SHA384_RSA_PKCS_PSS"
    );
    let mut sorted = MECHANISMS.to_vec();
    sorted.dedup();
    assert_eq!(sorted.len(), MECHANISMS.len(), "no mechanism twice");
    assert!(row(CKM_SHA1_RSA_PKCS).is_none());
}

#[test]
fn mechanism_info_spans_the_key_specs_of_its_family() {
    let rsa = info(CKM_SHA256_RSA_PKCS).unwrap();
    assert_eq!((rsa.ulMinKeySize, rsa.ulMaxKeySize), (2048, 4096));
    assert_eq!(rsa.flags, CKF_HW | CKF_SIGN | CKF_VERIFY);
    let ec = info(CKM_ECDSA).unwrap();
    assert_eq!((ec.ulMinKeySize, ec.ulMaxKeySize), (256, 521));
    assert_ne!(ec.flags & CKF_EC_NAMEDCURVE, 0);
    assert!(info(CKM_SHA_1).is_none());
    let allowed: Vec<_> = for_key(P256.family(), KeyUsage::SignVerify).collect();
    assert_eq!(
        allowed,
        [
            CKM_ECDSA,
            CKM_ECDSA_SHA256,
            CKM_ECDSA_SHA384,
            CKM_ECDSA_SHA512
        ]
    );
    assert_eq!(for_key(RSA.family(), KeyUsage::SignVerify).count(), 8);
    assert_eq!(
        for_key(RSA.family(), KeyUsage::EncryptDecrypt).collect::<Vec<_>>(),
        [CKM_RSA_PKCS_OAEP]
    );
    // HMAC: bytes of key material, generated to most imported.
    let hmac = info(CKM_SHA384_HMAC_GENERAL).unwrap();
    assert_eq!((hmac.ulMinKeySize, hmac.ulMaxKeySize), (48, 128));
    assert_eq!(
        for_key(KeySpec::Hmac256.family(), KeyUsage::GenerateVerifyMac).collect::<Vec<_>>(),
        [CKM_SHA256_HMAC, CKM_SHA256_HMAC_GENERAL]
    );
    let ecdh = info(CKM_ECDH1_DERIVE).unwrap();
    assert_eq!(ecdh.flags & (CKF_DERIVE | CKF_SIGN), CKF_DERIVE);
    assert_eq!(
        for_key(P256.family(), KeyUsage::KeyAgreement).collect::<Vec<_>>(),
        [CKM_ECDH1_DERIVE]
    );
    let oaep = info(CKM_RSA_PKCS_OAEP).unwrap();
    assert_eq!(oaep.flags, CKF_HW | CKF_ENCRYPT | CKF_DECRYPT);
    assert_eq!(
        hash_and_sign(Scheme::Ecdsa, HashAlg::Sha384),
        CKM_ECDSA_SHA384
    );
    assert_eq!(
        hash_and_sign(Scheme::RsaPkcs1, HashAlg::Sha256),
        CKM_SHA256_RSA_PKCS
    );
}

#[test]
fn every_row_builds_for_its_own_key_type_only() {
    const KINDS: [KeySpec; 8] = [
        RSA,
        P256,
        ED,
        KeySpec::MlDsa65,
        KeySpec::Hmac224,
        KeySpec::Hmac256,
        KeySpec::Hmac384,
        KeySpec::Hmac512,
    ];
    for r in TABLE {
        if !r.scheme.signs() {
            // Not a signing mechanism (CKM_RSA_PKCS_OAEP: token/cipher.rs;
            // CKM_ECDH1_DERIVE: token/derive.rs).
            let own = if r.scheme == Scheme::Ecdh { P256 } else { RSA };
            assert_eq!(
                rv(Mechanism::new(r.ckm, Param::None, own)),
                CKR_MECHANISM_INVALID
            );
            continue;
        }
        let param = match (r.scheme, r.shape) {
            (Scheme::RsaPss, Shape::Message(h)) => good_pss(h),
            (Scheme::RsaPss, _) => good_pss(HashAlg::Sha256),
            (_, Shape::Mac { general: true, .. }) => Param::MacLength(8),
            (_, Shape::MuDigest) => Param::HashSignContext {
                hedge: CKH_HEDGE_PREFERRED,
                context: mldsa::Context::EMPTY,
                hash: CKM_SHA256,
            },
            _ => Param::None,
        };
        let own: Vec<KeySpec> = KINDS.into_iter().filter(|k| r.fits(k.family())).collect();
        assert_eq!(own.len(), 1, "{}: one kind of key", r.name);
        let m = Mechanism::new(r.ckm, param, own[0]).unwrap();
        assert_eq!(m.ck_name(), r.name);
        assert_eq!(
            m.feed(&[]).is_some(),
            matches!(
                r.shape,
                Shape::Message(_)
                    | Shape::Whole
                    | Shape::Mac { .. }
                    | Shape::Mu(_)
                    | Shape::MuDigest
            )
        );
        for other in KINDS.into_iter().filter(|k| *k != own[0]) {
            assert_eq!(
                rv(Mechanism::new(r.ckm, param, other)),
                CKR_KEY_TYPE_INCONSISTENT,
                "{} on {}",
                r.name,
                other.as_kms()
            );
        }
    }
    assert_eq!(
        rv(Mechanism::new(CKM_SHA_1, Param::None, RSA)),
        CKR_MECHANISM_INVALID
    );
    // A malformed parameter is refused before the mechanism is looked at.
    assert_eq!(
        rv(Mechanism::new(CKM_SHA_1, Param::Malformed, RSA)),
        CKR_MECHANISM_PARAM_INVALID
    );
    assert_eq!(
        rv(Mechanism::new(CKM_ECDSA, Param::Malformed, P256)),
        CKR_MECHANISM_PARAM_INVALID
    );
}

#[test]
fn pss_parameters_must_be_what_kms_does() {
    use HashAlg::*;
    let new = |ckm, p| Mechanism::new(ckm, p, RSA);
    assert_eq!(
        new(CKM_RSA_PKCS_PSS, good_pss(Sha384)).unwrap().input,
        Input::Digest(Sha384)
    );
    let m = new(CKM_SHA512_RSA_PKCS_PSS, good_pss(Sha512)).unwrap();
    assert_eq!(m.input, Input::Message(Sha512));
    let bad = [
        (CKM_RSA_PKCS_PSS, Param::None),
        (CKM_SHA256_RSA_PKCS_PSS, good_pss(Sha384)),
        (CKM_RSA_PKCS_PSS, pss(CKM_SHA_1, CKG_MGF1_SHA1, 20)),
        (CKM_RSA_PKCS_PSS, pss(CKM_SHA256, CKG_MGF1_SHA384, 32)),
        (CKM_RSA_PKCS_PSS, pss(CKM_SHA256, CKG_MGF1_SHA256, 0)),
        (CKM_RSA_PKCS_PSS, pss(CKM_SHA256, CKG_MGF1_SHA256, 33)),
        // PSS parameters on a mechanism that takes none.
        (CKM_SHA256_RSA_PKCS, good_pss(Sha256)),
        (CKM_RSA_PKCS, good_pss(Sha256)),
    ];
    for (ckm, p) in bad {
        assert_eq!(
            rv(new(ckm, p)),
            CKR_MECHANISM_PARAM_INVALID,
            "{ckm:#x} {p:?}"
        );
    }
    assert_eq!(
        rv(Mechanism::new(CKM_ECDSA, good_pss(Sha256), P256)),
        CKR_MECHANISM_PARAM_INVALID
    );
}

#[test]
fn raw_inputs_become_the_digest_kms_signs() {
    let rsa_pkcs = Mechanism::new(CKM_RSA_PKCS, Param::None, RSA).unwrap();
    let info = [digest_info::prefix(HashAlg::Sha384), &[5u8; 48]].concat();
    let (alg, digest) = rsa_pkcs.to_kms(RSA, &info).unwrap();
    assert_eq!(
        (alg, digest),
        (SigningAlgorithm::RsaPkcs1(HashAlg::Sha384), vec![5u8; 48])
    );
    // PKCS#1 v1.5 leaves 245 bytes of a 2048-bit modulus.
    assert_eq!(rsa_pkcs.raw_input_len(RSA, 245).unwrap(), 245);
    assert_eq!(rv(rsa_pkcs.raw_input_len(RSA, 246)), CKR_DATA_LEN_RANGE);
    assert_eq!(rv(rsa_pkcs.to_kms(RSA, &[1u8; 32])), CKR_DATA_INVALID);

    let raw_pss = Mechanism::new(CKM_RSA_PKCS_PSS, good_pss(HashAlg::Sha256), RSA).unwrap();
    assert_eq!(rv(raw_pss.to_kms(RSA, &[1u8; 31])), CKR_DATA_LEN_RANGE);
    let (alg, _) = raw_pss.to_kms(RSA, &[1u8; 32]).unwrap();
    assert_eq!(alg, SigningAlgorithm::RsaPss(HashAlg::Sha256));

    // CKM_ECDSA: any hash, fitted to the curve's one algorithm.
    let ecdsa = Mechanism::new(CKM_ECDSA, Param::None, P256).unwrap();
    assert_eq!(ecdsa.raw_input_len(P256, 64).unwrap(), 32);
    let (alg, digest) = ecdsa.to_kms(P256, &[9u8; 20]).unwrap();
    assert_eq!(alg, SigningAlgorithm::Ecdsa(HashAlg::Sha256));
    assert_eq!(digest, [vec![0u8; 12], vec![9u8; 20]].concat());
    let p521 = KeySpec::EccNistP521;
    let ecdsa = Mechanism::new(CKM_ECDSA, Param::None, p521).unwrap();
    assert_eq!(rv(ecdsa.raw_input_len(p521, 65)), CKR_DATA_LEN_RANGE);
    assert_eq!(
        ecdsa.to_kms(p521, &[1u8; 64]).unwrap().0,
        SigningAlgorithm::Ecdsa(HashAlg::Sha512)
    );
    // Hash-and-sign on P-384 signs the curve's algorithm over the fitted hash.
    let p384 = KeySpec::EccNistP384;
    let m = Mechanism::new(CKM_ECDSA_SHA256, Param::None, p384).unwrap();
    let (alg, digest) = m.to_kms(p384, &[3u8; 32]).unwrap();
    assert_eq!((alg, digest.len()), (Curve::P384.algorithm(), 48));
}

#[test]
fn kms_signatures_become_pkcs11_ones() {
    assert_eq!(signature_from_kms(RSA, vec![1; 256]).unwrap(), vec![1; 256]);
    assert_eq!(rv(signature_from_kms(RSA, vec![1; 255])), CKR_DEVICE_ERROR);
    let fixed = [vec![0u8; 31], vec![1], vec![2u8; 32]].concat();
    let der = ecdsa::fixed_to_der(&fixed).unwrap();
    assert_eq!(signature_from_kms(P256, der.clone()).unwrap(), fixed);
    let mut p384 = signature_from_kms(KeySpec::EccNistP384, der).unwrap();
    assert_eq!(p384.len(), 96);
    p384.retain(|b| *b != 0);
    assert_eq!(p384, [vec![1], vec![2u8; 32]].concat());
    assert_eq!(
        rv(signature_from_kms(P256, vec![0x30, 0x00])),
        CKR_DEVICE_ERROR
    );
}

#[test]
fn eddsa_takes_what_kms_can_sign_as_rfc_8032_does() {
    let ed = |p| Mechanism::new(CKM_EDDSA, p, ED);
    let params = |prehash, context_len| Param::EdDsa {
        prehash,
        context_len,
    };
    // Pure Ed25519: no parameter, or phFlag false without a context.
    for p in [Param::None, params(false, 0)] {
        let m = ed(p).unwrap();
        assert_eq!(m.input, Input::Whole);
        let (alg, sent) = m.to_kms(ED, b"message").unwrap();
        assert_eq!(alg, SigningAlgorithm::Ed25519);
        assert_eq!(sent, b"message");
        assert_eq!(m.raw_input_len(ED, 4096).unwrap(), 4096);
        assert_eq!(rv(m.raw_input_len(ED, 4097)), CKR_DATA_LEN_RANGE);
        // KMS's Sign takes no empty message.
        assert_eq!(rv(m.raw_input_len(ED, 0)), CKR_DATA_LEN_RANGE);
    }
    // Ed25519ph: only 64-byte messages come out as the standard signature.
    let m = ed(params(true, 0)).unwrap();
    assert_eq!(m.input, Input::Prehash);
    assert_eq!(
        m.to_kms(ED, &[7; 64]).unwrap(),
        (SigningAlgorithm::Ed25519Ph, vec![7; 64])
    );
    for len in [0, 32, 63, 65, 4096] {
        assert_eq!(rv(m.to_kms(ED, &vec![0; len])), CKR_DATA_LEN_RANGE);
    }
    // Contexts (Ed25519ctx, Ed25519ph with a context) and other parameters.
    for p in [
        params(false, 1),
        params(true, 255),
        good_pss(HashAlg::Sha256),
        Param::Malformed,
    ] {
        assert_eq!(rv(ed(p)), CKR_MECHANISM_PARAM_INVALID);
    }
    // An EdDSA parameter on another mechanism.
    assert_eq!(
        rv(Mechanism::new(CKM_ECDSA, params(false, 0), P256)),
        CKR_MECHANISM_PARAM_INVALID
    );
    let info = info(CKM_EDDSA).unwrap();
    assert_eq!((info.ulMinKeySize, info.ulMaxKeySize), (256, 256));
    assert_eq!(
        for_key(ED.family(), KeyUsage::SignVerify).collect::<Vec<_>>(),
        [CKM_EDDSA]
    );
}

#[test]
fn collected_input_stops_at_what_kms_takes() {
    let pure = Mechanism::new(CKM_EDDSA, Param::None, ED).unwrap();
    let mut feed = pure.feed(&[]).unwrap();
    feed.update(&[1; 4000]).unwrap();
    feed.update(&[2; 96]).unwrap();
    assert_eq!(rv(feed.update(&[3])), CKR_DATA_LEN_RANGE);
    let mut feed = pure.feed(&[]).unwrap();
    feed.update(b"abc").unwrap();
    assert_eq!(feed.finish(b"def").unwrap(), b"abcdef");
}

#[test]
fn hmac_mechanisms_take_their_length_and_refuse_the_rest() {
    let key = KeySpec::Hmac256;
    let m = Mechanism::new(CKM_SHA256_HMAC, Param::None, key).unwrap();
    assert_eq!(
        m.input,
        Input::Mac {
            alg: MacAlg::Sha256,
            len: 32
        }
    );
    for len in [1, 16, 32] {
        let m = Mechanism::new(CKM_SHA256_HMAC_GENERAL, Param::MacLength(len), key).unwrap();
        assert_eq!(
            m.input,
            Input::Mac {
                alg: MacAlg::Sha256,
                len
            }
        );
    }
    for (ckm, param) in [
        (CKM_SHA256_HMAC_GENERAL, Param::MacLength(0)),
        (CKM_SHA256_HMAC_GENERAL, Param::MacLength(33)),
        (CKM_SHA256_HMAC_GENERAL, Param::None),
        (CKM_SHA256_HMAC, Param::MacLength(16)),
        (
            CKM_SHA256_HMAC,
            Param::EdDsa {
                prehash: false,
                context_len: 0,
            },
        ),
    ] {
        assert_eq!(
            rv(Mechanism::new(ckm, param, key)),
            CKR_MECHANISM_PARAM_INVALID,
            "{param:?}"
        );
    }
    assert_eq!(
        rv(Mechanism::new(CKM_SHA512_HMAC, Param::None, key)),
        CKR_KEY_TYPE_INCONSISTENT
    );
    // GenerateMac's message: 1 to 4,096 bytes.
    assert_eq!(m_len(&m, key, 0), Err(CKR_DATA_LEN_RANGE));
    assert_eq!(m_len(&m, key, 4096), Ok(4096));
    assert_eq!(m_len(&m, key, 4097), Err(CKR_DATA_LEN_RANGE));
    assert!(hmac::truncated_matches(&[1, 2, 3], &[1, 2]));
    assert!(!hmac::truncated_matches(&[1, 2, 3], &[1, 3]));
    assert!(!hmac::truncated_matches(&[1, 2], &[1, 2, 3]));
}

fn m_len(m: &Mechanism, spec: KeySpec, len: usize) -> std::result::Result<usize, CK_RV> {
    m.raw_input_len(spec, len).map_err(|e| e.rv)
}
