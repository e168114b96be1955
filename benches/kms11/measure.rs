//! The measurements themselves: interleaved single calls, threads or tasks
//! signing for a set time, a child process, multi-part hashing.

use crate::child::CHILD_FLAG;
use crate::direct::{Direct, DirectKey};
use crate::module::{self, private_key, Library};
use crate::results::{HashResult, ProcessRun, Run};
use crate::settings::{BenchKey, KEYS, MESSAGE};
use cryptoki::mechanism::Mechanism;
use cryptoki::session::Session;
use kms11_testkit::Emulator;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Barrier, OnceLock};
use std::time::{Duration, Instant};

/// that are not kept: the clients see the same machine load.
pub fn interleaved(rounds: usize, warm: usize, ops: &mut [&mut dyn FnMut()]) -> Vec<Vec<Duration>> {
    let mut samples = vec![Vec::with_capacity(rounds); ops.len()];
    for round in 0..warm + rounds {
        for (i, op) in ops.iter_mut().enumerate() {
            let t = Instant::now();
            op();
            let d = t.elapsed();
            if round >= warm {
                samples[i].push(d);
            }
        }
    }
    samples
}

/// `n` threads, each with its own session, signing in a loop for `time`
/// after two warm-up signatures each; the emulator's counters are reset
/// between warm-up and measurement.
pub fn module_throughput(
    m: &Library,
    slot: cryptoki::slot::Slot,
    key: &BenchKey,
    n: usize,
    time: Duration,
    emu: &Emulator,
) -> Run {
    let ready = Arc::new(Barrier::new(n + 1));
    let go = Arc::new(Barrier::new(n + 1));
    let deadline: Arc<OnceLock<Instant>> = Arc::new(OnceLock::new());
    let mut workers = Vec::new();
    for _ in 0..n {
        let p11 = m.p11.clone();
        let (ready, go, deadline) = (ready.clone(), go.clone(), deadline.clone());
        let (label, kind) = (key.label, key.kind);
        workers.push(std::thread::spawn(move || {
            let mechanism = kind.mechanism();
            let session: Session = p11.open_ro_session(slot).expect("C_OpenSession");
            let h = private_key(&session, label);
            for _ in 0..2 {
                module::sign(&session, &mechanism, h, MESSAGE);
            }
            ready.wait();
            go.wait();
            let end = *deadline.get().expect("deadline");
            let mut count = 0u64;
            while Instant::now() < end {
                module::sign(&session, &mechanism, h, MESSAGE);
                count += 1;
            }
            count
        }));
    }
    ready.wait();
    measured(emu, || {
        let started = Instant::now();
        deadline.set(started + time).unwrap();
        go.wait();
        let total: u64 = workers.into_iter().map(|w| w.join().expect("worker")).sum();
        (total, started.elapsed())
    })
}

pub fn direct_throughput(
    d: &Direct,
    key: &DirectKey,
    n: usize,
    time: Duration,
    emu: &Emulator,
) -> Run {
    d.warm(key, n, MESSAGE);
    d.warm(key, n, MESSAGE);
    measured(emu, || d.throughput(key, n, time, MESSAGE))
}

/// Runs `signing` (which answers the signatures it made and the time they
/// took) after resetting the emulator's counters; the CPU time both sides
/// used meanwhile, and what the emulator counted.
fn measured(emu: &Emulator, signing: impl FnOnce() -> (u64, Duration)) -> Run {
    emu.reset_stats();
    let (cpu, emu_cpu) = (process_cpu(), emu.cpu());
    let (sigs, time) = signing();
    Run {
        sigs,
        time,
        cpu: process_cpu().saturating_sub(cpu),
        emulator_cpu: emu.cpu().saturating_sub(emu_cpu),
        stats: emu.stats(),
    }
}

/// CPU time (user + system) of this process so far, from /proc/self/stat
/// (clock ticks of 10 ms).
pub fn process_cpu() -> Duration {
    kms11_testkit::emulator::cpu_of("/proc/self/stat")
}

/// Runs the bench binary as a child (`child.rs`) with its cache in `cache`.
pub fn child(args: &[String], cache: &Path, emu: &Emulator) -> ProcessRun {
    emu.reset_stats();
    let exe = std::env::current_exe().expect("current_exe");
    let t = Instant::now();
    let out = Command::new(exe)
        .arg(CHILD_FLAG)
        .args(args)
        .env("XDG_CACHE_HOME", cache)
        .stderr(std::process::Stdio::inherit())
        .output()
        .expect("child process");
    let wall = t.elapsed();
    assert!(
        out.status.success(),
        "child {args:?} failed: {}",
        out.status
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().last().unwrap_or("{}");
    let json: Value = serde_json::from_str(line).expect("child JSON");
    let stats = emu.stats();
    ProcessRun { json, wall, stats }
}

pub fn fresh_dir(tmp: &Path, name: &str) -> PathBuf {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let d = tmp.join(format!("{name}-{n}"));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// 1 MiB of bytes that no compressor or branch predictor finds regular.
pub fn noise(seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..1 << 20)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

pub fn hashing(m: &Library, tmp: &Path, mib: usize, runs: usize) -> HashResult {
    use std::io::{Read, Write};
    let file = tmp.join("hash-input.bin");
    {
        let mut f = std::io::BufWriter::new(std::fs::File::create(&file).unwrap());
        for i in 0..mib {
            f.write_all(&noise(i as u64 + 1)).unwrap();
        }
        f.flush().unwrap();
    }
    let bytes = (mib << 20) as f64;
    let openssl = || {
        let t = Instant::now();
        let out = Command::new("openssl")
            .args(["dgst", "-sha256"])
            .arg(&file)
            .output()
            .expect("openssl");
        assert!(out.status.success());
        bytes / t.elapsed().as_secs_f64() / 1e6
    };
    let slot = m.slot("bench");
    let session = m.session(slot);
    let key = private_key(&session, KEYS[0].label);
    let module = || {
        let t = Instant::now();
        let mut f = std::fs::File::open(&file).unwrap();
        let mut buf = vec![0u8; 1 << 20];
        session
            .sign_init(&Mechanism::EcdsaSha256, key)
            .expect("C_SignInit");
        loop {
            let n = f.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            session.sign_update(&buf[..n]).expect("C_SignUpdate");
        }
        let sig = session.sign_final().expect("C_SignFinal");
        assert_eq!(sig.len(), 64);
        bytes / t.elapsed().as_secs_f64() / 1e6
    };
    // The first pass of each puts the file in the page cache and is not kept.
    openssl();
    module();
    let mut result = HashResult {
        mib,
        module_mbs: Vec::new(),
        openssl_mbs: Vec::new(),
    };
    for _ in 0..runs {
        result.openssl_mbs.push(openssl());
        result.module_mbs.push(module());
    }
    let _ = std::fs::remove_file(&file);
    result
}
