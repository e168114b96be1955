//! Issue 7's benchmark: libkms11.so against the direct aws-sdk-kms `Sign`
//! call, both talking to kms11-emulator with 0 ms and 20 ms of added
//! latency, printed as one markdown table, then each target's verdict.
//!
//! ```text
//! cargo bench --bench kms11                       # about 5 minutes
//! KMS11_BENCH_QUICK=1 cargo bench --bench kms11   # smoke run, under a minute
//! ```
//!
//! Environment: `KMS11_BENCH_QUICK=1` (few samples), `KMS11_BENCH_STRICT=1`
//! (exit 1 when a target is missed), `KMS11_BENCH_LATENCIES=0,20`,
//! `KMS11_BENCH_HASH_MIB=1024`, `KMS11_BENCH_TLS=0` (skip the HTTPS part),
//! `KMS11_MODULE` / `KMS11_EMULATOR` (prebuilt files; otherwise the bench
//! runs `cargo build --release` for both, a no-op when they are current).
//!
//! Everything runs in this process except what must be a new process
//! (startup, the 100-key token and its memory): the bench runs itself as a
//! child for those (`child.rs`).

mod child;
mod direct;
mod emulator;
mod module;
mod report;

use cryptoki::mechanism::Mechanism;
use cryptoki::session::Session;
use direct::{Direct, DirectKey};
use emulator::{Emulator, Stats};
use module::{private_key, Module};
use report::{median, ms, ms_f, pct_diff, thousands, us_diff, Pct, Table};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Barrier, OnceLock};
use std::time::{Duration, Instant};

/// The message every signature is over (a JWT-sized input): the module
/// hashes it (CKM_ECDSA_SHA256, CKM_SHA256_RSA_PKCS), the direct caller
/// hashes it with sha2 and sends the digest, as the module does.
const MESSAGE: &[u8] = b"eyJhbGciOiJFUzI1NiIsInR5cCI6IkpXVCIsImtpZCI6ImJlbmNoIn0.eyJpc3MiOiJiZW5jaCIsInN1YiI6ImttczExIiwiYXVkIjoicmVnaXN0cnkiLCJleHAiOjE3MDAwMDAwMDB9";

const THREADS: [usize; 4] = [1, 4, 16, 64];
const HUNDRED: usize = 100;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    P256,
    Rsa2048,
    Rsa4096,
}

struct BenchKey {
    kind: Kind,
    name: &'static str,
    label: &'static str,
    spec: &'static str,
}

const KEYS: [BenchKey; 3] = [
    BenchKey {
        kind: Kind::P256,
        name: "P-256",
        label: "bench-p256",
        spec: "ECC_NIST_P256",
    },
    BenchKey {
        kind: Kind::Rsa2048,
        name: "RSA-2048",
        label: "bench-rsa2048",
        spec: "RSA_2048",
    },
    BenchKey {
        kind: Kind::Rsa4096,
        name: "RSA-4096",
        label: "bench-rsa4096",
        spec: "RSA_4096",
    },
];

impl Kind {
    fn mechanism(self) -> Mechanism<'static> {
        match self {
            Kind::P256 => Mechanism::EcdsaSha256,
            _ => Mechanism::Sha256RsaPkcs,
        }
    }
}

impl BenchKey {
    fn mechanism(&self) -> Mechanism<'static> {
        self.kind.mechanism()
    }

    fn algorithm(&self) -> aws_sdk_kms::types::SigningAlgorithmSpec {
        use aws_sdk_kms::types::SigningAlgorithmSpec as A;
        match self.kind {
            Kind::P256 => A::EcdsaSha256,
            _ => A::RsassaPkcs1V15Sha256,
        }
    }

    fn alias(&self) -> String {
        format!("alias/{}", self.label)
    }
}

fn hundred_label(i: usize) -> String {
    format!("bench-k{i:03}")
}

struct Settings {
    quick: bool,
    strict: bool,
    latencies: Vec<u64>,
    hash_mib: usize,
    tls: bool,
}

impl Settings {
    fn from_env() -> Settings {
        let flag = |k: &str| std::env::var(k).is_ok_and(|v| !v.is_empty() && v != "0");
        let quick = flag("KMS11_BENCH_QUICK");
        let latencies = std::env::var("KMS11_BENCH_LATENCIES")
            .ok()
            .map(|v| v.split(',').filter_map(|s| s.trim().parse().ok()).collect())
            .unwrap_or_else(|| vec![0, 20]);
        let hash_mib = std::env::var("KMS11_BENCH_HASH_MIB")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(if quick { 128 } else { 1024 });
        Settings {
            quick,
            strict: flag("KMS11_BENCH_STRICT"),
            latencies,
            hash_mib,
            tls: std::env::var("KMS11_BENCH_TLS").map_or(true, |v| v != "0"),
        }
    }

    /// Interleaved rounds of single-thread C_Sign for a key at a latency.
    fn rounds(&self, kind: Kind, latency_ms: u64) -> usize {
        let full = match (latency_ms, kind) {
            (0, Kind::P256) => 1500,
            (0, Kind::Rsa2048) => 1000,
            (0, Kind::Rsa4096) => 300,
            _ => 200,
        };
        if self.quick {
            (full / 10).max(20)
        } else {
            full
        }
    }

    /// Measured slices per throughput point, each side in turn.
    fn slices(&self) -> usize {
        if self.quick {
            1
        } else {
            3
        }
    }

    fn slice_time(&self, latency_ms: u64) -> Duration {
        match (self.quick, latency_ms) {
            (true, _) => Duration::from_millis(700),
            (false, 0) => Duration::from_secs(1),
            (false, _) => Duration::from_millis(1500),
        }
    }

