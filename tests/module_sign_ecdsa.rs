//! ECDSA signing with ECC_NIST_P256, P384, P521 and ECC_SECG_P256K1 KMS keys:
//! CKM_ECDSA over hash values of every length, CKM_ECDSA_SHA256/384/512
//! single- and multi-part, and the fixed r || s width (KMS answers DER, whose
//! integers lose leading zero octets). Every signature is verified by
//! pyca/cryptography against the ORIGINAL input, as ECDSA defines it
//! (a hash longer than the order is truncated, a shorter one is used whole).

mod common;

use common::util::{chunks, Rng};
use common::verify::{Batch, Kind};
use common::*;

// Seeded with material made by pyca/cryptography (a known key, not one the
// emulator made up).
static SETUP: Setup = Setup {
    keys: &[
        key_with_material("alias/ec-p256", "ECC_NIST_P256"),
        key_with_material("alias/ec-p384", "ECC_NIST_P384"),
        key_with_material("alias/ec-p521", "ECC_NIST_P521"),
        key_with_material("alias/ec-k256", "ECC_SECG_P256K1"),
    ],
    config: Config::OneToken,
    aws_extra: "",
    emulator_args: &[],
};

fn fx() -> &'static Fixture {
    fixture(&SETUP)
}

/// Signatures per curve in the width test: a leading zero octet in r or s
/// comes once in 128 signatures, so 2000 see about 15 of them.
const WIDTH_SIGNATURES: usize = 2000;

fn over_hash_values(name: &str) {
    let fx = fx();
    let s = fx.session();
    let k = fx.key(name);
    let key = fx.private(&s, name);
    let mut rng = Rng::new();
    let mut b = Batch::new();
    for len in [20, 32, 48, 64] {
        for i in 0..3 {
            let h = rng.bytes(len);
            let sig = ok(
                s.sign_once(&Mech::new(CKM_ECDSA), key, &h),
                &format!("{name}: CKM_ECDSA over {len} bytes"),
            );
            assert_eq!(
                sig.len(),
                k.sig_len(),
                "{name}: CKM_ECDSA signature over {len} bytes is not r||s of {} bytes",
                k.sig_len()
            );
            b.good(
                format!("{name} CKM_ECDSA {len}-byte hash #{i}"),
                Kind::EcdsaPrehashed,
                None,
                &k.spki,
                &h,
                &sig,
            );
            if i == 0 {
                // A different value must not verify (the first byte: the
                // last ones of a long hash are truncated away on short curves).
                let mut other = h.clone();
                other[0] ^= 1;
                b.bad(
                    format!("{name} CKM_ECDSA {len}-byte hash, checked against another value"),
                    Kind::EcdsaPrehashed,
                    None,
                    &k.spki,
                    &other,
                    &sig,
                );
            }
        }
    }
    assert_eq!(b.run(), 4 * 4);
}

fn with_hashing(name: &str) {
    let fx = fx();
    let s = fx.session();
    let k = fx.key(name);
    let key = fx.private(&s, name);
    let mut rng = Rng::new();
    let mut b = Batch::new();
    for (mech, hash) in [
        (CKM_ECDSA_SHA256, "sha256"),
        (CKM_ECDSA_SHA384, "sha384"),
        (CKM_ECDSA_SHA512, "sha512"),
    ] {
        let m = Mech::new(mech);
        for msg in [Vec::new(), rng.bytes(1), rng.bytes(5000)] {
            let sig = ok(
                s.sign_once(&m, key, &msg),
                &format!("{name}: {m:?} over {} bytes", msg.len()),
            );
            assert_eq!(sig.len(), k.sig_len(), "{name}: {m:?} signature length");
            b.good(
                format!("{name} {m:?} single-part, {} bytes", msg.len()),
                Kind::Ecdsa,
                Some(hash),
                &k.spki,
                &msg,
                &sig,
            );
            let sig = ok(
                s.sign_parts(&m, key, &chunks(&msg, &[3, 0, 1024])),
                &format!("{name}: {m:?} multi-part"),
            );
            assert_eq!(
                sig.len(),
                k.sig_len(),
                "{name}: {m:?} multi-part signature length"
            );
            b.good(
                format!("{name} {m:?} multi-part, {} bytes", msg.len()),
                Kind::Ecdsa,
                Some(hash),
                &k.spki,
                &msg,
                &sig,
            );
        }
    }
    assert_eq!(b.run(), 3 * 3 * 2);
}

fn fixed_width(name: &str) {
    let fx = fx();
    let s = fx.session();
    let k = fx.key(name);
    let key = fx.private(&s, name);
    let size = k.ec_size();
    let hash_len = size.min(64);
    let mut rng = Rng::new();
    let mut b = Batch::new();
    let mut short_integers = 0;
    for i in 0..WIDTH_SIGNATURES {
        let h = rng.bytes(hash_len);
        let sig = ok(
            s.sign_once(&Mech::new(CKM_ECDSA), key, &h),
            &format!("{name}: CKM_ECDSA #{i}"),
        );
        assert_eq!(
            sig.len(),
            2 * size,
            "{name}: signature #{i} is {} bytes, not 2 x {size}",
            sig.len()
        );
        if sig[0] == 0 || sig[size] == 0 {
            short_integers += 1;
        }
        b.good(
            format!("{name} #{i}"),
            Kind::EcdsaPrehashed,
            None,
            &k.spki,
            &h,
            &sig,
        );
    }
    // Without such signatures the padding of short integers went untested.
    assert!(
        short_integers > 0,
        "{name}: no r or s with a leading zero octet in {WIDTH_SIGNATURES} signatures"
    );
    assert_eq!(b.run(), WIDTH_SIGNATURES);
}

macro_rules! curve_tests {
    ($($curve:ident => $name:literal),* $(,)?) => {
        mod over_hash_values {
            $(#[test] fn $curve() { super::over_hash_values($name) })*
        }
        mod with_hashing {
            $(#[test] fn $curve() { super::with_hashing($name) })*
        }
        mod fixed_width_signatures {
            $(#[test] fn $curve() { super::fixed_width($name) })*
        }
    };
}

curve_tests! {
    p256 => "alias/ec-p256",
    p384 => "alias/ec-p384",
    p521 => "alias/ec-p521",
    secp256k1 => "alias/ec-k256",
}

/// CKM_ECDSA input is a hash value: at least one byte, at most 64 (the
/// longest hash KMS accepts; P-521 would take 66 bytes of an integer, but no
/// hash is 65 bytes long).
#[test]
fn ecdsa_input_length_limits() {
    let fx = fx();
    let s = fx.session();
    for name in [
        "alias/ec-p256",
        "alias/ec-p384",
        "alias/ec-p521",
        "alias/ec-k256",
    ] {
        let key = fx.private(&s, name);
        ok(
            s.sign_init(&Mech::new(CKM_ECDSA), key),
            "C_SignInit(CKM_ECDSA)",
        );
        assert_rv(
            s.sign(&[]),
            CKR_DATA_LEN_RANGE,
            &format!("{name}: CKM_ECDSA over 0 bytes"),
        );
        assert_rv(
            s.sign(&[1u8; 32]),
            CKR_OPERATION_NOT_INITIALIZED,
            "C_Sign after a refused C_Sign",
        );
    }
    let key = fx.private(&s, "alias/ec-p521");
    ok(
        s.sign_init(&Mech::new(CKM_ECDSA), key),
        "C_SignInit(CKM_ECDSA)",
    );
    assert_rv(
        s.sign(&[1u8; 65]),
        CKR_DATA_LEN_RANGE,
        "P-521: CKM_ECDSA over 65 bytes",
    );
}
