//! One phase per added latency (and one over HTTPS): an emulator, the
//! module initialised against it twice (verify on, verify off), the SDK
//! baseline, and every measurement of that latency.

use crate::direct::{Direct, DirectKey};
use crate::measure::{
    child, direct_throughput, fresh_dir, hashing, interleaved, module_throughput,
};
use crate::module::{self, private_key, Library};
use crate::report::Pct;
use crate::results::{HundredResult, LatencyResult, Results, Run, StartupResult, ThroughputResult};
use crate::settings::{say, BenchKey, Kind, Settings, KEYS, MESSAGE, THREADS};
use crate::setup::{write_config, Paths};
use cryptoki::slot::Slot;
use kms11_testkit::Emulator;
use std::path::PathBuf;
use std::time::Duration;

pub struct Ctx<'a> {
    pub s: &'a Settings,
    pub paths: &'a Paths,
    /// libkms11.so, verify_signatures on.
    pub on: Library,
    /// A copy of it, verify_signatures off.
    pub off: Library,
    pub results: Results,
}

/// What one phase runs against.
struct Phase<'a> {
    latency: u64,
    emu: &'a Emulator,
    direct: &'a Direct,
    conf_on: PathBuf,
}

impl Phase<'_> {
    /// The direct caller's view of `key`.
    fn direct_key(&self, key: &BenchKey) -> DirectKey {
        DirectKey {
            arn: self.direct.arn(&key.alias()),
            algorithm: key.algorithm(),
            raw: key.raw(),
        }
    }
}

