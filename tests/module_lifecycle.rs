//! The module's life in a process: many initialise/finalise cycles, and the
//! endings PKCS #11 leaves undefined.
//!
//! Proves (each in a helper process, the test binary's own #[ignore]d test,
//! so that it owns the module's one state and its memory is its own):
//! - 1,000 C_Initialize/C_Finalize cycles with no KMS call, then 100 that
//!   each sign once (each starts and stops the KMS runtime), leave the
//!   process with at most 2 KiB more in use (glibc's mallinfo2: in-use heap
//!   plus mmapped chunks, counting the module's allocations, which use the
//!   same malloc; glibc's per-thread cache off so that the count is exact),
//!   and the same number of threads and open files as before (measured
//!   after warm-up cycles); every signature verifies with pyca/cryptography;
//! - C_Finalize from an atexit handler (what OpenSSL's cleanup does through
//!   pkcs11-provider or libp11), with the runtime idle and with 8 threads
//!   inside C_Sign, ends the process with status 0, within a bound;
//! - C_Finalize while 12 threads are inside C_Sign and 4 more are searching
//!   and reading attributes: it returns CKR_OK, every thread's call returns
//!   (those in flight may finish; any signature they return verifies) and
//!   the next call of each is CKR_CRYPTOKI_NOT_INITIALIZED; no crash, no
//!   hang; then the process initialises again and signs;
//! - dlclose without C_Finalize while the runtime's threads exist leaves the
//!   library resident (dlopen RTLD_NOLOAD finds it), the process keeps
//!   running, a new dlopen finds the same initialised module and signs;
//!   after C_Finalize, dlclose and dlopen (a new copy, if the library was
//!   unloaded) it initialises and signs again; the process exits, with that
//!   module still initialised, with status 0. All calls are made on threads
//!   that end before each dlclose, so only the module's own threads (or its
//!   link flags) keep it loaded.

mod common;

use common::process::{backtrace, kms11_threads};
use common::util::{hex, unhex, Rng};
use common::verify::{Batch, Kind};
use common::*;
use std::collections::BTreeMap;
use std::ffi::{c_char, c_int, c_void, CString};
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

static SETUP: Setup = Setup {
    keys: &[
        key("alias/life-ec", "ECC_NIST_P256"),
        key("alias/life-rsa", "RSA_2048"),
    ],
    config: Config::OneToken,
    aws_extra: "",
    emulator_args: &[],
};

fn fx() -> &'static Fixture {
    fixture(&SETUP)
}

const PLAIN_CYCLES: usize = 1000;
const SIGN_CYCLES: usize = 100;
/// Bytes in use that 1,000 cycles may add: 2 bytes a cycle. Measured with
/// glibc's per-thread cache off (GLIBC_TUNABLES=glibc.malloc.tcache_count=0):
/// freed chunks held in a thread's cache count as in use, and their number
/// drifts by tens of KiB; without it the count is exact (+0 for 1,000
/// cycles, +16 bytes for 2,000 signing cycles on the development machine).
const PLAIN_GROWTH_MAX: i64 = 2048;
/// Bytes in use that 100 signing cycles may add: 20 bytes a cycle, far less
/// than any leaked runtime, SDK client, connection or module state.
const SIGN_GROWTH_MAX: i64 = 2048;

extern "C" {
    fn mallinfo2() -> Mallinfo2;
    fn atexit(cb: extern "C" fn()) -> c_int;
    fn write(fd: c_int, buf: *const c_void, n: usize) -> isize;
    fn dlopen(path: *const c_char, flags: c_int) -> *mut c_void;
    fn dlclose(handle: *mut c_void) -> c_int;
}
const RTLD_NOW: c_int = 2;
const RTLD_NOLOAD: c_int = 4;

/// glibc's struct mallinfo2.
#[repr(C)]
struct Mallinfo2 {
    arena: usize,
    ordblks: usize,
    smblks: usize,
    hblks: usize,
    hblkhd: usize,
    usmblks: usize,
    fsmblks: usize,
    uordblks: usize,
    fordblks: usize,
    keepcost: usize,
}

/// Bytes allocated and not freed: in the heaps, and in mmapped chunks.
fn bytes_in_use() -> i64 {
    // SAFETY: mallinfo2 has no preconditions.
    let m = unsafe { mallinfo2() };
    (m.uordblks + m.hblkhd) as i64
}

