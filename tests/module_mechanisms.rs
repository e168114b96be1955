//! Mechanisms: what the token advertises, which key each mechanism accepts,
//! PSS parameter checks, and the signing operation's state machine.

mod common;

use common::*;

static SETUP: Setup = Setup {
    keys: &[
        key("alias/mech-rsa", "RSA_2048"),
        key("alias/mech-ec", "ECC_NIST_P256"),
    ],
    config: Config::OneToken,
    aws_extra: "",
    emulator_args: &[],
};

fn fx() -> &'static Fixture {
    fixture(&SETUP)
}

const RSA_MECHS: &[CK_MECHANISM_TYPE] = &[
    CKM_RSA_PKCS,
    CKM_SHA256_RSA_PKCS,
    CKM_SHA384_RSA_PKCS,
    CKM_SHA512_RSA_PKCS,
    CKM_RSA_PKCS_PSS,
    CKM_SHA256_RSA_PKCS_PSS,
    CKM_SHA384_RSA_PKCS_PSS,
    CKM_SHA512_RSA_PKCS_PSS,
];
const EC_MECHS: &[CK_MECHANISM_TYPE] = &[
    CKM_ECDSA,
    CKM_ECDSA_SHA256,
    CKM_ECDSA_SHA384,
    CKM_ECDSA_SHA512,
];

/// Mechanisms KMS cannot perform (no SHA-1, no raw RSA), so the token must not claim them.
const IMPOSSIBLE: &[CK_MECHANISM_TYPE] = &[
    CKM_SHA1_RSA_PKCS,
    CKM_SHA1_RSA_PKCS_PSS,
    CKM_ECDSA_SHA1,
    CKM_RSA_X_509,
];

/// A mechanism with valid parameters (the PSS ones get hash = MGF hash, sLen = hash length).
fn valid(m: CK_MECHANISM_TYPE) -> Mech {
    let pss = |h, mgf, len| Mech::pss(m, h, mgf, len);
    match m {
        CKM_RSA_PKCS_PSS | CKM_SHA256_RSA_PKCS_PSS => pss(CKM_SHA256, CKG_MGF1_SHA256, 32),
        CKM_SHA384_RSA_PKCS_PSS => pss(CKM_SHA384, CKG_MGF1_SHA384, 48),
        CKM_SHA512_RSA_PKCS_PSS => pss(CKM_SHA512, CKG_MGF1_SHA512, 64),
        _ => Mech::new(m),
    }
}

#[test]
fn mechanism_list_and_info() {
    let fx = fx();
    let slot = fx.slot(DEFAULT_TOKEN);
    let list = ok(fx.m.mechanisms(slot), "C_GetMechanismList");
    let mut sorted = list.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(
        sorted.len(),
        list.len(),
        "C_GetMechanismList has duplicates: {list:?}"
    );
    let names: Vec<String> = list.iter().map(|&m| mech_name(m)).collect();
    for &m in RSA_MECHS.iter().chain(EC_MECHS) {
        assert!(
            list.contains(&m),
            "{} is not in the mechanism list {names:?}",
            mech_name(m)
        );
        let info = ok(
            fx.m.mechanism_info(slot, m),
            &format!("C_GetMechanismInfo({})", mech_name(m)),
        );
        let want = CKF_HW | CKF_SIGN | CKF_VERIFY;
        assert_eq!(
            info.flags & want,
            want,
            "{} flags {:#x} lack CKF_HW|CKF_SIGN|CKF_VERIFY",
            mech_name(m),
            info.flags
        );
        // Key sizes are in bits for RSA and EC mechanisms.
        let (min, max) = if RSA_MECHS.contains(&m) {
            (2048, 4096)
        } else {
            (256, 521)
        };
        assert!(
            info.ulMinKeySize <= min && info.ulMaxKeySize >= max,
            "{}: key sizes {}..{} do not cover {min}..{max} bits",
            mech_name(m),
            info.ulMinKeySize,
            info.ulMaxKeySize
        );
    }
    for &m in IMPOSSIBLE {
        assert!(
            !list.contains(&m),
            "{} is advertised but KMS cannot do it",
            mech_name(m)
        );
        assert_rv(
            fx.m.mechanism_info(slot, m),
            CKR_MECHANISM_INVALID,
            &format!("C_GetMechanismInfo({})", mech_name(m)),
        );
    }
    // Short buffer for the list.
    let mut n: CK_ULONG = 1;
    let mut one = [0 as CK_MECHANISM_TYPE; 1];
    let rv = unsafe { fx.m.list().C_GetMechanismList.unwrap()(slot, one.as_mut_ptr(), &mut n) };
    assert_eq!(
        rv,
        CKR_BUFFER_TOO_SMALL,
        "C_GetMechanismList with room for 1: {}",
        rv_name(rv)
    );
    assert_eq!(
        n as usize,
        list.len(),
        "C_GetMechanismList with a short buffer must give the count"
    );
}

