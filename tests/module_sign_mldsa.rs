//! ML-DSA keys (KMS ML_DSA_44/65/87): CKK_ML_DSA objects with
//! CKA_PARAMETER_SET and the public key's CKA_VALUE; CKM_ML_DSA signs a
//! message of any length, single or multi-part, with or without a context:
//! the module computes FIPS 204's μ and KMS signs it (EXTERNAL_MU), one
//! request per signature. pyca/cryptography verifies every signature.

mod common;

use common::util::Rng;
use common::verify::Batch;
use common::*;

const K44: &str = "alias/ml-dsa-44";
const K65: &str = "alias/ml-dsa-65";
const K87: &str = "alias/ml-dsa-87";

static SETUP: Setup = Setup {
    keys: &[
        key(K44, "ML_DSA_44"),
        key(K65, "ML_DSA_65"),
        key(K87, "ML_DSA_87"),
    ],
    config: Config::OneToken,
    aws_extra: "",
    emulator_args: &[],
};

/// (name, CKA_PARAMETER_SET, public key bytes, signature bytes), FIPS 204 table 2.
const KEYS: [(&str, CK_ULONG, usize, usize); 3] = [
    (K44, CKP_ML_DSA_44 as CK_ULONG, 1312, 2420),
    (K65, CKP_ML_DSA_65 as CK_ULONG, 1952, 3309),
    (K87, CKP_ML_DSA_87 as CK_ULONG, 2592, 4627),
];

/// ML-DSA, HashML-DSA of a given hash, and HashML-DSA with each hash.
const ML_DSA_MECHANISMS: [CK_MECHANISM_TYPE; 12] = [
    CKM_ML_DSA,
    CKM_HASH_ML_DSA,
    CKM_HASH_ML_DSA_SHA224,
    CKM_HASH_ML_DSA_SHA256,
    CKM_HASH_ML_DSA_SHA384,
    CKM_HASH_ML_DSA_SHA512,
    CKM_HASH_ML_DSA_SHA3_224,
    CKM_HASH_ML_DSA_SHA3_256,
    CKM_HASH_ML_DSA_SHA3_384,
    CKM_HASH_ML_DSA_SHA3_512,
    CKM_HASH_ML_DSA_SHAKE128,
    CKM_HASH_ML_DSA_SHAKE256,
];

fn fx() -> (&'static Fixture, std::sync::MutexGuard<'static, ()>) {
    // The tests count the emulator's requests: one test at a time.
    fixture_alone(&SETUP)
}

#[test]
fn mldsa_keys_are_pkcs11_3_2_objects() {
    let (fx, _turn) = fx();
    let s = fx.session();
    for (name, set, pk_len, _) in KEYS {
        let private = fx.private(&s, name);
        let public = fx.public(&s, name);
        for o in [private, public] {
            assert_eq!(
                ok(s.attr_ulong(o, CKA_KEY_TYPE), "CKA_KEY_TYPE"),
                CKK_ML_DSA
            );
            assert_eq!(
                ok(s.attr_ulong(o, CKA_PARAMETER_SET), "CKA_PARAMETER_SET"),
                set
            );
            assert_eq!(
                ok(s.attr(o, CKA_ALLOWED_MECHANISMS), "CKA_ALLOWED_MECHANISMS"),
                ML_DSA_MECHANISMS
                    .iter()
                    .flat_map(|m| m.to_ne_bytes())
                    .collect::<Vec<u8>>()
            );
        }
        let value = ok(s.attr(public, CKA_VALUE), "the public key's CKA_VALUE");
        assert_eq!(value.len(), pk_len);
        // The SubjectPublicKeyInfo KMS gave ends with that public key.
        assert!(fx.key(name).spki.ends_with(&value));
        assert_rv(
            s.attr(private, CKA_VALUE),
            CKR_ATTRIBUTE_SENSITIVE,
            "the private key's value",
        );
    }
    let slot = fx.slot(fx.token);
    assert!(ok(fx.m.mechanisms(slot), "C_GetMechanismList").contains(&CKM_ML_DSA));
    // PKCS#11 3.2: the range of public keys, in bytes.
    let info = ok(fx.m.mechanism_info(slot, CKM_ML_DSA), "C_GetMechanismInfo");
    assert_eq!((info.ulMinKeySize, info.ulMaxKeySize), (1312, 2592));
    assert_eq!(info.flags & (CKF_SIGN | CKF_VERIFY), CKF_SIGN | CKF_VERIFY);
}

