//! RSA signing with RSA_2048, RSA_3072 and RSA_4096 KMS keys: CKM_RSA_PKCS
//! over a DigestInfo, CKM_SHAxxx_RSA_PKCS, CKM_RSA_PKCS_PSS and
//! CKM_SHAxxx_RSA_PKCS_PSS, single- and multi-part. Every signature is
//! verified by pyca/cryptography (tests/verify/verify.py).

mod common;

use common::der::{self, OID_SHA1, OID_SHA256, OID_SHA384, OID_SHA512};
use common::util::{chunks, Rng};
use common::verify::{Batch, Kind};
use common::*;

static SETUP: Setup = Setup {
    keys: &[
        key("alias/rsa2048", "RSA_2048"),
        key("alias/rsa3072", "RSA_3072"),
        key("alias/rsa4096", "RSA_4096"),
    ],
    config: Config::OneToken,
    aws_extra: "",
    emulator_args: &[],
};

fn fx() -> &'static Fixture {
    fixture(&SETUP)
}

/// One hash algorithm and the mechanisms built on it.
struct Hash {
    /// pyca/cryptography's name.
    name: &'static str,
    oid: &'static [u8],
    len: usize,
    /// CK_RSA_PKCS_PSS_PARAMS.hashAlg and .mgf.
    mech: CK_MECHANISM_TYPE,
    mgf: CK_RSA_PKCS_MGF_TYPE,
    /// Hash-and-sign PKCS #1 v1.5 and PSS.
    pkcs1: CK_MECHANISM_TYPE,
    pss: CK_MECHANISM_TYPE,
}

const HASHES: &[Hash] = &[
    Hash {
        name: "sha256",
        oid: OID_SHA256,
        len: 32,
        mech: CKM_SHA256,
        mgf: CKG_MGF1_SHA256,
        pkcs1: CKM_SHA256_RSA_PKCS,
        pss: CKM_SHA256_RSA_PKCS_PSS,
    },
    Hash {
        name: "sha384",
        oid: OID_SHA384,
        len: 48,
        mech: CKM_SHA384,
        mgf: CKG_MGF1_SHA384,
        pkcs1: CKM_SHA384_RSA_PKCS,
        pss: CKM_SHA384_RSA_PKCS_PSS,
    },
    Hash {
        name: "sha512",
        oid: OID_SHA512,
        len: 64,
        mech: CKM_SHA512,
        mgf: CKG_MGF1_SHA512,
        pkcs1: CKM_SHA512_RSA_PKCS,
        pss: CKM_SHA512_RSA_PKCS_PSS,
    },
];

