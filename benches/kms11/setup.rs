//! What the bench measures and where: the release-built module and
//! emulator, the scratch directory, the environment, the emulator's seed and
//! the module's configuration files.

use crate::settings::{hundred_label, HUNDRED, KEYS};
use kms11_testkit::artefact::{Profile, EMULATOR, MODULE};
use kms11_testkit::seed::{self, SeedKey};
use kms11_testkit::Emulator;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Longest life of an emulator: it cannot outlive a killed bench.
const EMULATOR_LIFETIME: Duration = Duration::from_secs(1800);

/// The keys' CreationDate, so that every run sees the same keys.
const CREATED: u64 = 1_700_000_000;

pub struct Paths {
    pub module: PathBuf,
    pub emulator: PathBuf,
    pub tmp: PathBuf,
    /// The emulator's seed file.
    pub seed: PathBuf,
}

impl Paths {
    /// Builds (or takes) the artefacts, makes `tmp`, sets the environment
    /// every client here and every child runs in, and writes the seed.
    pub fn prepare(tmp: PathBuf) -> Paths {
        let paths = Paths {
            module: MODULE.path(Profile::Release),
            emulator: EMULATOR.path(Profile::Release),
            seed: tmp.join("seed.json"),
            tmp,
        };
        // Static test credentials, no profile files, no instance metadata,
        // no kms11 configuration but the one passed to C_Initialize.
        kms11_testkit::env::isolate(&paths.tmp);
        std::env::set_var("XDG_CACHE_HOME", paths.tmp.join("cache-main"));
        write_seed(&paths.seed);
        paths
    }

    /// `kms11-emulator --seed SEED --latency-ms LATENCY` (HTTPS with
    /// `--tls-cert` when `tls_cert` is given), its log named after `name`.
    pub fn emulator(&self, latency_ms: u64, tls_cert: Option<&Path>, name: &str) -> Emulator {
        let mut args: Vec<String> = vec![
            "--seed".into(),
            self.seed.display().to_string(),
            "--latency-ms".into(),
            latency_ms.to_string(),
        ];
        if let Some(cert) = tls_cert {
            args.extend(["--tls-cert".into(), cert.display().to_string()]);
        }
        let log = self.tmp.join(format!("emulator-{name}.log"));
        Emulator::start_bin(&self.emulator, &args, &log, EMULATOR_LIFETIME)
    }
}

fn key_id(n: usize) -> String {
    format!("00000000-0000-4000-8000-{n:012x}")
}

/// The three keys, then the 100 P-256 keys, by alias, with fixed IDs.
fn write_seed(path: &Path) {
    let key = |alias: &str, spec: &str, id: usize| {
        SeedKey::new(spec)
            .id(&key_id(id))
            .alias(alias)
            .created(CREATED)
    };
    let mut keys: Vec<SeedKey> = KEYS
        .iter()
        .enumerate()
        .map(|(i, k)| key(&k.alias(), k.spec, i + 1))
        .collect();
    for i in 0..HUNDRED {
        let alias = format!("alias/{}", hundred_label(i));
        keys.push(key(&alias, "ECC_NIST_P256", 1000 + i));
    }
    seed::write(path, &keys);
}

/// A kms11 configuration: token "bench" (the three keys), token "hundred"
/// (100 P-256 keys) and token "one" (the first of them), by alias, as
/// README's example names keys.
pub fn write_config(path: &Path, url: &str, verify: bool, ca: Option<&Path>) {
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
