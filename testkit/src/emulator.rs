//! The kms11-emulator process. Every emulator listens on 127.0.0.1 (a free
//! port unless the caller names one), runs under `timeout` so that it cannot
//! outlive a run that is killed, and is stopped by its owner (`stop`, or
//! when dropped) or at process exit ([`crate::exit`]). Its admin API is in
//! [`crate::admin`].

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Longest life of a test's emulator.
pub const TEST_LIFETIME: Duration = Duration::from_secs(900);
/// How long an emulator may take to print its URL (seeding RSA-4096 keys
/// unoptimised on a loaded machine is the slow part).
const URL_WAIT: Duration = Duration::from_secs(120);

pub struct Emulator {
    pub url: String,
    pub port: u16,
    /// The certificate of an HTTPS emulator (its `--tls-cert`).
    pub ca: Option<PathBuf>,
    child: Mutex<Option<Child>>,
}

impl Emulator {
    /// The dev-profile emulator (built if needed) with `args`, for at most
    /// [`TEST_LIFETIME`]; see [`Emulator::start_bin`].
    pub fn start(args: &[String], log: &Path) -> Emulator {
        Emulator::start_bin(&crate::artefact::emulator_path(), args, log, TEST_LIFETIME)
    }

    /// Starts `bin` with `args` (plus `--port 0` unless args hold a --port)
    /// and waits (bounded) for the URL on its first stdout line. Its stderr
    /// goes to `log`.
    pub fn start_bin(bin: &Path, args: &[String], log: &Path, lifetime: Duration) -> Emulator {
        let mut cmd = Command::new("timeout");
        cmd.arg("-k")
            .arg("5")
            .arg(lifetime.as_secs().to_string())
            .arg(bin);
        if !args.iter().any(|a| a == "--port") {
            cmd.args(["--port", "0"]);
        }
        cmd.args(["--host", "127.0.0.1"]).args(args);
        // The emulator reads its options from KMS11_EMULATOR_* too; the
        // caller's settings must come from the command line only.
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("KMS11_EMULATOR_") {
                cmd.env_remove(&k);
            }
        }
        let log_file =
            std::fs::File::create(log).unwrap_or_else(|e| panic!("{}: {e}", log.display()));
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log_file);
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", bin.display()));
        crate::exit::register_pid(child.id());
        let line = first_line(&mut child);
        let url = line.trim().to_string();
        let ca = args
            .iter()
            .position(|a| a == "--tls-cert")
            .and_then(|i| args.get(i + 1))
            .map(PathBuf::from);
        let emulator = Emulator {
            port: port_of(&url).unwrap_or(0),
            url: url.clone(),
            ca,
            child: Mutex::new(Some(child)),
        };
        let listening =
            url.starts_with("http://127.0.0.1:") || url.starts_with("https://127.0.0.1:");
        if !listening || emulator.port == 0 {
            emulator.stop();
            panic!(
                "the emulator did not start within {URL_WAIT:?} (first line {url:?}); log: {}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        emulator
    }

    /// The emulator another process started (a bench child's): only its
    /// admin API.
    pub fn at(url: &str) -> Emulator {
        Emulator {
            url: url.to_string(),
            port: port_of(url).expect("port in URL"),
            ca: None,
            child: Mutex::new(None),
        }
    }

    /// Stops the emulator (SIGTERM to `timeout`, which passes it on) and waits, bounded.
    pub fn stop(&self) {
        let mut guard = self.child.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(mut child) = guard.take() {
            crate::exit::terminate(child.id());
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// CPU time (user + system) the emulator has used so far: the process
    /// `timeout` started.
    pub fn cpu(&self) -> Duration {
        let guard = self.child.lock().unwrap_or_else(|e| e.into_inner());
        let Some(child) = guard.as_ref() else {
            return Duration::ZERO;
        };
        let children = format!("/proc/{0}/task/{0}/children", child.id());
        let pid = std::fs::read_to_string(children).unwrap_or_default();
        match pid.split_whitespace().next() {
            Some(pid) => cpu_of(&format!("/proc/{pid}/stat")),
            None => Duration::ZERO,
        }
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The child's first stdout line, waited for at most [`URL_WAIT`] ("" if
/// none came); the rest of its stdout is drained so it never blocks on a
/// full pipe.
fn first_line(child: &mut Child) -> String {
    let stdout = child.stdout.take().expect("piped stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let mut r = BufReader::new(stdout);
        let _ = r.read_line(&mut line);
        let _ = tx.send(line);
        let _ = std::io::copy(&mut r, &mut std::io::sink());
    });
    rx.recv_timeout(URL_WAIT).unwrap_or_default()
}

fn port_of(url: &str) -> Option<u16> {
    url.rsplit(':').next()?.trim_end_matches('/').parse().ok()
}

/// utime + stime of a /proc/PID/stat file (clock ticks of 10 ms).
pub fn cpu_of(stat: &str) -> Duration {
    let text = std::fs::read_to_string(stat).unwrap_or_default();
    // The fields after the command name, which is in parentheses.
    let rest = text.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15; `rest` starts at field 3.
    let ticks: u64 = [11, 12]
        .iter()
        .filter_map(|i| fields.get(*i)?.parse::<u64>().ok())
        .sum();
    Duration::from_millis(ticks * 10)
}
