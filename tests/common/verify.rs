//! Signature checks by a second implementation: tests/verify/verify.py on
//! pyca/cryptography (OpenSSL), run once per batch. No Rust crypto here, so
//! a mistake shared by the module and its own dependencies cannot hide.

use super::util::{hex, unhex};
use serde_json::{json, Map, Value};
use std::io::Write;
use std::process::{Command, Stdio};

/// What a signature is claimed to be; see tests/verify/verify.py.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Kind {
    /// RSASSA-PKCS1-v1_5 over the message, hashed with `hash`.
    RsaPkcs1,
    /// RSASSA-PKCS1-v1_5 where the data is the hash value.
    RsaPkcs1Prehashed,
    /// CKM_RSA_PKCS exactly: sig^e mod n = 00 01 FF.. 00 || data.
    RsaPkcs1Block,
    /// RSASSA-PSS over the message, MGF1 with `hash`, salt length = hash length.
    RsaPss,
    RsaPssPrehashed,
    /// ECDSA over the message hashed with `hash`; signature r || s.
    Ecdsa,
    /// ECDSA where the data is the hash value (any of 20/32/48/64 bytes); r || s.
    EcdsaPrehashed,
    /// Ed25519 (RFC 8032 PureEdDSA) over the message.
    Ed25519,
    /// Ed25519ph (RFC 8032 HashEdDSA, empty context) over the message.
    Ed25519Ph,
    /// Pure ML-DSA (FIPS 204) over the message, with the request's context.
    MlDsa,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::RsaPkcs1 => "rsa_pkcs1",
            Kind::RsaPkcs1Prehashed => "rsa_pkcs1_prehashed",
            Kind::RsaPkcs1Block => "rsa_pkcs1_block",
            Kind::RsaPss => "rsa_pss",
            Kind::RsaPssPrehashed => "rsa_pss_prehashed",
            Kind::Ecdsa => "ecdsa",
            Kind::EcdsaPrehashed => "ecdsa_prehashed",
            Kind::Ed25519 => "ed25519",
            Kind::Ed25519Ph => "ed25519ph",
            Kind::MlDsa => "mldsa",
        }
    }
}

/// Messages bigger than this go to a file rather than into the JSON line.
const INLINE_MAX: usize = 64 * 1024;

/// A batch of checks, run by one Python process.
#[derive(Default)]
pub struct Batch {
    labels: Vec<String>,
    lines: Vec<String>,
    /// Message files written so far: (address, length) of the data, path.
    files: Vec<((usize, usize), std::path::PathBuf)>,
}

impl Batch {
    pub fn new() -> Batch {
        Batch::default()
    }

    pub fn len(&self) -> usize {
        self.lines.len()
    }

    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    /// The request's "msg" (hex) or, for a big message, "msg_file".
    fn msg_field(&mut self, data: &[u8]) -> (&'static str, Value) {
        if data.len() <= INLINE_MAX {
            return ("msg", json!(hex(data)));
        }
        // The same big message checked several times is written once.
        let at = (data.as_ptr() as usize, data.len());
        let path = match self.files.iter().find(|(a, _)| *a == at) {
            Some((_, p)) => p.clone(),
            None => {
                let p = super::tmp_dir().join(format!(
                    "msg-{}-{}.bin",
                    self.files.len(),
                    super::util::Rng::new().next_u64()
                ));
                std::fs::write(&p, data).expect("write message file");
                self.files.push((at, p.clone()));
                p
            }
        };
        ("msg_file", json!(path.to_string_lossy()))
    }

    /// Adds: `sig` must be (`valid`) or not be pure ML-DSA (FIPS 204) of
    /// `data` with `context` under `spki` (pyca/cryptography checks).
    pub fn mldsa(
        &mut self,
        label: impl Into<String>,
        spki: &[u8],
        (data, context): (&[u8], &[u8]),
        sig: &[u8],
        valid: bool,
    ) {
        self.add(label, Kind::MlDsa, None, spki, data, sig, valid);
        let line = self.lines.last_mut().expect("just added");
        let mut v: Value = serde_json::from_str(line).expect("our JSON");
        v["context"] = json!(hex(context));
        *line = v.to_string();
    }

