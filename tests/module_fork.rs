//! fork(): what a child process of a kms11 user gets, and what its parent keeps.
//!
//! Proves, with the module called only through its raw function list:
//! - a child forked while 8 threads of the parent are inside C_Sign (the
//!   emulator holds every request 50 ms, and the fork waits until all 8 are
//!   in a call) sees CKR_CRYPTOKI_NOT_INITIALIZED from C_GetSlotList,
//!   C_GetInfo and C_GetSessionInfo on a parent's session;
//! - it re-initialises as pkcs11-provider does (C_Finalize, whose
//!   CKR_CRYPTOKI_NOT_INITIALIZED it ignores, then C_Initialize with
//!   CKF_OS_LOCKING_OK, then C_GetInfo equal to the parent's) or as
//!   pkcs11-helper does (C_Initialize(NULL) alone), then signs with five
//!   mechanisms on P-256, P-384 and RSA-2048 keys and finalises (CKR_OK),
//!   within 30 s (a child still running then is killed and the test fails
//!   with the step it was in and its threads' backtraces), so it never waits
//!   on a lock, runtime, thread or connection of the parent's threads;
//! - 20 such forks in a row (variants alternating): the parent's 8 threads
//!   never see an error and keep signing after the last fork, the children
//!   opened at least one connection each to KMS, and every signature of the
//!   children and of the parent verifies with pyca/cryptography
//!   (tests/verify);
//! - a process whose runtime exists but is idle (it signed, then forks, as
//!   a pre-forking server does) forks 4 times, both variants, and the
//!   children and then the parent sign;
//! - a process that initialised but never made a KMS call (no runtime, no
//!   kms11 thread) forks the same way (both variants), and then makes its own
//!   first KMS call and signs (a helper process: the test binary's own
//!   #[ignore]d test).

mod common;

use common::algo::Algo;
use common::process::{backtrace, kms11_threads};
use common::util::{hex, unhex, Rng};
use common::verify::{Batch, Kind};
use common::*;
use std::ffi::c_void;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

static SETUP: Setup = Setup {
    keys: &[
        key("alias/fork-ec256", "ECC_NIST_P256"),
        key("alias/fork-ec384", "ECC_NIST_P384"),
        key("alias/fork-rsa", "RSA_2048"),
    ],
    config: Config::OneToken,
    aws_extra: "",
    emulator_args: &[],
};

fn fx() -> &'static Fixture {
    fixture(&SETUP)
}

/// Signing threads in the parent while it forks.
const PARENT_THREADS: usize = 8;
/// Forks while those threads sign.
const FORKS: usize = 20;
/// The emulator's added latency, so the parent's threads are mid-call.
const LATENCY_MS: u64 = 50;
/// The longest a child may take (re-initialise, sign five times, finalise).
const CHILD_LIMIT: Duration = Duration::from_secs(30);

extern "C" {
    fn fork() -> i32;
    fn _exit(code: i32) -> !;
    fn waitpid(pid: i32, status: *mut i32, options: i32) -> i32;
    fn kill(pid: i32, sig: i32) -> i32;
}
const WNOHANG: i32 = 1;
const SIGKILL: i32 = 9;

const ALGOS: &[Algo] = &[
    Algo {
        key: "alias/fork-ec256",
        ckm: CKM_ECDSA_SHA256,
        kind: Kind::Ecdsa,
        hash: Some("sha256"),
        multipart: false,
    },
    Algo {
        key: "alias/fork-ec384",
        ckm: CKM_ECDSA_SHA384,
        kind: Kind::Ecdsa,
        hash: Some("sha384"),
        multipart: false,
    },
    Algo {
        key: "alias/fork-rsa",
        ckm: CKM_SHA256_RSA_PKCS,
        kind: Kind::RsaPkcs1,
        hash: Some("sha256"),
        multipart: false,
    },
    Algo {
        key: "alias/fork-rsa",
        ckm: CKM_SHA384_RSA_PKCS_PSS,
        kind: Kind::RsaPss,
        hash: Some("sha384"),
        multipart: false,
    },
    // Raw ECDSA: the data is a 32-byte hash value.
    Algo {
        key: "alias/fork-ec256",
        ckm: CKM_ECDSA,
        kind: Kind::EcdsaPrehashed,
        hash: None,
        multipart: false,
    },
];

