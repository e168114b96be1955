//! Multi-part signing (C_SignUpdate / C_SignFinal) over 0 bytes, 1 byte,
//! 1 MiB and 10 MiB in chunks of many sizes, for hash-and-sign RSA and ECDSA
//! mechanisms. pyca/cryptography verifies each signature over the same data.

mod common;

use common::util::{chunks, Rng};
use common::verify::{Batch, Kind};
use common::*;

static SETUP: Setup = Setup {
    keys: &[
        key("alias/mp-rsa", "RSA_2048"),
        key("alias/mp-ec", "ECC_NIST_P384"),
    ],
    config: Config::OneToken,
    aws_extra: "",
    emulator_args: &[],
};

fn fx() -> &'static Fixture {
    fixture(&SETUP)
}

/// (key, mechanism, how to check, hash)
fn mechanisms() -> Vec<(&'static str, Mech, Kind, &'static str)> {
    vec![
        (
            "alias/mp-rsa",
            Mech::new(CKM_SHA256_RSA_PKCS),
            Kind::RsaPkcs1,
            "sha256",
        ),
        (
            "alias/mp-rsa",
            Mech::new(CKM_SHA512_RSA_PKCS),
            Kind::RsaPkcs1,
            "sha512",
        ),
        (
            "alias/mp-rsa",
            Mech::pss(CKM_SHA384_RSA_PKCS_PSS, CKM_SHA384, CKG_MGF1_SHA384, 48),
            Kind::RsaPss,
            "sha384",
        ),
        (
            "alias/mp-ec",
            Mech::new(CKM_ECDSA_SHA256),
            Kind::Ecdsa,
            "sha256",
        ),
        (
            "alias/mp-ec",
            Mech::new(CKM_ECDSA_SHA384),
            Kind::Ecdsa,
            "sha384",
        ),
        (
            "alias/mp-ec",
            Mech::new(CKM_ECDSA_SHA512),
            Kind::Ecdsa,
            "sha512",
        ),
    ]
}

/// Signs `data` with every mechanism, once per chunk schedule (and once
/// single-part if `single`), and verifies everything in one batch.
fn sign_all(data: &[u8], schedules: &[&[usize]], single: bool) {
    let fx = fx();
    let s = fx.session();
    let mut b = Batch::new();
    for (name, mech, kind, hash) in mechanisms() {
        let k = fx.key(name);
        let key = fx.private(&s, name);
        for sizes in schedules {
            let parts = chunks(data, sizes);
            let sig = ok(
                s.sign_parts(&mech, key, &parts),
                &format!(
                    "{name} {mech:?}: {} bytes in {} parts",
                    data.len(),
                    parts.len()
                ),
            );
            assert_eq!(sig.len(), k.sig_len(), "{name} {mech:?}: signature length");
            b.good(
                format!("{name} {mech:?} {} bytes, chunks {sizes:?}", data.len()),
                kind,
                Some(hash),
                &k.spki,
                data,
                &sig,
            );
        }
        if single {
            let sig = ok(
                s.sign_once(&mech, key, data),
                &format!("{name} {mech:?}: {} bytes single-part", data.len()),
            );
            b.good(
                format!("{name} {mech:?} {} bytes single-part", data.len()),
                kind,
                Some(hash),
                &k.spki,
                data,
                &sig,
            );
        }
    }
    assert_eq!(
        b.run(),
        mechanisms().len() * (schedules.len() + usize::from(single))
    );
}

