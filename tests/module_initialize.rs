//! C_Initialize's arguments as PKCS#11 defines them, the configuration path
//! in pReserved (and, there, pointers that are not a path: refused, never a
//! fault), a bad configuration refused with nothing initialised, no
//! thread started by C_Initialize, and many initialize / KMS call / finalize
//! cycles with no growth in threads.
//!
//! One test: these all initialise the same process-wide module in turn.

mod common;

use common::guarded::Guarded;
use common::*;
use std::ffi::{c_void, CString};
use std::ptr;

extern "C" fn create_mutex(_: *mut *mut c_void) -> CK_RV {
    CKR_OK
}
extern "C" fn mutex_op(_: *mut c_void) -> CK_RV {
    CKR_OK
}

fn args(flags: CK_FLAGS, mutexes: bool, reserved: *mut c_void) -> CK_C_INITIALIZE_ARGS {
    CK_C_INITIALIZE_ARGS {
        CreateMutex: mutexes.then_some(create_mutex as _),
        DestroyMutex: mutexes.then_some(mutex_op as _),
        LockMutex: mutexes.then_some(mutex_op as _),
        UnlockMutex: mutexes.then_some(mutex_op as _),
        flags,
        pReserved: reserved,
    }
}

fn threads() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("Threads:")).unwrap();
    line[8..].trim().parse().unwrap()
}