#[test]
fn every_signature_verifies_with_pyca_one_request_each() {
    let (fx, _turn) = fx();
    let s = fx.session();
    let mut rng = Rng::new();
    let big = rng.bytes(10 << 20);
    let messages = [Vec::new(), rng.bytes(4096), rng.bytes(4097), big];
    let mut batch = Batch::new();
    for (name, _, _, sig_len) in KEYS {
        let key = fx.private(&s, name);
        let spki = &fx.key(name).spki;
        for context in [&b""[..], b"kms11 release", &[0xa5; 255]] {
            let mech = Mech::mldsa(CKH_HEDGE_PREFERRED, context);
            for msg in &messages {
                let before = fx.count("Sign");
                let label = format!("{name} ctx {} msg {}", context.len(), msg.len());
                let sig = if msg.len() > 4097 {
                    let parts: Vec<&[u8]> = msg.chunks(1 << 20).collect();
                    ok(s.sign_parts(&mech, key, &parts), &label)
                } else {
                    ok(s.sign_once(&mech, key, msg), &label)
                };
                assert_eq!(sig.len(), sig_len);
                assert_eq!(fx.count("Sign") - before, 1, "{label}: one request");
                batch.mldsa(&label, spki, (msg, context), &sig, true);
                if msg.len() == 4097 {
                    let mut wrong = msg.clone();
                    wrong[0] ^= 1;
                    batch.mldsa(
                        format!("{label} other message"),
                        spki,
                        (&wrong, context),
                        &sig,
                        false,
                    );
                    batch.mldsa(
                        format!("{label} other context"),
                        spki,
                        (msg, b"x"),
                        &sig,
                        false,
                    );
                }
            }
        }
        // No parameter: pure ML-DSA with the empty context.
        let sig = ok(
            s.sign_once(&Mech::new(CKM_ML_DSA), key, b"no parameter"),
            "C_Sign",
        );
        batch.mldsa(
            format!("{name} no parameter"),
            spki,
            (b"no parameter", b""),
            &sig,
            true,
        );
        // C_Verify checks locally, with the same μ.
        ok(
            s.verify_init(&Mech::new(CKM_ML_DSA), fx.public(&s, name)),
            "C_VerifyInit",
        );
        ok(s.verify(b"no parameter", &sig), "C_Verify");
    }
    assert_eq!(batch.run(), 3 * (3 * 6 + 1));
}

#[test]
fn what_kms_cannot_promise_is_refused() {
    let (fx, _turn) = fx();
    let s = fx.session();
    let key = fx.private(&s, K65);
    let before = fx.count("Sign");
    for (mech, rv, what) in [
        (
            Mech::mldsa(CKH_DETERMINISTIC_REQUIRED, b""),
            CKR_MECHANISM_PARAM_INVALID,
            "deterministic",
        ),
        (
            Mech::mldsa(CKH_HEDGE_REQUIRED, b""),
            CKR_MECHANISM_PARAM_INVALID,
            "hedging required",
        ),
        (
            Mech::mldsa(CKH_HEDGE_PREFERRED, &[0; 256]),
            CKR_MECHANISM_PARAM_INVALID,
            "a 256-byte context",
        ),
        (
            Mech::new(CKM_HASH_ML_DSA),
            CKR_MECHANISM_PARAM_INVALID,
            "HashML-DSA without its hash",
        ),
        (
            Mech::mldsa_with(CKM_HASH_ML_DSA_SHA256, CKH_HEDGE_REQUIRED, b""),
            CKR_MECHANISM_PARAM_INVALID,
            "HashML-DSA, hedging required",
        ),
        (Mech::new(CKM_ECDSA), CKR_KEY_TYPE_INCONSISTENT, "ECDSA"),
    ] {
        assert_rv(s.sign_init(&mech, key), rv, what);
    }
    assert_eq!(fx.count("Sign"), before, "KMS was not asked");
    let public = fx.public(&s, K65);
    ok(
        s.verify_init(&Mech::new(CKM_ML_DSA), public),
        "C_VerifyInit",
    );
    assert_rv(
        s.verify(b"m", &[0; 3309]),
        CKR_SIGNATURE_INVALID,
        "a made-up signature",
    );
    ok(
        s.verify_init(&Mech::new(CKM_ML_DSA), public),
        "C_VerifyInit",
    );
    assert_rv(
        s.verify(b"m", &[0; 3308]),
        CKR_SIGNATURE_LEN_RANGE,
        "a signature of another length",
    );
}

