//! C_Verify and C_VerifyUpdate/C_VerifyFinal on the public key objects, with
//! signatures made by pyca/cryptography from the key material the emulator
//! was seeded with: good signatures verify, altered ones give
//! CKR_SIGNATURE_INVALID (or CKR_SIGNATURE_LEN_RANGE for a wrong length), and
//! verification is local: no KMS Sign or Verify request.
//!
//! Tests that read the counters hold `serial()`.

mod common;

use common::der;
use common::util::{chunks, Rng};
use common::verify::{python_sign, Batch, Kind};
use common::*;

static SETUP: Setup = Setup {
    keys: &[
        key_with_material("alias/v-rsa", "RSA_2048"),
        key_with_material("alias/v-p256", "ECC_NIST_P256"),
        key_with_material("alias/v-p384", "ECC_NIST_P384"),
    ],
    config: Config::OneToken,
    aws_extra: "",
    emulator_args: &[],
};

fn fx() -> &'static Fixture {
    fixture(&SETUP)
}

struct Case {
    key: &'static str,
    mech: Mech,
    /// What the module is given to verify.
    data: Vec<u8>,
    /// How Python signs it, and over what.
    kind: Kind,
    hash: Option<&'static str>,
    signed: Vec<u8>,
    /// Hash-and-sign mechanisms also run multi-part.
    multi: bool,
}

fn cases(rng: &mut Rng) -> Vec<Case> {
    let msg = rng.bytes(3000);
    let d32 = rng.bytes(32);
    let d48 = rng.bytes(48);
    let case = |key, mech, data: &[u8], kind, hash, signed: &[u8], multi| Case {
        key,
        mech,
        data: data.to_vec(),
        kind,
        hash,
        signed: signed.to_vec(),
        multi,
    };
    vec![
        case(
            "alias/v-rsa",
            Mech::new(CKM_SHA256_RSA_PKCS),
            &msg,
            Kind::RsaPkcs1,
            Some("sha256"),
            &msg,
            true,
        ),
        case(
            "alias/v-rsa",
            Mech::new(CKM_SHA512_RSA_PKCS),
            &msg,
            Kind::RsaPkcs1,
            Some("sha512"),
            &msg,
            true,
        ),
        case(
            "alias/v-rsa",
            Mech::pss(CKM_SHA384_RSA_PKCS_PSS, CKM_SHA384, CKG_MGF1_SHA384, 48),
            &msg,
            Kind::RsaPss,
            Some("sha384"),
            &msg,
            true,
        ),
        case(
            "alias/v-rsa",
            Mech::pss(CKM_RSA_PKCS_PSS, CKM_SHA256, CKG_MGF1_SHA256, 32),
            &d32,
            Kind::RsaPssPrehashed,
            Some("sha256"),
            &d32,
            false,
        ),
        case(
            "alias/v-rsa",
            Mech::new(CKM_RSA_PKCS),
            &der::digest_info(der::OID_SHA256, &d32, true),
            Kind::RsaPkcs1Prehashed,
            Some("sha256"),
            &d32,
            false,
        ),
        case(
            "alias/v-p256",
            Mech::new(CKM_ECDSA_SHA256),
            &msg,
            Kind::Ecdsa,
            Some("sha256"),
            &msg,
            true,
        ),
        case(
            "alias/v-p256",
            Mech::new(CKM_ECDSA_SHA384),
            &msg,
            Kind::Ecdsa,
            Some("sha384"),
            &msg,
            true,
        ),
        case(
            "alias/v-p256",
            Mech::new(CKM_ECDSA),
            &d32,
            Kind::EcdsaPrehashed,
            None,
            &d32,
            false,
        ),
        case(
            "alias/v-p384",
            Mech::new(CKM_ECDSA_SHA512),
            &msg,
            Kind::Ecdsa,
            Some("sha512"),
            &msg,
            true,
        ),
        case(
            "alias/v-p384",
            Mech::new(CKM_ECDSA),
            &d48,
            Kind::EcdsaPrehashed,
            None,
            &d48,
            false,
        ),
    ]
}