    fn process_runs(&self) -> usize {
        if self.quick {
            2
        } else {
            5
        }
    }

    fn hundred_runs(&self) -> usize {
        if self.quick {
            1
        } else {
            5
        }
    }
}

fn say(s: impl AsRef<str>) {
    eprintln!("kms11 bench: {}", s.as_ref());
}

// ---------------------------------------------------------------- setup

struct Paths {
    module: PathBuf,
    emulator: PathBuf,
    tmp: PathBuf,
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// target/release: where this bench binary lives (target/release/deps/..),
/// else $CARGO_TARGET_DIR/release.
fn release_dir() -> PathBuf {
    if let Ok(exe) = std::env::current_exe() {
        if let Some(deps) = exe.parent().filter(|d| d.ends_with("deps")) {
            if let Some(profile) = deps.parent() {
                return profile.to_path_buf();
            }
        }
    }
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("target"))
        .join("release")
}

fn cargo_build(args: &[&str]) {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    say(format!("{cargo} build {}", args.join(" ")));
    let status = Command::new(&cargo)
        .arg("build")
        .args(args)
        .current_dir(repo())
        .status()
        .unwrap_or_else(|e| panic!("running {cargo}: {e}"));
    assert!(status.success(), "cargo build {} failed", args.join(" "));
}

fn artefact(env_var: &str, built: PathBuf, build_args: &[&str]) -> PathBuf {
    if let Some(p) = std::env::var_os(env_var) {
        return PathBuf::from(p);
    }
    cargo_build(build_args);
    assert!(
        built.exists(),
        "{} missing after the build",
        built.display()
    );
    built
}

/// The environment every client here (and every child) runs in: static
/// test credentials from the environment, no profile files, no instance
/// metadata, no kms11 configuration but the one passed to C_Initialize.
fn prepare_env(tmp: &Path) {
    for (k, _) in std::env::vars_os() {
        let k = k.to_string_lossy().into_owned();
        if k.starts_with("AWS_") || k == "KMS11_CONFIG" || k == "KMS11_KEYS" || k == "KMS11_LOG" {
            std::env::remove_var(&k);
        }
    }
    std::env::set_var("AWS_ACCESS_KEY_ID", "test");
    std::env::set_var("AWS_SECRET_ACCESS_KEY", "test");
    std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
    std::env::set_var("AWS_CONFIG_FILE", tmp.join("no-aws-config"));
    std::env::set_var(
        "AWS_SHARED_CREDENTIALS_FILE",
        tmp.join("no-aws-credentials"),
    );
    std::env::set_var("XDG_CACHE_HOME", tmp.join("cache-main"));
}

fn key_id(n: usize) -> String {
    format!("00000000-0000-4000-8000-{n:012x}")
}

fn write_seed(path: &Path) {
    let mut keys: Vec<(String, &str, String)> = KEYS
        .iter()
        .enumerate()
        .map(|(i, k)| (k.alias(), k.spec, key_id(i + 1)))
        .collect();
    for i in 0..HUNDRED {
        keys.push((
            format!("alias/{}", hundred_label(i)),
            "ECC_NIST_P256",
            key_id(1000 + i),
        ));
    }
    emulator::write_seed(path, &keys);
}

/// A kms11 configuration: token "bench" (the three keys), token "hundred"
/// (100 P-256 keys) and token "one" (the first of them), by alias, as
/// README's example names keys.
fn write_config(path: &Path, url: &str, verify: bool, ca: Option<&Path>) {
    let mut s = format!("[aws]\nregion = \"us-east-1\"\nendpoint_url = \"{url}\"\n");
    if let Some(ca) = ca {
        s += &format!("ca_bundle = \"{}\"\n", ca.display());
    }
    s += &format!("\n[signing]\nverify_signatures = {verify}\n");
    s += "\n[[token]]\nlabel = \"bench\"\n";
    for k in &KEYS {
        s += &format!("[[token.key]]\nkey = \"{}\"\n", k.alias());
    }
    s += "\n[[token]]\nlabel = \"hundred\"\n";
    for i in 0..HUNDRED {
        s += &format!("[[token.key]]\nkey = \"alias/{}\"\n", hundred_label(i));
    }
    s += "\n[[token]]\nlabel = \"one\"\n";
    s += &format!("[[token.key]]\nkey = \"alias/{}\"\n", hundred_label(0));
    std::fs::write(path, s).expect("configuration file");
}

// ---------------------------------------------------------------- results

struct LatencyResult {
    latency: u64,
    key: &'static str,
    kind: Kind,
    direct: Pct,
    on: Pct,
    off: Pct,
}

struct ThroughputResult {
    latency: u64,
    threads: usize,
    module: Run,
    /// With verify_signatures = false (measured at 0 ms only).
    module_off: Option<Run>,
    direct: Run,
    /// "https" for the TLS run.
    transport: &'static str,
}

struct ProcessRun {
    json: Value,
    wall: Duration,
    stats: Stats,
}

impl ProcessRun {
    fn us(&self, k: &str) -> f64 {
        self.json[k].as_f64().unwrap_or(0.0)
    }
}

struct StartupResult {
    latency: u64,
    cold: Vec<ProcessRun>,
    warm: Vec<ProcessRun>,
    direct: Vec<ProcessRun>,
}

struct HundredResult {
    latency: u64,
    rtt: Duration,
    cold: Vec<ProcessRun>,
    warm: Vec<ProcessRun>,
    /// A token of one of the same keys, cold: what one key costs.
    cold_one: Vec<ProcessRun>,
}