    /// Adds: `sig` must be HashML-DSA (FIPS 204 algorithm 4) of `data` with
    /// the pre-hash `hash` ("sha256", "sha3_384", "shake128", ...) and
    /// `context` under `spki`: μ computed by Python's hashlib, the signature
    /// checked by pyca/cryptography's verify_mu.
    pub fn hash_mldsa(
        &mut self,
        label: impl Into<String>,
        spki: &[u8],
        (data, context, hash): (&[u8], &[u8], &str),
        sig: &[u8],
    ) {
        self.mldsa(label, spki, (data, context), sig, true);
        let line = self.lines.last_mut().expect("just added");
        let mut v: Value = serde_json::from_str(line).expect("our JSON");
        v["kind"] = json!("hash_mldsa");
        v["hash"] = json!(hash);
        *line = v.to_string();
    }

    /// Adds: `sig` must verify (or, with `valid` false, must not) as `kind`
    /// under the public key `spki` for `data`.
    #[allow(clippy::too_many_arguments)]
    pub fn add(
        &mut self,
        label: impl Into<String>,
        kind: Kind,
        hash: Option<&str>,
        spki: &[u8],
        data: &[u8],
        sig: &[u8],
        valid: bool,
    ) {
        let (field, msg) = self.msg_field(data);
        let mut line = Map::new();
        line.insert("op".into(), json!("verify"));
        line.insert("kind".into(), json!(kind.name()));
        line.insert("spki".into(), json!(hex(spki)));
        line.insert("sig".into(), json!(hex(sig)));
        line.insert(field.into(), msg);
        if let Some(h) = hash {
            line.insert("hash".into(), json!(h));
        }
        line.insert("expect".into(), json!(valid));
        self.lines.push(Value::Object(line).to_string());
        self.labels.push(label.into());
    }

    /// `sig` must verify.
    pub fn good(
        &mut self,
        label: impl Into<String>,
        kind: Kind,
        hash: Option<&str>,
        spki: &[u8],
        data: &[u8],
        sig: &[u8],
    ) {
        self.add(label, kind, hash, spki, data, sig, true);
    }

    /// `sig` must not verify.
    pub fn bad(
        &mut self,
        label: impl Into<String>,
        kind: Kind,
        hash: Option<&str>,
        spki: &[u8],
        data: &[u8],
        sig: &[u8],
    ) {
        self.add(label, kind, hash, spki, data, sig, false);
    }

    /// Runs every check; panics listing each one that failed. Returns how many were checked.
    pub fn run(mut self) -> usize {
        assert!(
            !self.lines.is_empty(),
            "an empty verification batch proves nothing"
        );
        let answers = run_python(&self.lines);
        let failures: Vec<String> = self
            .labels
            .iter()
            .zip(&answers)
            .filter(|(_, a)| a.as_str() != "OK")
            .map(|(l, a)| format!("  {l}: {a}"))
            .collect();
        for (_, f) in self.files.drain(..) {
            let _ = std::fs::remove_file(f);
        }
        assert!(
            failures.is_empty(),
            "{} of {} signatures failed independent verification:\n{}",
            failures.len(),
            answers.len(),
            failures.join("\n")
        );
        answers.len()
    }
}

/// Runs verify.py over `lines`; one answer per line, in order.
pub fn run_python(lines: &[String]) -> Vec<String> {
    let script = super::build::repo().join("tests/verify/verify.py");
    let mut child = Command::new("timeout")
        .arg("600")
        .arg(super::build::python())
        .arg(&script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run tests/verify/verify.py");
    let mut stdin = child.stdin.take().unwrap();
    let input = lines.join("\n") + "\n";
    // Write from another thread: verify.py answers as it reads, and a full
    // stdout pipe would otherwise stall both sides.
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(input.as_bytes());
    });
    let out = child.wait_with_output().expect("verify.py output");
    let _ = writer.join();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let answers: Vec<String> = stdout.lines().map(str::to_string).collect();
    assert!(
        out.status.success() && answers.len() == lines.len(),
        "verify.py ({}) answered {} lines for {} requests; stderr:\n{}",
        out.status,
        answers.len(),
        lines.len(),
        String::from_utf8_lossy(&out.stderr)
    );
    answers
}