fn kms_counts(fx: &Fixture) -> (u64, u64) {
    (fx.count("Sign"), fx.count("Verify"))
}

#[test]
fn verifies_signatures_made_elsewhere() {
    let _serial = serial();
    let fx = fx();
    let s = fx.session();
    let mut rng = Rng::new();
    let cases = cases(&mut rng);
    let before = kms_counts(fx);
    let mut checked = 0;
    for c in &cases {
        let k = fx.key(c.key);
        let pkcs8 = k.pkcs8.as_deref().expect("seeded key material");
        let sig = python_sign(pkcs8, &[(c.kind, c.hash, c.signed.as_slice())]).remove(0);
        assert_eq!(sig.len(), k.sig_len());
        let public = fx.public(&s, c.key);
        let what = format!("{} {:?}", c.key, c.mech);

        ok(
            s.verify_init(&c.mech, public),
            &format!("{what}: C_VerifyInit"),
        );
        ok(
            s.verify(&c.data, &sig),
            &format!("{what}: C_Verify of a good signature"),
        );
        assert_rv(
            s.verify(&c.data, &sig),
            CKR_OPERATION_NOT_INITIALIZED,
            &format!("{what}: C_Verify after the operation ended"),
        );

        let mut bad_sig = sig.clone();
        bad_sig[sig.len() / 2] ^= 0x01;
        ok(
            s.verify_init(&c.mech, public),
            &format!("{what}: C_VerifyInit"),
        );
        assert_rv(
            s.verify(&c.data, &bad_sig),
            CKR_SIGNATURE_INVALID,
            &format!("{what}: C_Verify of a signature with one bit changed"),
        );
        assert_rv(
            s.verify(&c.data, &sig),
            CKR_OPERATION_NOT_INITIALIZED,
            &format!("{what}: C_Verify after a failed C_Verify"),
        );

        let mut bad_data = c.data.clone();
        let last = bad_data.len() - 1;
        bad_data[last] ^= 0x01;
        ok(
            s.verify_init(&c.mech, public),
            &format!("{what}: C_VerifyInit"),
        );
        assert_rv(
            s.verify(&bad_data, &sig),
            CKR_SIGNATURE_INVALID,
            &format!("{what}: C_Verify of changed data"),
        );

        for wrong_len in [sig.len() - 1, sig.len() + 1] {
            let mut w = sig.clone();
            w.resize(wrong_len, 0);
            ok(
                s.verify_init(&c.mech, public),
                &format!("{what}: C_VerifyInit"),
            );
            assert_rv(
                s.verify(&c.data, &w),
                CKR_SIGNATURE_LEN_RANGE,
                &format!("{what}: C_Verify of a {wrong_len}-byte signature"),
            );
        }

        if c.multi {
            ok(
                s.verify_init(&c.mech, public),
                &format!("{what}: C_VerifyInit"),
            );
            for part in chunks(&c.data, &[1, 0, 999]) {
                ok(s.verify_update(part), &format!("{what}: C_VerifyUpdate"));
            }
            ok(
                s.verify_final(&sig),
                &format!("{what}: C_VerifyFinal of a good signature"),
            );
            assert_rv(
                s.verify_final(&sig),
                CKR_OPERATION_NOT_INITIALIZED,
                &format!("{what}: C_VerifyFinal after the operation ended"),
            );

            ok(
                s.verify_init(&c.mech, public),
                &format!("{what}: C_VerifyInit"),
            );
            for part in chunks(&c.data, &[500]) {
                ok(s.verify_update(part), &format!("{what}: C_VerifyUpdate"));
            }
            assert_rv(
                s.verify_final(&bad_sig),
                CKR_SIGNATURE_INVALID,
                &format!("{what}: C_VerifyFinal of a changed signature"),
            );
        }
        checked += 1;
    }
    assert_eq!(checked, cases.len());
    assert_eq!(
        kms_counts(fx),
        before,
        "(Sign, Verify) requests to KMS during C_Verify"
    );
}

