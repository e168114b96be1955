//! The rows of docs/errors.md that module_errors.rs does not cover, each
//! through the real module against faults the emulator injects: a key that
//! does not exist is left out while the others appear; throttling, 500s,
//! dropped connections and answers slower than the call timeout become
//! CKR_DEVICE_ERROR after the configured attempts, within a bounded time;
//! transient faults that clear are retried into a good signature; and the
//! module recovers by itself once KMS answers again.

mod common;

use common::verify::{Batch, Kind};
use common::*;
use std::time::{Duration, Instant};

static SETUP: Setup = Setup {
    keys: &[
        key("alias/tbl-ec", "ECC_NIST_P256"),
        key("alias/tbl-rsa", "RSA_2048"),
    ],
    config: Config::Tokens(tokens),
    aws_extra: "max_attempts = 3\ncall_timeout_ms = 700\nconnect_timeout_ms = 500",
    emulator_args: &[],
};

/// The token also names an alias that does not exist, between the two keys.
fn tokens(_: &Keys) -> String {
    format!(
        "[[token]]\nlabel = \"{DEFAULT_TOKEN}\"\n\
         [[token.key]]\nkey = \"alias/tbl-ec\"\n\
         [[token.key]]\nkey = \"alias/tbl-does-not-exist\"\n\
         [[token.key]]\nkey = \"alias/tbl-rsa\"\n"
    )
}

fn fx() -> &'static Fixture {
    fixture(&SETUP)
}

const ATTEMPTS: u64 = 3;

/// Signs once with the EC key while `faults` are injected, then clears them.
fn sign_under(faults: &str) -> (Result<Vec<u8>, Rv>, u64, Duration) {
    let fx = fx();
    let s = fx.session();
    let key = fx.private(&s, "alias/tbl-ec");
    let before = fx.count("Sign");
    fx.emu.set_faults(faults);
    let started = Instant::now();
    let r = s.sign_once(&Mech::new(CKM_ECDSA_SHA256), key, b"fault");
    let took = started.elapsed();
    fx.emu.set_faults("{}");
    (r, fx.count("Sign") - before, took)
}

/// After the faults clear, the same session signs and the signature verifies.
fn recovers(what: &str) {
    let fx = fx();
    let k = fx.key("alias/tbl-ec");
    let s = fx.session();
    let key = fx.private(&s, "alias/tbl-ec");
    let sig = ok(
        s.sign_once(&Mech::new(CKM_ECDSA_SHA256), key, b"recovered"),
        &format!("C_Sign once {what} stopped"),
    );
    let mut b = Batch::new();
    b.good(
        what,
        Kind::Ecdsa,
        Some("sha256"),
        &k.spki,
        b"recovered",
        &sig,
    );
    assert_eq!(b.run(), 1);
}

#[test]
fn a_missing_key_is_left_out_and_the_others_appear() {
    let _serial = serial();
    let fx = fx();
    let s = fx.session();
    let found = ok(
        s.find(&Template::new().class(CKO_PRIVATE_KEY)),
        "C_FindObjects",
    );
    let mut labels: Vec<String> = found
        .iter()
        .map(|h| String::from_utf8(ok(s.attr(*h, CKA_LABEL), "CKA_LABEL")).unwrap())
        .collect();
    labels.sort();
    assert_eq!(labels, ["tbl-ec", "tbl-rsa"]);
}

#[test]
fn throttling_after_every_attempt_is_a_device_error() {
    let _serial = serial();
    let (r, requests, took) = sign_under(r#"{"throttle_every": 1}"#);
    assert_rv(
        r,
        CKR_DEVICE_ERROR,
        "C_Sign while every request is throttled",
    );
    assert_eq!(
        requests, ATTEMPTS,
        "Sign requests for one throttled C_Sign (max_attempts)"
    );
    assert!(
        took < Duration::from_secs(30),
        "a throttled C_Sign returned after {took:?}"
    );
    recovers("throttling");
}

#[test]
fn throttling_that_clears_is_retried_into_good_signatures() {
    let _serial = serial();
    let fx = fx();
    let k = fx.key("alias/tbl-rsa");
    let s = fx.session();
    let key = fx.private(&s, "alias/tbl-rsa");
    fx.emu.set_faults(r#"{"throttle_every": 2}"#);
    let mut b = Batch::new();
    let mut results = Vec::new();
    for i in 0..6u8 {
        let msg = [b'm', i];
        results.push(
            s.sign_once(&Mech::new(CKM_SHA256_RSA_PKCS), key, &msg)
                .map(|sig| (msg, sig)),
        );
    }
    let throttled = fx.emu.stats().injected.throttled;
    fx.emu.set_faults("{}");
    for r in results {
        let (msg, sig) = ok(r, "C_Sign while every second request is throttled");
        b.good(
            "retried after throttling",
            Kind::RsaPkcs1,
            Some("sha256"),
            &k.spki,
            &msg,
            &sig,
        );
    }
    assert_eq!(b.run(), 6);
    assert!(
        throttled >= 3,
        "the emulator throttled {throttled} requests"
    );
}

#[test]
fn server_errors_after_every_attempt_are_a_device_error() {
    let _serial = serial();
    let (r, requests, _) = sign_under(r#"{"error_rate": 1.0}"#);
    assert_rv(r, CKR_DEVICE_ERROR, "C_Sign while KMS answers 500");
    assert_eq!(
        requests, ATTEMPTS,
        "Sign requests for one C_Sign answered 500 (max_attempts)"
    );
    recovers("500 answers");
}

#[test]
fn dropped_connections_are_a_device_error() {
    let _serial = serial();
    let (r, requests, _) = sign_under(r#"{"drop_rate": 1.0}"#);
    assert_rv(
        r,
        CKR_DEVICE_ERROR,
        "C_Sign while every connection is dropped",
    );
    assert!(requests >= 1, "the emulator saw {requests} Sign requests");
    recovers("dropped connections");
}

#[test]
fn answers_slower_than_the_call_timeout_are_a_device_error_not_a_hang() {
    let _serial = serial();
    let (r, _, took) = sign_under(r#"{"latency_ms": 5000}"#);
    assert_rv(r, CKR_DEVICE_ERROR, "C_Sign while KMS takes 5 s per answer");
    // 3 attempts of at most 700 ms each, plus backoff: far below the 5 s
    // one answer would take. The bound is loose; it catches a hang.
    assert!(
        took < Duration::from_secs(15),
        "C_Sign returned after {took:?}"
    );
    recovers("slow answers");
}
