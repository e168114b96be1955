//! HMAC keys (KMS HMAC_224/256/384/512, GENERATE_VERIFY_MAC): secret key
//! objects that never leave KMS; CKM_SHA*_HMAC is one GenerateMac per
//! C_Sign and one VerifyMac per C_Verify, CKM_SHA*_HMAC_GENERAL one
//! GenerateMac truncated (and compared here for C_Verify). The keys are
//! seeded with random material this test knows, and every MAC is checked
//! against Python's hmac module.

mod common;

use common::util::{hex, Rng};
use common::verify::python_hmac;
use common::*;

const H224: &str = "alias/mac-224";
const H256: &str = "alias/mac-256";
const H384: &str = "alias/mac-384";
const H512: &str = "alias/mac-512";
const SIGNER: &str = "alias/sign-p256";

static SETUP: Setup = Setup {
    keys: &[
        mac_key_with_material(H224, "HMAC_224"),
        mac_key_with_material(H256, "HMAC_256"),
        mac_key_with_material(H384, "HMAC_384"),
        mac_key_with_material(H512, "HMAC_512"),
        key(SIGNER, "ECC_NIST_P256"),
    ],
    config: Config::OneToken,
    aws_extra: "",
    emulator_args: &[],
};

/// Each key: its name, Python's hash name, the MAC's length, and the full
/// and truncated mechanisms.
const KEYS: [(&str, &str, usize, CK_MECHANISM_TYPE, CK_MECHANISM_TYPE); 4] = [
    (H224, "sha224", 28, CKM_SHA224_HMAC, CKM_SHA224_HMAC_GENERAL),
    (H256, "sha256", 32, CKM_SHA256_HMAC, CKM_SHA256_HMAC_GENERAL),
    (H384, "sha384", 48, CKM_SHA384_HMAC, CKM_SHA384_HMAC_GENERAL),
    (H512, "sha512", 64, CKM_SHA512_HMAC, CKM_SHA512_HMAC_GENERAL),
];

fn fx() -> (&'static Fixture, std::sync::MutexGuard<'static, ()>) {
    // The tests count the emulator's requests: one test at a time.
    fixture_alone(&SETUP)
}

fn material(fx: &Fixture, name: &str) -> String {
    fx.key(name).pkcs8.clone().expect("seeded HMAC key")
}

#[test]
fn hmac_keys_are_secret_keys_that_never_leave_kms() {
    let (fx, _turn) = fx();
    let s = fx.session();
    let slot = fx.slot(fx.token);
    let list = ok(fx.m.mechanisms(slot), "C_GetMechanismList");
    for (name, _, len, full, general) in KEYS {
        let k = fx.object(&s, name, CKO_SECRET_KEY);
        let id = fx.key(name).cka_id();
        for class in [CKO_PRIVATE_KEY, CKO_PUBLIC_KEY, CKO_CERTIFICATE] {
            let others = ok(s.find(&Template::new().class(class).id(&id)), "find");
            assert!(others.is_empty(), "{name}: no key pair objects");
        }
        assert_eq!(
            ok(s.attr_ulong(k, CKA_KEY_TYPE), "CKA_KEY_TYPE"),
            CKK_GENERIC_SECRET
        );
        assert_eq!(
            ok(s.attr_ulong(k, CKA_VALUE_LEN), "CKA_VALUE_LEN"),
            len as CK_ULONG
        );
        for (attr, want) in [
            (CKA_SIGN, true),
            (CKA_VERIFY, true),
            (CKA_SENSITIVE, true),
            (CKA_EXTRACTABLE, false),
            (CKA_NEVER_EXTRACTABLE, true),
            (CKA_ENCRYPT, false),
            (CKA_DECRYPT, false),
            (CKA_DERIVE, false),
            (CKA_WRAP, false),
            (CKA_UNWRAP, false),
        ] {
            let got = ok(s.attr_bool(k, attr), &attr_name(attr));
            assert_eq!(got, want, "{name}: {}", attr_name(attr));
        }
        assert_rv(
            s.attr(k, CKA_VALUE),
            CKR_ATTRIBUTE_SENSITIVE,
            "the key's value",
        );
        let allowed: Vec<u8> = [full, general]
            .iter()
            .flat_map(|m| m.to_ne_bytes())
            .collect();
        assert_eq!(
            ok(s.attr(k, CKA_ALLOWED_MECHANISMS), "CKA_ALLOWED_MECHANISMS"),
            allowed,
            "{name}: its own hash's mechanisms only"
        );
        for m in [full, general] {
            assert!(list.contains(&m), "{} listed", mech_name(m));
            let info = ok(fx.m.mechanism_info(slot, m), "C_GetMechanismInfo");
            assert_eq!(info.flags & (CKF_SIGN | CKF_VERIFY), CKF_SIGN | CKF_VERIFY);
            // Generic secret keys count bytes: generated to most imported.
            assert_eq!(info.ulMinKeySize, len as CK_ULONG, "{}", mech_name(m));
            assert!(info.ulMaxKeySize >= info.ulMinKeySize);
        }
    }
}