impl Algo {
    fn data(&self, rng: &mut Rng, what: &str) -> Vec<u8> {
        if self.ckm == CKM_ECDSA {
            rng.bytes(32)
        } else {
            let mut d = what.as_bytes().to_vec();
            let n = 1 + rng.below(300) as usize;
            d.extend_from_slice(&rng.bytes(n));
            d
        }
    }
    fn check(&self, b: &mut Batch, label: String, spki: &[u8], data: &[u8], sig: &[u8]) {
        b.good(label, self.kind, self.hash, spki, data, sig);
    }
}

/// How the child re-initialises.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Variant {
    /// pkcs11-provider (p11prov_module_reinit): C_Finalize(NULL), result
    /// ignored, then C_Initialize({CKF_OS_LOCKING_OK}), then C_GetInfo,
    /// which must equal the parent's.
    FinalizeThenInitialize,
    /// pkcs11-helper (__pkcs11h_forkFixup): C_Initialize(NULL) alone.
    InitializeOnly,
}

impl Variant {
    /// The two styles in turn, one per fork.
    fn for_round(round: usize) -> Variant {
        if round.is_multiple_of(2) {
            Variant::FinalizeThenInitialize
        } else {
            Variant::InitializeOnly
        }
    }
}

/// Everything a child needs, prepared by the parent before fork() so that
/// the child only calls the module and writes its report.
struct ChildPlan<'a> {
    m: &'a Library,
    token: String,
    variant: Variant,
    parent_info: CK_INFO,
    /// A session handle of the parent's, if any, for C_GetSessionInfo.
    parent_session: Option<CK_SESSION_HANDLE>,
    /// (index into ALGOS, data)
    signs: Vec<(usize, Vec<u8>)>,
    report: PathBuf,
}

/// The child's side of a fork: runs the plan, writes one line per step to
/// the report file, and ends with _exit (no atexit handler, no destructor).
fn child_main(plan: &ChildPlan) -> ! {
    let mut report = match std::fs::File::create(&plan.report) {
        Ok(f) => f,
        Err(_) => unsafe { _exit(4) },
    };
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        child_steps(plan, &mut report)
    }));
    let code = match r {
        Ok(Ok(())) => {
            let _ = report.write_all(b"DONE\n");
            0
        }
        Ok(Err(e)) => {
            let _ = report.write_all(format!("FAIL\t{e}\n").as_bytes());
            2
        }
        Err(_) => {
            let _ = report.write_all(b"FAIL\tpanic in the child\n");
            3
        }
    };
    // SAFETY: ends the forked child at once, as a forked child must.
    unsafe { _exit(code) }
}

