//! KMS out of reach: with the endpoint a closed port, and then a server that
//! accepts connections but never answers, opening a session or searching
//! fails with CKR_DEVICE_ERROR within the configured call timeout, never
//! hangs. Once the endpoint answers, the same process works.
//!
//! This file builds its own setup (the endpoint must be unreachable when the
//! module loads), so it holds a single test.

mod common;

use common::emulator::Emulator;
use common::seed::{self, SeedKey};
use common::util::{poll, Rng};
use common::verify::{Batch, Kind};
use common::*;
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const CALL_TIMEOUT_MS: u64 = 1000;
const MAX_ATTEMPTS: u64 = 2;

/// Opens a session and lists the token's objects; the first failure's CK_RV.
fn touch(m: &Library, slot: CK_SLOT_ID) -> Result<Vec<CK_OBJECT_HANDLE>, Rv> {
    let s = m.open_rw(slot)?;
    s.find(&Template::new())
}

/// A TCP server on `port` that accepts connections and never answers.
struct Blackhole {
    stop: Arc<AtomicBool>,
    accepted: Arc<std::sync::atomic::AtomicUsize>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Blackhole {
    fn start(port: u16) -> Blackhole {
        let l = TcpListener::bind(("127.0.0.1", port)).expect("bind the silent server");
        l.set_nonblocking(true).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let accepted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let (flag, count) = (stop.clone(), accepted.clone());
        let thread = std::thread::spawn(move || {
            let mut held = Vec::new();
            while !flag.load(Ordering::Relaxed) {
                match l.accept() {
                    Ok((c, _)) => {
                        held.push(c);
                        count.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Blackhole {
            stop,
            accepted,
            thread: Some(thread),
        }
    }
}

impl Drop for Blackhole {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[test]
fn device_error_while_unreachable_then_recovery() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let dir = tmp_dir();
    let config = dir.join("kms11.toml");
    write(
        &config,
        &format!(
            "[aws]\nregion = \"us-east-1\"\nendpoint_url = \"{url}\"\ncall_timeout_ms = {CALL_TIMEOUT_MS}\n\
             connect_timeout_ms = 500\nmax_attempts = {MAX_ATTEMPTS}\n\n\
             [[token]]\nlabel = \"{DEFAULT_TOKEN}\"\n[[token.key]]\nkey = \"alias/late\"\n"
        ),
    );
    set_aws_env(&url);
    std::env::remove_var("KMS11_KEYS");
    std::env::set_var("KMS11_CONFIG", &config);
    let (_ctx, m) = load_module();
    let slot = find_slot(&m, DEFAULT_TOKEN);
    // Every attempt may take the whole call timeout, plus retry back-off and slack.
    let bound = Duration::from_millis(CALL_TIMEOUT_MS * MAX_ATTEMPTS) + Duration::from_secs(4);

    // 1. Nothing listens: connection refused.
    let t0 = Instant::now();
    let r = touch(&m, slot);
    let took = t0.elapsed();
    assert_rv(
        r,
        CKR_DEVICE_ERROR,
        "C_OpenSession/C_FindObjectsInit with the endpoint a closed port",
    );
    assert!(took < bound, "the refusal took {took:?} (bound {bound:?})");

    // 2. A server that never answers: bounded by call_timeout_ms.
    {
        let silent = Blackhole::start(port);
        let t0 = Instant::now();
        let r = touch(&m, slot);
        let took = t0.elapsed();
        let connections = silent.accepted.load(Ordering::Relaxed);
        assert_rv(
            r,
            CKR_DEVICE_ERROR,
            "C_OpenSession/C_FindObjectsInit with an endpoint that never answers",
        );
        assert!(took < bound, "the failure took {took:?}; call_timeout_ms = {CALL_TIMEOUT_MS}, max_attempts = {MAX_ATTEMPTS}");
        assert!(
            connections >= 1,
            "the module never connected to the silent endpoint (the timeout went untested)"
        );
    }

    // 3. KMS comes up on that port: the same process recovers.
    let seed = dir.join("late-seed.json");
    let id = Rng::new().uuid();
    seed::write(
        &seed,
        &[SeedKey::new("ECC_NIST_P256").id(&id).alias("alias/late")],
    );
    let emu = Emulator::start(
        &[
            "--port".into(),
            port.to_string(),
            "--seed".into(),
            seed.to_string_lossy().into(),
        ],
        &dir.join("emulator.log"),
    );
    let objects = poll(Duration::from_secs(30), Duration::from_millis(250), || {
        touch(&m, slot).ok().filter(|o| o.len() == 2)
    })
    .expect("within 30 s of KMS becoming reachable, the token lists the key's two objects");
    assert_eq!(objects.len(), 2);
    let (spki, _) = emu.public_key(&id);
    let s = ok(m.open_rw(slot), "C_OpenSession");
    let key = ok(
        s.find(&Template::new().class(CKO_PRIVATE_KEY)),
        "C_FindObjects",
    );
    assert_eq!(key.len(), 1);
    assert_eq!(ok(s.attr(key[0], CKA_ID), "CKA_ID"), util::uuid_bytes(&id));
    let sig = ok(
        s.sign_once(&Mech::new(CKM_ECDSA_SHA256), key[0], b"recovered"),
        "C_Sign after recovery",
    );
    let mut b = Batch::new();
    b.good(
        "signature after recovery",
        Kind::Ecdsa,
        Some("sha256"),
        &spki,
        b"recovered",
        &sig,
    );
    b.run();
}