#[test]
fn every_mac_is_pythons_hmac_with_one_kms_call() {
    let (fx, _turn) = fx();
    let s = fx.session();
    let mut rng = Rng::new();
    for (name, hash, len, full, general) in KEYS {
        let k = fx.object(&s, name, CKO_SECRET_KEY);
        let messages = [rng.bytes(1), rng.bytes(100), rng.bytes(4096)];
        let reqs: Vec<_> = messages.iter().map(|m| (hash, &m[..])).collect();
        let want = python_hmac(&material(fx, name), &reqs);
        for (msg, want) in messages.iter().zip(&want) {
            assert_eq!(want.len(), len);
            let before = fx.count("GenerateMac");
            let mac = ok(s.sign_once(&Mech::new(full), k, msg), "C_Sign");
            assert_eq!(&mac, want, "{name}: {} bytes, single-part", msg.len());
            let parts: Vec<&[u8]> = msg.chunks(1000).collect();
            let mac = ok(s.sign_parts(&Mech::new(full), k, &parts), "C_SignFinal");
            assert_eq!(&mac, want, "{name}: {} bytes, multi-part", msg.len());
            for cut in [1, 16, len] {
                let m = Mech::mac_general(general, cut as CK_ULONG);
                let mac = ok(s.sign_once(&m, k, msg), "C_Sign (general)");
                assert_eq!(mac, want[..cut], "{name}: {cut}-byte MAC");
            }
            assert_eq!(fx.count("GenerateMac") - before, 5, "one request each");
        }
    }
    assert_eq!(fx.count("Sign"), 0);
}

#[test]
fn verify_asks_kms_and_tells_a_wrong_mac() {
    let (fx, _turn) = fx();
    let s = fx.session();
    let mut rng = Rng::new();
    for (name, hash, len, full, general) in KEYS {
        let k = fx.object(&s, name, CKO_SECRET_KEY);
        let msg = rng.bytes(300);
        let mac = python_hmac(&material(fx, name), &[(hash, &msg)]).remove(0);
        let before = (fx.count("VerifyMac"), fx.count("GenerateMac"));
        ok(s.verify_init(&Mech::new(full), k), "C_VerifyInit");
        ok(s.verify(&msg, &mac), "C_Verify of Python's MAC");
        ok(s.verify_init(&Mech::new(full), k), "C_VerifyInit");
        for part in msg.chunks(7) {
            ok(s.verify_update(part), "C_VerifyUpdate");
        }
        ok(s.verify_final(&mac), "C_VerifyFinal");
        let mut bad = mac.clone();
        bad[len / 2] ^= 1;
        ok(s.verify_init(&Mech::new(full), k), "C_VerifyInit");
        assert_rv(s.verify(&msg, &bad), CKR_SIGNATURE_INVALID, "a changed MAC");
        assert_eq!(fx.count("VerifyMac") - before.0, 3, "one VerifyMac each");
        // A MAC of another length is refused without asking KMS.
        ok(s.verify_init(&Mech::new(full), k), "C_VerifyInit");
        assert_rv(
            s.verify(&msg, &mac[..len - 1]),
            CKR_SIGNATURE_LEN_RANGE,
            "a short MAC",
        );
        assert_eq!(fx.count("VerifyMac") - before.0, 3);
        // Truncated: one GenerateMac, compared here.
        let m = Mech::mac_general(general, 12);
        ok(s.verify_init(&m, k), "C_VerifyInit (general)");
        ok(s.verify(&msg, &mac[..12]), "C_Verify of a 12-byte MAC");
        ok(s.verify_init(&m, k), "C_VerifyInit (general)");
        assert_rv(
            s.verify(&msg, &bad[..len / 2 + 1]),
            CKR_SIGNATURE_LEN_RANGE,
            "a MAC of another length",
        );
        let mut bad12 = mac[..12].to_vec();
        bad12[11] ^= 0x80;
        ok(s.verify_init(&m, k), "C_VerifyInit (general)");
        assert_rv(
            s.verify(&msg, &bad12),
            CKR_SIGNATURE_INVALID,
            "a wrong 12-byte MAC",
        );
        assert_eq!(
            fx.count("GenerateMac") - before.1,
            2,
            "{name}: {}",
            hex(&mac)
        );
    }
}