/// What the module signs, the module verifies (and so does pyca/cryptography).
#[test]
fn verifies_its_own_signatures() {
    let _serial = serial();
    let fx = fx();
    let s = fx.session();
    let mut rng = Rng::new();
    let mut b = Batch::new();
    for c in cases(&mut rng) {
        let k = fx.key(c.key);
        let what = format!("{} {:?}", c.key, c.mech);
        let sig = ok(
            s.sign_once(&c.mech, fx.private(&s, c.key), &c.data),
            &format!("{what}: C_Sign"),
        );
        let public = fx.public(&s, c.key);
        let before = kms_counts(fx);
        ok(
            s.verify_init(&c.mech, public),
            &format!("{what}: C_VerifyInit"),
        );
        ok(
            s.verify(&c.data, &sig),
            &format!("{what}: C_Verify of the module's own signature"),
        );
        assert_eq!(
            kms_counts(fx),
            before,
            "{what}: (Sign, Verify) requests to KMS during C_Verify"
        );
        let (kind, data) = match c.kind {
            // The module was given a DigestInfo: check the exact PKCS #11 block.
            Kind::RsaPkcs1Prehashed => (Kind::RsaPkcs1Block, &c.data),
            other => (other, &c.signed),
        };
        b.good(what, kind, c.hash, &k.spki, data, &sig);
    }
    b.run();
}

#[test]
fn verify_init_checks_key_and_mechanism() {
    let fx = fx();
    let s = fx.session();
    let rsa = fx.public(&s, "alias/v-rsa");
    let ec = fx.public(&s, "alias/v-p256");
    assert_rv(
        s.verify_init(&Mech::new(CKM_SHA256_RSA_PKCS), ec),
        CKR_KEY_TYPE_INCONSISTENT,
        "C_VerifyInit(RSA mechanism, EC key)",
    );
    assert_rv(
        s.verify_init(&Mech::new(CKM_ECDSA_SHA256), rsa),
        CKR_KEY_TYPE_INCONSISTENT,
        "C_VerifyInit(ECDSA mechanism, RSA key)",
    );
    assert_rv(
        s.verify_init(
            &Mech::pss(CKM_RSA_PKCS_PSS, CKM_SHA256, CKG_MGF1_SHA384, 32),
            rsa,
        ),
        CKR_MECHANISM_PARAM_INVALID,
        "C_VerifyInit(PSS with a mismatched MGF)",
    );
    assert_rv(
        s.verify(b"x", &[0u8; 64]),
        CKR_OPERATION_NOT_INITIALIZED,
        "C_Verify without C_VerifyInit",
    );
    ok(
        s.verify_init(&Mech::new(CKM_ECDSA_SHA256), ec),
        "C_VerifyInit",
    );
    assert_rv(
        s.verify_init(&Mech::new(CKM_ECDSA_SHA256), ec),
        CKR_OPERATION_ACTIVE,
        "C_VerifyInit during a verification",
    );
}

/// PKCS #11 3.x: "C_VerifyInit can be called with pMechanism set to NULL_PTR
/// to terminate an active verification operation."
#[test]
fn verify_init_with_null_mechanism_ends_the_operation() {
    let fx = fx();
    let major = default_interface_major();
    assert!(
        major >= 3,
        "the default interface is version {major}.x; this rule is from 3.0"
    );
    let s = fx.session();
    let ec = fx.public(&s, "alias/v-p256");
    ok(
        s.verify_init(&Mech::new(CKM_ECDSA_SHA256), ec),
        "C_VerifyInit",
    );
    let rv = s.verify_init_null_mechanism(ec);
    assert_eq!(
        rv,
        CKR_OK,
        "C_VerifyInit(NULL mechanism) to end an active operation: {}",
        rv_name(rv)
    );
    assert_rv(
        s.verify(b"x", &[1u8; 64]),
        CKR_OPERATION_NOT_INITIALIZED,
        "C_Verify after C_VerifyInit(NULL)",
    );
}