#[test]
fn unsupported_mechanisms_are_refused() {
    let fx = fx();
    let s = fx.session();
    let rsa = fx.private(&s, "alias/mech-rsa");
    let ec = fx.private(&s, "alias/mech-ec");
    for (m, key) in [
        (CKM_SHA1_RSA_PKCS, rsa),
        (CKM_RSA_X_509, rsa),
        (CKM_SHA224_RSA_PKCS, rsa),
        (CKM_ECDSA_SHA1, ec),
        (CKM_ECDSA_SHA224, ec),
        // KMS has no HMAC-SHA-1, and no key here is an HMAC key.
        (CKM_SHA_1_HMAC, rsa),
    ] {
        assert_rv(
            s.sign_init(&Mech::new(m), key),
            CKR_MECHANISM_INVALID,
            &format!("C_SignInit({})", mech_name(m)),
        );
    }
    assert_rv(
        s.sign(&[0u8; 32]),
        CKR_OPERATION_NOT_INITIALIZED,
        "C_Sign after a refused C_SignInit",
    );
}

#[test]
fn mechanism_and_key_type_must_match() {
    let fx = fx();
    let s = fx.session();
    let rsa = fx.private(&s, "alias/mech-rsa");
    let ec = fx.private(&s, "alias/mech-ec");
    for &m in RSA_MECHS {
        assert_rv(
            s.sign_init(&valid(m), ec),
            CKR_KEY_TYPE_INCONSISTENT,
            &format!("C_SignInit({}) with an EC key", mech_name(m)),
        );
    }
    for &m in EC_MECHS {
        assert_rv(
            s.sign_init(&valid(m), rsa),
            CKR_KEY_TYPE_INCONSISTENT,
            &format!("C_SignInit({}) with an RSA key", mech_name(m)),
        );
    }
    // Every mechanism works with its own key type.
    for &m in RSA_MECHS {
        ok(
            s.sign_init(&valid(m), rsa),
            &format!("C_SignInit({}) with the RSA key", mech_name(m)),
        );
        // End the operation: C_Sign ends it whether it signs or refuses the
        // input (32 bytes are not a DigestInfo for CKM_RSA_PKCS).
        let _ = s.sign(&[7u8; 32]);
    }
    for &m in EC_MECHS {
        ok(
            s.sign_init(&valid(m), ec),
            &format!("C_SignInit({}) with the EC key", mech_name(m)),
        );
        ok(s.sign(&[7u8; 32]), &format!("C_Sign({})", mech_name(m)));
    }
}