fn threads() -> usize {
    std::fs::read_dir("/proc/self/task").unwrap().count()
}

fn open_files() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// The keys and mechanisms the helpers sign with.
const ALGOS: &[(&str, CK_MECHANISM_TYPE, Kind, &str)] = &[
    ("alias/life-ec", CKM_ECDSA_SHA256, Kind::Ecdsa, "sha256"),
    (
        "alias/life-rsa",
        CKM_SHA256_RSA_PKCS,
        Kind::RsaPkcs1,
        "sha256",
    ),
];

fn label(i: usize) -> &'static str {
    ALGOS[i].0.trim_start_matches("alias/")
}

/// Finds algorithm `i`'s private key in `s` and signs `data`.
fn sign(s: &Session, i: usize, data: &[u8]) -> Result<Vec<u8>, Rv> {
    let keys = s.find(&Template::new().class(CKO_PRIVATE_KEY).label(label(i)))?;
    assert_eq!(keys.len(), 1, "private keys labelled {}", label(i));
    s.sign_once(&Mech::new(ALGOS[i].1), keys[0], data)
}

/// The line a helper prints for a signature, for the parent to verify.
fn sig_line(who: &str, i: usize, data: &[u8], sig: &[u8]) -> String {
    format!("SIG\t{who}\t{i}\t{}\t{}", hex(data), hex(sig))
}

const HELPER_ENV: &str = "KMS11_TEST_LIFECYCLE_TOKEN";

