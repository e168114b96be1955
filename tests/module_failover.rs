//! Multi-Region failover (issue 17): two emulator processes stand in for
//! two KMS regions (us-east-1, the keys' own, and us-west-2, the fallback),
//! seeded with one multi-Region key (primary and replica, same material)
//! and a single-Region key. Sixteen threads sign while us-east-1 is
//! throttled, answers 500s, goes silent (a black hole) and is killed: no
//! C_Sign of the multi-Region key fails, and every signature verifies with
//! pyca/cryptography against the public key us-east-1 gave before it
//! failed. The single-Region key fails with CKR_DEVICE_ERROR meanwhile.
//! Each time us-east-1 is back, its traffic returns (a probe finds it
//! answering once its cool-down is over). A multi-Region key whose
//! "replica" has another public key is never sent to it: the module's own
//! signature check is off here, so only the replica check at resolution
//! stands between it and a signature by the wrong key.

mod common;

use common::regions::{mrk, TwoRegions};
use common::verify::{Batch, Kind};
use common::*;
use kms11_testkit::emulator::Emulator;
use kms11_testkit::seed::SeedKey;
use std::sync::Arc;
use std::time::{Duration, Instant};

const MRK: &str = "mrk-5eed0000000000000000000000000017";
const SINGLE: &str = "5eed0000-0000-4000-8000-000000000017";
const FORGED: &str = "mrk-5eed0000000000000000000000000018";
const THREADS: usize = 16;
const EACH: usize = 4;
/// The longest the traffic may take to return to a region that is back
/// (its cool-down, at most a minute after repeated failures, then a probe).
const RETURN_BOUND: Duration = Duration::from_secs(90);

const SETTINGS: &str = "connect_timeout_ms = 500\ncall_timeout_ms = 1000\nmax_attempts = 2\n\
    [cache]\nenabled = false\n[signing]\nverify_signatures = false\n";

struct World {
    r: TwoRegions,
    spki: Vec<u8>,
}

fn world() -> World {
    let mut materials = common::verify::keygen(&["ECC_NIST_P256"; 3]).into_iter();
    let material = materials.next().unwrap();
    let (forged, other) = (materials.next().unwrap(), materials.next().unwrap());
    let mut keys: Vec<SeedKey> = mrk(MRK, "alias/release", &material, None).into();
    keys.push(
        SeedKey::new("ECC_NIST_P256")
            .id(SINGLE)
            .alias("alias/single"),
    );
    // The "replica" of FORGED has other material: another public key.
    keys.extend(mrk(FORGED, "alias/forged", &forged, Some(&other)));
    let tokens = format!(
        "[[token]]\nlabel = {}\n\
         [[token.key]]\nkey = \"alias/release\"\nlabel = \"release\"\n\
         [[token.key]]\nkey = \"alias/single\"\nlabel = \"single\"\n\
         [[token.key]]\nkey = \"alias/forged\"\nlabel = \"forged\"\n",
        quote(DEFAULT_TOKEN)
    );
    let r = TwoRegions::start(&keys, SETTINGS, &tokens);
    let (spki, _) = r.east.public_key(MRK);
    World { r, spki }
}

impl World {
    fn sign(&self, label: &str, data: &[u8]) -> Result<Vec<u8>, Rv> {
        self.r.sign(label, data)
    }