fn all_mechanisms(name: &str) {
    let fx = fx();
    let s = fx.session();
    let k = fx.key(name);
    let key = fx.private(&s, name);
    let spki = &k.spki;
    let mut rng = Rng::new();
    let mut b = Batch::new();
    let sign = |mech: &Mech, data: &[u8], what: &str| -> Vec<u8> {
        let sig = ok(
            s.sign_once(mech, key, data),
            &format!("{name}: C_Sign({mech:?}) {what}"),
        );
        assert_eq!(sig.len(), k.sig_len(), "{name}: {mech:?} signature length");
        sig
    };

    for &Hash {
        name: hash,
        oid,
        len,
        mech: hash_mech,
        mgf,
        pkcs1,
        pss,
    } in HASHES
    {
        // CKM_RSA_PKCS over a DigestInfo, with NULL parameters (RFC 8017)
        // and without (also seen in the wild). KMS signs the digest; the
        // result must be a valid RSASSA-PKCS1-v1_5 signature of it, and with
        // NULL parameters exactly the PKCS #11 CKM_RSA_PKCS block.
        let digest = rng.bytes(len);
        for null in [true, false] {
            let di = der::digest_info(oid, &digest, null);
            let what = format!(
                "DigestInfo {hash}{}",
                if null { "" } else { " without NULL" }
            );
            let sig = sign(&Mech::new(CKM_RSA_PKCS), &di, &what);
            if null {
                b.good(
                    format!("{name} CKM_RSA_PKCS {what} (exact block)"),
                    Kind::RsaPkcs1Block,
                    None,
                    spki,
                    &di,
                    &sig,
                );
            }
            b.good(
                format!("{name} CKM_RSA_PKCS {what}"),
                Kind::RsaPkcs1Prehashed,
                Some(hash),
                spki,
                &digest,
                &sig,
            );
        }

        // Hash-and-sign PKCS #1 v1.5, single- and multi-part.
        let msg_len = 1 + rng.below(3000) as usize;
        let msg = rng.bytes(msg_len);
        let m = Mech::new(pkcs1);
        let sig = sign(&m, &msg, "single-part");
        b.good(
            format!("{name} {m:?} single-part"),
            Kind::RsaPkcs1,
            Some(hash),
            spki,
            &msg,
            &sig,
        );
        let sig = ok(
            s.sign_parts(&m, key, &chunks(&msg, &[1, 0, 100, 333])),
            &format!("{name}: {m:?} multi-part"),
        );
        b.good(
            format!("{name} {m:?} multi-part"),
            Kind::RsaPkcs1,
            Some(hash),
            spki,
            &msg,
            &sig,
        );

        // CKM_RSA_PKCS_PSS over a hash value.
        let m = Mech::pss(CKM_RSA_PKCS_PSS, hash_mech, mgf, len as CK_ULONG);
        let digest = rng.bytes(len);
        let sig = sign(&m, &digest, "");
        b.good(
            format!("{name} {m:?}"),
            Kind::RsaPssPrehashed,
            Some(hash),
            spki,
            &digest,
            &sig,
        );

        // Hash-and-sign PSS, single- and multi-part.
        let m = Mech::pss(pss, hash_mech, mgf, len as CK_ULONG);
        let sig = sign(&m, &msg, "single-part");
        b.good(
            format!("{name} {m:?} single-part"),
            Kind::RsaPss,
            Some(hash),
            spki,
            &msg,
            &sig,
        );
        let sig = ok(
            s.sign_parts(&m, key, &chunks(&msg, &[7, 1000])),
            &format!("{name}: {m:?} multi-part"),
        );
        b.good(
            format!("{name} {m:?} multi-part"),
            Kind::RsaPss,
            Some(hash),
            spki,
            &msg,
            &sig,
        );

        // The same message signed with a different hash must not verify (the
        // checker does reject).
        b.bad(
            format!("{name} {m:?} checked as SHA-1"),
            Kind::RsaPss,
            Some("sha1"),
            spki,
            &msg,
            &sig,
        );
    }
    assert_eq!(b.run(), 3 * 9);
}

#[test]
fn rsa_2048_signatures() {
    all_mechanisms("alias/rsa2048");
}

#[test]
fn rsa_3072_signatures() {
    all_mechanisms("alias/rsa3072");
}

#[test]
fn rsa_4096_signatures() {
    all_mechanisms("alias/rsa4096");
}

/// CKM_RSA_PKCS signs only what KMS can: a DigestInfo of SHA-256/384/512.
/// Anything else (of at most k-11 bytes) is CKR_DATA_INVALID. A C_Sign that
/// fails ends the operation.
#[test]
fn rsa_pkcs_refuses_what_kms_cannot_sign() {
    let fx = fx();
    let s = fx.session();
    let key = fx.private(&s, "alias/rsa2048");
    let mut rng = Rng::new();
    let oid_sha224: &[u8] = &[
        0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x04,
    ];
    let mut trailing = der::digest_info(OID_SHA256, &rng.bytes(32), true);
    trailing.push(0);
    let invalid: Vec<(&str, Vec<u8>)> = vec![
        (
            "a SHA-1 DigestInfo",
            der::digest_info(OID_SHA1, &rng.bytes(20), true),
        ),
        (
            "a SHA-224 DigestInfo",
            der::digest_info(oid_sha224, &rng.bytes(28), true),
        ),
        ("raw 32 bytes", rng.bytes(32)),
        ("raw 100 bytes", rng.bytes(100)),
        (
            "a SHA-256 DigestInfo with a 31-byte digest",
            der::digest_info(OID_SHA256, &rng.bytes(31), true),
        ),
        (
            "a SHA-256 DigestInfo with a 48-byte digest",
            der::digest_info(OID_SHA256, &rng.bytes(48), true),
        ),
        ("a SHA-256 DigestInfo and a trailing byte", trailing),
    ];
    for (what, data) in &invalid {
        ok(
            s.sign_init(&Mech::new(CKM_RSA_PKCS), key),
            "C_SignInit(CKM_RSA_PKCS)",
        );
        assert_rv(
            s.sign(data),
            CKR_DATA_INVALID,
            &format!("CKM_RSA_PKCS over {what}"),
        );
        assert_rv(
            s.sign(data),
            CKR_OPERATION_NOT_INITIALIZED,
            &format!("C_Sign again after {what} was refused"),
        );
    }
}