#[test]
fn initialize_arguments_configuration_and_cycles() {
    set_aws_env("http://127.0.0.1:9");
    std::env::remove_var("KMS11_KEYS");
    let dir = tmp_dir();
    let env_conf = dir.join("env.toml");
    // A closed port: the first KMS call starts the runtime and fails at once.
    write(
        &env_conf,
        "[aws]\nendpoint_url = \"http://127.0.0.1:9\"\nmax_attempts = 1\n\
         [[token]]\nlabel = \"from-env\"\n[[token.key]]\nkey = \"alias/unreachable\"\n",
    );
    std::env::set_var("KMS11_CONFIG", &env_conf);
    let m = Library::load(&build::module_path());
    let f = m.list();
    let init = |a: Option<&mut CK_C_INITIALIZE_ARGS>| -> CK_RV {
        let p = a.map_or(ptr::null_mut(), |a| {
            a as *mut CK_C_INITIALIZE_ARGS as *mut c_void
        });
        // SAFETY: the test's own arguments, alive for the call.
        unsafe { f.C_Initialize.unwrap()(p) }
    };
    // SAFETY: plain calls of the module's function list.
    let finalize = || unsafe { f.C_Finalize.unwrap()(ptr::null_mut()) };
    let not_initialised = || {
        let mut n: CK_ULONG = 0;
        // SAFETY: as above.
        let rv = unsafe { f.C_GetSlotList.unwrap()(CK_FALSE, ptr::null_mut(), &mut n) };
        assert_eq!(
            rv,
            CKR_CRYPTOKI_NOT_INITIALIZED,
            "C_GetSlotList: {}",
            rv_name(rv)
        );
    };
    let first_label = || {
        let slots = ok(m.slots(false), "C_GetSlotList");
        text(&ok(m.token_info(slots[0]), "C_GetTokenInfo").label)
    };

    // The application's mutexes without CKF_OS_LOCKING_OK: kms11 cannot use them.
    assert_eq!(
        init(Some(&mut args(0, true, ptr::null_mut()))),
        CKR_CANT_LOCK
    );
    not_initialised();
    // Some mutex functions but not all: bad arguments.
    let mut partial = args(CKF_OS_LOCKING_OK, true, ptr::null_mut());
    partial.UnlockMutex = None;
    assert_eq!(init(Some(&mut partial)), CKR_ARGUMENTS_BAD);
    // GnuTLS always says the library may not create threads; kms11 accepts
    // that and starts none in C_Initialize (its KMS threads start at the
    // first KMS call).
    let before = threads();
    let flags = CKF_LIBRARY_CANT_CREATE_OS_THREADS | CKF_OS_LOCKING_OK;
    assert_eq!(init(Some(&mut args(flags, false, ptr::null_mut()))), CKR_OK);
    assert_eq!(threads(), before, "threads started by C_Initialize");
    assert_eq!(finalize(), CKR_OK);
    not_initialised();
    // Mutexes offered, but OS locking allowed: fine.
    assert_eq!(
        init(Some(&mut args(CKF_OS_LOCKING_OK, true, ptr::null_mut()))),
        CKR_OK
    );
    assert_eq!(first_label(), "from-env", "KMS11_CONFIG is read");
    assert_eq!(finalize(), CKR_OK);

    // pReserved names the configuration file, ahead of KMS11_CONFIG.
    let reserved_conf = dir.join("reserved.toml");
    write(&reserved_conf, "[[token]]\nlabel = \"from-preserved\"\n");
    let path = CString::new(reserved_conf.to_str().unwrap()).unwrap();
    assert_eq!(
        init(Some(&mut args(
            CKF_OS_LOCKING_OK,
            false,
            path.as_ptr() as *mut c_void
        ))),
        CKR_OK
    );
    assert_eq!(first_label(), "from-preserved");
    assert_eq!(finalize(), CKR_OK);

    // pReserved that is not a readable path of at most PATH_MAX bytes: a
    // conformance suite's (void*)1, the first byte of an inaccessible page,
    // 5000 bytes running into one with no NUL, and 5000 readable bytes then
    // a NUL. Each is CKR_ARGUMENTS_BAD, nothing is initialised, and nothing
    // faults (the guarded memory would).
    let guard_page = Guarded::new(0, 0);
    let no_nul = Guarded::new(5000, b'a');
    let mut too_long = vec![b'a'; 5000];
    too_long.push(0);
    for (what, p) in [
        ("(void*)1", 1usize),
        ("an inaccessible page", guard_page.addr()),
        ("5000 bytes and no NUL", no_nul.addr()),
        ("a 5000-byte string", too_long.as_ptr() as usize),
    ] {
        let rv = init(Some(&mut args(CKF_OS_LOCKING_OK, false, p as *mut c_void)));
        assert_eq!(rv, CKR_ARGUMENTS_BAD, "pReserved {what}: {}", rv_name(rv));
        not_initialised();
    }
    // A path that ends (with its NUL) right where an inaccessible page
    // begins is read whole, and nothing past it.
    let at_the_edge = Guarded::from(path.as_bytes_with_nul());
    assert_eq!(
        init(Some(&mut args(
            CKF_OS_LOCKING_OK,
            false,
            at_the_edge.addr() as *mut c_void
        ))),
        CKR_OK
    );
    assert_eq!(first_label(), "from-preserved");
    assert_eq!(finalize(), CKR_OK);

    // A bad file is refused, and nothing is initialised.
    let bad = dir.join("bad.toml");
    write(&bad, "[aws]\nregoin = \"us-east-1\"\n");
    std::env::set_var("KMS11_CONFIG", &bad);
    assert_eq!(init(None), CKR_GENERAL_ERROR);
    not_initialised();
    std::env::set_var("KMS11_CONFIG", &env_conf);

    // Many cycles leave no threads behind.
    assert_eq!(init(None), CKR_OK);
    assert_eq!(finalize(), CKR_OK);
    let before = threads();
    for round in 0..200 {
        assert_eq!(init(None), CKR_OK, "C_Initialize, round {round}");
        let slot = ok(m.slots(false), "C_GetSlotList")[0];
        // Resolving the token's key starts the KMS runtime; the port is closed.
        match m.open(slot, CKF_SERIAL_SESSION) {
            Err(rv) => assert_eq!(rv, CKR_DEVICE_ERROR, "C_OpenSession, round {round}"),
            Ok(_) => panic!("C_OpenSession reached a KMS on a closed port"),
        }
        assert_eq!(finalize(), CKR_OK, "C_Finalize, round {round}");
    }
    assert_eq!(
        threads(),
        before,
        "threads after 200 initialize/KMS call/finalize cycles"
    );
}