    /// THREADS threads sign EACH times with the multi-Region key; every
    /// C_Sign must succeed, and every signature goes to `batch`.
    fn storm(self: &Arc<Self>, phase: &str, batch: &mut Batch) {
        let handles: Vec<_> = (0..THREADS)
            .map(|t| {
                let w = self.clone();
                let phase = phase.to_string();
                std::thread::spawn(move || {
                    (0..EACH)
                        .map(|i| {
                            let data = format!("{phase}: thread {t}, signature {i}").into_bytes();
                            let sig = w.sign("release", &data);
                            (data, sig)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        for h in handles {
            for (data, sig) in h.join().expect("a signing thread panicked") {
                let what = String::from_utf8_lossy(&data).to_string();
                let sig =
                    sig.unwrap_or_else(|rv| panic!("{what}: C_Sign failed with {}", rv_name(rv)));
                batch.good(what, Kind::Ecdsa, Some("sha256"), &self.spki, &data, &sig);
            }
        }
    }

    /// Signs until `east` serves a Sign again (bounded).
    fn traffic_returns(&self, east: &Emulator, phase: &str, batch: &mut Batch) {
        let before = east.count("Sign");
        let started = Instant::now();
        let mut n = 0;
        while east.count("Sign") == before {
            assert!(
                started.elapsed() < RETURN_BOUND,
                "{phase}: no Sign reached us-east-1 within {RETURN_BOUND:?} of its return"
            );
            let data = format!("{phase}: after the return, {n}").into_bytes();
            let sig = self
                .sign("release", &data)
                .unwrap_or_else(|rv| panic!("{phase}: C_Sign {n} failed with {}", rv_name(rv)));
            batch.good(
                format!("{phase} {n}"),
                Kind::Ecdsa,
                Some("sha256"),
                &self.spki,
                &data,
                &sig,
            );
            n += 1;
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

#[test]
fn sixteen_threads_keep_signing_through_every_kind_of_regional_failure() {
    let w = Arc::new(world());
    let mut batch = Batch::new();

    w.storm("healthy", &mut batch);
    assert_eq!(
        w.r.west.count("Sign"),
        0,
        "a healthy home region signs alone"
    );
    assert_eq!(w.r.east.count("Sign"), (THREADS * EACH) as u64);

    for (phase, faults) in [
        ("throttled", r#"{"throttle_every": 1}"#),
        ("500s", r#"{"error_rate": 1.0}"#),
        ("black hole", r#"{"blackhole": true}"#),
    ] {
        let west_before = w.r.west.count("Sign");
        w.r.east.set_faults(faults);
        w.storm(phase, &mut batch);
        assert!(
            w.r.west.count("Sign") >= west_before + (THREADS * EACH) as u64,
            "{phase}: every signature was made in us-west-2"
        );
        // The single-Region key has no other region; the forged replica
        // is never asked.
        let west_signs = w.r.west.count("Sign");
        assert_eq!(
            w.sign("single", b"no replica"),
            Err(CKR_DEVICE_ERROR),
            "{phase}: a single-Region key"
        );
        assert_eq!(
            w.sign("forged", b"not by another key"),
            Err(CKR_DEVICE_ERROR),
            "{phase}: a replica with another public key"
        );
        assert_eq!(
            w.r.west.count("Sign"),
            west_signs,
            "{phase}: us-west-2 asked"
        );
        w.r.east.set_faults("{}");
        w.traffic_returns(&w.r.east, phase, &mut batch);
    }

    // Killed: connections refused until it starts again on its port.
    let port = w.r.east.port;
    w.r.east.stop();
    let west_before = w.r.west.count("Sign");
    w.storm("killed", &mut batch);
    assert!(w.r.west.count("Sign") >= west_before + (THREADS * EACH) as u64);
    let args = [
        "--seed".to_string(),
        w.r.seed.to_string_lossy().into(),
        "--port".into(),
        port.to_string(),
    ];
    let east = Emulator::start(&args, &w.r.dir.join("east-again.log"));
    let started = Instant::now();
    let data = b"after the restart";
    let mut returned = false;
    while started.elapsed() < RETURN_BOUND {
        let sig = w.sign("release", data).expect("C_Sign after the restart");
        batch.good("restart", Kind::Ecdsa, Some("sha256"), &w.spki, data, &sig);
        if east.count("Sign") > 0 {
            returned = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(returned, "no Sign reached the restarted us-east-1");
    let checked = batch.run();
    assert!(
        checked >= 5 * THREADS * EACH,
        "{checked} signatures checked"
    );
}
