//! What the measurements found, kept until the table and the verdicts are
//! printed.

use crate::report::{median, Pct};
use crate::settings::Kind;
use kms11_testkit::Stats;
use serde_json::Value;
use std::time::Duration;

pub struct LatencyResult {
    pub latency: u64,
    pub key: &'static str,
    pub kind: Kind,
    pub direct: Pct,
    pub on: Pct,
    pub off: Pct,
}

pub struct ThroughputResult {
    pub latency: u64,
    pub threads: usize,
    pub module: Run,
    /// With verify_signatures = false (measured at 0 ms only).
    pub module_off: Option<Run>,
    pub direct: Run,
    /// "https" for the TLS run.
    pub transport: &'static str,
}

pub struct ProcessRun {
    pub json: Value,
    pub wall: Duration,
    pub stats: Stats,
}

impl ProcessRun {
    pub fn us(&self, k: &str) -> f64 {
        self.json[k].as_f64().unwrap_or(0.0)
    }
}

#[derive(Default)]
pub struct StartupResult {
    pub latency: u64,
    pub cold: Vec<ProcessRun>,
    pub warm: Vec<ProcessRun>,
    pub direct: Vec<ProcessRun>,
}

#[derive(Default)]
pub struct HundredResult {
    pub latency: u64,
    pub rtt: Duration,
    pub cold: Vec<ProcessRun>,
    pub warm: Vec<ProcessRun>,
    /// A token of one of the same keys, cold: what one key costs.
    pub cold_one: Vec<ProcessRun>,
}

impl HundredResult {
    pub const VARIANTS: [&'static str; 3] = [
        "100 keys: C_OpenSession + C_FindObjects + C_GetAttributeValue (200 objects), cold cache",
        "100 keys: C_OpenSession + C_FindObjects + C_GetAttributeValue (200 objects), warm cache",
        "1 key (one of the 100): C_OpenSession + C_FindObjects + C_GetAttributeValue (2 objects), cold cache",
    ];

    pub fn variant(&self, i: usize) -> &[ProcessRun] {
        match i {
            0 => &self.cold,
            1 => &self.warm,
            _ => &self.cold_one,
        }
    }

    /// Round trips the added latency costs: the time over that at 0 ms, in
    /// units of one round trip's increase.
    pub fn added_trips(&self, zero: &HundredResult, variant: usize) -> f64 {
        let extra = resolve_ms(self.variant(variant)) - resolve_ms(zero.variant(variant));
        let per_trip = (self.rtt.as_secs_f64() - zero.rtt.as_secs_f64()) * 1e3;
        extra / per_trip.max(1e-9)
    }
}

/// A 100-key process's C_OpenSession (which resolves the keys) and first
/// C_FindObjects + C_GetAttributeValue pass, median over runs, in ms.
pub fn resolve_ms(runs: &[ProcessRun]) -> f64 {
    median(
        runs.iter()
            .map(|p| (p.us("session_us") - p.us("slot_us") + p.us("find_attrs_first_us")) / 1e3)
            .collect(),
    )
}

pub struct HashResult {
    pub mib: usize,
    pub module_mbs: Vec<f64>,
    pub openssl_mbs: Vec<f64>,
}

#[derive(Default)]
pub struct Results {
    pub latency: Vec<LatencyResult>,
    pub tls_latency: Option<(Pct, Pct)>,
    pub throughput: Vec<ThroughputResult>,
    pub startup: Vec<StartupResult>,
    pub hundred: Vec<HundredResult>,
    pub hash: Option<HashResult>,
    pub library_size: u64,
    /// block_on and spawn + channel, p50 of a loopback request.
    pub handoff: Option<(Duration, Duration)>,
}

/// Signatures made in a measured time, and what the emulator counted.
#[derive(Default)]
pub struct Run {
    pub sigs: u64,
    pub time: Duration,
    /// CPU time of this process (the client side) during the run.
    pub cpu: Duration,
    /// CPU time of the emulator during the run.
    pub emulator_cpu: Duration,
    pub stats: Stats,
}

impl Run {
    pub fn add(&mut self, other: Run) {
        self.sigs += other.sigs;
        self.time += other.time;
        self.cpu += other.cpu;
        self.emulator_cpu += other.emulator_cpu;
        for (op, n) in other.stats.requests {
            *self.stats.requests.entry(op).or_insert(0) += n;
        }
        self.stats.connections += other.stats.connections;
        self.stats.peak_in_flight = self.stats.peak_in_flight.max(other.stats.peak_in_flight);
    }

    pub fn rate(&self) -> f64 {
        self.sigs as f64 / self.time.as_secs_f64().max(1e-9)
    }

    /// Client CPU per signature, in microseconds.
    pub fn cpu_us(&self) -> f64 {
        self.cpu.as_secs_f64() * 1e6 / self.sigs.max(1) as f64
    }

    pub fn emulator_cpu_us(&self) -> f64 {
        self.emulator_cpu.as_secs_f64() * 1e6 / self.sigs.max(1) as f64
    }
}