impl Ctx<'_> {
    pub fn phase(&mut self, latency: u64) {
        let tmp = &self.paths.tmp;
        say(format!("--- {latency} ms added latency"));
        let emu = self.paths.emulator(latency, None, &format!("{latency}ms"));
        let conf_on = tmp.join(format!("kms11-{latency}ms-verify.conf"));
        let conf_off = tmp.join(format!("kms11-{latency}ms-noverify.conf"));
        write_config(&conf_on, &emu.url, true, None);
        write_config(&conf_off, &emu.url, false, None);
        self.on.initialize(&conf_on);
        self.off.initialize(&conf_off);
        let direct = Direct::new(&emu.url, None);
        let p = Phase {
            latency,
            emu: &emu,
            direct: &direct,
            conf_on,
        };
        let rtt = self.latency(&p);
        self.throughput(&p);
        self.startup(&p);
        self.hundred(&p, rtt);
        if latency == 0 && self.s.hash_mib > 0 {
            say(format!(
                "multi-part hashing: {} MiB in 1 MiB C_SignUpdate calls, and openssl dgst -sha256",
                self.s.hash_mib
            ));
            self.results.hash = Some(hashing(
                &self.on,
                tmp,
                self.s.hash_mib,
                if self.s.quick { 1 } else { 3 },
            ));
        }
        self.on.finalize();
        self.off.finalize();
        drop(direct);
        drop(emu);
    }

    /// Single-thread C_Sign against the direct call, interleaved, for each
    /// key; the SDK's P-256 p50 (one round trip) is returned.
    fn latency(&mut self, p: &Phase) -> Duration {
        let s_on = self.on.session(self.on.slot("bench"));
        let s_off = self.off.session(self.off.slot("bench"));
        let mut rtt = Duration::ZERO;
        for key in &KEYS {
            let rounds = self.s.rounds(key.kind, p.latency);
            say(format!("C_Sign {} x {rounds} (interleaved)", key.name));
            let dk = p.direct_key(key);
            let h_on = private_key(&s_on, key.label);
            let h_off = private_key(&s_off, key.label);
            let mech = key.mechanism();
            let mut op_direct = || {
                p.direct.sign_message(&dk, MESSAGE);
            };
            let mut op_on = || {
                module::sign(&s_on, &mech, h_on, MESSAGE);
            };
            let mut op_off = || {
                module::sign(&s_off, &mech, h_off, MESSAGE);
            };
            let mut samples = interleaved(
                rounds,
                (rounds / 20).max(5),
                &mut [&mut op_direct, &mut op_on, &mut op_off],
            );
            let off = Pct::of(samples.pop().unwrap());
            let on = Pct::of(samples.pop().unwrap());
            let direct_p = Pct::of(samples.pop().unwrap());
            if key.kind == Kind::P256 {
                rtt = direct_p.p50;
            }
            self.results.latency.push(LatencyResult {
                latency: p.latency,
                key: key.name,
                kind: key.kind,
                direct: direct_p,
                on,
                off,
            });
        }
        rtt
    }

    /// Throughput, P-256, verification on (the default), and off at 0 ms.
    fn throughput(&mut self, p: &Phase) {
        let key = &KEYS[0];
        let dk = p.direct_key(key);
        let (slot_on, slot_off) = (self.on.slot("bench"), self.off.slot("bench"));
        for n in THREADS {
            say(format!("throughput, {n} threads / in flight"));
            let (mut on, mut sdk, mut off) = (Run::default(), Run::default(), Run::default());
            // Alternating slices, so that the machine's other load falls on
            // both sides alike.
            for _ in 0..self.s.slices() {
                let time = self.s.slice_time(p.latency);
                on.add(module_throughput(&self.on, slot_on, key, n, time, p.emu));
                sdk.add(direct_throughput(p.direct, &dk, n, time, p.emu));
                // At 0 ms both sides are CPU-bound: how much of the gap is
                // the verification of each signature.
                if p.latency == 0 {
                    off.add(module_throughput(&self.off, slot_off, key, n, time, p.emu));
                }
            }
            self.results.throughput.push(ThroughputResult {
                latency: p.latency,
                threads: n,
                module: on,
                module_off: (p.latency == 0).then_some(off),
                direct: sdk,
                transport: "http",
            });
        }
    }

    /// New processes: dlopen + C_Initialize .. first signature, cold and
    /// warm cache, and the SDK's first signature in a new process.
    fn startup(&mut self, p: &Phase) {
        say("new processes: first signature, cold and warm cache");
        let args = vec![
            "startup".into(),
            self.paths.module.display().to_string(),
            p.conf_on.display().to_string(),
            p.emu.url.clone(),
            "bench".into(),
            KEYS[0].label.into(),
        ];
        let direct_args = vec![
            "direct-startup".into(),
            p.emu.url.clone(),
            p.direct_key(&KEYS[0]).arn,
        ];
        let tmp = &self.paths.tmp;
        let mut startup = StartupResult {
            latency: p.latency,
            ..StartupResult::default()
        };
        let warm_cache = fresh_dir(tmp, "cache-startup-warm");
        child(&args, &warm_cache, p.emu);
        for _ in 0..self.s.process_runs() {
            let cold = fresh_dir(tmp, "cache-startup-cold");
            startup.cold.push(child(&args, &cold, p.emu));
            startup.warm.push(child(&args, &warm_cache, p.emu));
            startup.direct.push(child(&direct_args, &cold, p.emu));
        }
        self.results.startup.push(startup);
    }

    /// The 100-key token in new processes, cold and warm cache, and the
    /// token of one of those keys, cold.
    fn hundred(&mut self, p: &Phase, rtt: Duration) {
        say("new processes: a token of 100 keys, cold and warm cache");
        let args = |token: &str| -> Vec<String> {
            vec![
                "hundred".into(),
                self.paths.module.display().to_string(),
                p.conf_on.display().to_string(),
                p.emu.url.clone(),
                token.into(),
            ]
        };
        let (hundred, one) = (args("hundred"), args("one"));
        let tmp = &self.paths.tmp;
        let run = |args: &[String], cache: &str| child(args, &fresh_dir(tmp, cache), p.emu);
        let mut result = HundredResult {
            latency: p.latency,
            rtt,
            ..HundredResult::default()
        };
        let warm_cache = fresh_dir(tmp, "cache-hundred-warm");
        child(&hundred, &warm_cache, p.emu);
        for _ in 0..self.s.hundred_runs() {
            result.cold.push(run(&hundred, "cache-hundred-cold"));
            result.warm.push(child(&hundred, &warm_cache, p.emu));
            result.cold_one.push(run(&one, "cache-one-cold"));
        }
        self.results.hundred.push(result);
    }

    /// HTTPS to the emulator: the cost of TLS per signature, and whether any
    /// connection (TLS handshake) is made per signature.
    pub fn tls_phase(&mut self) {
        let tmp = &self.paths.tmp;
        say("--- HTTPS, 0 ms added latency");
        let cert = tmp.join("emulator-cert.pem");
        let emu = self.paths.emulator(0, Some(&cert), "tls");
        let conf = tmp.join("kms11-tls.conf");
        write_config(&conf, &emu.url, true, Some(&cert));
        self.on.initialize(&conf);
        let direct = Direct::new(&emu.url, Some(&cert));
        let p = Phase {
            latency: 0,
            emu: &emu,
            direct: &direct,
            conf_on: conf,
        };
        let slot = self.on.slot("bench");
        self.results.tls_latency = Some(self.tls_latency(&p, slot));
        let (key, n) = (&KEYS[0], 16);
        let dk = p.direct_key(key);
        say(format!("HTTPS throughput, {n} threads / in flight"));
        let (mut on, mut sdk) = (Run::default(), Run::default());
        for _ in 0..self.s.slices() {
            let time = self.s.slice_time(0);
            on.add(module_throughput(&self.on, slot, key, n, time, &emu));
            sdk.add(direct_throughput(&direct, &dk, n, time, &emu));
        }
        self.results.throughput.push(ThroughputResult {
            latency: 0,
            threads: n,
            module: on,
            module_off: None,
            direct: sdk,
            transport: "https",
        });
        self.on.finalize();
        drop(direct);
        drop(emu);
    }

    /// Single-thread C_Sign over HTTPS against the direct call,
    /// interleaved: (SDK, kms11).
    fn tls_latency(&self, p: &Phase, slot: Slot) -> (Pct, Pct) {
        let key = &KEYS[0];
        let dk = p.direct_key(key);
        let s = self.on.session(slot);
        let h = private_key(&s, key.label);
        let mech = key.mechanism();
        let rounds = self.s.rounds(Kind::P256, 0) / 3;
        let mut op_direct = || {
            p.direct.sign_message(&dk, MESSAGE);
        };
        let mut op_on = || {
            module::sign(&s, &mech, h, MESSAGE);
        };
        let mut samples = interleaved(rounds, 10, &mut [&mut op_direct, &mut op_on]);
        let on = Pct::of(samples.pop().unwrap());
        let d = Pct::of(samples.pop().unwrap());
        (d, on)
    }
}