impl HundredResult {
    const VARIANTS: [&'static str; 3] = [
        "100 keys: C_OpenSession + C_FindObjects + C_GetAttributeValue (200 objects), cold cache",
        "100 keys: C_OpenSession + C_FindObjects + C_GetAttributeValue (200 objects), warm cache",
        "1 key (one of the 100): C_OpenSession + C_FindObjects + C_GetAttributeValue (2 objects), cold cache",
    ];

    fn variant(&self, i: usize) -> &[ProcessRun] {
        match i {
            0 => &self.cold,
            1 => &self.warm,
            _ => &self.cold_one,
        }
    }

    /// Round trips the added latency costs: the time over that at 0 ms, in
    /// units of one round trip's increase.
    fn added_trips(&self, zero: &HundredResult, variant: usize) -> f64 {
        let extra = resolve_ms(self.variant(variant)) - resolve_ms(zero.variant(variant));
        let per_trip = (self.rtt.as_secs_f64() - zero.rtt.as_secs_f64()) * 1e3;
        extra / per_trip.max(1e-9)
    }
}

/// A 100-key process's C_OpenSession (which resolves the keys) and first
/// C_FindObjects + C_GetAttributeValue pass, median over runs, in ms.
fn resolve_ms(runs: &[ProcessRun]) -> f64 {
    median(
        runs.iter()
            .map(|p| (p.us("session_us") - p.us("slot_us") + p.us("find_attrs_first_us")) / 1e3)
            .collect(),
    )
}

struct HashResult {
    mib: usize,
    module_mbs: Vec<f64>,
    openssl_mbs: Vec<f64>,
}

#[derive(Default)]
struct Results {
    latency: Vec<LatencyResult>,
    tls_latency: Option<(Pct, Pct)>,
    throughput: Vec<ThroughputResult>,
    startup: Vec<StartupResult>,
    hundred: Vec<HundredResult>,
    hash: Option<HashResult>,
    library_size: u64,
    /// block_on and spawn + channel, p50 of a loopback request.
    handoff: Option<(Duration, Duration)>,
}

// ---------------------------------------------------------------- measurements

/// Signatures made in a measured time, and what the emulator counted.
#[derive(Default)]
struct Run {
    sigs: u64,
    time: Duration,
    /// CPU time of this process (the client side) during the run.
    cpu: Duration,
    /// CPU time of the emulator during the run.
    emulator_cpu: Duration,
    stats: Stats,
}

impl Run {
    fn add(&mut self, other: Run) {
        self.sigs += other.sigs;
        self.time += other.time;
        self.cpu += other.cpu;
        self.emulator_cpu += other.emulator_cpu;
        for (op, n) in other.stats.requests {
            *self.stats.requests.entry(op).or_insert(0) += n;
        }
        self.stats.connections += other.stats.connections;
        self.stats.peak_in_flight = self.stats.peak_in_flight.max(other.stats.peak_in_flight);
    }

    fn rate(&self) -> f64 {
        self.sigs as f64 / self.time.as_secs_f64().max(1e-9)
    }

    /// Client CPU per signature, in microseconds.
    fn cpu_us(&self) -> f64 {
        self.cpu.as_secs_f64() * 1e6 / self.sigs.max(1) as f64
    }

    fn emulator_cpu_us(&self) -> f64 {
        self.emulator_cpu.as_secs_f64() * 1e6 / self.sigs.max(1) as f64
    }
}

