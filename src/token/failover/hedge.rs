//! Hedged signing (`[signing] hedge_after_ms`): a Sign to a multi-Region
//! key's own region that is not answered after the hedge delay is also sent
//! to the next region; the first signature wins and the other request is
//! dropped (cancelled). At most one hedge per signature, and hedges are
//! bounded by a budget: each signature earns 1/20 of a hedge, at most 5
//! saved up, so that hedges stay near 5% of signatures even when a region
//! is slow for every request.
//!
//! "auto" hedges after the region's 95th percentile of recent successful
//! Sign times (the last 128, once 20 are known).

use super::Attempt;
use crate::backend::{Backend, BackendError, Signed};
use crate::config::Hedge;
use crate::vocabulary::SigningAlgorithm;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::time::{Duration, Instant};

const SAMPLES: usize = 128;
const MIN_SAMPLES: usize = 20;
/// Hedges earned per signature, and the most saved up.
const EARN: f64 = 0.05;
const SAVED_MAX: f64 = 5.0;

/// Recent Sign times of one region.
#[derive(Default)]
struct Samples {
    times: Vec<Duration>,
    next: usize,
    /// The 95th percentile, recomputed every 16 samples.
    p95: Option<Duration>,
    since: usize,
}

impl Samples {
    fn add(&mut self, t: Duration) {
        if self.times.len() < SAMPLES {
            self.times.push(t);
        } else {
            self.times[self.next] = t;
            self.next = (self.next + 1) % SAMPLES;
        }
        self.since += 1;
        if self.times.len() >= MIN_SAMPLES && (self.p95.is_none() || self.since >= 16) {
            let mut sorted = self.times.clone();
            sorted.sort_unstable();
            self.p95 = Some(sorted[(sorted.len() * 95).div_ceil(100) - 1]);
            self.since = 0;
        }
    }
}

pub struct Hedging {
    setting: Hedge,
    latency: Mutex<HashMap<String, Samples>>,
    /// Hedges that may be sent now.
    budget: Mutex<f64>,
}

/// What a hedged attempt gave: each answer that came, in the order they
/// came (a winner ends it; the other request is dropped), and whether the
/// hedge was sent.
pub struct Raced {
    pub answers: Vec<(Attempt, Result<Signed, BackendError>)>,
    pub hedged: bool,
}

impl Hedging {
    pub fn new(setting: Hedge) -> Hedging {
        Hedging {
            setting,
            latency: Mutex::new(HashMap::new()),
            budget: Mutex::new(1.0),
        }
    }

    /// A successful Sign to `region` took `t`.
    pub fn observe(&self, region: &str, t: Duration) {
        if self.setting == Hedge::Auto {
            self.latency
                .lock()
                .entry(region.to_string())
                .or_default()
                .add(t);
        }
    }

    /// How long a Sign to `region` runs before it is hedged; `None`: not
    /// hedged (off, or "auto" without enough samples yet).
    pub fn delay(&self, region: &str) -> Option<Duration> {
        match self.setting {
            Hedge::Off => None,
            Hedge::After(ms) => Some(Duration::from_millis(ms)),
            Hedge::Auto => self.latency.lock().get(region).and_then(|s| s.p95),
        }
    }

    /// One signature's share of the budget.
    pub fn earn(&self) {
        if self.setting != Hedge::Off {
            let mut b = self.budget.lock();
            *b = (*b + EARN).min(SAVED_MAX);
        }
    }

    fn spend(&self) -> bool {
        let mut b = self.budget.lock();
        if *b >= 1.0 {
            *b -= 1.0;
            true
        } else {
            false
        }
    }

    /// Sends `first`; if it is not answered after `delay` and the budget
    /// allows, sends `second` too, and takes the first signature.
    #[allow(clippy::too_many_arguments)]
    pub async fn race(
        &self,
        backend: &dyn Backend,
        first: &Attempt,
        second: &Attempt,
        delay: Duration,
        algorithm: SigningAlgorithm,
        message: &[u8],
        grant_tokens: &[String],
    ) -> Raced {
        let started = Instant::now();
        let one = backend.sign_once(&first.target, algorithm, message, grant_tokens);
        tokio::pin!(one);
        let early = tokio::select! {
            r = &mut one => Some(r),
            _ = tokio::time::sleep(delay) => None,
        };
        let done = |r: Result<Signed, BackendError>, hedged| {
            if r.is_ok() {
                self.observe(&first.region, started.elapsed());
            }
            Raced {
                answers: vec![(first.clone(), r)],
                hedged,
            }
        };
        if let Some(r) = early {
            return done(r, false);
        }
        if !self.spend() {
            return done(one.await, false);
        }
        let hedge_started = Instant::now();
        let two = backend.sign_once(&second.target, algorithm, message, grant_tokens);
        tokio::pin!(two);
        let mut answers = Vec::new();
        tokio::select! {
            r = &mut one => {
                let ok = r.is_ok();
                if ok {
                    self.observe(&first.region, started.elapsed());
                }
                answers.push((first.clone(), r));
                if !ok {
                    answers.push((second.clone(), two.await));
                }
            }
            r = &mut two => {
                let ok = r.is_ok();
                if ok {
                    self.observe(&second.region, hedge_started.elapsed());
                }
                answers.push((second.clone(), r));
                if !ok {
                    answers.push((first.clone(), one.await));
                }
            }
        }
        Raced {
            answers,
            hedged: true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_hedges_at_the_95th_percentile_once_it_knows_enough() {
        let h = Hedging::new(Hedge::Auto);
        for ms in 1..MIN_SAMPLES as u64 {
            h.observe("us-east-1", Duration::from_millis(ms));
        }
        assert_eq!(h.delay("us-east-1"), None, "too few samples");
        h.observe("us-east-1", Duration::from_millis(20));
        assert_eq!(h.delay("us-east-1"), Some(Duration::from_millis(19)));
        for _ in 0..SAMPLES {
            h.observe("us-east-1", Duration::from_millis(5));
        }
        assert_eq!(h.delay("us-east-1"), Some(Duration::from_millis(5)));
        assert_eq!(h.delay("us-west-2"), None);
        assert_eq!(Hedging::new(Hedge::Off).delay("us-east-1"), None);
        assert_eq!(
            Hedging::new(Hedge::After(40)).delay("x"),
            Some(Duration::from_millis(40))
        );
    }

    #[test]
    fn hedges_stay_within_a_twentieth_of_signatures() {
        let h = Hedging::new(Hedge::After(1));
        let mut hedges = 0;
        for _ in 0..1000 {
            h.earn();
            if h.spend() {
                hedges += 1;
            }
        }
        // The first one saved at the start, then one per 20 signatures.
        assert!((50..=52).contains(&hedges), "{hedges}");
        let off = Hedging::new(Hedge::Off);
        off.earn();
        assert!(off.spend(), "the one saved at the start");
        assert!(!off.spend());
    }
}
