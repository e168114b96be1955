//! Paths of the artefacts under test, built on demand: integration tests and
//! benches of the root crate do not make cargo build the cdylib or the
//! emulator binary.
//!
//! `KMS11_MODULE` / `KMS11_EMULATOR` name prebuilt files and skip the build.
//! Otherwise, in the dev profile (tests), a file that is missing or older
//! than its sources is rebuilt once per process; in the release profile (the
//! bench), `cargo build --release` runs every time, a no-op when the files
//! are current. cargo's own lock on the target directory serialises builds
//! from processes running side by side.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::SystemTime;

/// The repository: the kit's parent directory.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the kit lives in the repository")
        .to_path_buf()
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Profile {
    /// target/debug, rebuilt when stale: the tests.
    Dev,
    /// target/release, `cargo build --release` each run: the bench.
    Release,
}

/// target/PROFILE: where the running test or bench binary itself lives
/// (target/PROFILE/deps/..), else $CARGO_TARGET_DIR/PROFILE or target/PROFILE.
pub fn profile_dir(profile: Profile) -> PathBuf {
    if let Ok(exe) = std::env::current_exe() {
        if let Some(deps) = exe.parent().filter(|d| d.ends_with("deps")) {
            if let Some(dir) = deps.parent() {
                return dir.to_path_buf();
            }
        }
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .or_else(|| option_env!("CARGO_TARGET_DIR").map(PathBuf::from))
        .unwrap_or_else(|| repo().join("target"));
    target.join(match profile {
        Profile::Dev => "debug",
        Profile::Release => "release",
    })
}

/// A file cargo builds, and what it is built from.
pub struct Artefact {
    /// The variable that names a prebuilt file instead.
    pub env_var: &'static str,
    /// Its name in target/PROFILE.
    pub file: &'static str,
    /// `cargo build` arguments (without `--release`).
    pub build_args: &'static [&'static str],
    /// Sources, relative to the repository: newer ones make it stale.
    pub sources: &'static [&'static str],
}

pub const MODULE: Artefact = Artefact {
    env_var: "KMS11_MODULE",
    file: "libkms11.so",
    build_args: &["-p", "kms11", "--lib"],
    sources: &["src", "Cargo.toml"],
};

pub const EMULATOR: Artefact = Artefact {
    env_var: "KMS11_EMULATOR",
    file: "kms11-emulator",
    build_args: &["-p", "kms11-emulator", "--bin", "kms11-emulator"],
    sources: &["emulator/src", "emulator/Cargo.toml"],
};

impl Artefact {
    /// The prebuilt file `env_var` names, else target/PROFILE/`file`, built
    /// as the profile says.
    pub fn path(&self, profile: Profile) -> PathBuf {
        if let Some(p) = std::env::var_os(self.env_var) {
            let p = PathBuf::from(p);
            assert!(
                p.exists(),
                "{}={} does not exist",
                self.env_var,
                p.display()
            );
            return p;
        }
        let file = profile_dir(profile).join(self.file);
        let mut args: Vec<&str> = Vec::new();
        if profile == Profile::Release {
            args.push("--release");
        }
        args.extend(self.build_args);
        if profile == Profile::Release || self.stale(&file) {
            cargo_build(&args);
        }
        assert!(
            file.exists(),
            "{} is missing after cargo build {}",
            file.display(),
            args.join(" ")
        );
        file
    }

    fn stale(&self, file: &Path) -> bool {
        let Ok(built) = std::fs::metadata(file).and_then(|m| m.modified()) else {
            return true;
        };
        let r = repo();
        self.sources.iter().any(|s| newest(&r.join(s)) > built)
    }
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

fn cargo_build(args: &[&str]) {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    eprintln!("kms11: {cargo} build {}", args.join(" "));
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

/// target/debug/libkms11.so, built if needed (once per process).
pub fn module_path() -> PathBuf {
    static P: OnceLock<PathBuf> = OnceLock::new();
    P.get_or_init(|| MODULE.path(Profile::Dev)).clone()
}

/// target/debug/kms11-emulator, built if needed (once per process).
pub fn emulator_path() -> PathBuf {
    static P: OnceLock<PathBuf> = OnceLock::new();
    P.get_or_init(|| EMULATOR.path(Profile::Dev)).clone()
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
