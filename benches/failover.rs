//! Issue 17's benchmark: what multi-Region failover and hedging cost and
//! save. Two release-built emulators stand in for us-east-1 (the key's own
//! region) and us-west-2 (its replica's), each with the same added latency;
//! libkms11.so signs with a multi-Region P-256 key in a child process per
//! configuration (the configuration is read once per process).
//!
//! ```text
//! cargo bench --bench failover                      # about 2 minutes
//! KMS11_BENCH_QUICK=1 cargo bench --bench failover  # smoke run
//! ```
//!
//! Rows: us-west-2 alone (the fallback region's own p50); us-east-1 with
//! 5% of its requests 500 ms slower, without hedging, with
//! `hedge_after_ms = "auto"` and with a fixed delay; then the time to the
//! first signature after us-east-1 goes silent (every request held) and
//! after it dies (its process killed). Environment: `KMS11_BENCH_QUICK=1`,
//! `KMS11_BENCH_LATENCY_MS` (default 2), `KMS11_MODULE` / `KMS11_EMULATOR`.

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, ObjectClass};
use kms11_testkit::artefact::{Profile, EMULATOR, MODULE};
use kms11_testkit::seed::{self, SeedKey};
use kms11_testkit::Emulator;
use serde_json::{json, Value};
use std::ffi::CString;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::ptr::NonNull;
use std::time::{Duration, Instant};