#[test]
fn hashmldsa_signatures_verify_with_pyca() {
    let (fx, _turn) = fx();
    let s = fx.session();
    let mut rng = Rng::new();
    let msg = rng.bytes(5000);
    let mut batch = Batch::new();
    for (name, _, _, _) in KEYS {
        let key = fx.private(&s, name);
        let spki = &fx.key(name).spki;
        for (ckm, hash) in [
            (CKM_HASH_ML_DSA_SHA224, "sha224"),
            (CKM_HASH_ML_DSA_SHA256, "sha256"),
            (CKM_HASH_ML_DSA_SHA384, "sha384"),
            (CKM_HASH_ML_DSA_SHA512, "sha512"),
            (CKM_HASH_ML_DSA_SHA3_224, "sha3_224"),
            (CKM_HASH_ML_DSA_SHA3_256, "sha3_256"),
            (CKM_HASH_ML_DSA_SHA3_384, "sha3_384"),
            (CKM_HASH_ML_DSA_SHA3_512, "sha3_512"),
            (CKM_HASH_ML_DSA_SHAKE128, "shake128"),
            (CKM_HASH_ML_DSA_SHAKE256, "shake256"),
        ] {
            let mech = Mech::mldsa_with(ckm, CKH_HEDGE_PREFERRED, b"release");
            let parts: Vec<&[u8]> = msg.chunks(1000).collect();
            let sig = ok(s.sign_parts(&mech, key, &parts), mech_name(ckm).as_str());
            batch.hash_mldsa(
                format!("{name} {hash}"),
                spki,
                (&msg, b"release", hash),
                &sig,
            );
        }
    }
    // CKM_HASH_ML_DSA: the caller hashes (here with SHA-384: 48 bytes).
    let key = fx.private(&s, K65);
    // (Python's hashlib computes it again for the check.)
    let ph = <sha2::Sha384 as sha2::Digest>::digest(&msg).to_vec();
    let mech = Mech::hash_mldsa(CKH_HEDGE_PREFERRED, b"", CKM_SHA384);
    let sig = ok(s.sign_once(&mech, key, &ph), "CKM_HASH_ML_DSA");
    batch.hash_mldsa(
        "CKM_HASH_ML_DSA sha384",
        &fx.key(K65).spki,
        (&msg, b"", "sha384"),
        &sig,
    );
    assert_eq!(batch.run(), 3 * 10 + 1);
    // A hash of another length, or a hash PKCS#11 cannot name for it.
    ok(s.sign_init(&mech, key), "C_SignInit");
    assert_rv(s.sign(&ph[..47]), CKR_DATA_LEN_RANGE, "a 47-byte SHA-384");
    assert_rv(
        s.sign_init(&Mech::hash_mldsa(CKH_HEDGE_PREFERRED, b"", CKM_SHA_1), key),
        CKR_MECHANISM_PARAM_INVALID,
        "HashML-DSA with SHA-1",
    );
}
