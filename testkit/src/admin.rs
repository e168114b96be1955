//! A client of the emulator that goes through neither client under test:
//! the KMS JSON protocol (to move aliases, disable keys, read public keys as
//! KMS gives them) and the `/_emulator/` admin API (request counters,
//! faults), over a few lines of blocking HTTP/1.1 (or `curl` for an HTTPS
//! emulator), answers read with serde_json.

use crate::emulator::Emulator;
use base64::Engine;
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

const HTTP_TIMEOUT: Duration = Duration::from_secs(20);

/// What the emulator counted since it started or was last reset
/// (`GET /_emulator/stats`).
#[derive(Deserialize, Debug, Clone, Default)]
#[serde(default)]
pub struct Stats {
    /// KMS requests per operation.
    pub requests: BTreeMap<String, u64>,
    /// TCP connections accepted, the admin request that read these counts
    /// taken off.
    pub connections: u64,
    pub in_flight: u64,
    pub peak_in_flight: u64,
    /// Faults injected so far.
    pub injected: Injected,
}

#[derive(Deserialize, Debug, Clone, Default)]
#[serde(default)]
pub struct Injected {
    pub throttled: u64,
    pub errors: u64,
    pub dropped: u64,
    pub blackholed: u64,
    pub denied: u64,
    pub wrong_signatures: u64,
}

impl Stats {
    /// Requests of `op` (e.g. "Sign").
    pub fn get(&self, op: &str) -> u64 {
        self.requests.get(op).copied().unwrap_or(0)
    }

    pub fn total(&self) -> u64 {
        self.requests.values().sum()
    }

    /// Every operation but `op`, as "Op n, Op n" ("none" when there is none).
    pub fn others(&self, op: &str) -> String {
        self.list(|k| k != op, |k, n| format!("{k} {n}"), ", ")
    }

    /// All requests, as "3 GetPublicKey + 1 Sign" ("none" when there is none).
    pub fn summary(&self) -> String {
        self.list(|_| true, |k, n| format!("{n} {k}"), " + ")
    }

    fn list(
        &self,
        keep: impl Fn(&str) -> bool,
        show: impl Fn(&str, u64) -> String,
        sep: &str,
    ) -> String {
        let v: Vec<String> = self
            .requests
            .iter()
            .filter(|(k, n)| keep(k) && **n > 0)
            .map(|(k, n)| show(k, *n))
            .collect();
        if v.is_empty() {
            "none".into()
        } else {
            v.join(sep)
        }
    }
}

impl Emulator {
    /// One request to the emulator; (status, body).
    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> (u16, String) {
        match &self.ca {
            Some(ca) => curl(&self.url, ca, method, path, headers, body),
            None => http(self.port, method, path, headers, body),
        }
    }

    /// One KMS operation; Ok(answer) on HTTP 200, Err((status, body)) otherwise.
    pub fn kms(&self, op: &str, body: &Value) -> Result<Value, (u16, String)> {
        let target = format!("TrentService.{op}");
        let (status, text) = self.request(
            "POST",
            "/",
            &[
                ("X-Amz-Target", &target),
                ("Content-Type", "application/x-amz-json-1.1"),
            ],
            body.to_string().as_bytes(),
        );
        if status == 200 {
            Ok(serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{op} answered bad JSON ({e}): {text}")))
        } else {
            Err((status, text))
        }
    }

    /// A KMS operation that must succeed.
    pub fn kms_ok(&self, op: &str, body: &Value) -> Value {
        self.kms(op, body)
            .unwrap_or_else(|(s, b)| panic!("emulator {op} {body}: HTTP {s}: {b}"))
    }

    /// The DER SubjectPublicKeyInfo KMS gives for `key`, and the key's ARN.
    pub fn public_key(&self, key: &str) -> (Vec<u8>, String) {
        let r = self.kms_ok("GetPublicKey", &serde_json::json!({ "KeyId": key }));
        let text = |field: &str| {
            r[field]
                .as_str()
                .unwrap_or_else(|| panic!("GetPublicKey without {field}: {r}"))
                .to_string()
        };
        let spki = base64::engine::general_purpose::STANDARD
            .decode(text("PublicKey"))
            .expect("PublicKey in base64");
        (spki, text("KeyId"))
    }

    /// The counters (`GET /_emulator/stats`).
    /// The key's ARN, from DescribeKey (for the keys GetPublicKey does not
    /// describe: symmetric and HMAC keys).
    pub fn arn(&self, key: &str) -> String {
        let r = self.kms_ok("DescribeKey", &serde_json::json!({ "KeyId": key }));
        r["KeyMetadata"]["Arn"]
            .as_str()
            .unwrap_or_else(|| panic!("DescribeKey without KeyMetadata.Arn: {r}"))
            .to_string()
    }

    pub fn stats(&self) -> Stats {
        let text = self.admin("GET", "/_emulator/stats", "");
        let mut stats: Stats = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("/_emulator/stats answered bad JSON ({e}): {text}"));
        stats.connections = stats.connections.saturating_sub(1);
        stats
    }

    /// Sets the request counters, peaks and connection count back to zero.
    pub fn reset_stats(&self) {
        self.admin("POST", "/_emulator/stats/reset", "");
    }

    /// How many `op` requests (e.g. "Sign") the emulator has received.
    pub fn count(&self, op: &str) -> u64 {
        self.stats().get(op)
    }

    /// Replaces the emulator's faults; `faults` is the JSON object of
    /// POST /_emulator/faults (fields left out are off).
    pub fn set_faults(&self, faults: &str) {
        self.admin("POST", "/_emulator/faults", faults);
    }

    /// An admin request that must answer 200; its body.
    fn admin(&self, method: &str, path: &str, body: &str) -> String {
        let headers: &[(&str, &str)] = if body.is_empty() {
            &[]
        } else {
            &[("Content-Type", "application/json")]
        };
        let (status, text) = self.request(method, path, headers, body.as_bytes());
        assert_eq!(status, 200, "{method} {path} {body}: {text}");
        text
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

/// A request to an HTTPS emulator, with `curl` and the certificate the
/// emulator wrote; (status, body).
fn curl(
    url: &str,
    ca: &Path,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, String) {
    let mut cmd = Command::new("curl");
    cmd.args(["-sS", "--max-time", "20", "--cacert"])
        .arg(ca)
        .args(["-X", method, "-w", "\n%{http_code}"]);
    for (k, v) in headers {
        cmd.arg("-H").arg(format!("{k}: {v}"));
    }
    if !body.is_empty() {
        cmd.arg("--data-binary")
            .arg(String::from_utf8_lossy(body).into_owned());
    }
    let text = crate::command::stdout(cmd.arg(format!("{}{path}", url.trim_end_matches('/'))));
    let (body, status) = text.rsplit_once('\n').unwrap_or(("", &text));
    (
        status.trim().parse().expect("curl's %{http_code}"),
        body.to_string(),
    )
}