#[test]
fn what_kms_cannot_mac_is_refused_before_asking() {
    let (fx, _turn) = fx();
    let s = fx.session();
    let k = fx.object(&s, H256, CKO_SECRET_KEY);
    let before = fx.count("GenerateMac");
    for (len, what) in [(0, "an empty message"), (4097, "4,097 bytes")] {
        ok(s.sign_init(&Mech::new(CKM_SHA256_HMAC), k), "C_SignInit");
        assert_rv(s.sign(&vec![7; len]), CKR_DATA_LEN_RANGE, what);
    }
    ok(s.sign_init(&Mech::new(CKM_SHA256_HMAC), k), "C_SignInit");
    ok(s.sign_update(&[1; 4096]), "4,096 bytes in");
    assert_rv(s.sign_update(&[1]), CKR_DATA_LEN_RANGE, "one byte more");
    assert_eq!(fx.count("GenerateMac"), before, "KMS was not asked");
    for (mech, rv, what) in [
        (
            Mech::new(CKM_SHA384_HMAC),
            CKR_KEY_TYPE_INCONSISTENT,
            "another hash",
        ),
        (
            Mech::new(CKM_SHA256_RSA_PKCS),
            CKR_KEY_TYPE_INCONSISTENT,
            "an RSA mechanism",
        ),
        (
            Mech::mac_general(CKM_SHA256_HMAC_GENERAL, 0),
            CKR_MECHANISM_PARAM_INVALID,
            "0 bytes",
        ),
        (
            Mech::mac_general(CKM_SHA256_HMAC_GENERAL, 33),
            CKR_MECHANISM_PARAM_INVALID,
            "33 bytes",
        ),
        (
            Mech::new(CKM_SHA256_HMAC_GENERAL),
            CKR_MECHANISM_PARAM_INVALID,
            "no length",
        ),
        (
            Mech::mac_general(CKM_SHA256_HMAC, 16),
            CKR_MECHANISM_PARAM_INVALID,
            "a parameter",
        ),
    ] {
        assert_rv(
            s.sign_init(&mech, k),
            rv,
            &format!("C_SignInit with {what}"),
        );
        assert_rv(
            s.verify_init(&mech, k),
            rv,
            &format!("C_VerifyInit with {what}"),
        );
    }
    let signer = fx.private(&s, SIGNER);
    assert_rv(
        s.sign_init(&Mech::new(CKM_SHA256_HMAC), signer),
        CKR_KEY_TYPE_INCONSISTENT,
        "an HMAC mechanism on an EC key",
    );
    assert_rv(
        s.decrypt_init(&Mech::new(CKM_SHA256_HMAC), k),
        CKR_KEY_FUNCTION_NOT_PERMITTED,
        "C_DecryptInit with an HMAC key",
    );
}