impl HelperRun {
    /// The helper's `KEY\tvalue` lines.
    fn values(&self, key: &str) -> Vec<&str> {
        // (Each helper starts its output with a newline, after libtest's
        // "test NAME ... ".)
        self.stdout
            .lines()
            .filter_map(|l| l.strip_prefix(key).and_then(|r| r.strip_prefix('\t')))
            .collect()
    }
    fn value(&self, key: &str) -> &str {
        self.values(key).first().copied().unwrap_or_else(|| {
            panic!(
                "the helper printed no {key}\nstdout:\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        })
    }
    /// Verifies every signature the helper printed; returns how many per signer.
    fn verify(&self, fx: &Fixture) -> BTreeMap<String, usize> {
        let mut b = Batch::new();
        let mut per = BTreeMap::new();
        for l in self.values("SIG") {
            let f: Vec<&str> = l.split('\t').collect();
            assert_eq!(f.len(), 4, "SIG line {l:?}");
            let i: usize = f[1].parse().unwrap();
            let (key, ckm, kind, hash) = ALGOS[i];
            *per.entry(f[0].to_string()).or_insert(0) += 1;
            b.good(
                format!("{} {} {}", f[0], label(i), mech_name(ckm)),
                kind,
                Some(hash),
                &fx.key(key).spki,
                &unhex(f[2]),
                &unhex(f[3]),
            );
        }
        if !b.is_empty() {
            b.run();
        }
        per
    }
}

/// Runs the #[ignore]d helper test `name` in a new process of this binary,
/// with the fixture's token.
fn run_helper(name: &str, env: &[(&str, &str)], limit: Duration) -> HelperRun {
    let mut all = vec![(HELPER_ENV, fx().token.to_string())];
    all.extend(env.iter().map(|(k, v)| (*k, v.to_string())));
    let run = process::run_helper(name, &all, limit);
    HelperRun {
        stdout: run.stdout,
        stderr: run.stderr,
        took: run.took,
    }
}

struct HelperRun {
    stdout: String,
    stderr: String,
    took: Duration,
}

/// The helper's module, loaded and with its function list at hand.
fn helper_module() -> Option<(Library, String)> {
    let token = std::env::var(HELPER_ENV).ok()?;
    Some((Library::load(&build::module_path()), token))
}

fn initialize(m: &Library) -> CK_RV {
    // SAFETY: C_Initialize(NULL): no arguments to keep alive.
    unsafe { m.list().C_Initialize.unwrap()(ptr::null_mut()) }
}

fn finalize(m: &Library) -> CK_RV {
    // SAFETY: C_Finalize(NULL).
    unsafe { m.list().C_Finalize.unwrap()(ptr::null_mut()) }
}

#[track_caller]
fn expect_rv(rv: CK_RV, want: CK_RV, what: &str) {
    assert_eq!(
        rv,
        want,
        "{what}: {}, expected {}",
        rv_name(rv),
        rv_name(want)
    );
}

// ---- 1,000 + 100 cycles ----

#[test]
fn initialize_finalize_cycles_do_not_grow() {
    let _serial = serial();
    let fx = fx();
    let run = run_helper(
        "helper_cycles",
        &[("GLIBC_TUNABLES", "glibc.malloc.tcache_count=0")],
        Duration::from_secs(120),
    );
    let measure = |at: &str| -> (i64, i64, i64) {
        let v: Vec<i64> = run
            .value(&format!("MEASURE {at}"))
            .split('\t')
            .map(|x| x.parse().unwrap())
            .collect();
        (v[0], v[1], v[2])
    };
    let (bytes0, threads0, files0) = measure("before");
    let (bytes1, threads1, files1) = measure("after-plain");
    let (bytes2, threads2, files2) = measure("after-sign");
    let signed = run.verify(fx);
    eprintln!(
        "initialize_finalize_cycles_do_not_grow: bytes in use {bytes0} -> {bytes1} after \
         {PLAIN_CYCLES} cycles ({:+}) -> {bytes2} after {SIGN_CYCLES} signing cycles ({:+}); \
         threads {threads0} -> {threads1} -> {threads2}; open files {files0} -> {files1} -> \
         {files2}; {} signatures verified; helper {:?}",
        bytes1 - bytes0,
        bytes2 - bytes1,
        signed.values().sum::<usize>(),
        run.took
    );
    assert_eq!(signed.get("cycle"), Some(&SIGN_CYCLES));
    assert!(
        bytes1 - bytes0 <= PLAIN_GROWTH_MAX,
        "{PLAIN_CYCLES} initialize/finalize cycles added {} bytes in use ({bytes0} -> {bytes1})",
        bytes1 - bytes0
    );
    assert!(
        bytes2 - bytes1 <= SIGN_GROWTH_MAX,
        "{SIGN_CYCLES} initialize/sign/finalize cycles added {} bytes in use ({bytes1} -> {bytes2})",
        bytes2 - bytes1
    );
    assert_eq!(
        (threads1, threads2),
        (threads0, threads0),
        "threads before, after the plain cycles, after the signing cycles"
    );
    assert_eq!(
        (files1, files2),
        (files0, files0),
        "open files before, after the plain cycles, after the signing cycles"
    );
}

#[test]
#[ignore = "run in a child process by initialize_finalize_cycles_do_not_grow"]
fn helper_cycles() {
    let Some((m, token)) = helper_module() else {
        return;
    };
    let mut rng = Rng::new();
    let plain = |round: usize| {
        expect_rv(
            initialize(&m),
            CKR_OK,
            &format!("C_Initialize, cycle {round}"),
        );
        let slot = find_slot(&m, &token);
        ok(m.info(), "C_GetInfo");
        ok(m.slot_info(slot), "C_GetSlotInfo");
        expect_rv(finalize(&m), CKR_OK, &format!("C_Finalize, cycle {round}"));
    };
    let mut signing = |round: usize, print: bool| {
        expect_rv(
            initialize(&m),
            CKR_OK,
            &format!("C_Initialize, cycle {round}"),
        );
        let slot = find_slot(&m, &token);
        let s = ok(m.open_rw(slot), "C_OpenSession");
        let i = round % ALGOS.len();
        let data = rng.bytes(100);
        let sig = ok(sign(&s, i, &data), "C_Sign");
        drop(s);
        expect_rv(finalize(&m), CKR_OK, &format!("C_Finalize, cycle {round}"));
        if print {
            println!("{}", sig_line("cycle", i, &data, &sig));
        }
    };
    // Warm-up: whatever is set up once per process (the logger, the SDK's
    // and TLS's process-wide tables) is set up here.
    for round in 0..20 {
        plain(round);
    }
    for round in 0..10 {
        signing(round, false);
    }
    let threads_idle = settle_threads(None);
    let measure = |at: &str| {
        let threads = settle_threads(Some(threads_idle));
        println!(
            "\nMEASURE {at}\t{}\t{threads}\t{}",
            bytes_in_use(),
            open_files()
        );
    };
    measure("before");
    for round in 0..PLAIN_CYCLES {
        plain(round);
    }
    measure("after-plain");
    for round in 0..SIGN_CYCLES {
        signing(round, true);
    }
    measure("after-sign");
    println!("HELPER DONE");
}

/// The thread count once the runtime's threads have ended (they end just
/// after C_Finalize returns): waits up to 5 s for `want`, or for no kms11
/// thread.
fn settle_threads(want: Option<usize>) -> usize {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let n = threads();
        let settled = match want {
            Some(w) => n == w,
            None => kms11_threads() == 0,
        };
        if settled || Instant::now() >= deadline {
            return n;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

// ---- C_Finalize at exit ----

static FINALIZE: AtomicUsize = AtomicUsize::new(0);

/// What OpenSSL's atexit cleanup does through pkcs11-provider: C_Finalize.
extern "C" fn finalize_at_exit() {
    let p = FINALIZE.load(Ordering::SeqCst);
    if p == 0 {
        return;
    }
    // SAFETY: p is the module's C_Finalize, stored below.
    let f: unsafe extern "C" fn(CK_VOID_PTR) -> CK_RV = unsafe { std::mem::transmute(p) };
    let rv = unsafe { f(ptr::null_mut()) };
    let line = format!("\nATEXIT\t{rv:#x}\n");
    // SAFETY: a plain write of our own buffer to stdout.
    unsafe { write(1, line.as_ptr() as *const c_void, line.len()) };
}

#[test]
fn finalize_at_process_exit() {
    let _serial = serial();
    let fx = fx();
    let idle = run_helper(
        "helper_atexit",
        &[("KMS11_TEST_BUSY", "0")],
        Duration::from_secs(30),
    );
    assert_eq!(
        idle.value("ATEXIT"),
        format!("{CKR_OK:#x}"),
        "C_Finalize in an atexit handler"
    );
    fx.emu.set_faults(r#"{"latency_ms":200}"#);
    let busy = std::panic::catch_unwind(|| {
        run_helper(
            "helper_atexit",
            &[("KMS11_TEST_BUSY", "1")],
            Duration::from_secs(30),
        )
    });
    fx.emu.set_faults("{}");
    let busy = busy.unwrap_or_else(|e| std::panic::resume_unwind(e));
    assert_eq!(
        busy.value("ATEXIT"),
        format!("{CKR_OK:#x}"),
        "C_Finalize in an atexit handler while 8 threads are in C_Sign"
    );
    let signed = idle.verify(fx).values().sum::<usize>() + busy.verify(fx).values().sum::<usize>();
    eprintln!(
        "finalize_at_process_exit: exit status 0 with the runtime idle ({:?}) and with 8 threads \
         in C_Sign ({:?}, {} of them inside at exit); {signed} signatures verified",
        idle.took,
        busy.took,
        busy.value("INSIDE AT EXIT"),
    );
}

#[test]
#[ignore = "run in a child process by finalize_at_process_exit"]
fn helper_atexit() {
    let Some((m, token)) = helper_module() else {
        return;
    };
    let busy = std::env::var("KMS11_TEST_BUSY").as_deref() == Ok("1");
    // The module stays loaded until the process ends.
    let m: &'static Library = Box::leak(Box::new(m));
    expect_rv(initialize(m), CKR_OK, "C_Initialize");
    FINALIZE.store(m.list().C_Finalize.unwrap() as usize, Ordering::SeqCst);
    // SAFETY: registers a plain extern "C" function.
    assert_eq!(unsafe { atexit(finalize_at_exit) }, 0);
    let slot = find_slot(m, &token);
    let s = ok(m.open_rw(slot), "C_OpenSession");
    let data = b"before exit".to_vec();
    let sig = ok(sign(&s, 0, &data), "C_Sign");
    println!("\n{}", sig_line("main", 0, &data, &sig));
    assert!(kms11_threads() > 0, "the runtime runs after a signature");
    if busy {
        let inside = Arc::new(AtomicUsize::new(0));
        for t in 0..8 {
            let inside = inside.clone();
            std::thread::spawn(move || {
                let s = ok(m.open_rw(slot), "C_OpenSession");
                let keys = ok(
                    s.find(&Template::new().class(CKO_PRIVATE_KEY).label(label(t % 2))),
                    "C_FindObjects",
                );
                for _ in 0..1000 {
                    inside.fetch_add(1, Ordering::SeqCst);
                    let _ = s.sign_once(&Mech::new(ALGOS[t % 2].1), keys[0], b"busy at exit");
                    inside.fetch_sub(1, Ordering::SeqCst);
                }
            });
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while inside.load(Ordering::SeqCst) < 8 {
            assert!(
                Instant::now() < deadline,
                "the 8 threads never were all in C_Sign"
            );
            std::thread::yield_now();
        }
        println!("INSIDE AT EXIT\t{}", inside.load(Ordering::SeqCst));
    }
    println!("HELPER DONE");
    // exit() runs the atexit handlers, as at the end of main.
    std::process::exit(0);
}

// ---- C_Finalize while other threads are inside calls ----

#[test]
fn finalize_while_threads_are_inside_calls() {
    let _serial = serial();
    let fx = fx();
    fx.emu.set_faults(r#"{"latency_ms":200}"#);
    let run = std::panic::catch_unwind(|| {
        run_helper("helper_finalize_while_busy", &[], Duration::from_secs(60))
    });
    fx.emu.set_faults("{}");
    let run = run.unwrap_or_else(|e| std::panic::resume_unwind(e));
    expect_rv(
        u64::from_str_radix(run.value("FINALIZE").trim_start_matches("0x"), 16).unwrap() as CK_RV,
        CKR_OK,
        "C_Finalize while 16 threads are inside calls",
    );
    let signed = run.verify(fx);
    assert_eq!(
        signed.get("after"),
        Some(&ALGOS.len()),
        "signatures after initialising again"
    );
    eprintln!(
        "finalize_while_threads_are_inside_calls: C_Finalize CKR_OK with {} threads inside \
         C_Sign; the calls in flight returned {}; the next calls returned {}; all threads \
         ended {} after C_Finalize; signatures verified: {signed:?}; helper {:?}",
        run.value("INSIDE AT FINALIZE"),
        run.value("IN FLIGHT"),
        run.value("NEXT"),
        run.value("ENDED AFTER"),
        run.took
    );
}

#[test]
#[ignore = "run in a child process by finalize_while_threads_are_inside_calls"]
fn helper_finalize_while_busy() {
    let Some((m, token)) = helper_module() else {
        return;
    };
    let m: &'static Library = Box::leak(Box::new(m));
    expect_rv(initialize(m), CKR_OK, "C_Initialize");
    let slot = find_slot(m, &token);
    const SIGNERS: usize = 12;
    const READERS: usize = 4;
    let inside = Arc::new(AtomicUsize::new(0));
    // Set just before C_Finalize is called, and once it has returned.
    let finalizing = Arc::new(AtomicBool::new(false));
    let finalized = Arc::new(AtomicBool::new(false));
    // Per thread: the CK_RV of its call in flight when C_Finalize was
    // called, and of its first call made after C_Finalize returned.
    let outcomes: Arc<Mutex<Vec<(String, String)>>> = Default::default();
    let sigs: Arc<Mutex<Vec<String>>> = Default::default();
    let ended = Arc::new(AtomicUsize::new(0));
    // Every thread has its session and key before anything else happens.
    let ready = Arc::new(std::sync::Barrier::new(SIGNERS + READERS + 1));
    for t in 0..SIGNERS + READERS {
        let (inside, finalizing, finalized, outcomes, sigs, ended, ready) = (
            inside.clone(),
            finalizing.clone(),
            finalized.clone(),
            outcomes.clone(),
            sigs.clone(),
            ended.clone(),
            ready.clone(),
        );
        std::thread::spawn(move || {
            let i = t % ALGOS.len();
            let prepared = m.open_rw(slot).and_then(|s| {
                s.find(&Template::new().class(CKO_PRIVATE_KEY).label(label(i)))
                    .map(|keys| (s, keys[0]))
            });
            ready.wait();
            let (s, key) = match prepared {
                Ok(p) => p,
                Err(rv) => {
                    outcomes
                        .lock()
                        .unwrap()
                        .push((format!("setup failed: {}", rv_name(rv)), String::new()));
                    ended.fetch_add(1, Ordering::SeqCst);
                    return;
                }
            };
            let mut rng = Rng::new();
            let mut in_flight = None;
            let until = Instant::now() + Duration::from_secs(30);
            while Instant::now() < until {
                let after = finalized.load(Ordering::SeqCst);
                let rv = if t < SIGNERS {
                    let data = rng.bytes(64);
                    inside.fetch_add(1, Ordering::SeqCst);
                    let r = s.sign_once(&Mech::new(ALGOS[i].1), key, &data);
                    inside.fetch_sub(1, Ordering::SeqCst);
                    if let Ok(sig) = &r {
                        sigs.lock()
                            .unwrap()
                            .push(sig_line(&format!("thread-{t}"), i, &data, sig));
                    }
                    r.map(|_| ())
                } else {
                    s.find(&Template::new())
                        .and_then(|_| s.attr(key, CKA_LABEL))
                        .and_then(|_| s.info())
                        .map(|_| ())
                };
                let rv = rv_name(rv.err().unwrap_or(CKR_OK));
                if after {
                    let first = in_flight.unwrap_or_else(|| "(none)".to_string());
                    outcomes.lock().unwrap().push((first, rv));
                    break;
                }
                if finalizing.load(Ordering::SeqCst) && in_flight.is_none() {
                    in_flight = Some(rv);
                }
            }
            // The session's handle belongs to the finalised state; the
            // session is gone with it.
            std::mem::forget(s);
            ended.fetch_add(1, Ordering::SeqCst);
        });
    }
    ready.wait();
    let deadline = Instant::now() + Duration::from_secs(20);
    while inside.load(Ordering::SeqCst) < SIGNERS {
        assert!(
            Instant::now() < deadline,
            "the signing threads were never all in C_Sign"
        );
        std::thread::yield_now();
    }
    println!("\nINSIDE AT FINALIZE\t{}", inside.load(Ordering::SeqCst));
    finalizing.store(true, Ordering::SeqCst);
    let rv = finalize(m);
    finalized.store(true, Ordering::SeqCst);
    let t0 = Instant::now();
    println!("FINALIZE\t{rv:#x}");
    while ended.load(Ordering::SeqCst) < SIGNERS + READERS {
        if t0.elapsed() > Duration::from_secs(40) {
            println!(
                "HUNG\t{} of {} threads ended",
                ended.load(Ordering::SeqCst),
                SIGNERS + READERS
            );
            panic!(
                "threads inside calls at C_Finalize did not return:\n{}",
                backtrace(std::process::id())
            );
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    println!("ENDED AFTER\t{:?}", t0.elapsed());
    let outcomes = outcomes.lock().unwrap();
    assert_eq!(
        outcomes.len(),
        SIGNERS + READERS,
        "threads that made a call after C_Finalize"
    );
    let mut in_flight: BTreeMap<&str, usize> = BTreeMap::new();
    let mut next: BTreeMap<&str, usize> = BTreeMap::new();
    for (a, b) in outcomes.iter() {
        *in_flight.entry(a).or_default() += 1;
        *next.entry(b).or_default() += 1;
    }
    println!("IN FLIGHT\t{in_flight:?}");
    println!("NEXT\t{next:?}");
    for l in sigs.lock().unwrap().iter() {
        println!("{l}");
    }
    assert_eq!(
        next.keys().copied().collect::<Vec<_>>(),
        vec!["CKR_CRYPTOKI_NOT_INITIALIZED (0x190)"],
        "calls after C_Finalize"
    );
    // The process initialises again and signs.
    expect_rv(initialize(m), CKR_OK, "C_Initialize after C_Finalize");
    let slot = find_slot(m, &token);
    let s = ok(m.open_rw(slot), "C_OpenSession");
    for i in 0..ALGOS.len() {
        let data = format!("after C_Finalize {i}").into_bytes();
        let sig = ok(sign(&s, i, &data), "C_Sign after initialising again");
        println!("{}", sig_line("after", i, &data, &sig));
    }
    drop(s);
    expect_rv(finalize(m), CKR_OK, "C_Finalize");
    println!("HELPER DONE");
}

// ---- dlclose without C_Finalize ----

#[test]
fn dlclose_without_finalize() {
    let _serial = serial();
    let fx = fx();
    let run = run_helper("helper_dlclose", &[], Duration::from_secs(60));
    let signed = run.verify(fx);
    assert_eq!(
        run.value("RESIDENT AFTER DLCLOSE"),
        "yes",
        "the library must stay loaded after dlclose while its runtime's threads exist"
    );
    // Linked with -z nodelete (build.rs): resident even after C_Finalize.
    assert_eq!(
        run.value("RESIDENT AFTER FINALIZE AND DLCLOSE"),
        "yes",
        "the library must stay loaded once loaded (-z nodelete)"
    );
    eprintln!(
        "dlclose_without_finalize: {} kms11 threads at dlclose, {} two seconds later; \
         resident after dlclose: {}; a new dlopen's C_Initialize: {}; after C_Finalize and \
         dlclose, resident: {}; signatures verified: {signed:?}; exit status 0 in {:?}",
        run.value("THREADS AT DLCLOSE"),
        run.value("THREADS LATER"),
        run.value("RESIDENT AFTER DLCLOSE"),
        run.value("REOPENED C_Initialize"),
        run.value("RESIDENT AFTER FINALIZE AND DLCLOSE"),
        run.took
    );
}

fn resident(path: &CString) -> bool {
    // SAFETY: RTLD_NOLOAD only looks the library up; the handle is released.
    let h = unsafe { dlopen(path.as_ptr(), RTLD_NOW | RTLD_NOLOAD) };
    if h.is_null() {
        return false;
    }
    unsafe { dlclose(h) };
    true
}

#[test]
#[ignore = "run in a child process by dlclose_without_finalize"]
fn helper_dlclose() {
    let Ok(token) = std::env::var(HELPER_ENV) else {
        return;
    };
    let path = CString::new(build::module_path().to_str().unwrap()).unwrap();
    let yes = |b: bool| if b { "yes" } else { "no" };
    // Every call of the module is made on a thread that has ended before
    // the dlclose, so that only the module's own threads (or its link
    // flags) can keep it loaded: a thread's thread-local destructors in a
    // library also pin it until the thread ends.
    let on_thread = |f: Box<dyn FnOnce() -> Library + Send>| {
        std::thread::spawn(f)
            .join()
            .expect("the calling thread panicked")
    };

    let token1 = token.clone();
    let m = on_thread(Box::new(move || {
        let m = Library::load(&build::module_path());
        expect_rv(initialize(&m), CKR_OK, "C_Initialize");
        let s = ok(m.open_rw(find_slot(&m, &token1)), "C_OpenSession");
        let sig = ok(sign(&s, 0, b"before dlclose"), "C_Sign");
        println!(
            "\n{}",
            sig_line("before-dlclose", 0, b"before dlclose", &sig)
        );
        // The session stays open, as in an application that exits
        // without cleaning up.
        std::mem::forget(s);
        m
    }));
    println!("THREADS AT DLCLOSE\t{}", kms11_threads());
    // dlclose, no C_Finalize, with the runtime's threads running.
    drop(m);
    println!("RESIDENT AFTER DLCLOSE\t{}", yes(resident(&path)));
    // The runtime's threads keep running (timers, idle connections).
    std::thread::sleep(Duration::from_secs(2));
    println!("THREADS LATER\t{}", kms11_threads());

    let token2 = token.clone();
    let m = on_thread(Box::new(move || {
        let m = Library::load(&build::module_path());
        let rv = initialize(&m);
        println!("REOPENED C_Initialize\t{}", rv_name(rv));
        assert!(
            rv == CKR_CRYPTOKI_ALREADY_INITIALIZED || rv == CKR_OK,
            "C_Initialize after dlclose and dlopen: {}",
            rv_name(rv)
        );
        let s = ok(
            m.open_rw(find_slot(&m, &token2)),
            "C_OpenSession after dlopen",
        );
        let sig = ok(sign(&s, 1, b"after dlopen"), "C_Sign after dlopen");
        println!("{}", sig_line("after-dlopen", 1, b"after dlopen", &sig));
        drop(s);
        expect_rv(finalize(&m), CKR_OK, "C_Finalize");
        m
    }));
    // The runtime's threads end with C_Finalize; then nothing holds the
    // library but its link flags.
    let deadline = Instant::now() + Duration::from_secs(5);
    while kms11_threads() > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    drop(m);
    println!(
        "RESIDENT AFTER FINALIZE AND DLCLOSE\t{}",
        yes(resident(&path))
    );

    // Loaded again (a new copy if it was unloaded), signing, and left
    // initialised, with its runtime running, at exit.
    let token3 = token.clone();
    let m = on_thread(Box::new(move || {
        let m = Library::load(&build::module_path());
        expect_rv(
            initialize(&m),
            CKR_OK,
            "C_Initialize after the last dlclose",
        );
        let s = ok(m.open_rw(find_slot(&m, &token3)), "C_OpenSession");
        let sig = ok(sign(&s, 0, b"at exit"), "C_Sign");
        println!("{}", sig_line("at-exit", 0, b"at exit", &sig));
        std::mem::forget(s);
        m
    }));
    std::mem::forget(m);
    println!("HELPER DONE");
}