const CHILD: &str = "--failover-bench-child";
const MRK: &str = "mrk-00000000000040008000000000000017";
/// The slow tail of us-east-1: this fraction of requests, this much slower.
const SLOW_RATE: f64 = 0.05;
const SLOW_MS: u64 = 500;
/// A fixed hedge delay, for the row beside "auto".
const FIXED_HEDGE_MS: u64 = 25;
/// The per-attempt timeout of the outage rows (a silent region is given up
/// on after it).
const CALL_TIMEOUT_MS: u64 = 1000;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == CHILD) {
        child(&args[i + 1..]);
        return;
    }
    if !args.iter().any(|a| a == "--bench") && std::env::var_os("KMS11_BENCH_FORCE").is_none() {
        eprintln!("failover bench: run it with `cargo bench --bench failover`");
        return;
    }
    let quick = std::env::var_os("KMS11_BENCH_QUICK").is_some();
    let latency: u64 = std::env::var("KMS11_BENCH_LATENCY_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2);
    let n = if quick { 200 } else { 2000 };
    let tmp = kms11_testkit::exit::scratch_dir();
    kms11_testkit::env::isolate(&tmp);
    std::env::set_var("XDG_CACHE_HOME", tmp.join("cache"));
    let module = MODULE.path(Profile::Release);
    let emulator = EMULATOR.path(Profile::Release);
    let seed = tmp.join("seed.json");
    write_seed(&seed);
    let start = |name: &str| {
        let args = [
            "--seed".to_string(),
            seed.display().to_string(),
            "--latency-ms".into(),
            latency.to_string(),
        ];
        let log = tmp.join(format!("{name}.log"));
        Emulator::start_bin(&emulator, &args, &log, Duration::from_secs(1800))
    };
    let (east, west) = (start("east"), start("west"));
    let config = |name: &str, region: &str, hedge: &str, call_timeout: u64| {
        let path = tmp.join(format!("{name}.conf"));
        let text = format!(
            "[aws]\nregion = \"{region}\"\nfallback_regions = [\"{}\"]\n\
             connect_timeout_ms = 1000\ncall_timeout_ms = {call_timeout}\n\
             [aws.endpoints]\n\"us-east-1\" = \"{}\"\n\"us-west-2\" = \"{}\"\n\
             [signing]\nhedge_after_ms = {hedge}\n\
             [[token]]\nlabel = \"bench\"\n[[token.key]]\nkey = \"alias/release\"\nlabel = \"release\"\n",
            if region == "us-east-1" { "us-west-2" } else { "us-east-1" },
            east.url,
            west.url
        );
        std::fs::write(&path, text).expect("write the configuration");
        set_private(&path);
        path
    };
    println!(
        "failover bench: {n} sequential C_Sign (CKM_ECDSA, P-256) per row, {latency} ms of \
         emulator latency in each region, release builds\n"
    );
    println!("| row | p50 ms | p99 ms | max ms | extra requests per signature |");
    println!("|---|---|---|---|---|");
    let row = |label: &str, conf: &Path| {
        let before = east.count("Sign") + west.count("Sign");
        let out = run_child(&module, conf, "tail", &[n.to_string()], None);
        let requests = east.count("Sign") + west.count("Sign") - before;
        let signed = out["signed"].as_u64().unwrap_or(1);
        println!(
            "| {label} | {:.1} | {:.1} | {:.1} | {:.1}% |",
            ms(&out["p50_us"]),
            ms(&out["p99_us"]),
            ms(&out["max_us"]),
            100.0 * (requests as f64 / signed as f64 - 1.0)
        );
        out
    };
    row(
        "us-west-2 alone (the fallback's own time)",
        &config("west", "us-west-2", "0", 10_000),
    );
    row(
        "us-east-1 healthy, hedging off",
        &config("healthy", "us-east-1", "0", 10_000),
    );
    // A fault configuration replaces the whole one: the latency goes with it.
    let healthy = format!(r#"{{"latency_ms": {latency}}}"#);
    east.set_faults(&format!(
        r#"{{"latency_ms": {latency}, "slow_rate": {SLOW_RATE}, "slow_ms": {SLOW_MS}}}"#
    ));
    let slow = format!(
        "us-east-1, {}% of requests +{SLOW_MS} ms",
        SLOW_RATE * 100.0
    );
    row(
        &format!("{slow}, hedging off"),
        &config("off", "us-east-1", "0", 10_000),
    );
    row(
        &format!("{slow}, hedge_after_ms = \"auto\""),
        &config("auto", "us-east-1", "\"auto\"", 10_000),
    );
    row(
        &format!("{slow}, hedge_after_ms = {FIXED_HEDGE_MS}"),
        &config("fixed", "us-east-1", &FIXED_HEDGE_MS.to_string(), 10_000),
    );
    east.set_faults(&healthy);
    println!("\n| us-east-1 ... | first signature after it, ms | next 20 signatures, p50 ms |");
    println!("|---|---|---|");
    let outage = config("outage", "us-east-1", "0", CALL_TIMEOUT_MS);
    let hedged = config("outage-auto", "us-east-1", "\"auto\"", CALL_TIMEOUT_MS);
    for (what, act, conf) in [
        (
            format!("goes silent (call_timeout_ms = {CALL_TIMEOUT_MS})"),
            "silent",
            &outage,
        ),
        (
            "goes silent, hedge_after_ms = \"auto\"".to_string(),
            "silent",
            &hedged,
        ),
        ("dies (connections refused)".to_string(), "dies", &outage),
    ] {
        let out = run_child(
            &module,
            conf,
            "outage",
            &[],
            Some(&|| match act {
                "silent" => east.set_faults(&format!(
                    r#"{{"latency_ms": {latency}, "blackhole": true}}"#
                )),
                _ => east.stop(),
            }),
        );
        println!(
            "| {what} | {:.1} | {:.1} |",
            ms(&out["first_us"]),
            ms(&out["p50_us"])
        );
        if act == "silent" {
            east.set_faults(&healthy);
        }
    }
}

fn ms(v: &Value) -> f64 {
    v.as_u64().unwrap_or(0) as f64 / 1000.0
}

fn set_private(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
}

/// The multi-Region key in both regions, with one material (made here,
/// PKCS #8 from aws-lc), so that the replica has the primary's public key.
fn write_seed(path: &Path) {
    use aws_lc_rs::signature::{EcdsaKeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
    let rng = aws_lc_rs::rand::SystemRandom::new();
    let pkcs8 =
        EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).expect("a P-256 key");
    let material = data_encoding::BASE64.encode(pkcs8.as_ref());
    let keys = [
        SeedKey::new("ECC_NIST_P256")
            .id(MRK)
            .material(Some(&material))
            .alias("alias/release")
            .multi_region("us-east-1", "us-east-1"),
        SeedKey::new("ECC_NIST_P256")
            .id(MRK)
            .alias("alias/release")
            .multi_region("us-west-2", "us-east-1"),
    ];
    seed::write(path, &keys);
}

/// Runs this bench as a child (`mode`), bounded; `during` runs once the
/// child says it is ready, and the child is then told to go on. Returns
/// the child's JSON line.
fn run_child(
    module: &Path,
    config: &Path,
    mode: &str,
    args: &[String],
    during: Option<&dyn Fn()>,
) -> Value {
    let exe = std::env::current_exe().expect("the bench binary");
    let mut child = Command::new("timeout")
        .arg("600")
        .arg(exe)
        .arg(CHILD)
        .arg(mode)
        .arg(module)
        .arg(config)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the child");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut line = String::new();
    if let Some(during) = during {
        stdout.read_line(&mut line).expect("the child's ready line");
        assert_eq!(line.trim(), "ready", "the child's first line");
        during();
        let mut stdin = child.stdin.take().expect("stdin");
        writeln!(stdin, "go").expect("tell the child to go on");
        line.clear();
    }
    stdout.read_line(&mut line).expect("the child's result");
    let status = child.wait().expect("wait for the child");
    assert!(status.success(), "the {mode} child failed: {status}");
    serde_json::from_str(&line).unwrap_or_else(|e| panic!("child output {line:?}: {e}"))
}

struct Signer {
    p11: Pkcs11,
    session: cryptoki::session::Session,
    key: cryptoki::object::ObjectHandle,
}

impl Signer {
    fn new(module: &str, config: &str) -> Signer {
        let p11 = Pkcs11::new(module).expect("dlopen");
        let c = CString::new(config).unwrap();
        let ptr = NonNull::new(c.as_ptr() as *mut std::ffi::c_void).unwrap();
        // SAFETY: pReserved is the NUL-terminated configuration path, alive
        // for the call; kms11 reads it as a C string.
        let init =
            unsafe { CInitializeArgs::new_with_reserved(CInitializeFlags::OS_LOCKING_OK, ptr) };
        p11.initialize(init).expect("C_Initialize");
        let slot = p11.get_slots_with_token().expect("slots")[0];
        let session = p11.open_ro_session(slot).expect("C_OpenSession");
        let key = session
            .find_objects(&[
                Attribute::Class(ObjectClass::PRIVATE_KEY),
                Attribute::Label(b"release".to_vec()),
            ])
            .expect("C_FindObjects")[0];
        Signer { p11, session, key }
    }

    /// One signature of a fresh digest; its time.
    fn sign(&self, i: usize) -> Duration {
        let digest = [(i % 251) as u8; 32];
        let t = Instant::now();
        self.session
            .sign(&Mechanism::Ecdsa, self.key, &digest)
            .expect("C_Sign");
        t.elapsed()
    }
}

fn percentile(sorted: &[Duration], p: usize) -> u64 {
    let i = (sorted.len() * p).div_ceil(100).max(1) - 1;
    sorted[i].as_micros() as u64
}

fn child(args: &[String]) {
    let [mode, module, config, rest @ ..] = args else {
        panic!("{CHILD} MODE MODULE CONFIG ...");
    };
    let signer = Signer::new(module, config);
    match mode.as_str() {
        "tail" => {
            let n: usize = rest[0].parse().expect("a count");
            let mut times: Vec<Duration> = (0..n).map(|i| signer.sign(i)).collect();
            times.sort_unstable();
            println!(
                "{}",
                json!({
                    "signed": n,
                    "p50_us": percentile(&times, 50),
                    "p99_us": percentile(&times, 99),
                    "max_us": times.last().map_or(0, |t| t.as_micros() as u64),
                })
            );
        }
        "outage" => {
            for i in 0..50 {
                signer.sign(i);
            }
            println!("ready");
            std::io::stdout().flush().ok();
            let mut go = String::new();
            std::io::stdin().read_line(&mut go).expect("go");
            let first = signer.sign(1000);
            let mut next: Vec<Duration> = (0..20).map(|i| signer.sign(2000 + i)).collect();
            next.sort_unstable();
            println!(
                "{}",
                json!({
                    "first_us": first.as_micros() as u64,
                    "p50_us": percentile(&next, 50),
                })
            );
        }
        other => panic!("unknown child mode {other}"),
    }
    drop(signer.session);
    signer.p11.finalize().ok();
}
