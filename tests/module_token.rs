//! Slots, tokens, sessions and login: one slot per [[token]], token
//! information a client can rely on, RW sessions, and login that accepts any
//! PIN (KMS authorises with AWS credentials, not with a PIN).

mod common;

use common::*;

static SETUP: Setup = Setup {
    keys: &[
        key("alias/tok-a", "ECC_NIST_P256"),
        key("alias/tok-b", "ECC_NIST_P256"),
        key("alias/tok-login", "ECC_NIST_P256"),
        key("alias/tok-closeall", "ECC_NIST_P256"),
    ],
    config: Config::Tokens(tokens),
    aws_extra: "",
    emulator_args: &[],
};

/// Token labels, and the key of each.
const TOKENS: &[(&str, &str)] = &[
    (DEFAULT_TOKEN, "alias/tok-a"),
    ("kms11-second", "alias/tok-b"),
    // Used only by the login test: login state is per token.
    ("kms11-login", "alias/tok-login"),
    // Used only by the C_CloseAllSessions test.
    ("kms11-closeall", "alias/tok-closeall"),
];

fn tokens(_: &Keys) -> String {
    TOKENS
        .iter()
        .map(|(label, key)| {
            format!("[[token]]\nlabel = \"{label}\"\n[[token.key]]\nkey = \"{key}\"\n\n")
        })
        .collect()
}

fn fx() -> &'static Fixture {
    fixture(&SETUP)
}

#[test]
fn one_slot_per_token() {
    let fx = fx();
    let with_token = ok(fx.m.slots(true), "C_GetSlotList(CK_TRUE)");
    let all = ok(fx.m.slots(false), "C_GetSlotList(CK_FALSE)");
    assert_eq!(
        with_token.len(),
        TOKENS.len(),
        "slots with a token: {with_token:?}"
    );
    assert_eq!(all.len(), TOKENS.len(), "slots: {all:?}");
    let mut labels = Vec::new();
    for &slot in &with_token {
        let si = ok(fx.m.slot_info(slot), "C_GetSlotInfo");
        assert_ne!(
            si.flags & CKF_TOKEN_PRESENT,
            0,
            "slot {slot} has no CKF_TOKEN_PRESENT"
        );
        assert!(
            !text(&si.slotDescription).is_empty(),
            "slot {slot} has an empty description"
        );
        assert!(
            !text(&si.manufacturerID).is_empty(),
            "slot {slot} has an empty manufacturerID"
        );
        labels.push(text(&ok(fx.m.token_info(slot), "C_GetTokenInfo").label));
    }
    labels.sort();
    let mut want: Vec<String> = TOKENS.iter().map(|(l, _)| l.to_string()).collect();
    want.sort();
    assert_eq!(labels, want);

    let bogus = with_token.iter().max().unwrap() + 1000;
    assert_rv(
        fx.m.slot_info(bogus),
        CKR_SLOT_ID_INVALID,
        "C_GetSlotInfo of an unknown slot",
    );
    assert_rv(
        fx.m.token_info(bogus),
        CKR_SLOT_ID_INVALID,
        "C_GetTokenInfo of an unknown slot",
    );
}

#[test]
fn token_info() {
    let fx = fx();
    let mut serials = Vec::new();
    for (label, _) in TOKENS {
        let slot = fx.slot(label);
        let ti = ok(fx.m.token_info(slot), "C_GetTokenInfo");
        assert_eq!(text(&ti.label), *label);
        assert_eq!(
            text(&ti.manufacturerID),
            "kms11",
            "manufacturerID of {label}"
        );
        assert_eq!(text(&ti.model), "AWS KMS", "model of {label}");
        let serial = text(&ti.serialNumber);
        assert!(
            !serial.is_empty(),
            "token {label} has an empty serial number"
        );
        assert!(
            serial.bytes().all(|b| b.is_ascii_graphic()),
            "serial {serial:?} of {label} is not printable ASCII"
        );
        assert_eq!(
            ti.flags & CKF_LOGIN_REQUIRED,
            0,
            "{label}: CKF_LOGIN_REQUIRED is set"
        );
        assert_eq!(
            ti.flags & CKF_WRITE_PROTECTED,
            0,
            "{label}: CKF_WRITE_PROTECTED is set"
        );
        // Initialised "by an equivalent mechanism outside the scope of the
        // standard" (the configuration); clients skip uninitialised tokens.
        assert_ne!(
            ti.flags & CKF_TOKEN_INITIALIZED,
            0,
            "{label}: CKF_TOKEN_INITIALIZED is not set"
        );
        assert!(
            ti.ulMinPinLen <= ti.ulMaxPinLen,
            "{label}: ulMinPinLen {} > ulMaxPinLen {}",
            ti.ulMinPinLen,
            ti.ulMaxPinLen
        );
        serials.push(serial);
    }
    let mut unique = serials.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(
        unique.len(),
        serials.len(),
        "tokens with different labels share a serial number: {serials:?}"
    );
}