fn child_steps(plan: &ChildPlan, report: &mut std::fs::File) -> Result<(), String> {
    let f = plan.m.list();
    // One line per step as it starts, so a hang report shows where it hangs.
    let mut say = |kind: &str, s: &str| {
        let _ = report.write_all(format!("{kind}\t{s}\n").as_bytes());
    };
    let expect = |what: &str, rv: CK_RV, want: CK_RV| -> Result<(), String> {
        if rv == want {
            Ok(())
        } else {
            Err(format!(
                "{what}: expected {}, got {}",
                rv_name(want),
                rv_name(rv)
            ))
        }
    };

    // 1. The parent's state is not ours.
    say("STEP", "C_GetSlotList before C_Initialize");
    let mut n: CK_ULONG = 0;
    // SAFETY: raw calls of the module's function list with valid pointers.
    let rv = unsafe { f.C_GetSlotList.unwrap()(CK_FALSE, ptr::null_mut(), &mut n) };
    expect(
        "C_GetSlotList in the child",
        rv,
        CKR_CRYPTOKI_NOT_INITIALIZED,
    )?;
    say("STEP", "C_GetInfo before C_Initialize");
    expect(
        "C_GetInfo in the child",
        plan.m.info().err().unwrap_or(CKR_OK),
        CKR_CRYPTOKI_NOT_INITIALIZED,
    )?;
    if let Some(h) = plan.parent_session {
        say("STEP", "C_GetSessionInfo on a parent's session");
        let mut info: CK_SESSION_INFO = unsafe { std::mem::zeroed() };
        let rv = unsafe { f.C_GetSessionInfo.unwrap()(h, &mut info) };
        expect(
            "C_GetSessionInfo on the parent's session in the child",
            rv,
            CKR_CRYPTOKI_NOT_INITIALIZED,
        )?;
    }

    // 2. Re-initialise as the client library would.
    match plan.variant {
        Variant::FinalizeThenInitialize => {
            say("STEP", "C_Finalize (pkcs11-provider)");
            let rv = unsafe { f.C_Finalize.unwrap()(ptr::null_mut()) };
            // pkcs11-provider ignores this value; for the child the library
            // is not initialised, so this is what PKCS #11 has it return.
            expect("C_Finalize in the child", rv, CKR_CRYPTOKI_NOT_INITIALIZED)?;
            say("STEP", "C_Initialize(CKF_OS_LOCKING_OK) (pkcs11-provider)");
            let rv = plan.m.initialize(None);
            expect("C_Initialize in the child", rv, CKR_OK)?;
            say(
                "STEP",
                "C_GetInfo (pkcs11-provider compares it with the parent's)",
            );
            let info = plan
                .m
                .info()
                .map_err(|rv| format!("C_GetInfo after re-initialising: {}", rv_name(rv)))?;
            let p = &plan.parent_info;
            if info.manufacturerID != p.manufacturerID
                || info.libraryDescription != p.libraryDescription
                || info.flags != p.flags
                || (info.cryptokiVersion.major, info.cryptokiVersion.minor)
                    != (p.cryptokiVersion.major, p.cryptokiVersion.minor)
                || (info.libraryVersion.major, info.libraryVersion.minor)
                    != (p.libraryVersion.major, p.libraryVersion.minor)
            {
                return Err("C_GetInfo in the child differs from the parent's \
                            (pkcs11-provider refuses such a module)"
                    .into());
            }
        }
        Variant::InitializeOnly => {
            say("STEP", "C_Initialize(NULL) (pkcs11-helper)");
            let rv = unsafe { f.C_Initialize.unwrap()(ptr::null_mut()) };
            expect("C_Initialize(NULL) in the child", rv, CKR_OK)?;
        }
    }
    say("STEP", "C_Initialize again");
    let rv = unsafe { f.C_Initialize.unwrap()(ptr::null_mut()) };
    expect(
        "a second C_Initialize in the child",
        rv,
        CKR_CRYPTOKI_ALREADY_INITIALIZED,
    )?;

    // 3. Sign.
    say("STEP", "C_GetSlotList, C_GetTokenInfo");
    let slots = plan
        .m
        .slots(true)
        .map_err(|rv| format!("C_GetSlotList: {}", rv_name(rv)))?;
    let mut slot = None;
    for s in slots {
        let ti = plan
            .m
            .token_info(s)
            .map_err(|rv| format!("C_GetTokenInfo: {}", rv_name(rv)))?;
        if text(&ti.label) == plan.token {
            slot = Some(s);
        }
    }
    let slot = slot.ok_or_else(|| format!("no token {} in the child", plan.token))?;
    say("STEP", "C_OpenSession");
    let s = plan
        .m
        .open_rw(slot)
        .map_err(|rv| format!("C_OpenSession: {}", rv_name(rv)))?;
    for (i, data) in &plan.signs {
        let a = &ALGOS[*i];
        say("STEP", &format!("C_FindObjects {}", a.label()));
        let keys = s
            .find(&Template::new().class(CKO_PRIVATE_KEY).label(a.label()))
            .map_err(|rv| format!("C_FindObjects {}: {}", a.label(), rv_name(rv)))?;
        if keys.len() != 1 {
            return Err(format!(
                "{} private keys labelled {}",
                keys.len(),
                a.label()
            ));
        }
        say(
            "STEP",
            &format!("C_SignInit/C_Sign {} {}", a.label(), mech_name(a.ckm)),
        );
        let sig = s
            .sign_once(&a.mech(), keys[0], data)
            .map_err(|rv| format!("C_Sign {} {}: {}", a.label(), mech_name(a.ckm), rv_name(rv)))?;
        say("SIG", &format!("{i}\t{}\t{}", hex(data), hex(&sig)));
    }
    say("STEP", "C_CloseSession");
    drop(s);
    say("STEP", "C_Finalize");
    let rv = unsafe { f.C_Finalize.unwrap()(ptr::null_mut()) };
    expect("C_Finalize at the end of the child", rv, CKR_OK)?;
    Ok(())
}

/// A signature a child reported: (index into ALGOS, data, signature).
type Reported = (usize, Vec<u8>, Vec<u8>);

