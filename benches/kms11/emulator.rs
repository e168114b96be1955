//! The kms11-emulator process and its admin API (`/_emulator/stats`), over a
//! few lines of blocking HTTP/1.1 so that reading the counters never goes
//! through either client under test.

use serde_json::Value;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Longest life of an emulator: it cannot outlive a killed bench.
const LIFETIME_S: &str = "1800";

pub struct Emulator {
    pub url: String,
    port: u16,
    /// The certificate of an HTTPS emulator.
    pub ca: Option<PathBuf>,
    child: Option<Child>,
}

/// What the emulator counted since the last reset.
#[derive(Debug, Clone, Default)]
pub struct Stats {
    /// KMS requests per operation.
    pub requests: BTreeMap<String, u64>,
    /// TCP connections accepted (the admin request that read these counts
    /// is taken off).
    pub connections: u64,
    pub peak_in_flight: u64,
}

impl Stats {
    pub fn get(&self, op: &str) -> u64 {
        self.requests.get(op).copied().unwrap_or(0)
    }

    pub fn total(&self) -> u64 {
        self.requests.values().sum()
    }

    /// Every operation but `op`, as "Op n, Op n" ("none" when there is none).
    pub fn others(&self, op: &str) -> String {
        let v: Vec<String> = self
            .requests
            .iter()
            .filter(|(k, n)| k.as_str() != op && **n > 0)
            .map(|(k, n)| format!("{k} {n}"))
            .collect();
        if v.is_empty() {
            "none".into()
        } else {
            v.join(", ")
        }
    }

    /// All requests, as "3 GetPublicKey + 1 Sign".
    pub fn summary(&self) -> String {
        let v: Vec<String> = self
            .requests
            .iter()
            .filter(|(_, n)| **n > 0)
            .map(|(k, n)| format!("{n} {k}"))
            .collect();
        if v.is_empty() {
            "none".into()
        } else {
            v.join(" + ")
        }
    }
}

impl Emulator {
    /// Starts `bin --port 0 --seed seed --latency-ms latency` (HTTPS with
    /// `--tls-cert` when `tls_cert` is given) and waits for the URL it
    /// prints on its first line.
    pub fn start(
        bin: &Path,
        seed: &Path,
        latency_ms: u64,
        tls_cert: Option<&Path>,
        log: &Path,
    ) -> Self {
        let mut cmd = Command::new("timeout");
        cmd.args(["-k", "5", LIFETIME_S])
            .arg(bin)
            .args(["--host", "127.0.0.1", "--port", "0", "--seed"])
            .arg(seed)
            .args(["--latency-ms", &latency_ms.to_string()]);
        if let Some(cert) = tls_cert {
            cmd.arg("--tls-cert").arg(cert);
        }
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("KMS11_EMULATOR_") {
                cmd.env_remove(&k);
            }
        }
        let log_file = std::fs::File::create(log).expect("emulator log file");
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log_file);
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", bin.display()));
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut r = BufReader::new(stdout);
            let mut line = String::new();
            let _ = r.read_line(&mut line);
            let _ = tx.send(line);
            let _ = std::io::copy(&mut r, &mut std::io::sink());
        });
        let line = rx
            .recv_timeout(Duration::from_secs(120))
            .unwrap_or_default();
        let url = line.trim().to_string();
        let port = url
            .rsplit(':')
            .next()
            .and_then(|p| p.trim_end_matches('/').parse().ok());
        let mut emulator = Emulator {
            url: url.clone(),
            port: port.unwrap_or(0),
            ca: tls_cert.map(Path::to_path_buf),
            child: Some(child),
        };
        if port.is_none() {
            emulator.stop();
            panic!(
                "the emulator did not start (first line {url:?}); log: {}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        emulator
    }

    /// The emulator of a child process: only its admin API.
    pub fn at(url: &str) -> Self {
        let port = url
            .rsplit(':')
            .next()
            .and_then(|p| p.trim_end_matches('/').parse().ok())
            .expect("port in URL");
        Emulator {
            url: url.to_string(),
            port,
            ca: None,
            child: None,
        }
    }

    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // SIGTERM to `timeout`, which passes it on to the emulator.
            if let Some(pid) = rustix::process::Pid::from_raw(child.id() as i32) {
                let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
            }
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

    fn admin(&self, method: &str, path: &str) -> String {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).expect("connect to the emulator");
        s.set_read_timeout(Some(Duration::from_secs(30))).ok();
        let req = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        );
        s.write_all(req.as_bytes()).expect("admin request");
        let mut text = String::new();
        s.read_to_string(&mut text).expect("admin answer");
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        assert!(
            head.starts_with("HTTP/1.1 200"),
            "{method} {path}: {head}\n{body}"
        );
        body.to_string()
    }

    /// CPU time (user + system) the emulator has used so far: the process
    /// `timeout` started.
    pub fn cpu(&self) -> Duration {
        let Some(child) = &self.child else {
            return Duration::ZERO;
        };
        let children = format!("/proc/{0}/task/{0}/children", child.id());
        let pid = std::fs::read_to_string(children).unwrap_or_default();
        match pid.split_whitespace().next() {
            Some(pid) => cpu_of(&format!("/proc/{pid}/stat")),
            None => Duration::ZERO,
        }
    }

    pub fn reset(&self) {
        if let Some(ca) = &self.ca {
            tls_admin(&self.url, ca, "POST", "/_emulator/stats/reset");
        } else {
            self.admin("POST", "/_emulator/stats/reset");
        }
    }

    pub fn stats(&self) -> Stats {
        let body = if let Some(ca) = &self.ca {
            tls_admin(&self.url, ca, "GET", "/_emulator/stats")
        } else {
            self.admin("GET", "/_emulator/stats")
        };
        let v: Value = serde_json::from_str(&body).expect("stats JSON");
        let requests = v["requests"]
            .as_object()
            .map(|m| {
                m.iter()
                    .map(|(k, n)| (k.clone(), n.as_u64().unwrap_or(0)))
                    .collect()
            })
            .unwrap_or_default();
        Stats {
            requests,
            connections: v["connections"].as_u64().unwrap_or(0).saturating_sub(1),
            peak_in_flight: v["peak_in_flight"].as_u64().unwrap_or(0),
        }
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        self.stop();
    }
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

/// An admin request to an HTTPS emulator, with `curl` and the certificate
/// the emulator wrote.
fn tls_admin(url: &str, ca: &Path, method: &str, path: &str) -> String {
    let out = Command::new("curl")
        .args(["-sS", "--fail", "--cacert"])
        .arg(ca)
        .args(["-X", method])
        .arg(format!("{}{path}", url.trim_end_matches('/')))
        .output()
        .expect("running curl for the emulator's admin API");
    assert!(
        out.status.success(),
        "curl {method} {path}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The seed file: `keys` as (alias, KeySpec, fixed key ID).
pub fn write_seed(path: &Path, keys: &[(String, &str, String)]) {
    let list: Vec<Value> = keys
        .iter()
        .map(|(alias, spec, id)| {
            serde_json::json!({
                "KeySpec": spec,
                "KeyUsage": "SIGN_VERIFY",
                "Aliases": [alias],
                "KeyId": id,
                "CreationDate": 1_700_000_000u64,
            })
        })
        .collect();
    let text = serde_json::to_string_pretty(&serde_json::json!({ "Keys": list })).unwrap();
    std::fs::write(path, text).expect("seed file");
}

pub fn log_path(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("emulator-{name}.log"))
}
