//! Many threads at once: no deadlock, no lost or mixed-up operation, no
//! global lock across a KMS call, the request cap, and a throttling storm.
//!
//! Proves:
//! - 64 threads, each with its own session, sign 10 times each (640
//!   signatures: seven key/mechanism pairs on P-256, P-384, P-521,
//!   secp256k1 and RSA-2048 keys, single- and multi-part, each thread with
//!   its own data) while 64 more threads share one session reading the keys'
//!   attributes and the session's information: every signature verifies
//!   with pyca/cryptography against the data and key that thread used, every
//!   read gives the right value, the emulator served exactly 640 Sign
//!   requests, and with 200 ms of emulator latency its peak of requests in
//!   flight is 64, the number of signing threads (so no lock of the module
//!   is held across a KMS call) and the max_concurrent_requests of 64 (the
//!   default, written in this file's configuration);
//! - with max_concurrent_requests = 8 (a helper process: the test binary's
//!   own #[ignore]d test), 64 threads signing 4 times each never have more
//!   than 8 requests in flight, and reach 8;
//! - a throttling storm (the emulator throttles beyond 40 requests/s) over
//!   64 threads x 5 signatures ends with every C_Sign either CKR_OK with a
//!   signature that verifies or CKR_DEVICE_ERROR, and every thread signs
//!   again once the storm is over.
//!
//! Every wait is bounded: a thread still in a call after the bound fails the
//! test with what each thread was doing and every thread's backtrace.

mod common;

use common::algo::Algo;
use common::process::backtrace;
use common::util::{hex, unhex, Rng};
use common::verify::{Batch, Kind};
use common::*;
use std::mem::ManuallyDrop;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant};

static SETUP: Setup = Setup {
    keys: &[
        key("alias/thr-p256", "ECC_NIST_P256"),
        key("alias/thr-p384", "ECC_NIST_P384"),
        key("alias/thr-p521", "ECC_NIST_P521"),
        key("alias/thr-k256", "ECC_SECG_P256K1"),
        key("alias/thr-rsa", "RSA_2048"),
    ],
    config: Config::OneToken,
    aws_extra: "max_concurrent_requests = 64",
    emulator_args: &[],
};

/// Set by scripts/memcheck: the run checks memory, not timing.
fn under_valgrind() -> bool {
    std::env::var_os("KMS11_UNDER_VALGRIND").is_some()
}

fn fx() -> &'static Fixture {
    fixture(&SETUP)
}

const SIGNERS: usize = 64;
const READERS: usize = 64;
const SIGNATURES_EACH: usize = 10;
/// The emulator's added latency while they sign.
const LATENCY_MS: u64 = 200;
/// How long any phase may take before the test fails as hung.
const BOUND: Duration = Duration::from_secs(90);

const ALGOS: &[Algo] = &[
    Algo {
        key: "alias/thr-p256",
        ckm: CKM_ECDSA_SHA256,
        kind: Kind::Ecdsa,
        hash: Some("sha256"),
        multipart: false,
    },
    Algo {
        key: "alias/thr-p384",
        ckm: CKM_ECDSA_SHA384,
        kind: Kind::Ecdsa,
        hash: Some("sha384"),
        multipart: true,
    },
    Algo {
        key: "alias/thr-p521",
        ckm: CKM_ECDSA_SHA512,
        kind: Kind::Ecdsa,
        hash: Some("sha512"),
        multipart: false,
    },
    Algo {
        key: "alias/thr-k256",
        ckm: CKM_ECDSA,
        kind: Kind::EcdsaPrehashed,
        hash: None,
        multipart: false,
    },
    Algo {
        key: "alias/thr-rsa",
        ckm: CKM_SHA256_RSA_PKCS,
        kind: Kind::RsaPkcs1,
        hash: Some("sha256"),
        multipart: false,
    },
    Algo {
        key: "alias/thr-rsa",
        ckm: CKM_SHA512_RSA_PKCS,
        kind: Kind::RsaPkcs1,
        hash: Some("sha512"),
        multipart: true,
    },
    Algo {
        key: "alias/thr-rsa",
        ckm: CKM_SHA384_RSA_PKCS_PSS,
        kind: Kind::RsaPss,
        hash: Some("sha384"),
        multipart: false,
    },
];

