//! The kms11-emulator process and a tiny HTTP/1.1 client for it: the KMS
//! JSON protocol (to move aliases, disable keys, read public keys as KMS
//! gives them) and the /_emulator/ admin API (request counters, faults).
//!
//! Every emulator runs under `timeout`, so it cannot outlive a test run that
//! is killed, and is stopped at process exit by the cleanup in mod.rs.

use super::json::{quote, Json};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Longest life of an emulator process, in seconds.
const LIFETIME_S: u32 = 900;
const HTTP_TIMEOUT: Duration = Duration::from_secs(20);

pub struct Emulator {
    pub url: String,
    pub port: u16,
    child: Mutex<Option<Child>>,
}

impl Emulator {
    /// Starts the emulator with `args` (plus `--port 0` unless args hold a
    /// --port) and waits (bounded) for the URL on its first stdout line.
    /// Its stderr goes to `log`.
    pub fn start(args: &[String], log: &Path) -> Emulator {
        let bin = super::build::emulator_path();
        let mut cmd = Command::new("timeout");
        cmd.arg("-k").arg("5").arg(LIFETIME_S.to_string()).arg(&bin);
        if !args.iter().any(|a| a == "--port") {
            cmd.args(["--port", "0"]);
        }
        cmd.args(["--host", "127.0.0.1"]).args(args);
        // The emulator reads its options from KMS11_EMULATOR_* too; the
        // tests' own settings must come from the command line only.
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
        super::register_pid(child.id());
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let mut r = BufReader::new(stdout);
            let _ = r.read_line(&mut line);
            let _ = tx.send(line);
            // Keep draining so the emulator never blocks on a full pipe.
            let _ = std::io::copy(&mut r, &mut std::io::sink());
        });
        let line = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(l) => l,
            Err(_) => {
                let _ = child.kill();
                panic!(
                    "the emulator printed no URL within 60 s; log: {}",
                    std::fs::read_to_string(log).unwrap_or_default()
                );
            }
        };
        let url = line.trim().to_string();
        if !url.starts_with("http://127.0.0.1:") && !url.starts_with("https://127.0.0.1:") {
            let _ = child.wait();
            panic!(
                "the emulator did not start (first line {url:?}); log: {}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        let port = url
            .rsplit(':')
            .next()
            .unwrap()
            .trim_end_matches('/')
            .parse()
            .expect("port in URL");
        Emulator {
            url,
            port,
            child: Mutex::new(Some(child)),
        }
    }

    /// Stops the emulator (SIGTERM to `timeout`, which passes it on) and waits, bounded.
    pub fn stop(&self) {
        let mut guard = self.child.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(mut child) = guard.take() {
            super::terminate(child.id());
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

    /// One KMS operation; Ok(answer) on HTTP 200, Err((status, body)) otherwise.
    pub fn kms(&self, op: &str, body: &str) -> Result<Json, (u16, String)> {
        let target = format!("TrentService.{op}");
        let (status, text) = http(
            self.port,
            "POST",
            "/",
            &[
                ("X-Amz-Target", &target),
                ("Content-Type", "application/x-amz-json-1.1"),
            ],
            body.as_bytes(),
        );
        if status == 200 {
            Ok(Json::parse(&text)
                .unwrap_or_else(|e| panic!("{op} answered bad JSON ({e}): {text}")))
        } else {
            Err((status, text))
        }
    }

    /// A KMS operation that must succeed.
    pub fn kms_ok(&self, op: &str, body: &str) -> Json {
        self.kms(op, body)
            .unwrap_or_else(|(s, b)| panic!("emulator {op} {body}: HTTP {s}: {b}"))
    }

    /// The DER SubjectPublicKeyInfo KMS gives for `key`, and the key's ARN.
    pub fn public_key(&self, key: &str) -> (Vec<u8>, String) {
        let r = self.kms_ok("GetPublicKey", &format!("{{\"KeyId\":{}}}", quote(key)));
        let spki = super::util::b64decode(r.str("PublicKey").expect("PublicKey"));
        (spki, r.str("KeyId").expect("KeyId").to_string())
    }

    pub fn stats(&self) -> Json {
        let (status, text) = http(self.port, "GET", "/_emulator/stats", &[], b"");
        assert_eq!(status, 200, "GET /_emulator/stats: {text}");
        Json::parse(&text).expect("stats JSON")
    }

    /// Sets the request counters, peaks and connection count back to zero.
    pub fn reset_stats(&self) {
        let (status, text) = http(self.port, "POST", "/_emulator/stats/reset", &[], b"");
        assert_eq!(status, 200, "POST /_emulator/stats/reset: {text}");
    }

    /// How many `op` requests (e.g. "Sign") the emulator has received.
    pub fn count(&self, op: &str) -> u64 {
        self.stats()
            .get("requests")
            .and_then(|r| r.u64(op))
            .unwrap_or(0)
    }

    /// Replaces the emulator's faults; `faults` is the JSON object of
    /// POST /_emulator/faults (fields left out are off).
    pub fn set_faults(&self, faults: &str) {
        let (status, text) = http(
            self.port,
            "POST",
            "/_emulator/faults",
            &[("Content-Type", "application/json")],
            faults.as_bytes(),
        );
        assert_eq!(status, 200, "POST /_emulator/faults {faults}: {text}");
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        self.stop();
    }
}

/// One HTTP/1.1 request to 127.0.0.1:port with `Connection: close`; (status, body).
pub fn http(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port))
        .unwrap_or_else(|e| panic!("connect 127.0.0.1:{port}: {e}"));
    s.set_read_timeout(Some(HTTP_TIMEOUT)).unwrap();
    s.set_write_timeout(Some(HTTP_TIMEOUT)).unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\nContent-Length: {}\r\n", body.len());
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes())
        .and_then(|_| s.write_all(body))
        .expect("HTTP write");
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)
        .unwrap_or_else(|e| panic!("HTTP read from 127.0.0.1:{port}{path}: {e}"));
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("HTTP header end");
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("HTTP status");
    let mut payload = raw[split + 4..].to_vec();
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        payload = dechunk(&payload);
    }
    (status, String::from_utf8_lossy(&payload).to_string())
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = b.windows(2).position(|w| w == b"\r\n") {
        let size_text = String::from_utf8_lossy(&b[..eol]).to_string();
        let size =
            usize::from_str_radix(size_text.split(';').next().unwrap().trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        let start = eol + 2;
        out.extend_from_slice(&b[start..start + size]);
        b = &b[(start + size + 2).min(b.len())..];
    }
    out
}
