//! The two-call convention of C_Sign / C_SignFinal: a NULL buffer gets CKR_OK
//! and the exact length, a short buffer CKR_BUFFER_TOO_SMALL and the length;
//! neither ends the operation, and neither calls KMS (a Sign request costs
//! money and time): the emulator's request counter must not move until the
//! real call, which makes exactly one Sign request.
//!
//! Every test holds `serial()`: the counters are global to the emulator.

mod common;

use common::der;
use common::util::Rng;
use common::verify::{Batch, Kind};
use common::*;

static SETUP: Setup = Setup {
    keys: &[
        key("alias/sq-rsa2048", "RSA_2048"),
        key("alias/sq-rsa4096", "RSA_4096"),
        key("alias/sq-p256", "ECC_NIST_P256"),
        key("alias/sq-p521", "ECC_NIST_P521"),
    ],
    config: Config::OneToken,
    aws_extra: "",
    emulator_args: &[],
};

fn fx() -> &'static Fixture {
    fixture(&SETUP)
}

/// (key, mechanism, input, check kind, hash)
type Case = (&'static str, Mech, Vec<u8>, Kind, Option<&'static str>);

fn cases(rng: &mut Rng) -> Vec<Case> {
    let mut v = Vec::new();
    for name in ["alias/sq-rsa2048", "alias/sq-rsa4096"] {
        let msg = rng.bytes(100);
        let digest = rng.bytes(32);
        v.push((
            name,
            Mech::new(CKM_SHA256_RSA_PKCS),
            msg.clone(),
            Kind::RsaPkcs1,
            Some("sha256"),
        ));
        v.push((
            name,
            Mech::new(CKM_RSA_PKCS),
            der::digest_info(der::OID_SHA256, &digest, true),
            Kind::RsaPkcs1Block,
            None,
        ));
        v.push((
            name,
            Mech::pss(CKM_RSA_PKCS_PSS, CKM_SHA256, CKG_MGF1_SHA256, 32),
            digest,
            Kind::RsaPssPrehashed,
            Some("sha256"),
        ));
    }
    for name in ["alias/sq-p256", "alias/sq-p521"] {
        v.push((
            name,
            Mech::new(CKM_ECDSA),
            rng.bytes(32),
            Kind::EcdsaPrehashed,
            None,
        ));
        v.push((
            name,
            Mech::new(CKM_ECDSA_SHA384),
            rng.bytes(100),
            Kind::Ecdsa,
            Some("sha384"),
        ));
    }
    v
}

#[test]
fn c_sign_length_query_and_short_buffer() {
    let _serial = serial();
    let fx = fx();
    let s = fx.session();
    let mut rng = Rng::new();
    let mut b = Batch::new();
    for (name, mech, data, kind, hash) in cases(&mut rng) {
        let k = fx.key(name);
        let want = k.sig_len();
        let key = fx.private(&s, name);
        let what = format!("{name} {mech:?}");
        ok(s.sign_init(&mech, key), &format!("{what}: C_SignInit"));
        let before = fx.count("Sign");

        let mut len: CK_ULONG = 0;
        let rv = s.sign_raw(&data, None, &mut len);
        assert_eq!(rv, CKR_OK, "{what}: C_Sign(NULL): {}", rv_name(rv));
        assert_eq!(len as usize, want, "{what}: length from C_Sign(NULL)");
        assert_eq!(
            fx.count("Sign"),
            before,
            "{what}: C_Sign(NULL) made a KMS Sign request"
        );

        for short in [want - 1, 1, 0] {
            let mut buf = vec![0u8; want];
            let mut len = short as CK_ULONG;
            let rv = s.sign_raw(&data, Some(&mut buf[..short]), &mut len);
            assert_eq!(
                rv,
                CKR_BUFFER_TOO_SMALL,
                "{what}: C_Sign into {short} bytes: {}",
                rv_name(rv)
            );
            assert_eq!(
                len as usize, want,
                "{what}: length from C_Sign into {short} bytes"
            );
            assert!(
                buf[short..].iter().all(|&x| x == 0),
                "{what}: C_Sign wrote past a {short}-byte buffer"
            );
        }
        assert_eq!(
            fx.count("Sign"),
            before,
            "{what}: C_Sign into a short buffer made a KMS Sign request"
        );

        // Still active: ask again, then sign into a buffer with room to spare.
        let mut len: CK_ULONG = 0;
        assert_eq!(
            s.sign_raw(&data, None, &mut len),
            CKR_OK,
            "{what}: second C_Sign(NULL)"
        );
        let mut buf = vec![0u8; want + 16];
        let mut len = buf.len() as CK_ULONG;
        let rv = s.sign_raw(&data, Some(&mut buf), &mut len);
        assert_eq!(
            rv,
            CKR_OK,
            "{what}: C_Sign after the size queries: {}",
            rv_name(rv)
        );
        assert_eq!(len as usize, want, "{what}: signature length");
        assert_eq!(
            fx.count("Sign"),
            before + 1,
            "{what}: KMS Sign requests for one signature"
        );
        buf.truncate(want);
        b.good(what.clone(), kind, hash, &k.spki, &data, &buf);

        let mut len: CK_ULONG = 0;
        let rv = s.sign_raw(&data, None, &mut len);
        assert_eq!(
            rv,
            CKR_OPERATION_NOT_INITIALIZED,
            "{what}: C_Sign after the signature was returned: {}",
            rv_name(rv)
        );
    }
    assert_eq!(b.run(), 10);
}

