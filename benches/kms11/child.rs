//! The new-process measurements: the bench binary runs itself with
//! `CHILD_FLAG MODE ARGS...`, and the child prints one JSON line of timings
//! (microseconds from the start of `main`), request counts it read from the
//! emulator between steps, and its resident memory.

use crate::module::{private_key, Library};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::AttributeType;
use kms11_testkit::Emulator;
use serde_json::{json, Map, Value};
use std::path::Path;
use std::time::Instant;

pub const CHILD_FLAG: &str = "--kms11-bench-child";

/// VmRSS and VmHWM of this process, in KiB.
pub fn memory_kib() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

struct Clock {
    start: Instant,
    out: Map<String, Value>,
}

impl Clock {
    fn new() -> Clock {
        Clock {
            start: Instant::now(),
            out: Map::new(),
        }
    }

    /// Records the time since the start under `name`.
    fn mark(&mut self, name: &str) {
        let us = self.start.elapsed().as_micros() as u64;
        self.out.insert(name.into(), json!(us));
    }

    fn put(&mut self, name: &str, v: Value) {
        self.out.insert(name.into(), v);
    }

    fn rss(&mut self, name: &str) {
        self.put(name, json!(memory_kib().0));
    }

    fn print(self) {
        println!("{}", Value::Object(self.out));
    }
}

pub fn main(args: &[String]) {
    match args.first().map(String::as_str) {
        Some("startup") => startup(&args[1..]),
        Some("hundred") => hundred(&args[1..]),
        Some("direct-startup") => direct_startup(&args[1..]),
        other => panic!("unknown child mode {other:?}"),
    }
}

/// dlopen + C_Initialize + C_OpenSession + C_FindObjects + C_Sign, once.
/// Args: MODULE CONFIG URL TOKEN KEY_LABEL.
fn startup(args: &[String]) {
    let [module, config, url, token, label] = args else {
        panic!("startup MODULE CONFIG URL TOKEN KEY_LABEL");
    };
    let mut c = Clock::new();
    c.rss("rss_start_kib");
    let emulator = Emulator::at(url);
    let m = Library::load(Path::new(module));
    c.mark("dlopen_us");
    m.initialize(Path::new(config));
    c.mark("initialize_us");
    // Time spent reading the counters is taken off the later steps.
    let pause = Instant::now();
    c.put("requests_after_initialize", json!(emulator.stats().total()));
    let paused = pause.elapsed();
    let slot = m.slot(token);
    let session = m.session(slot);
    c.mark("session_us");
    let key = private_key(&session, label);
    c.mark("find_us");
    let sig = session
        .sign(
            &Mechanism::EcdsaSha256,
            key,
            b"first signature of a new process",
        )
        .expect("C_Sign");
    assert_eq!(sig.len(), 64);
    c.mark("sign_us");
    c.put("paused_us", json!(paused.as_micros() as u64));
    c.rss("rss_end_kib");
    drop(session);
    m.finalize();
    c.mark("finalize_us");
    c.print();
}

/// A token of 100 keys: C_OpenSession (which resolves them), then
/// C_FindObjects over every object and C_GetAttributeValue on each, twice
/// (the second time with the token resolved), and resident memory.
/// Args: MODULE CONFIG URL TOKEN.
fn hundred(args: &[String]) {
    let [module, config, _url, token] = args else {
        panic!("hundred MODULE CONFIG URL TOKEN");
    };
    let mut c = Clock::new();
    c.rss("rss_start_kib");
    let m = Library::load(Path::new(module));
    m.initialize(Path::new(config));
    c.mark("initialize_us");
    c.rss("rss_initialized_kib");
    let slot = m.slot(token);
    c.mark("slot_us");
    let session = m.session(slot);
    c.mark("session_us");
    let attributes = [
        AttributeType::Class,
        AttributeType::Label,
        AttributeType::Id,
        AttributeType::KeyType,
        AttributeType::EcParams,
        AttributeType::EcPoint,
    ];
    let mut objects = 0;
    for pass in ["first", "again"] {
        let t = Instant::now();
        let handles = session.find_objects(&[]).expect("C_FindObjects");
        for h in &handles {
            let a = session
                .get_attributes(*h, &attributes)
                .expect("C_GetAttributeValue");
            assert!(a.len() >= 4);
        }
        objects = handles.len();
        c.put(
            &format!("find_attrs_{pass}_us"),
            json!(t.elapsed().as_micros() as u64),
        );
    }
    c.put("objects", json!(objects));
    c.rss("rss_resolved_kib");
    c.put("hwm_kib", json!(memory_kib().1));
    drop(session);
    m.finalize();
    c.print();
}

/// The SDK's own first signature in a new process: runtime, configuration,
/// client, one `Sign`. Args: URL ARN.
fn direct_startup(args: &[String]) {
    let [url, arn] = args else {
        panic!("direct-startup URL ARN");
    };
    let mut c = Clock::new();
    let rt = crate::direct::runtime();
    let key = crate::direct::DirectKey {
        arn: arn.clone(),
        algorithm: aws_sdk_kms::types::SigningAlgorithmSpec::EcdsaSha256,
        raw: false,
    };
    let client = rt.block_on(crate::direct::client(url, None));
    c.mark("client_us");
    use sha2::Digest;
    let digest = sha2::Sha256::digest(b"first signature of a new process");
    let sig = rt.block_on(crate::direct::sign(&client, &key, &digest));
    assert!(sig.len() > 8);
    c.mark("sign_us");
    c.rss("rss_end_kib");
    c.print();
}