/// The child's report: its signatures, or the reason it failed.
fn read_report(path: &Path) -> (Vec<Reported>, String) {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut sigs = Vec::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split('\t').collect();
        if f[0] == "SIG" && f.len() == 4 {
            sigs.push((f[1].parse().unwrap(), unhex(f[2]), unhex(f[3])));
        }
    }
    (sigs, text)
}

/// Forks; the child runs `plan`, the parent gets the child's pid.
fn fork_child(plan: &ChildPlan) -> i32 {
    // SAFETY: the child only calls the module's function list, writes its
    // report and ends with _exit.
    let pid = unsafe { fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        child_main(plan);
    }
    pid
}

/// Waits for a forked child for at most `limit`. A child still running then
/// is reported with its threads' backtraces, killed, and fails the test.
fn wait_child(pid: i32, limit: Duration, report: &Path, what: &str) -> i32 {
    let deadline = Instant::now() + limit;
    loop {
        let mut status = 0;
        // SAFETY: our own child.
        let r = unsafe { waitpid(pid, &mut status, WNOHANG) };
        if r == pid {
            return status;
        }
        assert!(r == 0, "waitpid({pid}) failed");
        if Instant::now() >= deadline {
            let bt = backtrace(pid as u32);
            // SAFETY: our own child.
            unsafe {
                kill(pid, SIGKILL);
                waitpid(pid, &mut status, 0);
            }
            panic!(
                "{what}: the child (pid {pid}) did not end within {limit:?}: it hangs.\n\
                 Its report (last STEP is where it hangs):\n{}\nIts threads:\n{bt}",
                std::fs::read_to_string(report).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn describe_status(status: i32) -> String {
    if status & 0x7f == 0 {
        format!("exit code {}", (status >> 8) & 0xff)
    } else {
        format!("killed by signal {}", status & 0x7f)
    }
}

fn plan_signs(rng: &mut Rng, who: &str) -> Vec<(usize, Vec<u8>)> {
    ALGOS
        .iter()
        .enumerate()
        .map(|(i, a)| (i, a.data(rng, &format!("{who} algo {i}"))))
        .collect()
}

/// What one of the parent's signing threads did.
#[derive(Default)]
struct ThreadLog {
    sigs: Vec<Reported>,
    errors: Vec<String>,
    /// How many signatures it had made when the last fork happened.
    at_last_fork: usize,
}

#[test]
fn fork_while_threads_sign() {
    let _serial = serial();
    let fx = fx();
    let started = Instant::now();
    let parent_info = ok(fx.m.info(), "C_GetInfo");
    fx.emu
        .set_faults(&format!("{{\"latency_ms\":{LATENCY_MS}}}"));
    fx.emu.reset_stats();

    let inside = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let made: Arc<Vec<AtomicUsize>> =
        Arc::new((0..PARENT_THREADS).map(|_| AtomicUsize::new(0)).collect());
    let (sessions_tx, sessions_rx) = std::sync::mpsc::channel();
    let threads: Vec<_> = (0..PARENT_THREADS)
        .map(|t| {
            let (inside, stop, made, sessions_tx) = (
                inside.clone(),
                stop.clone(),
                made.clone(),
                sessions_tx.clone(),
            );
            std::thread::spawn(move || {
                let fx = fixture(&SETUP);
                let s = fx.session();
                let _ = sessions_tx.send(s.h);
                let keys: Vec<CK_OBJECT_HANDLE> =
                    ALGOS.iter().map(|a| fx.private(&s, a.key)).collect();
                let mut rng = Rng::new();
                let mut log = ThreadLog::default();
                let mut n = 0;
                while !stop.load(Ordering::SeqCst) {
                    // Each thread its own mechanisms, in its own order.
                    let i = (t + n) % ALGOS.len();
                    let a = &ALGOS[i];
                    let data = a.data(&mut rng, &format!("parent thread {t} signature {n}"));
                    inside.fetch_add(1, Ordering::SeqCst);
                    let r = s.sign_once(&a.mech(), keys[i], &data);
                    inside.fetch_sub(1, Ordering::SeqCst);
                    match r {
                        Ok(sig) => log.sigs.push((i, data, sig)),
                        Err(rv) => log.errors.push(format!(
                            "parent thread {t}, signature {n} ({} {}): {}",
                            a.label(),
                            mech_name(a.ckm),
                            rv_name(rv)
                        )),
                    }
                    n += 1;
                    made[t].store(n, Ordering::SeqCst);
                }
                log
            })
        })
        .collect();
    drop(sessions_tx);
    let parent_sessions: Vec<CK_SESSION_HANDLE> = (0..PARENT_THREADS)
        .map(|_| {
            sessions_rx
                .recv_timeout(Duration::from_secs(60))
                .expect("a parent thread opened no session")
        })
        .collect();

    let connections_before = fx.emu.stats().connections;
    let mut rng = Rng::new();
    let mut children: Vec<(Variant, Vec<Reported>)> = Vec::new();
    let mut inside_at_fork = Vec::new();
    for round in 0..FORKS {
        let variant = Variant::for_round(round);
        let plan = ChildPlan {
            m: &fx.m,
            token: fx.token.to_string(),
            variant,
            parent_info,
            parent_session: Some(parent_sessions[round % PARENT_THREADS]),
            signs: plan_signs(&mut rng, &format!("child {round}")),
            report: tmp_dir().join(format!("fork-child-{round}.txt")),
        };
        // Fork at a different point of the threads' calls each round, but
        // only while all of them are inside one.
        std::thread::sleep(Duration::from_millis(rng.below(LATENCY_MS / 2)));
        let deadline = Instant::now() + Duration::from_secs(20);
        while inside.load(Ordering::SeqCst) < PARENT_THREADS {
            assert!(
                Instant::now() < deadline,
                "the parent's {PARENT_THREADS} threads were never all inside C_SignInit/C_Sign at once"
            );
            std::thread::yield_now();
        }
        let pid = fork_child(&plan);
        inside_at_fork.push(inside.load(Ordering::SeqCst));
        let status = wait_child(
            pid,
            CHILD_LIMIT,
            &plan.report,
            &format!("fork {round} ({variant:?})"),
        );
        let (sigs, text) = read_report(&plan.report);
        assert!(
            status == 0,
            "fork {round} ({variant:?}): the child ended with {}; its report:\n{text}",
            describe_status(status)
        );
        assert_eq!(
            sigs.len(),
            ALGOS.len(),
            "fork {round}: the child's signatures; its report:\n{text}"
        );
        children.push((variant, sigs));
    }
    let connections_during = fx.emu.stats().connections - connections_before;

    // The parent keeps working after the last fork.
    let at_last_fork: Vec<usize> = made.iter().map(|m| m.load(Ordering::SeqCst)).collect();
    let deadline = Instant::now() + Duration::from_secs(30);
    while made
        .iter()
        .zip(&at_last_fork)
        .any(|(m, &before)| m.load(Ordering::SeqCst) < before + 3)
    {
        assert!(
            Instant::now() < deadline,
            "the parent's threads stopped signing after the forks: {:?} signatures at the last fork, {:?} now",
            at_last_fork,
            made.iter().map(|m| m.load(Ordering::SeqCst)).collect::<Vec<_>>()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    stop.store(true, Ordering::SeqCst);
    let logs: Vec<ThreadLog> = threads
        .into_iter()
        .zip(&at_last_fork)
        .map(|(t, &n)| {
            let mut log = t.join().expect("a parent signing thread panicked");
            log.at_last_fork = n;
            log
        })
        .collect();
    fx.emu.set_faults("{}");

    // And on the main thread too.
    let s = fx.session();
    let a = &ALGOS[0];
    let data = b"the parent after the forks".to_vec();
    let sig = ok(
        s.sign_once(&a.mech(), fx.private(&s, a.key), &data),
        "C_Sign in the parent after the forks",
    );

    let errors: Vec<&String> = logs.iter().flat_map(|l| &l.errors).collect();
    assert!(
        errors.is_empty(),
        "the parent's threads failed while it forked:\n{}",
        errors
            .iter()
            .map(|e| e.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    );
    for (t, l) in logs.iter().enumerate() {
        assert!(
            l.sigs.len() >= l.at_last_fork + 3,
            "parent thread {t}: {} signatures, {} at the last fork",
            l.sigs.len(),
            l.at_last_fork
        );
    }
    assert!(
        connections_during >= FORKS as u64,
        "{FORKS} children opened {connections_during} connections to KMS in all: \
         each must open its own"
    );

    let mut b = Batch::new();
    let spki = |i: usize| &fx.key(ALGOS[i].key).spki;
    for (round, (variant, sigs)) in children.iter().enumerate() {
        for (i, data, sig) in sigs {
            ALGOS[*i].check(
                &mut b,
                format!(
                    "child {round} ({variant:?}) {} {}",
                    ALGOS[*i].label(),
                    mech_name(ALGOS[*i].ckm)
                ),
                spki(*i),
                data,
                sig,
            );
        }
    }
    let mut parent_sigs = 0;
    for (t, l) in logs.iter().enumerate() {
        for (n, (i, data, sig)) in l.sigs.iter().enumerate() {
            ALGOS[*i].check(
                &mut b,
                format!(
                    "parent thread {t} signature {n} {}",
                    mech_name(ALGOS[*i].ckm)
                ),
                spki(*i),
                data,
                sig,
            );
            parent_sigs += 1;
        }
    }
    a.check(&mut b, "parent main thread".into(), spki(0), &data, &sig);
    let verified = b.run();
    eprintln!(
        "fork_while_threads_sign: {FORKS} forks with {PARENT_THREADS} threads in C_Sign \
         (inside at each fork: {inside_at_fork:?}); {} child signatures and {} parent \
         signatures verified ({verified} in all); {connections_during} new connections; {:?}",
        FORKS * ALGOS.len(),
        parent_sigs + 1,
        started.elapsed()
    );
}

// ---- a runtime that runs but is idle (a server that signed, then forks workers) ----

#[test]
fn fork_with_idle_runtime() {
    let _serial = serial();
    let fx = fx();
    let parent_info = ok(fx.m.info(), "C_GetInfo");
    let s = fx.session();
    let mut rng = Rng::new();
    let mut b = Batch::new();
    let spki = |i: usize| &fx.key(ALGOS[i].key).spki;
    let mut sign_in_parent = |b: &mut Batch, what: &str| {
        for (i, data) in plan_signs(&mut rng, what) {
            let a = &ALGOS[i];
            let sig = ok(
                s.sign_once(&a.mech(), fx.private(&s, a.key), &data),
                "C_Sign in the parent",
            );
            a.check(
                b,
                format!("{what} {}", mech_name(a.ckm)),
                spki(i),
                &data,
                &sig,
            );
        }
    };
    sign_in_parent(&mut b, "parent before the forks");
    // The runtime's threads are idle now, with connections in their pool.
    std::thread::sleep(Duration::from_millis(100));
    let mut rng = Rng::new();
    for round in 0..4 {
        let variant = Variant::for_round(round);
        let plan = ChildPlan {
            m: &fx.m,
            token: fx.token.to_string(),
            variant,
            parent_info,
            parent_session: Some(s.h),
            signs: plan_signs(&mut rng, &format!("idle child {round}")),
            report: tmp_dir().join(format!("fork-idle-{round}.txt")),
        };
        let pid = fork_child(&plan);
        let status = wait_child(
            pid,
            CHILD_LIMIT,
            &plan.report,
            &format!("idle fork {round}"),
        );
        let (sigs, text) = read_report(&plan.report);
        assert!(
            status == 0 && sigs.len() == ALGOS.len(),
            "idle fork {round} ({variant:?}): the child ended with {}; its report:\n{text}",
            describe_status(status)
        );
        for (i, data, sig) in sigs {
            ALGOS[i].check(
                &mut b,
                format!(
                    "idle child {round} ({variant:?}) {}",
                    mech_name(ALGOS[i].ckm)
                ),
                spki(i),
                &data,
                &sig,
            );
        }
    }
    let mut rng2 = Rng::new();
    for (i, data) in plan_signs(&mut rng2, "parent after the forks") {
        let a = &ALGOS[i];
        let sig = ok(
            s.sign_once(&a.mech(), fx.private(&s, a.key), &data),
            "C_Sign in the parent after the forks",
        );
        a.check(
            &mut b,
            format!("parent after {}", mech_name(a.ckm)),
            spki(i),
            &data,
            &sig,
        );
    }
    let verified = b.run();
    eprintln!("fork_with_idle_runtime: 4 forks; {verified} signatures verified");
}

// ---- a process that never made a KMS call ----

const HELPER_ENV: &str = "KMS11_TEST_FORK_HELPER_TOKEN";

#[test]
fn fork_before_any_kms_call() {
    let _serial = serial();
    let fx = fx();
    let started = Instant::now();
    let run = process::run_helper(
        "helper_fork_without_runtime",
        &[(HELPER_ENV, fx.token.to_string())],
        Duration::from_secs(90),
    );
    let out = run.stdout;
    let mut b = Batch::new();
    let mut seen = std::collections::BTreeMap::new();
    for line in out.lines() {
        // libtest prints "test NAME ... " before the helper's first line.
        let line = line.find("SIG\t").map_or(line, |at| &line[at..]);
        let f: Vec<&str> = line.split('\t').collect();
        if f.len() == 5 && f[0] == "SIG" {
            let i: usize = f[2].parse().unwrap();
            let a = &ALGOS[i];
            *seen.entry(f[1].to_string()).or_insert(0) += 1;
            a.check(
                &mut b,
                format!("{} {} {}", f[1], a.label(), mech_name(a.ckm)),
                &fx.key(a.key).spki,
                &unhex(f[3]),
                &unhex(f[4]),
            );
        }
    }
    let want: std::collections::BTreeMap<String, usize> = [
        "child-FinalizeThenInitialize",
        "child-InitializeOnly",
        "parent",
    ]
    .iter()
    .map(|w| (w.to_string(), ALGOS.len()))
    .collect();
    assert_eq!(seen, want, "signatures reported by the helper:\n{out}");
    let verified = b.run();
    eprintln!(
        "fork_before_any_kms_call: {verified} signatures verified (2 children, then the parent); {:?}",
        started.elapsed()
    );
}

#[test]
#[ignore = "run in a child process by fork_before_any_kms_call"]
fn helper_fork_without_runtime() {
    let Ok(token) = std::env::var(HELPER_ENV) else {
        return;
    };
    let m = Library::load(&build::module_path());
    let f = m.list();
    let mut args = CK_C_INITIALIZE_ARGS {
        CreateMutex: None,
        DestroyMutex: None,
        LockMutex: None,
        UnlockMutex: None,
        flags: CKF_OS_LOCKING_OK,
        pReserved: ptr::null_mut(),
    };
    // SAFETY: the test's own arguments, alive for the call.
    let rv =
        unsafe { f.C_Initialize.unwrap()(&mut args as *mut CK_C_INITIALIZE_ARGS as *mut c_void) };
    assert_eq!(rv, CKR_OK, "C_Initialize: {}", rv_name(rv));
    // Slots and tokens need no KMS call.
    let slot = find_slot(&m, &token);
    let info = ok(m.info(), "C_GetInfo");
    assert_eq!(
        kms11_threads(),
        0,
        "kms11 threads before any KMS call (the runtime starts at the first KMS call)"
    );
    let mut rng = Rng::new();
    for variant in [Variant::FinalizeThenInitialize, Variant::InitializeOnly] {
        let plan = ChildPlan {
            m: &m,
            token: token.clone(),
            variant,
            parent_info: info,
            parent_session: None,
            signs: plan_signs(&mut rng, &format!("child {variant:?}")),
            report: tmp_dir().join(format!("fork-no-runtime-{variant:?}.txt")),
        };
        let pid = fork_child(&plan);
        let status = wait_child(pid, CHILD_LIMIT, &plan.report, &format!("{variant:?}"));
        let (sigs, text) = read_report(&plan.report);
        assert!(
            status == 0,
            "{variant:?}: the child ended with {}; its report:\n{text}",
            describe_status(status)
        );
        for (i, data, sig) in sigs {
            println!("SIG\tchild-{variant:?}\t{i}\t{}\t{}", hex(&data), hex(&sig));
        }
    }
    assert_eq!(
        kms11_threads(),
        0,
        "kms11 threads in the parent after forking (it made no KMS call)"
    );
    // The parent's own first KMS call, after its children.
    let s = ok(m.open_rw(slot), "C_OpenSession in the parent");
    for (i, data) in plan_signs(&mut rng, "parent") {
        let a = &ALGOS[i];
        let key = ok(
            s.find(&Template::new().class(CKO_PRIVATE_KEY).label(a.label())),
            "C_FindObjects",
        );
        let sig = ok(
            s.sign_once(&a.mech(), key[0], &data),
            "C_Sign in the parent",
        );
        println!("SIG\tparent\t{i}\t{}\t{}", hex(&data), hex(&sig));
    }
    drop(s);
    // SAFETY: a plain call.
    let rv = unsafe { f.C_Finalize.unwrap()(ptr::null_mut()) };
    assert_eq!(rv, CKR_OK, "C_Finalize in the parent: {}", rv_name(rv));
    println!("HELPER DONE");
}