#[test]
fn c_sign_final_length_query_and_short_buffer() {
    let _serial = serial();
    let fx = fx();
    let s = fx.session();
    let mut rng = Rng::new();
    let mut b = Batch::new();
    let cases: Vec<(&str, Mech, Kind, &str)> = vec![
        (
            "alias/sq-rsa2048",
            Mech::new(CKM_SHA512_RSA_PKCS),
            Kind::RsaPkcs1,
            "sha512",
        ),
        (
            "alias/sq-rsa4096",
            Mech::pss(CKM_SHA256_RSA_PKCS_PSS, CKM_SHA256, CKG_MGF1_SHA256, 32),
            Kind::RsaPss,
            "sha256",
        ),
        (
            "alias/sq-p256",
            Mech::new(CKM_ECDSA_SHA256),
            Kind::Ecdsa,
            "sha256",
        ),
        (
            "alias/sq-p521",
            Mech::new(CKM_ECDSA_SHA512),
            Kind::Ecdsa,
            "sha512",
        ),
    ];
    for (name, mech, kind, hash) in cases {
        let k = fx.key(name);
        let want = k.sig_len();
        let key = fx.private(&s, name);
        let what = format!("{name} {mech:?} multi-part");
        let msg = rng.bytes(5000);
        ok(s.sign_init(&mech, key), &format!("{what}: C_SignInit"));
        ok(
            s.sign_update(&msg[..1000]),
            &format!("{what}: C_SignUpdate"),
        );
        ok(
            s.sign_update(&msg[1000..]),
            &format!("{what}: C_SignUpdate"),
        );
        let before = fx.count("Sign");

        let mut len: CK_ULONG = 0;
        let rv = s.sign_final_raw(None, &mut len);
        assert_eq!(rv, CKR_OK, "{what}: C_SignFinal(NULL): {}", rv_name(rv));
        assert_eq!(len as usize, want, "{what}: length from C_SignFinal(NULL)");
        let mut buf = vec![0u8; want];
        let mut len = (want - 1) as CK_ULONG;
        let rv = s.sign_final_raw(Some(&mut buf[..want - 1]), &mut len);
        assert_eq!(
            rv,
            CKR_BUFFER_TOO_SMALL,
            "{what}: C_SignFinal into {} bytes: {}",
            want - 1,
            rv_name(rv)
        );
        assert_eq!(
            len as usize, want,
            "{what}: length from a short C_SignFinal"
        );
        assert_eq!(
            fx.count("Sign"),
            before,
            "{what}: size queries made a KMS Sign request"
        );

        let mut len = want as CK_ULONG;
        let rv = s.sign_final_raw(Some(&mut buf), &mut len);
        assert_eq!(rv, CKR_OK, "{what}: C_SignFinal: {}", rv_name(rv));
        assert_eq!(len as usize, want);
        assert_eq!(
            fx.count("Sign"),
            before + 1,
            "{what}: KMS Sign requests for one signature"
        );
        b.good(what.clone(), kind, Some(hash), &k.spki, &msg, &buf);
        assert_rv(
            s.sign_final(),
            CKR_OPERATION_NOT_INITIALIZED,
            &format!("{what}: C_SignFinal after the signature was returned"),
        );
    }
    assert_eq!(b.run(), 4);
}

/// cryptoki's Session::sign does the length query itself: one signature, one
/// KMS request.
#[test]
fn a_cryptoki_signature_is_one_kms_request() {
    use cryptoki::mechanism::Mechanism;
    use cryptoki::object::{Attribute, ObjectClass};
    let _serial = serial();
    let fx = fx();
    let session = fx.cryptoki_session();
    let k = fx.key("alias/sq-p256");
    let key = session
        .find_objects(&[
            Attribute::Class(ObjectClass::PRIVATE_KEY),
            Attribute::Id(k.cka_id()),
        ])
        .expect("find_objects")[0];
    let before = fx.count("Sign");
    let sig = session
        .sign(&Mechanism::EcdsaSha256, key, b"one request")
        .expect("sign");
    assert_eq!(
        fx.count("Sign"),
        before + 1,
        "KMS Sign requests for one cryptoki sign()"
    );
    let mut b = Batch::new();
    b.good(
        "cryptoki CKM_ECDSA_SHA256",
        Kind::Ecdsa,
        Some("sha256"),
        &k.spki,
        b"one request",
        &sig,
    );
    b.run();
}
