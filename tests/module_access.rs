//! A token with a PIN (pin_hash, an argon2id PHC string): the token says
//! CKF_LOGIN_REQUIRED, its private keys are CKA_PRIVATE and invisible before
//! C_Login, signing without login is CKR_USER_NOT_LOGGED_IN, a wrong PIN is
//! CKR_PIN_INCORRECT and changes nothing, the right PIN makes signing work
//! (signatures verified by pyca/cryptography), and C_Logout hides the keys
//! again. A token without a PIN in the same configuration is unaffected.

mod common;

use common::verify::{Batch, Kind};
use common::*;
use std::sync::OnceLock;

const PIN: &[u8] = b"correct horse 1234";

static SETUP: Setup = Setup {
    keys: &[
        key("alias/pin-ec", "ECC_NIST_P256"),
        key("alias/pin-rsa", "RSA_2048"),
        key("alias/open-ec", "ECC_NIST_P256"),
    ],
    config: Config::Tokens(tokens),
    aws_extra: "",
    emulator_args: &[],
};

/// An argon2id PHC string for PIN, with the least parameters the module
/// accepts (19 MiB, 2 passes: OWASP's minimum); the module takes the
/// parameters from the string, as it does for `kms11 pin-hash`'s.
fn pin_hash() -> &'static str {
    use argon2::password_hash::PasswordHasher;
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| {
        let params = argon2::Params::new(19456, 2, 1, None).expect("argon2 parameters");
        argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
            .hash_password(PIN)
            .expect("hash the test PIN")
            .to_string()
    })
}

fn tokens(_: &Keys) -> String {
    format!(
        "[[token]]\nlabel = \"{DEFAULT_TOKEN}\"\npin_hash = \"{}\"\n\
         [[token.key]]\nkey = \"alias/pin-ec\"\nid = \"01\"\n\
         [[token.key]]\nkey = \"alias/pin-rsa\"\nid = \"02\"\n\
         [[token]]\nlabel = \"open\"\n[[token.key]]\nkey = \"alias/open-ec\"\nid = \"03\"\n",
        pin_hash()
    )
}

fn fx() -> &'static Fixture {
    fixture(&SETUP)
}

fn privates(s: &Session) -> Vec<CK_OBJECT_HANDLE> {
    ok(
        s.find(&Template::new().class(CKO_PRIVATE_KEY)),
        "C_FindObjects(private keys)",
    )
}

#[test]
fn a_pin_token_needs_login_to_sign() {
    let _serial = serial();
    let fx = fx();
    let slot = fx.slot(DEFAULT_TOKEN);
    let info = ok(fx.m.token_info(slot), "C_GetTokenInfo");
    assert_ne!(info.flags & CKF_LOGIN_REQUIRED, 0, "CKF_LOGIN_REQUIRED");
    assert_ne!(info.flags & CKF_USER_PIN_INITIALIZED, 0);

    let s = fx.session();
    // Before login: public keys only.
    assert!(
        privates(&s).is_empty(),
        "private keys visible before C_Login"
    );
    let publics = ok(
        s.find(&Template::new().class(CKO_PUBLIC_KEY)),
        "C_FindObjects(public keys)",
    );
    assert_eq!(publics.len(), 2);
    for p in &publics {
        assert!(!ok(
            s.attr_bool(*p, CKA_PRIVATE),
            "CKA_PRIVATE of a public key"
        ));
    }

    // A wrong PIN: refused, and still logged out.
    for wrong in [&b"1234"[..], b"", b"correct horse 12345"] {
        assert_rv(
            s.login(CKU_USER, wrong),
            CKR_PIN_INCORRECT,
            "C_Login with a wrong PIN",
        );
    }
    let state = ok(s.info(), "C_GetSessionInfo").state;
    assert_eq!(state, CKS_RW_PUBLIC_SESSION);
    assert!(privates(&s).is_empty());

    ok(s.login(CKU_USER, PIN), "C_Login with the PIN");
    assert_eq!(
        ok(s.info(), "C_GetSessionInfo").state,
        CKS_RW_USER_FUNCTIONS
    );
    let keys = privates(&s);
    assert_eq!(keys.len(), 2, "private keys after C_Login");
    for k in &keys {
        assert!(ok(
            s.attr_bool(*k, CKA_PRIVATE),
            "CKA_PRIVATE of a private key"
        ));
    }
    let by_id = |id: u8| {
        let found = ok(
            s.find(&Template::new().class(CKO_PRIVATE_KEY).id(&[id])),
            "C_FindObjects(id)",
        );
        assert_eq!(found.len(), 1, "private keys with CKA_ID {id:02x}");
        found[0]
    };
    let (ec, rsa) = (by_id(1), by_id(2));

    let mut b = Batch::new();
    for (name, key, mech, kind) in [
        ("alias/pin-ec", ec, CKM_ECDSA_SHA256, Kind::Ecdsa),
        ("alias/pin-rsa", rsa, CKM_SHA256_RSA_PKCS, Kind::RsaPkcs1),
    ] {
        let data = format!("signed after login with {name}");
        ok(s.sign_init(&Mech::new(mech), key), "C_SignInit");
        let sig = ok(s.sign(data.as_bytes()), "C_Sign");
        b.good(
            name,
            kind,
            Some("sha256"),
            &fx.key(name).spki,
            data.as_bytes(),
            &sig,
        );
    }
    assert_eq!(b.run(), 2);

    // An operation started while logged in does not outlive the login.
    ok(s.sign_init(&Mech::new(CKM_ECDSA_SHA256), ec), "C_SignInit");
    ok(s.logout(), "C_Logout");
    let before = fx.count("Sign");
    assert_rv(
        s.sign(b"after logout"),
        CKR_USER_NOT_LOGGED_IN,
        "C_Sign after C_Logout",
    );
    // A handle the application kept: signing is refused, nothing is sent.
    assert_rv(
        s.sign_init(&Mech::new(CKM_ECDSA_SHA256), ec),
        CKR_USER_NOT_LOGGED_IN,
        "C_SignInit without login",
    );
    assert_rv(
        s.attr(ec, CKA_LABEL),
        CKR_OBJECT_HANDLE_INVALID,
        "C_GetAttributeValue on a private key without login",
    );
    assert_eq!(
        fx.count("Sign"),
        before,
        "a KMS Sign was made without login"
    );
    assert!(
        privates(&s).is_empty(),
        "private keys visible after C_Logout"
    );
}