fn serials(fx: &Fixture) -> Vec<(String, String)> {
    TOKENS
        .iter()
        .map(|(label, _)| {
            let ti = ok(fx.m.token_info(fx.slot(label)), "C_GetTokenInfo");
            (label.to_string(), text(&ti.serialNumber))
        })
        .collect()
}

/// The serial number is derived from the label, so a second process (with
/// its own emulator, and so other keys) sees the same serials: clients such
/// as gnupg-pkcs11-scd derive identities from it.
#[test]
fn serial_number_is_the_same_in_another_process() {
    let fx = fx();
    let mine = serials(fx);
    let exe = std::env::current_exe().unwrap();
    let out = std::process::Command::new("timeout")
        .arg("300")
        .arg(exe)
        .args([
            "--exact",
            "print_serials_for_parent",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .output()
        .expect("run the child test process");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let theirs: Vec<(String, String)> = stdout
        .lines()
        // The harness may print "test ... " on the same line first.
        .filter_map(|l| l.find("SERIAL\t").map(|at| &l[at + "SERIAL\t".len()..]))
        .map(|l| {
            let (a, b) = l.split_once('\t').expect("SERIAL line");
            (a.to_string(), b.to_string())
        })
        .collect();
    assert!(
        out.status.success() && theirs.len() == mine.len(),
        "child process ({}) printed {theirs:?}\nstdout:\n{stdout}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(theirs, mine, "serial numbers differ between two processes");
}

#[test]
#[ignore = "run in a child process by serial_number_is_the_same_in_another_process"]
fn print_serials_for_parent() {
    for (label, serial) in serials(fx()) {
        println!("SERIAL\t{label}\t{serial}");
    }
}

#[test]
fn sessions() {
    let fx = fx();
    let slot = fx.slot(DEFAULT_TOKEN);
    let rw = ok(fx.m.open_rw(slot), "C_OpenSession(RW)");
    let info = ok(rw.info(), "C_GetSessionInfo");
    assert_eq!(info.slotID, slot);
    assert_eq!(
        info.state, CKS_RW_PUBLIC_SESSION,
        "state of a new RW session"
    );
    assert_eq!(
        info.flags & (CKF_RW_SESSION | CKF_SERIAL_SESSION),
        CKF_RW_SESSION | CKF_SERIAL_SESSION
    );

    let ro = ok(fx.m.open(slot, CKF_SERIAL_SESSION), "C_OpenSession(RO)");
    let info = ok(ro.info(), "C_GetSessionInfo");
    assert_eq!(
        info.state, CKS_RO_PUBLIC_SESSION,
        "state of a new RO session"
    );
    assert_eq!(info.flags & CKF_RW_SESSION, 0);
    assert_ne!(rw.h, ro.h, "two sessions share a handle");

    assert_rv(
        fx.m.open(slot, CKF_RW_SESSION),
        CKR_SESSION_PARALLEL_NOT_SUPPORTED,
        "C_OpenSession without CKF_SERIAL_SESSION",
    );
    let slots = ok(fx.m.slots(false), "C_GetSlotList");
    let bogus = slots.iter().max().unwrap() + 1000;
    assert_rv(
        fx.m.open_rw(bogus),
        CKR_SLOT_ID_INVALID,
        "C_OpenSession on an unknown slot",
    );

    let h = ro.h;
    drop(ro);
    let closed = Session { m: &fx.m, h };
    assert_rv(
        closed.info(),
        CKR_SESSION_HANDLE_INVALID,
        "C_GetSessionInfo of a closed session",
    );
    std::mem::forget(closed);

    // Keys are usable without login: CKF_LOGIN_REQUIRED is off and the
    // objects are public (CKA_PRIVATE false).
    let found = ok(
        rw.find(&Template::new().class(CKO_PRIVATE_KEY)),
        "C_FindObjects before login",
    );
    assert_eq!(
        found.len(),
        1,
        "private keys of {DEFAULT_TOKEN} before login"
    );
}

#[test]
fn login_accepts_any_pin_once() {
    let fx = fx();
    let slot = fx.slot("kms11-login");
    let s1 = ok(fx.m.open_rw(slot), "C_OpenSession");
    ok(
        s1.login(CKU_USER, b"any PIN at all"),
        "C_Login(CKU_USER, any PIN)",
    );
    assert_eq!(
        ok(s1.info(), "C_GetSessionInfo").state,
        CKS_RW_USER_FUNCTIONS,
        "state after C_Login"
    );
    assert_rv(
        s1.login(CKU_USER, b"any PIN at all"),
        CKR_USER_ALREADY_LOGGED_IN,
        "second C_Login in the same session",
    );

    // Login is per token: a new session is logged in too, and cannot log in again.
    let s2 = ok(fx.m.open_rw(slot), "C_OpenSession");
    assert_eq!(
        ok(s2.info(), "C_GetSessionInfo").state,
        CKS_RW_USER_FUNCTIONS,
        "state of a session opened after C_Login"
    );
    assert_rv(
        s2.login(CKU_USER, b"1234"),
        CKR_USER_ALREADY_LOGGED_IN,
        "C_Login in a second session",
    );

    // The keys are the same logged in or not.
    let found = ok(
        s2.find(&Template::new().class(CKO_PRIVATE_KEY)),
        "C_FindObjects after login",
    );
    assert_eq!(found.len(), 1);

    ok(s2.logout(), "C_Logout");
    assert_eq!(
        ok(s1.info(), "C_GetSessionInfo").state,
        CKS_RW_PUBLIC_SESSION,
        "state after C_Logout"
    );
    assert_rv(
        s1.logout(),
        CKR_USER_NOT_LOGGED_IN,
        "C_Logout when not logged in",
    );
    ok(s1.login(CKU_USER, b""), "C_Login with an empty PIN");
    assert_rv(
        s1.login(7, b"x"),
        CKR_USER_TYPE_INVALID,
        "C_Login with user type 7",
    );
    ok(s1.logout(), "C_Logout");
}

#[test]
fn close_all_sessions() {
    let fx = fx();
    let slot = fx.slot("kms11-closeall");
    let other = ok(
        fx.m.open_rw(fx.slot("kms11-second")),
        "C_OpenSession on another token",
    );
    let sessions: Vec<Session> = (0..3)
        .map(|_| ok(fx.m.open_rw(slot), "C_OpenSession"))
        .collect();
    ok(sessions[0].login(CKU_USER, b"pin"), "C_Login");
    let rv = fx.m.close_all_sessions(slot);
    assert_eq!(rv, CKR_OK, "C_CloseAllSessions: {}", rv_name(rv));
    for s in &sessions {
        assert_rv(
            s.info(),
            CKR_SESSION_HANDLE_INVALID,
            "C_GetSessionInfo after C_CloseAllSessions",
        );
    }
    // Closing the last session of a token logs it out.
    let fresh = ok(fx.m.open_rw(slot), "C_OpenSession after C_CloseAllSessions");
    assert_eq!(
        ok(fresh.info(), "C_GetSessionInfo").state,
        CKS_RW_PUBLIC_SESSION,
        "a token is logged out once all its sessions are closed"
    );
    // Sessions of other tokens are untouched.
    ok(
        other.info(),
        "C_GetSessionInfo of a session on another token",
    );
    for s in sessions {
        std::mem::forget(s);
    }
}