impl Algo {
    /// Data no other thread signs: its thread and number, and random bytes.
    fn data(&self, rng: &mut Rng, thread: usize, n: usize) -> Vec<u8> {
        if self.ckm == CKM_ECDSA {
            // A 32-byte hash value; its first bytes still say whose it is.
            let mut d = rng.bytes(32);
            d[..4].copy_from_slice(&(thread as u16).to_be_bytes().repeat(2));
            d[4] = n as u8;
            d
        } else {
            let mut d = format!("thread {thread} signature {n} ").into_bytes();
            let extra = rng.below(2000) as usize;
            d.extend_from_slice(&rng.bytes(extra));
            d
        }
    }
    /// C_SignInit, then C_Sign or C_SignUpdate x3 + C_SignFinal.
    fn sign(&self, s: &Session, key: CK_OBJECT_HANDLE, data: &[u8]) -> Result<Vec<u8>, Rv> {
        if self.multipart {
            let third = data.len() / 3;
            s.sign_parts(
                &self.mech(),
                key,
                &[&data[..third], &data[third..2 * third], &data[2 * third..]],
            )
        } else {
            s.sign_once(&self.mech(), key, data)
        }
    }
    fn what(&self) -> String {
        format!("{} {}", self.label(), mech_name(self.ckm))
    }
}

/// The private key of every algorithm, found in session `s`.
fn keys_of(s: &Session) -> Result<Vec<CK_OBJECT_HANDLE>, String> {
    ALGOS
        .iter()
        .map(|a| {
            let found = s
                .find(&Template::new().class(CKO_PRIVATE_KEY).label(a.label()))
                .map_err(|rv| format!("C_FindObjects {}: {}", a.label(), rv_name(rv)))?;
            match found[..] {
                [h] => Ok(h),
                _ => Err(format!("{} keys labelled {}", found.len(), a.label())),
            }
        })
        .collect()
}

/// (index into ALGOS, data, signature)
type Signed = (usize, Vec<u8>, Vec<u8>);

fn check_all(b: &mut Batch, who: &str, sigs: &[Signed], spki: impl Fn(usize) -> Vec<u8>) {
    for (n, (i, data, sig)) in sigs.iter().enumerate() {
        let a = &ALGOS[*i];
        b.good(
            format!("{who} #{n} {}", a.what()),
            a.kind,
            a.hash,
            &spki(*i),
            data,
            sig,
        );
    }
}

/// What each thread is doing, for a hang report.
struct Progress {
    step: Vec<Mutex<String>>,
    finished: AtomicUsize,
}

