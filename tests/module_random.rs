//! C_GenerateRandom from KMS's GenerateRandom: the token says CKF_RNG, a
//! request is split into KMS requests of at most 1,024 bytes (1 MiB a call
//! at most), zero bytes asks KMS nothing, C_SeedRandom is refused, and a
//! role without
//! kms:GenerateRandom gets CKR_FUNCTION_FAILED while signing goes on.

mod common;

use common::verify::{Batch, Kind};
use common::*;
use std::collections::HashSet;

static SETUP: Setup = Setup {
    keys: &[key("alias/rng-p256", "ECC_NIST_P256")],
    config: Config::OneToken,
    aws_extra: "",
    emulator_args: &[],
};

fn fx() -> &'static Fixture {
    fixture(&SETUP)
}

#[test]
fn the_token_has_a_random_number_generator() {
    let fx = fx();
    let info = ok(fx.m.token_info(fx.slot(fx.token)), "C_GetTokenInfo");
    assert_ne!(info.flags & CKF_RNG, 0, "CKF_RNG");
}

/// The two run in turn: both count or deny GenerateRandom requests, which
/// the fixture's one emulator serves to every test of this file.
#[test]
fn kms_answers_and_refusals() {
    each_kms_request_gives_at_most_1024_bytes();
    a_role_without_generate_random_still_signs();
}

fn each_kms_request_gives_at_most_1024_bytes() {
    let fx = fx();
    let s = fx.session();
    for (len, requests) in [
        (0, 0),
        (1, 1),
        (1024, 1),
        (1025, 2),
        (5000, 5),
        (1 << 20, 1024),
    ] {
        let before = fx.count("GenerateRandom");
        let bytes = ok(s.random(len), &format!("C_GenerateRandom of {len} bytes"));
        assert_eq!(bytes.len(), len);
        assert_eq!(
            fx.count("GenerateRandom") - before,
            requests,
            "requests for {len} bytes"
        );
        if len >= 1024 {
            // 1,024 random bytes take well over 200 of the 256 values (all
            // but about 4 on average); zeros left by a short copy would not.
            let distinct: HashSet<u8> = bytes.iter().copied().collect();
            assert!(
                distinct.len() > 200,
                "{len} bytes hold only {} values",
                distinct.len()
            );
            // No part repeats another (a part copied twice, or left out).
            let parts: HashSet<&[u8]> = bytes.chunks(1024).collect();
            assert_eq!(parts.len(), len.div_ceil(1024));
        }
    }
    let a = ok(s.random(32), "C_GenerateRandom");
    let b = ok(s.random(32), "C_GenerateRandom");
    assert_ne!(a, b, "two answers of 32 bytes were the same");
}

#[test]
fn seeding_is_refused_and_bad_arguments_are_named() {
    let fx = fx();
    let s = fx.session();
    assert_eq!(s.seed_random(b"seed"), CKR_RANDOM_SEED_NOT_SUPPORTED);
    let null = unsafe { fx.m.list().C_GenerateRandom.unwrap()(s.h, std::ptr::null_mut(), 16) };
    assert_eq!(null, CKR_ARGUMENTS_BAD, "C_GenerateRandom into NULL");
    let mut buf = [0u8; 4];
    let bad = unsafe { fx.m.list().C_GenerateRandom.unwrap()(0xdead, buf.as_mut_ptr(), 4) };
    assert_eq!(bad, CKR_SESSION_HANDLE_INVALID);
    // A length past 1 MiB (1,024 KMS requests) is refused before anything
    // is allocated or sent, whatever the buffer: a caller's huge length
    // cannot exhaust memory or the account's quota. (The buffer is not
    // touched, so a small one stands for any.)
    for len in [1024 * 1024 + 1, 1 << 40, isize::MAX as u64] {
        let rv = unsafe {
            fx.m.list().C_GenerateRandom.unwrap()(s.h, buf.as_mut_ptr(), len as CK_ULONG)
        };
        assert_eq!(rv, CKR_ARGUMENTS_BAD, "C_GenerateRandom of {len} bytes");
    }
    assert_eq!(buf, [0; 4], "nothing was written");
}

fn a_role_without_generate_random_still_signs() {
    let fx = fx();
    let s = fx.session();
    fx.emu
        .set_faults(r#"{"deny": [{"operation": "GenerateRandom", "key": "*"}]}"#);
    let refused = s.random(16);
    fx.emu.set_faults("{}");
    assert_rv(
        refused,
        CKR_FUNCTION_FAILED,
        "C_GenerateRandom without kms:GenerateRandom",
    );
    // Signing is another permission: it works all along.
    fx.emu
        .set_faults(r#"{"deny": [{"operation": "GenerateRandom", "key": "*"}]}"#);
    let k = fx.key("alias/rng-p256");
    let key = fx.private(&s, "alias/rng-p256");
    let digest = [7u8; 32];
    let sig = s.sign_once(&Mech::new(CKM_ECDSA), key, &digest);
    fx.emu.set_faults("{}");
    let sig = ok(sig, "C_Sign while GenerateRandom is denied");
    let mut b = Batch::new();
    b.good(
        "ECDSA while GenerateRandom is denied",
        Kind::EcdsaPrehashed,
        None,
        &k.spki,
        &digest,
        &sig,
    );
    assert_eq!(b.run(), 1);
}