#[test]
fn a_token_without_pin_is_unaffected() {
    let _serial = serial();
    let fx = fx();
    let slot = fx.slot("open");
    let info = ok(fx.m.token_info(slot), "C_GetTokenInfo");
    assert_eq!(info.flags & CKF_LOGIN_REQUIRED, 0);
    let s = ok(fx.m.open_rw(slot), "C_OpenSession");
    let keys = privates(&s);
    assert_eq!(keys.len(), 1);
    assert!(!ok(s.attr_bool(keys[0], CKA_PRIVATE), "CKA_PRIVATE"));
    ok(
        s.sign_init(&Mech::new(CKM_ECDSA_SHA256), keys[0]),
        "C_SignInit",
    );
    let sig = ok(s.sign(b"no pin"), "C_Sign");
    let mut b = Batch::new();
    b.good(
        "open token",
        Kind::Ecdsa,
        Some("sha256"),
        &fx.key("alias/open-ec").spki,
        b"no pin",
        &sig,
    );
    b.run();
    // Any PIN is accepted where none is configured (KMS authorises with
    // AWS credentials).
    ok(
        s.login(CKU_USER, b"anything"),
        "C_Login on a token without PIN",
    );
    ok(s.logout(), "C_Logout");
}

#[test]
fn wrong_pins_slow_down_without_holding_up_other_sessions() {
    let _serial = serial();
    let fx = fx();
    let slot = fx.slot(DEFAULT_TOKEN);
    let s = ok(fx.m.open_rw(slot), "C_OpenSession");
    let other = ok(fx.m.open_rw(slot), "C_OpenSession (another session)");
    // The right PIN ends any run of wrong ones.
    ok(s.login(CKU_USER, PIN), "C_Login with the PIN");
    ok(s.logout(), "C_Logout");
    // Three mistakes are free.
    for _ in 0..3 {
        assert_rv(s.login(CKU_USER, b"000000"), CKR_PIN_INCORRECT, "C_Login");
    }
    // The fourth waits 250 ms, the fifth 500 ms; meanwhile the token's
    // other session is answered (no lock is held while waiting).
    for (nth, at_least) in [(4, 250), (5, 500)] {
        let started = std::time::Instant::now();
        let (rv, other_done) = std::thread::scope(|scope| {
            let login = scope.spawn(|| {
                let rv = s.login(CKU_USER, b"000000");
                (rv, std::time::Instant::now())
            });
            std::thread::sleep(std::time::Duration::from_millis(50));
            ok(other.info(), "C_GetSessionInfo during a delayed C_Login");
            let publics = ok(
                other.find(&Template::new().class(CKO_PUBLIC_KEY)),
                "C_FindObjects during a delayed C_Login",
            );
            assert_eq!(publics.len(), 2);
            let other_done = std::time::Instant::now();
            let (rv, login_done) = login.join().unwrap();
            assert!(
                other_done < login_done,
                "the other session waited for wrong PIN number {nth}"
            );
            (rv, other_done)
        });
        let took = started.elapsed();
        assert_rv(rv, CKR_PIN_INCORRECT, "C_Login with a wrong PIN");
        assert!(
            took >= std::time::Duration::from_millis(at_least),
            "wrong PIN number {nth} was answered after {took:?}, not {at_least} ms"
        );
        assert!(other_done.duration_since(started) < took);
    }
    // Two wrong PINs at once (the 6th and 7th) queue one delay (1 s) apart
    // instead of waiting side by side: the later is answered after 2 s.
    let started = std::time::Instant::now();
    let other_session = ok(fx.m.open_rw(slot), "C_OpenSession (a third session)");
    std::thread::scope(|scope| {
        let a = scope.spawn(|| s.login(CKU_USER, b"000000"));
        let b = scope.spawn(|| other_session.login(CKU_USER, b"000000"));
        assert_rv(a.join().unwrap(), CKR_PIN_INCORRECT, "C_Login (concurrent)");
        assert_rv(b.join().unwrap(), CKR_PIN_INCORRECT, "C_Login (concurrent)");
    });
    let took = started.elapsed();
    assert!(
        took >= std::time::Duration::from_millis(2000),
        "two concurrent wrong PINs were answered within {took:?}, not one delay apart"
    );
    drop(other_session);
    // The right PIN still works (after its own wait), and resets the count.
    ok(
        s.login(CKU_USER, PIN),
        "C_Login with the PIN after wrong ones",
    );
    ok(s.logout(), "C_Logout");
    drop(other);
}