/// A fresh private key as base64 PKCS #8 (for an emulator seed with Material).
pub fn keygen(specs: &[&str]) -> Vec<String> {
    let lines: Vec<String> = specs
        .iter()
        .map(|s| json!({"op": "keygen", "spec": s}).to_string())
        .collect();
    run_python(&lines)
        .into_iter()
        .zip(specs)
        .map(|(a, s)| {
            a.strip_prefix("OK ")
                .unwrap_or_else(|| panic!("keygen {s}: {a}"))
                .to_string()
        })
        .collect()
}

/// Signatures made by pyca/cryptography with `pkcs8` (base64), one per (kind, hash, data).
pub fn python_sign(pkcs8: &str, reqs: &[(Kind, Option<&str>, &[u8])]) -> Vec<Vec<u8>> {
    let lines: Vec<String> = reqs
        .iter()
        .map(|(kind, hash, data)| {
            let mut line =
                json!({"op": "sign", "kind": kind.name(), "pkcs8": pkcs8, "msg": hex(data)});
            if let Some(h) = hash {
                line["hash"] = json!(h);
            }
            line.to_string()
        })
        .collect();
    hex_answers("sign", &lines)
}

/// RSAES-OAEP by pyca/cryptography: each (hash, data) encrypted with the
/// public key `spki` (`encrypt`), or decrypted with `pkcs8` (base64).
/// HMACs by Python's hmac module with `key` (base64), one per (hash, data).
pub fn python_hmac(key: &str, reqs: &[(&str, &[u8])]) -> Vec<Vec<u8>> {
    let lines: Vec<String> = reqs
        .iter()
        .map(|(hash, data)| {
            json!({"op": "hmac", "key": key, "hash": hash, "msg": hex(data)}).to_string()
        })
        .collect();
    hex_answers("hmac", &lines)
}

/// ECDH by pyca/cryptography against the KMS public key `spki`: a fresh
/// peer key's uncompressed point and the shared secret.
pub fn python_ecdh(spki: &[u8], n: usize) -> Vec<(Vec<u8>, Vec<u8>)> {
    let lines: Vec<String> = (0..n)
        .map(|_| json!({"op": "ecdh", "spki": hex(spki)}).to_string())
        .collect();
    run_python(&lines)
        .into_iter()
        .map(|a| {
            let rest = a.strip_prefix("OK ").unwrap_or_else(|| panic!("ecdh: {a}"));
            let (point, secret) = rest.split_once(' ').expect("two values");
            (unhex(point), unhex(secret))
        })
        .collect()
}

/// ANSI X9.63's KDF by pyca/cryptography.
pub fn python_x963(hash: &str, secret: &[u8], shared: &[u8], len: usize) -> Vec<u8> {
    let line = json!({"op": "x963", "hash": hash, "secret": hex(secret), "shared": hex(shared), "len": len});
    hex_answers("x963", &[line.to_string()]).remove(0)
}

pub fn python_oaep(op: &str, key: &str, reqs: &[(&str, &[u8])]) -> Vec<Vec<u8>> {
    let field = if op == "oaep_encrypt" {
        "spki"
    } else {
        "pkcs8"
    };
    let lines: Vec<String> = reqs
        .iter()
        .map(|(hash, data)| {
            json!({"op": op, field: key, "hash": hash, "msg": hex(data)}).to_string()
        })
        .collect();
    hex_answers(op, &lines)
}

/// Runs `lines` and returns each "OK <hex>" answer's bytes (any other
/// answer fails the test, naming `op`).
fn hex_answers(op: &str, lines: &[String]) -> Vec<Vec<u8>> {
    run_python(lines)
        .into_iter()
        .map(|a| {
            super::util::unhex(
                a.strip_prefix("OK ")
                    .unwrap_or_else(|| panic!("python {op}: {a}")),
            )
        })
        .collect()
}
