//! Test hooks: faults injected into KMS requests, and the counters tests and
//! benchmarks read. All off by default.

use parking_lot::{Mutex, RwLock};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Faults {
    /// Added to every KMS request before it is answered.
    pub latency_ms: u64,
    /// Fraction of KMS requests delayed by a further `slow_ms` (a region
    /// with a slow tail).
    pub slow_rate: f64,
    pub slow_ms: u64,
    /// Every KMS request is accepted and never answered (a black hole):
    /// held until this is turned off, then its connection is closed.
    pub blackhole: bool,
    /// Every Nth KMS request is answered with ThrottlingException.
    pub throttle_every: u64,
    /// A token-bucket limit in requests/s; requests over it are throttled.
    pub throttle_rps: f64,
    /// Fraction of requests answered with HTTP 500 KMSInternalException.
    pub error_rate: f64,
    /// Fraction of requests whose connection is closed with no answer.
    pub drop_rate: f64,
    /// Fraction of Sign answers whose signature is well-formed but wrong
    /// (its last byte changed), as a corrupting proxy or a wrong key gives.
    pub wrong_signature_rate: f64,
    /// AccessDeniedException for an operation on a key, as a key policy
    /// without that permission gives.
    pub deny: Vec<Deny>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Deny {
    pub operation: String,
    /// A key ID, key ARN, alias name or alias ARN; `*` for every key.
    pub key: String,
}

impl Deny {
    /// Parses `Operation:KEYREF` (the key reference may itself hold colons).
    pub fn parse(s: &str) -> Result<Deny, String> {
        match s.split_once(':') {
            Some((op, key)) if !op.is_empty() && !key.is_empty() => Ok(Deny {
                operation: op.to_string(),
                key: key.to_string(),
            }),
            _ => Err(format!(
                "'{s}' is not OPERATION:KEY (for example Sign:alias/release)"
            )),
        }
    }
}

/// What the injector decided for one request.
#[derive(Debug, PartialEq)]
pub enum Injected {
    None,
    Throttle,
    ServerError,
    Drop,
}

#[derive(Default)]
pub struct Counters {
    pub requests: Mutex<BTreeMap<String, u64>>,
    pub connections: AtomicU64,
    pub in_flight: AtomicU64,
    pub peak_in_flight: AtomicU64,
    pub throttled: AtomicU64,
    pub errors: AtomicU64,
    pub dropped: AtomicU64,
    /// Requests held by the black hole (see `Faults::blackhole`).
    pub blackholed: AtomicU64,
    pub denied: AtomicU64,
    pub wrong_signatures: AtomicU64,
}

#[derive(Serialize)]
pub struct Stats {
    pub requests: BTreeMap<String, u64>,
    pub connections: u64,
    pub in_flight: u64,
    pub peak_in_flight: u64,
    pub injected: InjectedStats,
}

#[derive(Serialize)]
pub struct InjectedStats {
    pub throttled: u64,
    pub errors: u64,
    pub dropped: u64,
    pub blackholed: u64,
    pub denied: u64,
    pub wrong_signatures: u64,
}

impl Counters {
    pub fn stats(&self) -> Stats {
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        Stats {
            requests: self.requests.lock().clone(),
            connections: get(&self.connections),
            in_flight: get(&self.in_flight),
            peak_in_flight: get(&self.peak_in_flight),
            injected: InjectedStats {
                throttled: get(&self.throttled),
                errors: get(&self.errors),
                dropped: get(&self.dropped),
                blackholed: get(&self.blackholed),
                denied: get(&self.denied),
                wrong_signatures: get(&self.wrong_signatures),
            },
        }
    }

    pub fn reset(&self) {
        self.requests.lock().clear();
        for a in [
            &self.connections,
            &self.throttled,
            &self.errors,
            &self.dropped,
            &self.blackholed,
            &self.denied,
            &self.wrong_signatures,
        ] {
            a.store(0, Ordering::Relaxed);
        }
        self.peak_in_flight
            .store(self.in_flight.load(Ordering::Relaxed), Ordering::Relaxed);
    }

    pub fn count_request(&self, op: &str) {
        *self.requests.lock().entry(op.to_string()).or_insert(0) += 1;
    }
}

/// Marks one request in flight for as long as it lives.
pub struct InFlight<'a>(&'a Counters);

impl<'a> InFlight<'a> {
    pub fn new(c: &'a Counters) -> Self {
        let now = c.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        c.peak_in_flight.fetch_max(now, Ordering::SeqCst);
        InFlight(c)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

pub struct Injector {
    pub faults: RwLock<Faults>,
    seq: AtomicU64,
    rng: AtomicU64,
    bucket: Mutex<(f64, Instant)>,
}

impl Injector {
    pub fn new(faults: Faults) -> Self {
        let mut seed = [0u8; 8];
        let _ = aws_lc_rs::rand::fill(&mut seed);
        Injector {
            bucket: Mutex::new((faults.throttle_rps.max(1.0), Instant::now())),
            faults: RwLock::new(faults),
            seq: AtomicU64::new(0),
            rng: AtomicU64::new(u64::from_le_bytes(seed)),
        }
    }

    pub fn set(&self, faults: Faults) {
        *self.bucket.lock() = (faults.throttle_rps.max(1.0), Instant::now());
        *self.faults.write() = faults;
        self.seq.store(0, Ordering::Relaxed);
    }

    /// A uniform number in [0, 1) (splitmix64 over an atomic counter).
    fn uniform(&self) -> f64 {
        let mut z = self
            .rng
            .fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed)
            .wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }

    fn over_rate(&self, rps: f64) -> bool {
        let mut b = self.bucket.lock();
        let now = Instant::now();
        // The bucket holds at most one second of requests and starts full.
        let (tokens, last) = *b;
        let tokens = (tokens + now.duration_since(last).as_secs_f64() * rps).min(rps.max(1.0));
        if tokens >= 1.0 {
            *b = (tokens - 1.0, now);
            false
        } else {
            *b = (tokens, now);
            true
        }
    }

    /// How much longer this request waits: `slow_ms` for a `slow_rate`
    /// fraction of requests.
    pub fn extra_delay(&self, faults: &Faults) -> u64 {
        if faults.slow_rate > 0.0 && self.uniform() < faults.slow_rate {
            faults.slow_ms
        } else {
            0
        }
    }

    /// Whether to spoil this Sign answer's signature.
    pub fn wrong_signature(&self, faults: &Faults) -> bool {
        faults.wrong_signature_rate > 0.0 && self.uniform() < faults.wrong_signature_rate
    }

    /// Decides the fault for one request, after its latency has been added.
    pub fn decide(&self, faults: &Faults) -> Injected {
        let n = self.seq.fetch_add(1, Ordering::Relaxed) + 1;
        if faults.drop_rate > 0.0 && self.uniform() < faults.drop_rate {
            return Injected::Drop;
        }
        if faults.throttle_every > 0 && n.is_multiple_of(faults.throttle_every) {
            return Injected::Throttle;
        }
        if faults.throttle_rps > 0.0 && self.over_rate(faults.throttle_rps) {
            return Injected::Throttle;
        }
        if faults.error_rate > 0.0 && self.uniform() < faults.error_rate {
            return Injected::ServerError;
        }
        Injected::None
    }
}