#[test]
fn public_keys_do_not_sign() {
    let fx = fx();
    let s = fx.session();
    for (name, m) in [
        ("alias/mech-rsa", CKM_SHA256_RSA_PKCS),
        ("alias/mech-ec", CKM_ECDSA_SHA256),
    ] {
        let public = fx.public(&s, name);
        match s.sign_init(&Mech::new(m), public) {
            Err(CKR_KEY_FUNCTION_NOT_PERMITTED) | Err(CKR_KEY_TYPE_INCONSISTENT) => {}
            other => panic!(
                "C_SignInit({}) with the public key of {name}: expected CKR_KEY_FUNCTION_NOT_PERMITTED or CKR_KEY_TYPE_INCONSISTENT, got {}",
                mech_name(m),
                other.map_or_else(rv_name, |_| "CKR_OK".into())
            ),
        }
    }
}

#[test]
fn pss_parameters_are_checked_at_sign_init() {
    let fx = fx();
    let s = fx.session();
    let rsa = fx.private(&s, "alias/mech-rsa");
    let size = std::mem::size_of::<CK_RSA_PKCS_PSS_PARAMS>() as CK_ULONG;
    let bad = [
        Mech::pss(CKM_RSA_PKCS_PSS, CKM_SHA256, CKG_MGF1_SHA256, 0),
        Mech::pss(CKM_RSA_PKCS_PSS, CKM_SHA256, CKG_MGF1_SHA256, 20),
        Mech::pss(CKM_RSA_PKCS_PSS, CKM_SHA256, CKG_MGF1_SHA256, 33),
        Mech::pss(CKM_RSA_PKCS_PSS, CKM_SHA256, CKG_MGF1_SHA384, 32),
        Mech::pss(CKM_RSA_PKCS_PSS, CKM_SHA384, CKG_MGF1_SHA256, 48),
        Mech::pss(CKM_RSA_PKCS_PSS, CKM_SHA512, CKG_MGF1_SHA512, 32),
        Mech::pss(CKM_RSA_PKCS_PSS, CKM_SHA_1, CKG_MGF1_SHA1, 20),
        Mech::pss(CKM_RSA_PKCS_PSS, CKM_SHA256, 0, 32),
        Mech::pss(CKM_SHA256_RSA_PKCS_PSS, CKM_SHA384, CKG_MGF1_SHA384, 48),
        Mech::pss(CKM_SHA256_RSA_PKCS_PSS, CKM_SHA256, CKG_MGF1_SHA256, 0),
        Mech::pss(CKM_SHA384_RSA_PKCS_PSS, CKM_SHA384, CKG_MGF1_SHA256, 48),
        Mech::pss(CKM_SHA512_RSA_PKCS_PSS, CKM_SHA512, CKG_MGF1_SHA512, 32),
        Mech::new(CKM_RSA_PKCS_PSS),
        Mech::new(CKM_SHA256_RSA_PKCS_PSS),
        Mech::pss_bad_len(CKM_RSA_PKCS_PSS, CKM_SHA256, CKG_MGF1_SHA256, 32, size - 1),
        Mech::pss_bad_len(
            CKM_SHA256_RSA_PKCS_PSS,
            CKM_SHA256,
            CKG_MGF1_SHA256,
            32,
            size + 8,
        ),
    ];
    for m in bad {
        assert_rv(
            s.sign_init(&m, rsa),
            CKR_MECHANISM_PARAM_INVALID,
            &format!("C_SignInit({m:?})"),
        );
    }
    // A refused C_SignInit leaves no operation behind.
    assert_rv(
        s.sign(&[1u8; 32]),
        CKR_OPERATION_NOT_INITIALIZED,
        "C_Sign after refused C_SignInit calls",
    );
    for m in [
        CKM_RSA_PKCS_PSS,
        CKM_SHA256_RSA_PKCS_PSS,
        CKM_SHA384_RSA_PKCS_PSS,
        CKM_SHA512_RSA_PKCS_PSS,
    ] {
        let v = valid(m);
        ok(s.sign_init(&v, rsa), &format!("C_SignInit({v:?})"));
        ok(s.sign(&[1u8; 32]), &format!("C_Sign({v:?}) over 32 bytes"));
    }
}