/// Round-robin over `ops`, one call each per round, after `warm` rounds
/// that are not kept: the clients see the same machine load.
fn interleaved(rounds: usize, warm: usize, ops: &mut [&mut dyn FnMut()]) -> Vec<Vec<Duration>> {
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
fn module_throughput(
    m: &Module,
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
    emu.reset();
    let (cpu, emu_cpu) = (process_cpu(), emu.cpu());
    let started = Instant::now();
    deadline.set(started + time).unwrap();
    go.wait();
    let total: u64 = workers.into_iter().map(|w| w.join().expect("worker")).sum();
    let elapsed = started.elapsed();
    Run {
        sigs: total,
        time: elapsed,
        cpu: process_cpu().saturating_sub(cpu),
        emulator_cpu: emu.cpu().saturating_sub(emu_cpu),
        stats: emu.stats(),
    }
}

fn direct_throughput(d: &Direct, key: &DirectKey, n: usize, time: Duration, emu: &Emulator) -> Run {
    d.warm(key, n, MESSAGE);
    d.warm(key, n, MESSAGE);
    emu.reset();
    let (cpu, emu_cpu) = (process_cpu(), emu.cpu());
    let (total, elapsed) = d.throughput(key, n, time, MESSAGE);
    Run {
        sigs: total,
        time: elapsed,
        cpu: process_cpu().saturating_sub(cpu),
        emulator_cpu: emu.cpu().saturating_sub(emu_cpu),
        stats: emu.stats(),
    }
}

/// CPU time (user + system) of this process so far, from /proc/self/stat
/// (clock ticks of 10 ms).
fn process_cpu() -> Duration {
    emulator::cpu_of("/proc/self/stat")
}

/// Runs the bench binary as a child (`child.rs`) with its cache in `cache`.
fn child(args: &[String], cache: &Path, emu: &Emulator) -> ProcessRun {
    emu.reset();
    let exe = std::env::current_exe().expect("current_exe");
    let t = Instant::now();
    let out = Command::new(exe)
        .arg(child::CHILD_FLAG)
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

fn fresh_dir(tmp: &Path, name: &str) -> PathBuf {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let d = tmp.join(format!("{name}-{n}"));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// 1 MiB of bytes that no compressor or branch predictor finds regular.
fn noise(seed: u64) -> Vec<u8> {
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

fn hashing(m: &Module, tmp: &Path, mib: usize, runs: usize) -> HashResult {
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

// ---------------------------------------------------------------- phases

struct Ctx<'a> {
    s: &'a Settings,
    paths: &'a Paths,
    seed: PathBuf,
    on: Module,
    off: Module,
    results: Results,
}

impl Ctx<'_> {
    fn phase(&mut self, latency: u64) {
        let tmp = &self.paths.tmp;
        say(format!("--- {latency} ms added latency"));
        let emu = Emulator::start(
            &self.paths.emulator,
            &self.seed,
            latency,
            None,
            &emulator::log_path(tmp, &format!("{latency}ms")),
        );
        let conf_on = tmp.join(format!("kms11-{latency}ms-verify.conf"));
        let conf_off = tmp.join(format!("kms11-{latency}ms-noverify.conf"));
        write_config(&conf_on, &emu.url, true, None);
        write_config(&conf_off, &emu.url, false, None);
        self.on.initialize(&conf_on);
        self.off.initialize(&conf_off);
        let direct = Direct::new(&emu.url, None);
        let slot_on = self.on.slot("bench");
        let slot_off = self.off.slot("bench");
        let s_on = self.on.session(slot_on);
        let s_off = self.off.session(slot_off);

        // Single-thread C_Sign against the direct call, interleaved.
        let mut rtt = Duration::ZERO;
        for key in &KEYS {
            let rounds = self.s.rounds(key.kind, latency);
            say(format!("C_Sign {} x {rounds} (interleaved)", key.name));
            let dk = DirectKey {
                arn: direct.arn(&key.alias()),
                algorithm: key.algorithm(),
            };
            let h_on = private_key(&s_on, key.label);
            let h_off = private_key(&s_off, key.label);
            let mech = key.mechanism();
            let mut op_direct = || {
                direct.sign_message(&dk, MESSAGE);
            };
            let mut op_on = || {
                module::sign(&s_on, &mech, h_on, MESSAGE);
            };
            let mut op_off = || {
                module::sign(&s_off, &mech, h_off, MESSAGE);
            };
            let mut samples = interleaved(
                rounds,
                (rounds / 20).max(5),
                &mut [&mut op_direct, &mut op_on, &mut op_off],
            );
            let off = Pct::of(samples.pop().unwrap());
            let on = Pct::of(samples.pop().unwrap());
            let direct_p = Pct::of(samples.pop().unwrap());
            if key.kind == Kind::P256 {
                rtt = direct_p.p50;
            }
            self.results.latency.push(LatencyResult {
                latency,
                key: key.name,
                kind: key.kind,
                direct: direct_p,
                on,
                off,
            });
        }
        drop(s_on);
        drop(s_off);

        // Throughput, P-256, verification on (the default).
        let key = &KEYS[0];
        let dk = DirectKey {
            arn: direct.arn(&key.alias()),
            algorithm: key.algorithm(),
        };
        for n in THREADS {
            say(format!("throughput, {n} threads / in flight"));
            let (mut on, mut sdk, mut off) = (Run::default(), Run::default(), Run::default());
            // Alternating slices, so that the machine's other load falls on
            // both sides alike.
            for _ in 0..self.s.slices() {
                let time = self.s.slice_time(latency);
                on.add(module_throughput(&self.on, slot_on, key, n, time, &emu));
                sdk.add(direct_throughput(&direct, &dk, n, time, &emu));
                // At 0 ms both sides are CPU-bound: how much of the gap is
                // the verification of each signature.
                if latency == 0 {
                    off.add(module_throughput(&self.off, slot_off, key, n, time, &emu));
                }
            }
            self.results.throughput.push(ThroughputResult {
                latency,
                threads: n,
                module: on,
                module_off: (latency == 0).then_some(off),
                direct: sdk,
                transport: "http",
            });
        }

        // New processes: dlopen + C_Initialize .. first signature.
        say("new processes: first signature, cold and warm cache");
        let module_path = self.paths.module.display().to_string();
        let startup_args = |conf: &Path| -> Vec<String> {
            vec![
                "startup".into(),
                module_path.clone(),
                conf.display().to_string(),
                emu.url.clone(),
                "bench".into(),
                KEYS[0].label.into(),
            ]
        };
        let runs = self.s.process_runs();
        let mut startup = StartupResult {
            latency,
            cold: Vec::new(),
            warm: Vec::new(),
            direct: Vec::new(),
        };
        let warm_cache = fresh_dir(tmp, "cache-startup-warm");
        child(&startup_args(&conf_on), &warm_cache, &emu);
        for _ in 0..runs {
            let cold = fresh_dir(tmp, "cache-startup-cold");
            startup
                .cold
                .push(child(&startup_args(&conf_on), &cold, &emu));
            startup
                .warm
                .push(child(&startup_args(&conf_on), &warm_cache, &emu));
            startup.direct.push(child(
                &["direct-startup".into(), emu.url.clone(), dk.arn.clone()],
                &cold,
                &emu,
            ));
        }
        self.results.startup.push(startup);

        // The 100-key token, in new processes.
        say("new processes: a token of 100 keys, cold and warm cache");
        let hundred_args = |conf: &Path, token: &str| -> Vec<String> {
            vec![
                "hundred".into(),
                module_path.clone(),
                conf.display().to_string(),
                emu.url.clone(),
                token.into(),
            ]
        };
        let mut hundred = HundredResult {
            latency,
            rtt,
            cold: Vec::new(),
            warm: Vec::new(),
            cold_one: Vec::new(),
        };
        let warm_cache = fresh_dir(tmp, "cache-hundred-warm");
        child(&hundred_args(&conf_on, "hundred"), &warm_cache, &emu);
        for _ in 0..self.s.hundred_runs() {
            let cold = fresh_dir(tmp, "cache-hundred-cold");
            hundred
                .cold
                .push(child(&hundred_args(&conf_on, "hundred"), &cold, &emu));
            hundred
                .warm
                .push(child(&hundred_args(&conf_on, "hundred"), &warm_cache, &emu));
            let cold = fresh_dir(tmp, "cache-one-cold");
            hundred
                .cold_one
                .push(child(&hundred_args(&conf_on, "one"), &cold, &emu));
        }
        self.results.hundred.push(hundred);

        if latency == 0 && self.s.hash_mib > 0 {
            say(format!(
                "multi-part hashing: {} MiB in 1 MiB C_SignUpdate calls, and openssl dgst -sha256",
                self.s.hash_mib
            ));
            self.results.hash = Some(hashing(
                &self.on,
                tmp,
                self.s.hash_mib,
                if self.s.quick { 1 } else { 3 },
            ));
        }

        self.on.finalize();
        self.off.finalize();
        drop(direct);
        drop(emu);
    }

    /// HTTPS to the emulator: the cost of TLS per signature, and whether any
    /// connection (TLS handshake) is made per signature.
    fn tls_phase(&mut self) {
        let tmp = &self.paths.tmp;
        say("--- HTTPS, 0 ms added latency");
        let cert = tmp.join("emulator-cert.pem");
        let emu = Emulator::start(
            &self.paths.emulator,
            &self.seed,
            0,
            Some(&cert),
            &emulator::log_path(tmp, "tls"),
        );
        let conf = tmp.join("kms11-tls.conf");
        write_config(&conf, &emu.url, true, Some(&cert));
        self.on.initialize(&conf);
        let direct = Direct::new(&emu.url, Some(&cert));
        let key = &KEYS[0];
        let dk = DirectKey {
            arn: direct.arn(&key.alias()),
            algorithm: key.algorithm(),
        };
        let slot = self.on.slot("bench");
        {
            let s = self.on.session(slot);
            let h = private_key(&s, key.label);
            let mech = key.mechanism();
            let rounds = self.s.rounds(Kind::P256, 0) / 3;
            let mut op_direct = || {
                direct.sign_message(&dk, MESSAGE);
            };
            let mut op_on = || {
                module::sign(&s, &mech, h, MESSAGE);
            };
            let mut samples = interleaved(rounds, 10, &mut [&mut op_direct, &mut op_on]);
            let on = Pct::of(samples.pop().unwrap());
            let d = Pct::of(samples.pop().unwrap());
            self.results.tls_latency = Some((d, on));
        }
        let n = 16;
        say(format!("HTTPS throughput, {n} threads / in flight"));
        let (mut on, mut sdk) = (Run::default(), Run::default());
        for _ in 0..self.s.slices() {
            let time = self.s.slice_time(0);
            on.add(module_throughput(&self.on, slot, key, n, time, &emu));
            sdk.add(direct_throughput(&direct, &dk, n, time, &emu));
        }
        self.results.throughput.push(ThroughputResult {
            latency: 0,
            threads: n,
            module: on,
            module_off: None,
            direct: sdk,
            transport: "https",
        });
        self.on.finalize();
        drop(direct);
        drop(emu);
    }
}

// ---------------------------------------------------------------- report

/// The commit measured, and whether src/ had uncommitted changes.
fn source_version() -> String {
    let git = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .current_dir(repo())
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    match git(&["rev-parse", "--short", "HEAD"]) {
        Some(commit) => {
            let dirty = git(&["status", "--porcelain", "--", "src", "Cargo.toml"])
                .is_some_and(|s| !s.is_empty());
            if dirty {
                format!("{commit} with uncommitted changes in src/ or Cargo.toml")
            } else {
                commit
            }
        }
        None => "unknown (no git)".into(),
    }
}

fn threads(n: usize) -> String {
    if n == 1 {
        "1 thread".into()
    } else {
        format!("{n} threads")
    }
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")
                .map(|v| v.trim_start_matches([' ', '\t', ':']).to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .unwrap_or_default()
        .trim()
        .to_string();
    format!("{cores} cores ({cpu}), Linux {kernel}")
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Per signature: "Sign 1.000/sig, other: none, new connections 0".
fn per_signature(run: &Run) -> String {
    let (stats, sigs) = (&run.stats, run.sigs.max(1) as f64);
    format!(
        "Sign {:.3}/sig, other: {}, new connections {} (in {} signatures); emulator CPU {:.0} us/request",
        stats.get("Sign") as f64 / sigs,
        stats.others("Sign"),
        stats.connections,
        thousands(sigs),
        run.emulator_cpu_us()
    )
}

struct Verdict {
    target: String,
    measured: String,
    met: bool,
}

fn table(r: &Results) -> String {
    let mut t = Table::new(&[
        "measurement",
        "added latency",
        "kms11 (libkms11.so)",
        "baseline",
        "kms11 vs baseline",
    ]);
    for l in &r.latency {
        let lat = format!("{} ms", l.latency);
        t.row(vec![
            format!(
                "C_Sign {}, 1 thread, p50 / p99 ({} each), verify on",
                l.key, l.on.n
            ),
            lat.clone(),
            format!("{} / {}", ms(l.on.p50), ms(l.on.p99)),
            format!("SDK Sign {} / {}", ms(l.direct.p50), ms(l.direct.p99)),
            format!(
                "p50 {} ({})",
                us_diff(l.on.p50, l.direct.p50),
                pct_diff(l.on.p50.as_secs_f64(), l.direct.p50.as_secs_f64())
            ),
        ]);
        t.row(vec![
            format!("C_Sign {}, 1 thread, p50 / p99, verify off", l.key),
            lat,
            format!("{} / {}", ms(l.off.p50), ms(l.off.p99)),
            "(same)".into(),
            format!(
                "p50 {} ({})",
                us_diff(l.off.p50, l.direct.p50),
                pct_diff(l.off.p50.as_secs_f64(), l.direct.p50.as_secs_f64())
            ),
        ]);
    }
    if let Some((d, on)) = &r.tls_latency {
        t.row(vec![
            "C_Sign P-256 over HTTPS, 1 thread, p50 / p99, verify on".into(),
            "0 ms".into(),
            format!("{} / {}", ms(on.p50), ms(on.p99)),
            format!("SDK Sign {} / {}", ms(d.p50), ms(d.p99)),
            format!(
                "p50 {} ({})",
                us_diff(on.p50, d.p50),
                pct_diff(on.p50.as_secs_f64(), d.p50.as_secs_f64())
            ),
        ]);
    }
    for x in &r.throughput {
        let what = if x.transport == "https" {
            format!("signatures/s over HTTPS, P-256, {}", threads(x.threads))
        } else {
            format!("signatures/s, P-256, {}", threads(x.threads))
        };
        let run = |r: &Run| format!("{}/s, {:.0} us CPU/sig", thousands(r.rate()), r.cpu_us());
        t.row(vec![
            what,
            format!("{} ms", x.latency),
            match &x.module_off {
                Some(off) => format!("{} (verify off: {})", run(&x.module), run(off)),
                None => run(&x.module),
            },
            format!("SDK, {} in flight: {}", x.threads, run(&x.direct)),
            format!(
                "{:.1}%",
                100.0 * x.module.rate() / x.direct.rate().max(1e-9)
            ),
        ]);
    }
    for x in &r.throughput {
        let proto = if x.transport == "https" {
            " (HTTPS)"
        } else {
            ""
        };
        t.row(vec![
            format!(
                "KMS requests per measured signature{proto}, {}",
                threads(x.threads)
            ),
            format!("{} ms", x.latency),
            per_signature(&x.module),
            format!("SDK: {}", per_signature(&x.direct)),
            String::new(),
        ]);
    }
    for s in &r.startup {
        let lat = format!("{} ms", s.latency);
        let first = |runs: &[ProcessRun]| {
            median(
                runs.iter()
                    .map(|p| (p.us("sign_us") - p.us("paused_us")) / 1e3)
                    .collect(),
            )
        };
        let wall =
            |runs: &[ProcessRun]| median(runs.iter().map(|p| p.wall.as_secs_f64() * 1e3).collect());
        let requests =
            |runs: &[ProcessRun]| runs.first().map(|p| p.stats.summary()).unwrap_or_default();
        let init = median(
            s.cold
                .iter()
                .map(|p| (p.us("initialize_us") - p.us("dlopen_us")) / 1e3)
                .collect(),
        );
        let dlopen = median(s.cold.iter().map(|p| p.us("dlopen_us") / 1e3).collect());
        let init_requests: u64 = s
            .cold
            .iter()
            .chain(&s.warm)
            .map(|p| p.json["requests_after_initialize"].as_u64().unwrap_or(99))
            .max()
            .unwrap_or(0);
        t.row(vec![
            "new process: dlopen, C_Initialize".into(),
            lat.clone(),
            format!(
                "dlopen {}, C_Initialize {}; KMS requests by then: {init_requests}",
                ms_f(dlopen),
                ms_f(init)
            ),
            String::new(),
            String::new(),
        ]);
        for (name, runs) in [("cold", &s.cold), ("warm", &s.warm)] {
            t.row(vec![
                format!(
                    "new process: dlopen .. first C_Sign (P-256, token of 3 keys), {name} cache"
                ),
                lat.clone(),
                format!(
                    "{} (whole process {}); KMS: {}",
                    ms_f(first(runs)),
                    ms_f(wall(runs)),
                    requests(runs)
                ),
                format!(
                    "SDK in a new process, first Sign: {} (client built at {}; whole process {}); KMS: {}",
                    ms_f(first(&s.direct)),
                    ms_f(median(s.direct.iter().map(|p| p.us("client_us") / 1e3).collect())),
                    ms_f(wall(&s.direct)),
                    requests(&s.direct)
                ),
                format!("{:+.1} ms", first(runs) - first(&s.direct)),
            ]);
        }
    }
    for h in &r.hundred {
        let lat = format!("{} ms", h.latency);
        let zero = r.hundred.iter().find(|z| z.latency == 0);
        let cell = |variant: usize| {
            let runs = h.variant(variant);
            let t = resolve_ms(runs);
            let rtt = h.rtt.as_secs_f64() * 1e3;
            let mut trips = String::new();
            if h.latency > 0 && rtt > 0.0 {
                trips = format!(", {:.1} round trips", t / rtt);
                if let Some(z) = zero {
                    trips += &format!(
                        " ({:.1} of them added by the latency)",
                        h.added_trips(z, variant)
                    );
                }
            }
            let p = runs.first();
            format!(
                "{}{trips}; KMS: {}, peak {} in flight",
                ms_f(t),
                p.map(|p| p.stats.summary()).unwrap_or_default(),
                p.map_or(0, |p| p.stats.peak_in_flight)
            )
        };
        for (variant, name) in HundredResult::VARIANTS.iter().enumerate() {
            t.row(vec![
                name.to_string(),
                lat.clone(),
                cell(variant),
                if h.latency > 0 {
                    format!("one round trip: {}", ms(h.rtt))
                } else {
                    String::new()
                },
                String::new(),
            ]);
        }
        let again = median(
            h.cold
                .iter()
                .map(|p| p.us("find_attrs_again_us") / 1e3)
                .collect(),
        );
        t.row(vec![
            "100 keys: C_FindObjects + C_GetAttributeValue again, token resolved".into(),
            lat.clone(),
            ms_f(again),
            String::new(),
            String::new(),
        ]);
        if h.latency == r.hundred[0].latency {
            if let Some(p) = h.cold.first() {
                t.row(vec![
                    "resident memory: module loaded, 100 keys resolved (VmRSS)".into(),
                    "-".into(),
                    format!(
                        "{} (process before dlopen {}, after C_Initialize {}; peak {})",
                        report::mib(p.json["rss_resolved_kib"].as_u64().unwrap_or(0)),
                        report::mib(p.json["rss_start_kib"].as_u64().unwrap_or(0)),
                        report::mib(p.json["rss_initialized_kib"].as_u64().unwrap_or(0)),
                        report::mib(p.json["hwm_kib"].as_u64().unwrap_or(0)),
                    ),
                    String::new(),
                    String::new(),
                ]);
            }
        }
    }
    if let Some(hash) = &r.hash {
        let m = median(hash.module_mbs.clone());
        let o = median(hash.openssl_mbs.clone());
        t.row(vec![
            format!(
                "multi-part: {} MiB file read in 1 MiB C_SignUpdate calls + C_SignFinal (ECDSA-SHA256)",
                hash.mib
            ),
            "0 ms".into(),
            format!("{} MB/s", thousands(m)),
            format!("openssl dgst -sha256 on the file: {} MB/s", thousands(o)),
            format!("{:.1}%", 100.0 * m / o),
        ]);
    }
    if let Some((block_on, spawn)) = r.handoff {
        t.row(vec![
            "diagnostic: one loopback TCP request/response on a 2-worker runtime, p50".into(),
            "-".into(),
            format!(
                "spawn + wait on a std channel (runtime::run for overlapping calls and callers inside a tokio runtime): {}",
                ms(spawn)
            ),
            format!(
                "block_on on the caller's thread (runtime::run for a lone call; a direct SDK caller): {}",
                ms(block_on)
            ),
            us_diff(spawn, block_on),
        ]);
    }
    t.row(vec![
        "libkms11.so size".into(),
        "-".into(),
        format!(
            "{:.1} MiB ({} bytes)",
            r.library_size as f64 / (1 << 20) as f64,
            thousands(r.library_size as f64)
        ),
        String::new(),
        String::new(),
    ]);
    t.render()
}

fn verdicts(r: &Results) -> Vec<Verdict> {
    let mut v = Vec::new();
    for l in &r.latency {
        if l.kind == Kind::Rsa4096 {
            continue;
        }
        if l.latency == 20 {
            let ratio = l.on.p50.as_secs_f64() / l.direct.p50.as_secs_f64();
            v.push(Verdict {
                target: format!(
                    "C_Sign {} p50 within 5% of the SDK at 20 ms, verify on",
                    l.key
                ),
                measured: format!(
                    "{} vs {} ({})",
                    ms(l.on.p50),
                    ms(l.direct.p50),
                    pct_diff(l.on.p50.as_secs_f64(), l.direct.p50.as_secs_f64())
                ),
                met: ratio <= 1.05,
            });
        }
        if l.latency == 0 {
            let diff = l.off.p50.as_secs_f64() - l.direct.p50.as_secs_f64();
            v.push(Verdict {
                target: format!(
                    "C_Sign {} p50 within 50 us of the SDK at 0 ms, verify off",
                    l.key
                ),
                measured: format!(
                    "{} vs {} ({})",
                    ms(l.off.p50),
                    ms(l.direct.p50),
                    us_diff(l.off.p50, l.direct.p50)
                ),
                met: diff <= 50e-6,
            });
        }
    }
    for x in r
        .throughput
        .iter()
        .filter(|x| x.latency == 20 && x.threads >= 16)
    {
        let ratio = x.module.rate() / x.direct.rate().max(1e-9);
        v.push(Verdict {
            target: format!(
                "throughput with {} threads at least 95% of the SDK's at 20 ms",
                x.threads
            ),
            measured: format!(
                "{}/s vs {}/s ({:.1}%); client CPU per signature {:.0} vs {:.0} us",
                thousands(x.module.rate()),
                thousands(x.direct.rate()),
                100.0 * ratio,
                x.module.cpu_us(),
                x.direct.cpu_us()
            ),
            met: ratio >= 0.95,
        });
    }
    if !r.throughput.is_empty() {
        // Pooled connections: the pool may still grow now and then (hyper
        // races a new connection against the return of a busy one), both
        // for kms11 and for the SDK; "per signature" would be ~1.
        let runs = || r.throughput.iter().map(|x| &x.module);
        let sigs: u64 = runs().map(|m| m.sigs).sum();
        let other: u64 = runs().map(|m| m.stats.total() - m.stats.get("Sign")).sum();
        let signs: u64 = runs().map(|m| m.stats.get("Sign")).sum();
        let connections: u64 = runs().map(|m| m.stats.connections).sum();
        let sdk_connections: u64 = r
            .throughput
            .iter()
            .map(|x| x.direct.stats.connections)
            .sum();
        v.push(Verdict {
            target: "exactly one KMS request (Sign) per signature in steady state; no TCP or TLS connection opened per signature".into(),
            measured: format!(
                "{} signatures in {} runs (HTTP and HTTPS): {} Sign requests, {} other requests, {} new connections ({:.5} per signature; the SDK alone: {})",
                thousands(sigs as f64),
                r.throughput.len(),
                thousands(signs as f64),
                other,
                connections,
                connections as f64 / sigs.max(1) as f64,
                sdk_connections
            ),
            met: signs == sigs && other == 0 && (connections as f64) <= 0.001 * sigs as f64,
        });
    }
    if !r.startup.is_empty() {
        let init: u64 = r
            .startup
            .iter()
            .flat_map(|s| s.cold.iter().chain(&s.warm))
            .map(|p| p.json["requests_after_initialize"].as_u64().unwrap_or(99))
            .max()
            .unwrap_or(0);
        v.push(Verdict {
            target: "no network call in C_Initialize".into(),
            measured: format!("{init} KMS requests after C_Initialize (every new process)"),
            met: init == 0,
        });
        let warm: Vec<String> = r
            .startup
            .iter()
            .flat_map(|s| &s.warm)
            .map(|p| p.stats.summary())
            .collect();
        let ok = r
            .startup
            .iter()
            .flat_map(|s| &s.warm)
            .all(|p| p.stats.total() == 1 && p.stats.get("Sign") == 1);
        let mut shown = warm.clone();
        shown.dedup();
        v.push(Verdict {
            target: "a new process that signs once makes one KMS request with a warm cache".into(),
            measured: format!("{} processes: {}", warm.len(), shown.join("; ")),
            met: ok,
        });
    }
    for h in r.hundred.iter().filter(|h| h.latency == 20) {
        let t = resolve_ms(&h.cold);
        let one = resolve_ms(&h.cold_one);
        let rtt = h.rtt.as_secs_f64() * 1e3;
        // What the latency adds, in round trips: 100 requests one after the
        // other would add 100, two waves 2; concurrent requests add 1.
        let zero = r.hundred.iter().find(|z| z.latency == 0);
        let added = zero.map(|z| h.added_trips(z, 0));
        v.push(Verdict {
            target: "100 keys at 20 ms resolve in about one round trip: the latency adds at most 1.5 round trips".into(),
            measured: format!(
                "{} in all ({:.1} round trips of {}), of which the latency added {}; one key alone: {} ({:.1} round trips)",
                ms_f(t),
                t / rtt,
                ms(h.rtt),
                added.map_or("? (no 0 ms run)".into(), |a| format!("{a:.1} round trips")),
                ms_f(one),
                one / rtt,
            ),
            met: added.is_some_and(|a| a <= 1.5),
        });
    }
    if let Some(hash) = &r.hash {
        let m = median(hash.module_mbs.clone());
        let o = median(hash.openssl_mbs.clone());
        v.push(Verdict {
            target: "multi-part hashing at least 90% of openssl dgst -sha256".into(),
            measured: format!(
                "{} vs {} MB/s ({:.1}%)",
                thousands(m),
                thousands(o),
                100.0 * m / o
            ),
            met: m >= 0.9 * o,
        });
    }
    v
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == child::CHILD_FLAG) {
        child::main(&args[i + 1..]);
        return;
    }
    // `cargo test --benches` runs bench targets with no `--bench`: nothing to do.
    if !args.iter().any(|a| a == "--bench") && std::env::var_os("KMS11_BENCH_FORCE").is_none() {
        eprintln!("kms11 bench: run it with `cargo bench --bench kms11`");
        return;
    }
    let s = Settings::from_env();
    let started = Instant::now();
    let load_start = load_average();
    let release = release_dir();
    let tmp = std::env::temp_dir().join(format!("kms11-bench-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    let _cleanup = RemoveOnDrop(tmp.clone());
    let paths = Paths {
        module: artefact(
            "KMS11_MODULE",
            release.join("libkms11.so"),
            &["--release", "-p", "kms11", "--lib"],
        ),
        emulator: artefact(
            "KMS11_EMULATOR",
            release.join("kms11-emulator"),
            &[
                "--release",
                "-p",
                "kms11-emulator",
                "--bin",
                "kms11-emulator",
            ],
        ),
        tmp: tmp.clone(),
    };
    prepare_env(&tmp);
    let seed = tmp.join("seed.json");
    write_seed(&seed);
    // The verify-off module is a copy: one process can load one library
    // file once, and one kms11 has one configuration.
    let copy = tmp.join("libkms11-noverify.so");
    std::fs::copy(&paths.module, &copy).expect("copy of the module");
    let mut ctx = Ctx {
        s: &s,
        paths: &paths,
        seed,
        on: Module::load(&paths.module),
        off: Module::load(&copy),
        results: Results {
            library_size: std::fs::metadata(&paths.module).map_or(0, |m| m.len()),
            ..Results::default()
        },
    };
    for latency in s.latencies.clone() {
        ctx.phase(latency);
    }
    if s.tls {
        ctx.tls_phase();
    }
    say("diagnostic: the cost of handing a call to a runtime and back");
    ctx.results.handoff = Some(direct::handoff(if s.quick { 2_000 } else { 20_000 }));
    let r = ctx.results;
    let load_end = load_average();
    println!();
    println!(
        "kms11 benchmark{}: {}; load average {load_start} at start, {load_end} at end; {:.0} s",
        if s.quick { " (QUICK: few samples)" } else { "" },
        machine(),
        started.elapsed().as_secs_f64()
    );
    println!(
        "module: {} ({} bytes), source {}",
        paths.module.display(),
        r.library_size,
        source_version()
    );
    println!();
    println!("{}", table(&r));
    println!();
    let v = verdicts(&r);
    let mut t = Table::new(&["target", "measured", "verdict"]);
    for x in &v {
        t.row(vec![
            x.target.clone(),
            x.measured.clone(),
            if x.met { "met" } else { "MISSED" }.into(),
        ]);
    }
    println!("{}", t.render());
    let missed = v.iter().filter(|x| !x.met).count();
    println!();
    println!("{} of {} targets met", v.len() - missed, v.len());
    if s.strict && missed > 0 {
        std::process::exit(1);
    }
}

struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
