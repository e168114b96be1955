//! Paths of the artefacts under test, built on demand: integration tests of
//! the root crate do not make cargo build the cdylib or the emulator binary.
//!
//! `KMS11_MODULE` / `KMS11_EMULATOR` name prebuilt files and skip the build.
//! Otherwise a file that is missing or older than its sources is rebuilt once
//! per test process (dev profile); cargo's own lock on the target directory
//! serialises builds from test processes running side by side.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::SystemTime;

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// target/debug: where this test binary itself lives (target/debug/deps/..).
pub fn target_debug() -> PathBuf {
    if let Ok(exe) = std::env::current_exe() {
        if let Some(deps) = exe.parent() {
            if deps.file_name().is_some_and(|n| n == "deps") {
                if let Some(profile) = deps.parent() {
                    return profile.to_path_buf();
                }
            }
        }
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .or_else(|| option_env!("CARGO_TARGET_DIR").map(PathBuf::from))
        .unwrap_or_else(|| repo().join("target"));
    target.join("debug")
}

fn newest(path: &Path) -> SystemTime {
    let mut t = SystemTime::UNIX_EPOCH;
    if let Ok(md) = std::fs::metadata(path) {
        if md.is_dir() {
            if let Ok(rd) = std::fs::read_dir(path) {
                for e in rd.flatten() {
                    t = t.max(newest(&e.path()));
                }
            }
        } else if let Ok(m) = md.modified() {
            t = m;
        }
    }
    t
}

fn stale(artefact: &Path, sources: &[PathBuf]) -> bool {
    let Ok(built) = std::fs::metadata(artefact).and_then(|m| m.modified()) else {
        return true;
    };
    sources.iter().any(|s| newest(s) > built)
}

fn cargo_build(args: &[&str]) {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    eprintln!("kms11 tests: {cargo} build {}", args.join(" "));
    let status = Command::new(&cargo)
        .arg("build")
        .args(args)
        .current_dir(repo())
        .status()
        .unwrap_or_else(|e| panic!("running {cargo}: {e}"));
    assert!(
        status.success(),
        "cargo build {} failed: {status}",
        args.join(" ")
    );
}

fn built(env_var: &str, artefact: PathBuf, sources: &[PathBuf], args: &[&str]) -> PathBuf {
    if let Some(p) = std::env::var_os(env_var) {
        let p = PathBuf::from(p);
        assert!(p.exists(), "{env_var}={} does not exist", p.display());
        return p;
    }
    if stale(&artefact, sources) {
        cargo_build(args);
    }
    assert!(
        artefact.exists(),
        "{} is missing after cargo build {}",
        artefact.display(),
        args.join(" ")
    );
    artefact
}

/// target/debug/libkms11.so, built if needed.
pub fn module_path() -> PathBuf {
    static P: OnceLock<PathBuf> = OnceLock::new();
    P.get_or_init(|| {
        let r = repo();
        built(
            "KMS11_MODULE",
            target_debug().join("libkms11.so"),
            &[r.join("src"), r.join("Cargo.toml")],
            &["-p", "kms11", "--lib"],
        )
    })
    .clone()
}

/// target/debug/kms11-emulator, built if needed.
pub fn emulator_path() -> PathBuf {
    static P: OnceLock<PathBuf> = OnceLock::new();
    P.get_or_init(|| {
        let r = repo();
        built(
            "KMS11_EMULATOR",
            target_debug().join("kms11-emulator"),
            &[r.join("emulator/src"), r.join("emulator/Cargo.toml")],
            &["-p", "kms11-emulator", "--bin", "kms11-emulator"],
        )
    })
    .clone()
}

/// The repository's venv Python, which has pyca/cryptography.
pub fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("KMS11_TEST_PYTHON") {
        return PathBuf::from(p);
    }
    let p = repo().join(".venv/bin/python");
    assert!(
        p.exists(),
        "{} is missing: create it with `python3 -m venv .venv && .venv/bin/pip install -r tests/requirements.txt`",
        p.display()
    );
    p
}
