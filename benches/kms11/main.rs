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
//!
//! Parts: settings (keys, samples), setup (artefacts, environment, seed,
//! configuration), phases (one per latency, and HTTPS), measure (the loops
//! and child processes), results, table (the measurements), targets (one
//! row per target: words, limit, judge), report (cells, machine), child,
//! direct (the SDK baseline), module (libkms11.so through cryptoki). The
//! emulator, its admin API and the environment are kms11-testkit's.

mod child;
mod direct;
mod measure;
mod module;
mod phases;
mod report;
mod results;
mod settings;
mod setup;
mod table;
mod targets;

use module::Library;
use phases::Ctx;
use report::{load_average, machine, source_version};
use results::Results;
use settings::{say, Settings};
use setup::Paths;
use std::path::PathBuf;
use std::time::Instant;

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
    let tmp = std::env::temp_dir().join(format!("kms11-bench-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    let _cleanup = RemoveOnDrop(tmp.clone());
    let paths = Paths::prepare(tmp.clone());
    // The verify-off module is a copy: one process can load one library
    // file once, and one kms11 has one configuration.
    let copy = tmp.join("libkms11-noverify.so");
    std::fs::copy(&paths.module, &copy).expect("copy of the module");
    let mut ctx = Ctx {
        s: &s,
        paths: &paths,
        on: Library::load(&paths.module),
        off: Library::load(&copy),
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
    println!("{}", table::table(&r));
    println!();
    let v = targets::verdicts(&r);
    println!("{}", targets::render(&v));
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