impl Progress {
    fn new(n: usize) -> Arc<Progress> {
        Arc::new(Progress {
            step: (0..n).map(|_| Mutex::new("starting".into())).collect(),
            finished: AtomicUsize::new(0),
        })
    }
    fn set(&self, t: usize, what: impl Into<String>) {
        *self.step[t].lock().unwrap() = what.into();
    }
    /// Waits until `n` threads have finished; fails (with every thread's
    /// state and backtrace) after BOUND.
    fn wait(&self, n: usize, what: &str) {
        let deadline = Instant::now() + BOUND;
        while self.finished.load(Ordering::SeqCst) < n {
            if Instant::now() >= deadline {
                self.fail(n, what);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    /// Fails the test with every unfinished thread's state and every thread's backtrace.
    fn fail(&self, n: usize, what: &str) -> ! {
        let stuck: Vec<String> = self
            .step
            .iter()
            .enumerate()
            .map(|(t, s)| format!("  thread {t}: {}", s.lock().unwrap()))
            .filter(|l| !l.ends_with(": finished"))
            .collect();
        panic!(
            "{what}: {} of {n} threads finished within {BOUND:?}; the others hang:\n{}\n\
                     backtraces:\n{}",
            self.finished.load(Ordering::SeqCst),
            stuck.join("\n"),
            backtrace(std::process::id())
        );
    }
}

#[test]
fn signers_and_readers_in_parallel() {
    let _serial = serial();
    let fx = fx();
    let started = Instant::now();
    fx.emu
        .set_faults(&format!("{{\"latency_ms\":{LATENCY_MS}}}"));

    // What the readers expect of each object.
    let shared = fx.session();
    let slot = fx.slot(fx.token);
    let mut expected: Vec<(CK_OBJECT_HANDLE, CK_ATTRIBUTE_TYPE, Vec<u8>)> = Vec::new();
    for k in &fx.keys.0 {
        let key_type = if k.is_rsa() { CKK_RSA } else { CKK_EC };
        for class in [CKO_PRIVATE_KEY, CKO_PUBLIC_KEY] {
            let h = fx.object(&shared, &k.name, class);
            expected.push((h, CKA_CLASS, class.to_ne_bytes().to_vec()));
            expected.push((h, CKA_KEY_TYPE, key_type.to_ne_bytes().to_vec()));
            expected.push((h, CKA_ID, k.cka_id()));
            expected.push((h, CKA_LABEL, k.label().into_bytes()));
        }
    }
    let expected = Arc::new(expected);
    let shared_h = shared.h;

    let progress = Progress::new(SIGNERS + READERS);
    let ready = Arc::new(Barrier::new(SIGNERS + 1));
    let go = Arc::new(Barrier::new(SIGNERS + 1));
    let signers_done = Arc::new(AtomicBool::new(false));
    /// (thread, its signatures or why it stopped)
    type Outcome = (usize, Result<Vec<Signed>, String>);
    let results: Arc<Mutex<Vec<Outcome>>> = Default::default();
    let reads = Arc::new(AtomicUsize::new(0));
    let read_errors: Arc<Mutex<Vec<String>>> = Default::default();

    let mut handles = Vec::new();
    for t in 0..SIGNERS {
        let (progress, ready, go, results) =
            (progress.clone(), ready.clone(), go.clone(), results.clone());
        handles.push(std::thread::spawn(move || {
            let fx = fixture(&SETUP);
            let mut rng = Rng::new();
            let prepared =
                fx.m.open_rw(fx.slot(fx.token))
                    .map_err(|rv| format!("C_OpenSession: {}", rv_name(rv)))
                    .and_then(|s| keys_of(&s).map(|k| (s, k)));
            ready.wait();
            go.wait();
            let outcome = prepared.and_then(|(s, keys)| {
                let mut mine = Vec::new();
                for n in 0..SIGNATURES_EACH {
                    let i = (t + n) % ALGOS.len();
                    let a = &ALGOS[i];
                    let data = a.data(&mut rng, t, n);
                    progress.set(t, format!("signature {n}: {}", a.what()));
                    let sig = a
                        .sign(&s, keys[i], &data)
                        .map_err(|rv| format!("signature {n} ({}): {}", a.what(), rv_name(rv)))?;
                    mine.push((i, data, sig));
                }
                Ok(mine)
            });
            results.lock().unwrap().push((t, outcome));
            progress.set(t, "finished");
            progress.finished.fetch_add(1, Ordering::SeqCst);
        }));
    }
    for r in 0..READERS {
        let t = SIGNERS + r;
        let (progress, expected, signers_done, reads, read_errors) = (
            progress.clone(),
            expected.clone(),
            signers_done.clone(),
            reads.clone(),
            read_errors.clone(),
        );
        handles.push(std::thread::spawn(move || {
            let fx = fixture(&SETUP);
            // The shared session, not closed by this thread.
            let s = ManuallyDrop::new(Session {
                m: &fx.m,
                h: shared_h,
            });
            let mut errors = Vec::new();
            let mut n = 0;
            while !signers_done.load(Ordering::SeqCst) && errors.len() < 5 {
                let (h, ty, want) = &expected[(r + n) % expected.len()];
                progress.set(
                    t,
                    format!("read {n}: C_GetAttributeValue {}", attr_name(*ty)),
                );
                match s.attr(*h, *ty) {
                    Ok(v) if v == *want => {}
                    Ok(v) => errors.push(format!(
                        "reader {r}: object {h} {}: {v:?}, expected {want:?}",
                        attr_name(*ty)
                    )),
                    Err(rv) => errors.push(format!(
                        "reader {r}: object {h} {}: {}",
                        attr_name(*ty),
                        rv_name(rv)
                    )),
                }
                progress.set(t, format!("read {n}: C_GetSessionInfo"));
                match s.info() {
                    Ok(i)
                        if i.slotID == slot
                            && i.state == CKS_RW_PUBLIC_SESSION
                            && i.flags == CKF_SERIAL_SESSION | CKF_RW_SESSION => {}
                    Ok(i) => errors.push(format!(
                        "reader {r}: C_GetSessionInfo: slot {} state {} flags {:#x}",
                        i.slotID, i.state, i.flags
                    )),
                    Err(rv) => {
                        errors.push(format!("reader {r}: C_GetSessionInfo: {}", rv_name(rv)))
                    }
                }
                n += 1;
                reads.fetch_add(1, Ordering::Relaxed);
                // Readers interleave with the signers; they must not starve
                // them of the machine's CPUs.
                std::thread::sleep(Duration::from_millis(1));
            }
            read_errors.lock().unwrap().extend(errors);
            progress.set(t, "finished");
            progress.finished.fetch_add(1, Ordering::SeqCst);
        }));
    }

    // Every signer has its session and keys: count from here.
    ready.wait();
    fx.emu.reset_stats();
    go.wait();
    progress.wait(SIGNERS, "64 signing threads");
    signers_done.store(true, Ordering::SeqCst);
    progress.wait(SIGNERS + READERS, "64 reading threads");
    for h in handles {
        h.join().expect("a thread panicked");
    }
    let stats = fx.emu.stats();
    fx.emu.set_faults("{}");

    let mut results = std::mem::take(&mut *results.lock().unwrap());
    results.sort_by_key(|(t, _)| *t);
    let failures: Vec<String> = results
        .iter()
        .filter_map(|(t, r)| r.as_ref().err().map(|e| format!("  thread {t}: {e}")))
        .collect();
    assert!(
        failures.is_empty(),
        "signing threads failed:\n{}",
        failures.join("\n")
    );
    let read_errors = read_errors.lock().unwrap();
    assert!(
        read_errors.is_empty(),
        "readers of the shared session saw:\n{}",
        read_errors.join("\n")
    );
    let reads = reads.load(Ordering::Relaxed);
    assert!(reads >= READERS, "only {reads} reads were made");

    let sign_requests = stats.get("Sign");
    let peak = stats.peak_in_flight;
    assert_eq!(
        sign_requests,
        (SIGNERS * SIGNATURES_EACH) as u64,
        "KMS Sign requests for {} signatures (lost or repeated operations)",
        SIGNERS * SIGNATURES_EACH
    );
    // Under Valgrind (scripts/memcheck) threads run one at a time, slower
    // than the latency: memory errors are what that run checks, and the
    // exact peak is checked by the normal run.
    let expected_peak = if under_valgrind() {
        peak.clamp(2, SIGNERS as u64)
    } else {
        SIGNERS as u64
    };
    assert_eq!(
        peak, expected_peak,
        "peak of KMS requests in flight with {SIGNERS} signing threads and {LATENCY_MS} ms of latency \
         (below {SIGNERS}: some lock of the module is held across a KMS call; above: the \
         max_concurrent_requests cap of 64 is not kept)"
    );

    let mut b = Batch::new();
    for (t, r) in &results {
        check_all(&mut b, &format!("thread {t}"), r.as_ref().unwrap(), |i| {
            fx.key(ALGOS[i].key).spki.clone()
        });
    }
    let verified = b.run();
    assert_eq!(verified, SIGNERS * SIGNATURES_EACH);
    eprintln!(
        "signers_and_readers_in_parallel: {SIGNERS} signers x {SIGNATURES_EACH} = {verified} \
         signatures verified, {reads} reads by {READERS} readers of one session, \
         {sign_requests} Sign requests, peak in flight {peak}; {:?}",
        started.elapsed()
    );
}

// ---- max_concurrent_requests = 8 ----

const CAP: u64 = 8;
const CAP_SIGNATURES_EACH: usize = 4;
const HELPER_ENV: &str = "KMS11_TEST_THREADS_HELPER";

#[test]
fn request_cap_holds() {
    let _serial = serial();
    let fx = fx();
    let started = Instant::now();
    let config = fx.config_path.as_ref().expect("a configuration file");
    let text = std::fs::read_to_string(config).unwrap();
    assert!(text.contains("max_concurrent_requests = 64"));
    let capped = tmp_dir().join("capped.toml");
    write(
        &capped,
        &text.replace(
            "max_concurrent_requests = 64",
            &format!("max_concurrent_requests = {CAP}"),
        ),
    );
    fx.emu.set_faults(r#"{"latency_ms":50}"#);
    fx.emu.reset_stats();
    let run = process::run_helper(
        "helper_sign_from_64_threads",
        &[
            (HELPER_ENV, fx.token.to_string()),
            ("KMS11_CONFIG", capped.to_string_lossy().into_owned()),
        ],
        BOUND,
    );
    let out = run.stdout;
    let stats = fx.emu.stats();
    fx.emu.set_faults("{}");
    let mut sigs = Vec::new();
    for line in out.lines() {
        let line = line.find("SIG\t").map_or(line, |at| &line[at..]);
        let f: Vec<&str> = line.split('\t').collect();
        if f.len() == 4 && f[0] == "SIG" {
            sigs.push((f[1].parse().unwrap(), unhex(f[2]), unhex(f[3])));
        }
    }
    let total = SIGNERS * CAP_SIGNATURES_EACH;
    assert_eq!(sigs.len(), total, "signatures from the helper:\n{out}");
    let sign_requests = stats.get("Sign");
    let peak = stats.peak_in_flight;
    assert_eq!(sign_requests, total as u64, "KMS Sign requests");
    assert_eq!(
        peak, CAP,
        "peak of KMS requests in flight with max_concurrent_requests = {CAP} and {SIGNERS} signing threads"
    );
    let mut b = Batch::new();
    check_all(&mut b, "capped helper", &sigs, |i| {
        fx.key(ALGOS[i].key).spki.clone()
    });
    let verified = b.run();
    eprintln!(
        "request_cap_holds: {SIGNERS} threads x {CAP_SIGNATURES_EACH} = {verified} signatures \
         verified, peak in flight {peak} (cap {CAP}); {:?}",
        started.elapsed()
    );
}

#[test]
#[ignore = "run in a child process by request_cap_holds"]
fn helper_sign_from_64_threads() {
    let Ok(token) = std::env::var(HELPER_ENV) else {
        return;
    };
    let m: &'static Library = Box::leak(Box::new(Library::load(&build::module_path())));
    // SAFETY: a plain call with no arguments.
    let rv = unsafe { m.list().C_Initialize.unwrap()(std::ptr::null_mut()) };
    assert_eq!(rv, CKR_OK, "C_Initialize: {}", rv_name(rv));
    let slot = find_slot(m, &token);
    let progress = Progress::new(SIGNERS);
    let go = Arc::new(Barrier::new(SIGNERS));
    let out: Arc<Mutex<Vec<String>>> = Default::default();
    let handles: Vec<_> = (0..SIGNERS)
        .map(|t| {
            let (progress, go, out) = (progress.clone(), go.clone(), out.clone());
            std::thread::spawn(move || {
                let s = ok(m.open_rw(slot), "C_OpenSession");
                let keys = keys_of(&s).unwrap();
                let mut rng = Rng::new();
                go.wait();
                for n in 0..CAP_SIGNATURES_EACH {
                    let i = (t + n) % ALGOS.len();
                    let a = &ALGOS[i];
                    let data = a.data(&mut rng, t, n);
                    progress.set(t, format!("signature {n}: {}", a.what()));
                    let sig = ok(a.sign(&s, keys[i], &data), "C_Sign");
                    out.lock()
                        .unwrap()
                        .push(format!("SIG\t{i}\t{}\t{}", hex(&data), hex(&sig)));
                }
                progress.set(t, "finished");
                progress.finished.fetch_add(1, Ordering::SeqCst);
            })
        })
        .collect();
    progress.wait(SIGNERS, "64 signing threads, 8 requests at a time");
    for h in handles {
        h.join().expect("a signing thread panicked");
    }
    println!();
    for l in out.lock().unwrap().iter() {
        println!("{l}");
    }
    println!("HELPER DONE");
}

// ---- a throttling storm ----

const STORM_SIGNATURES_EACH: usize = 5;

#[test]
fn throttling_storm() {
    let _serial = serial();
    let fx = fx();
    let started = Instant::now();
    let progress = Progress::new(SIGNERS);
    let prepared = Arc::new(Barrier::new(SIGNERS + 1));
    let go = Arc::new(Barrier::new(SIGNERS + 1));
    let storm_over = Arc::new(Barrier::new(SIGNERS + 1));
    type Outcome = (Vec<Signed>, usize, Vec<String>, Option<Signed>);
    let results: Arc<Mutex<Vec<(usize, Outcome)>>> = Default::default();
    let handles: Vec<_> = (0..SIGNERS)
        .map(|t| {
            let (progress, prepared, go, storm_over, results) = (
                progress.clone(),
                prepared.clone(),
                go.clone(),
                storm_over.clone(),
                results.clone(),
            );
            std::thread::spawn(move || {
                let fx = fixture(&SETUP);
                let s = fx.session();
                let keys = keys_of(&s);
                let mut rng = Rng::new();
                prepared.wait();
                go.wait();
                let (mut signed, mut device_errors, mut other) = (Vec::new(), 0, Vec::new());
                let keys = match keys {
                    Ok(k) => k,
                    Err(e) => {
                        other.push(e);
                        Vec::new()
                    }
                };
                for n in 0..STORM_SIGNATURES_EACH {
                    if keys.is_empty() {
                        break;
                    }
                    let i = (t + n) % ALGOS.len();
                    let a = &ALGOS[i];
                    let data = a.data(&mut rng, t, n);
                    progress.set(t, format!("storm signature {n}: {}", a.what()));
                    match a.sign(&s, keys[i], &data) {
                        Ok(sig) => signed.push((i, data, sig)),
                        Err(CKR_DEVICE_ERROR) => device_errors += 1,
                        Err(rv) => other.push(format!(
                            "thread {t} signature {n} ({}): {}",
                            a.what(),
                            rv_name(rv)
                        )),
                    }
                }
                progress.set(t, "waiting for the storm to end");
                storm_over.wait();
                let mut after = None;
                if !keys.is_empty() {
                    let i = t % ALGOS.len();
                    let data = ALGOS[i].data(&mut rng, t, 99);
                    progress.set(t, "signing after the storm");
                    match ALGOS[i].sign(&s, keys[i], &data) {
                        Ok(sig) => after = Some((i, data, sig)),
                        Err(rv) => other.push(format!(
                            "thread {t} after the storm ({}): {}",
                            ALGOS[i].what(),
                            rv_name(rv)
                        )),
                    }
                }
                results
                    .lock()
                    .unwrap()
                    .push((t, (signed, device_errors, other, after)));
                progress.set(t, "finished");
                progress.finished.fetch_add(1, Ordering::SeqCst);
            })
        })
        .collect();
    prepared.wait();
    fx.emu.set_faults(r#"{"throttle_rps":40}"#);
    fx.emu.reset_stats();
    go.wait();
    // The storm: wait (bounded) until every thread has made its signatures.
    let deadline = Instant::now() + BOUND;
    loop {
        let waiting = progress
            .step
            .iter()
            .filter(|s| s.lock().unwrap().starts_with("waiting"))
            .count();
        if waiting == SIGNERS {
            break;
        }
        if Instant::now() >= deadline {
            fx.emu.set_faults("{}");
            progress.fail(SIGNERS, "the throttling storm");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let stats = fx.emu.stats();
    fx.emu.set_faults("{}");
    let storm_took = started.elapsed();
    storm_over.wait();
    progress.wait(SIGNERS, "signing after the throttling storm");
    for h in handles {
        h.join().expect("a thread panicked");
    }

    let results = std::mem::take(&mut *results.lock().unwrap());
    let other: Vec<&String> = results.iter().flat_map(|(_, r)| &r.2).collect();
    assert!(
        other.is_empty(),
        "C_Sign in a throttling storm must give CKR_OK or CKR_DEVICE_ERROR:\n{}",
        other
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    );
    let signed: usize = results.iter().map(|(_, r)| r.0.len()).sum();
    let device_errors: usize = results.iter().map(|(_, r)| r.1).sum();
    assert_eq!(signed + device_errors, SIGNERS * STORM_SIGNATURES_EACH);
    let throttled = stats.injected.throttled;
    // Under Valgrind the threads may be too slow to exceed the rate.
    assert!(
        throttled > 0 || under_valgrind(),
        "the emulator throttled nothing: there was no storm"
    );
    let mut b = Batch::new();
    for (t, (sigs, _, _, after)) in &results {
        check_all(&mut b, &format!("storm thread {t}"), sigs, |i| {
            fx.key(ALGOS[i].key).spki.clone()
        });
        let after = after.as_ref().expect("a signature after the storm");
        check_all(
            &mut b,
            &format!("thread {t} after the storm"),
            std::slice::from_ref(after),
            |i| fx.key(ALGOS[i].key).spki.clone(),
        );
    }
    let verified = b.run();
    eprintln!(
        "throttling_storm: {SIGNERS} threads x {STORM_SIGNATURES_EACH}: {signed} signed, \
         {device_errors} CKR_DEVICE_ERROR, {throttled} throttled answers, storm over in \
         {storm_took:?}; {verified} signatures verified (with {SIGNERS} after the storm); {:?}",
        started.elapsed()
    );
}