/// CKM_RSA_PKCS takes at most k-11 bytes (PKCS #11 mechanisms, table
/// "PKCS #1 v1.5 RSA: Key and Data Length"); longer input has a bad length:
/// CKR_DATA_LEN_RANGE.
#[test]
fn rsa_pkcs_input_longer_than_k_minus_11() {
    let fx = fx();
    let s = fx.session();
    let key = fx.private(&s, "alias/rsa2048");
    let mut rng = Rng::new();
    for len in [2048 / 8 - 10, 2048 / 8, 1000] {
        ok(
            s.sign_init(&Mech::new(CKM_RSA_PKCS), key),
            "C_SignInit(CKM_RSA_PKCS)",
        );
        assert_rv(
            s.sign(&rng.bytes(len)),
            CKR_DATA_LEN_RANGE,
            &format!("CKM_RSA_PKCS over {len} bytes (k = 256)"),
        );
    }
}

/// CKM_RSA_PKCS_PSS signs a hash value of exactly the length of its hashAlg.
#[test]
fn rsa_pkcs_pss_input_must_be_one_hash_long() {
    let fx = fx();
    let s = fx.session();
    let key = fx.private(&s, "alias/rsa2048");
    let mut rng = Rng::new();
    for &Hash {
        len,
        mech: hash_mech,
        mgf,
        ..
    } in HASHES
    {
        let m = Mech::pss(CKM_RSA_PKCS_PSS, hash_mech, mgf, len as CK_ULONG);
        for wrong in [0, 20, len - 1, len + 1, 2 * len] {
            ok(s.sign_init(&m, key), &format!("C_SignInit({m:?})"));
            assert_rv(
                s.sign(&rng.bytes(wrong)),
                CKR_DATA_LEN_RANGE,
                &format!("{m:?} over {wrong} bytes"),
            );
        }
    }
}

/// The way an application signs through cryptoki (its C_Sign does the
/// length query, then the signature).
#[test]
fn signing_through_cryptoki() {
    use cryptoki::mechanism::rsa::{PkcsMgfType, PkcsPssParams};
    use cryptoki::mechanism::{Mechanism, MechanismType};
    use cryptoki::object::{Attribute, ObjectClass};
    let fx = fx();
    let session = fx.cryptoki_session();
    let mut b = Batch::new();
    let mut rng = Rng::new();
    for name in ["alias/rsa2048", "alias/rsa4096"] {
        let k = fx.key(name);
        let found = session
            .find_objects(&[
                Attribute::Class(ObjectClass::PRIVATE_KEY),
                Attribute::Label(k.label().into_bytes()),
            ])
            .expect("find_objects");
        assert_eq!(found.len(), 1, "{name}");
        let msg = rng.bytes(777);
        let sig = session
            .sign(&Mechanism::Sha256RsaPkcs, found[0], &msg)
            .expect("sign CKM_SHA256_RSA_PKCS");
        b.good(
            format!("cryptoki {name} CKM_SHA256_RSA_PKCS"),
            Kind::RsaPkcs1,
            Some("sha256"),
            &k.spki,
            &msg,
            &sig,
        );
        let params = PkcsPssParams {
            hash_alg: MechanismType::SHA384,
            mgf: PkcsMgfType::MGF1_SHA384,
            s_len: 48.into(),
        };
        let sig = session
            .sign(&Mechanism::Sha384RsaPkcsPss(params), found[0], &msg)
            .expect("sign CKM_SHA384_RSA_PKCS_PSS");
        b.good(
            format!("cryptoki {name} CKM_SHA384_RSA_PKCS_PSS"),
            Kind::RsaPss,
            Some("sha384"),
            &k.spki,
            &msg,
            &sig,
        );
        session
            .sign_init(&Mechanism::Sha512RsaPkcs, found[0])
            .expect("sign_init");
        session.sign_update(&msg[..100]).expect("sign_update");
        session.sign_update(&msg[100..]).expect("sign_update");
        let sig = session.sign_final().expect("sign_final");
        b.good(
            format!("cryptoki {name} CKM_SHA512_RSA_PKCS multi-part"),
            Kind::RsaPkcs1,
            Some("sha512"),
            &k.spki,
            &msg,
            &sig,
        );
    }
    assert_eq!(b.run(), 6);
}