#[test]
fn signing_operation_state() {
    let fx = fx();
    let s = fx.session();
    let ec = fx.private(&s, "alias/mech-ec");
    let mech = Mech::new(CKM_ECDSA_SHA256);

    assert_rv(
        s.sign(b"x"),
        CKR_OPERATION_NOT_INITIALIZED,
        "C_Sign without C_SignInit",
    );
    assert_rv(
        s.sign_update(b"x"),
        CKR_OPERATION_NOT_INITIALIZED,
        "C_SignUpdate without C_SignInit",
    );
    assert_rv(
        s.sign_final(),
        CKR_OPERATION_NOT_INITIALIZED,
        "C_SignFinal without C_SignInit",
    );

    ok(s.sign_init(&mech, ec), "C_SignInit");
    assert_rv(
        s.sign_init(&mech, ec),
        CKR_OPERATION_ACTIVE,
        "C_SignInit while a signing operation is active",
    );
    // The active operation is unaffected by the refused C_SignInit.
    let sig = ok(
        s.sign(b"message"),
        "C_Sign after a refused second C_SignInit",
    );
    assert_eq!(sig.len(), 64);
    assert_rv(
        s.sign(b"message"),
        CKR_OPERATION_NOT_INITIALIZED,
        "C_Sign after the operation finished",
    );

    ok(s.sign_init(&mech, ec), "C_SignInit");
    ok(s.sign_update(b"part one"), "C_SignUpdate");
    ok(s.sign_update(b"part two"), "C_SignUpdate");
    ok(s.sign_final(), "C_SignFinal");
    assert_rv(
        s.sign_final(),
        CKR_OPERATION_NOT_INITIALIZED,
        "C_SignFinal after the operation finished",
    );

    for bad in [CK_INVALID_HANDLE, 0x7fff_fff0] {
        assert_rv(
            s.sign_init(&mech, bad),
            CKR_KEY_HANDLE_INVALID,
            &format!("C_SignInit with key handle {bad:#x}"),
        );
    }

    // Operations are per session.
    let s2 = fx.session();
    ok(s.sign_init(&mech, ec), "C_SignInit in session 1");
    ok(
        s2.sign_init(&mech, ec),
        "C_SignInit in session 2 while session 1 has an operation",
    );
    ok(s2.sign(b"two"), "C_Sign in session 2");
    ok(s.sign(b"one"), "C_Sign in session 1");

    // A closed session.
    let h = s2.h;
    drop(s2);
    let closed = Session { m: &fx.m, h };
    assert_rv(
        closed.sign_init(&mech, ec),
        CKR_SESSION_HANDLE_INVALID,
        "C_SignInit in a closed session",
    );
    std::mem::forget(closed);
}

/// PKCS #11 3.x (the module's default interface): "C_SignInit can be called
/// with pMechanism set to NULL_PTR to terminate an active signature operation."
#[test]
fn sign_init_with_null_mechanism_ends_the_operation() {
    let fx = fx();
    let major = default_interface_major();
    assert!(
        major >= 3,
        "the default interface is version {major}.x; this rule is from 3.0"
    );
    let s = fx.session();
    let ec = fx.private(&s, "alias/mech-ec");
    ok(s.sign_init(&Mech::new(CKM_ECDSA_SHA256), ec), "C_SignInit");
    let rv = s.sign_init_null_mechanism(ec);
    assert_eq!(
        rv,
        CKR_OK,
        "C_SignInit(NULL mechanism) to end an active operation: {}",
        rv_name(rv)
    );
    assert_rv(
        s.sign(b"x"),
        CKR_OPERATION_NOT_INITIALIZED,
        "C_Sign after C_SignInit(NULL)",
    );
    ok(
        s.sign_init(&Mech::new(CKM_ECDSA_SHA256), ec),
        "C_SignInit after the cancelled operation",
    );
    ok(s.sign(b"x"), "C_Sign");
}