#[test]
fn empty_message() {
    let fx = fx();
    let s = fx.session();
    let mut b = Batch::new();
    for (name, mech, kind, hash) in mechanisms() {
        let k = fx.key(name);
        let key = fx.private(&s, name);
        // No C_SignUpdate at all.
        let sig = ok(
            s.sign_parts(&mech, key, &[]),
            &format!("{name} {mech:?}: C_SignInit then C_SignFinal"),
        );
        b.good(
            format!("{name} {mech:?} no update"),
            kind,
            Some(hash),
            &k.spki,
            b"",
            &sig,
        );
        // Empty updates.
        let sig = ok(
            s.sign_parts(&mech, key, &[b"", b""]),
            &format!("{name} {mech:?}: two empty updates"),
        );
        b.good(
            format!("{name} {mech:?} empty updates"),
            kind,
            Some(hash),
            &k.spki,
            b"",
            &sig,
        );
        let sig = ok(
            s.sign_once(&mech, key, b""),
            &format!("{name} {mech:?}: C_Sign of nothing"),
        );
        b.good(
            format!("{name} {mech:?} single-part"),
            kind,
            Some(hash),
            &k.spki,
            b"",
            &sig,
        );
    }
    assert_eq!(b.run(), 18);
}

#[test]
fn one_byte() {
    let byte = Rng::new().bytes(1);
    sign_all(&byte, &[&[1], &[0, 1, 0]], true);
}

#[test]
fn one_mebibyte() {
    let data = Rng::new().bytes(1 << 20);
    sign_all(
        &data,
        &[&[1, 7, 4096, 0, 65535], &[65536], &[1 << 20], &[100_000, 1]],
        true,
    );
}

#[test]
fn ten_mebibytes() {
    let data = Rng::new().bytes(10 << 20);
    sign_all(&data, &[&[1 << 20], &[777_777, 13, 0]], true);
}

/// Data spread over many updates signs the same as in one: two signatures
/// (one per path) verify over the same bytes, and a signature over the data
/// with one byte changed does not.
#[test]
fn chunking_does_not_change_the_message() {
    let fx = fx();
    let s = fx.session();
    let k = fx.key("alias/mp-ec");
    let key = fx.private(&s, "alias/mp-ec");
    let mut data = Rng::new().bytes(300_000);
    let m = Mech::new(CKM_ECDSA_SHA384);
    let sig = ok(
        s.sign_parts(
            &m,
            key,
            &chunks(&data, &[1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 4099]),
        ),
        "multi-part",
    );
    let mut b = Batch::new();
    b.good(
        "fibonacci chunks",
        Kind::Ecdsa,
        Some("sha384"),
        &k.spki,
        &data,
        &sig,
    );
    data[123_456] ^= 0x80;
    let changed = data.clone();
    b.bad(
        "fibonacci chunks, one bit changed",
        Kind::Ecdsa,
        Some("sha384"),
        &k.spki,
        &changed,
        &sig,
    );
    assert_eq!(b.run(), 2);
}

/// C_Sign cannot finish a multi-part operation (PKCS #11: it "MUST be called
/// after C_SignInit without intervening C_SignUpdate calls"): the module must
/// refuse rather than sign only part of the data, and like every failed
/// C_Sign the refusal ends the operation.
#[test]
fn c_sign_cannot_finish_a_multi_part_operation() {
    let fx = fx();
    let s = fx.session();
    let key = fx.private(&s, "alias/mp-ec");
    ok(s.sign_init(&Mech::new(CKM_ECDSA_SHA256), key), "C_SignInit");
    ok(s.sign_update(b"abc"), "C_SignUpdate");
    // C_Sign (single-part) in the middle of a multi-part operation.
    match s.sign(b"def") {
        Err(rv) => {
            // "A call to C_Sign always terminates the active signing
            // operation unless it returns CKR_BUFFER_TOO_SMALL or is a
            // successful call ... to determine the length".
            assert_rv(
                s.sign_final(),
                CKR_OPERATION_NOT_INITIALIZED,
                &format!(
                    "C_SignFinal after C_Sign failed mid-operation with {}",
                    rv_name(rv)
                ),
            );
        }
        Ok(sig) => panic!(
            "C_Sign after C_SignUpdate returned a {}-byte signature; which data did it sign?",
            sig.len()
        ),
    }
}
