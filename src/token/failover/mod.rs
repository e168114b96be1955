//! Multi-Region failover (docs/availability.md): a multi-Region key
//! (`mrk-` key ID) signs in its own region, and when that region fails
//! (no connection, a timeout, 5xx, throttling) in the next healthy one of
//! `[aws] fallback_regions`, where its replica has the same key ID and key
//! material. Every answer is still judged as before: it must name the key
//! in the region that signed, and verify with the key's public key.
//!
//! A region that failed cools down (1 s, doubling with each failure in a
//! row, at most 60 s): it is tried only after the healthy ones. When its
//! cool-down is over, one request at a time probes it in the background
//! (DescribeKey of the key that found it down); traffic returns when the
//! probe is answered.

mod hedge;
mod replicas;

use crate::backend::{Backend, BackendError, Failure, Signed};
use crate::keyref::KeyRef;
use crate::log_at;
use crate::vocabulary::SigningAlgorithm;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The first cool-down after a failure, and the longest.
const COOL_DOWN: Duration = Duration::from_secs(1);
const COOL_DOWN_MAX: Duration = Duration::from_secs(60);

#[derive(Debug, Default)]
struct Health {
    /// Failures in a row.
    failures: u32,
    /// Cooling down until then (a probe must answer before traffic returns).
    until: Option<Instant>,
    /// A probe is in flight.
    probing: bool,
}

/// What a fallback region's replica of a key was found to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Replica {
    /// Its public key is the key's: it may sign.
    Same,
    /// Another public key: never used.
    Different,
    /// No replica there (NotFound).
    Absent,
}

/// The regions a multi-Region key may sign in, and how each is doing.
pub struct Regions {
    /// Signatures are verified before they leave the module, so a replica
    /// not checked yet may sign (a wrong one's signature is refused).
    verify: bool,
    /// (key ID, region) → what its replica there was found to be.
    replicas: Mutex<HashMap<(String, String), Replica>>,
    /// Key IDs whose replicas are being or were checked.
    checked: Mutex<std::collections::HashSet<String>>,
    /// The region of keys named by key ID or alias name (`[aws] region`,
    /// else AWS_REGION), when known.
    home: Option<String>,
    fallbacks: Vec<String>,
    /// Passes over the regions before a signature fails (`max_attempts`).
    passes: u32,
    hedging: hedge::Hedging,
    health: Mutex<HashMap<String, Health>>,
}

/// Where one attempt went and what it expects the answer to name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    pub region: String,
    /// What Sign is sent to: the key as configured in its own region, its
    /// replica's key ARN elsewhere.
    pub target: String,
    /// The key ARN the answer must name.
    pub expected: String,
}

/// A multi-Region key's signature, and where it was made.
pub struct Answer {
    pub signed: Result<Signed, BackendError>,
    /// The region of the last attempt (the one that signed, on success).
    pub attempt: Attempt,
    /// Requests sent (1: no failover, no hedge).
    pub attempts: u32,
    /// A hedge was sent (`hedge`).
    pub hedged: bool,
}

/// `arn` with its region replaced (a replica's ARN); `None` if it is not
/// an ARN.
pub fn arn_in_region(arn: &str, region: &str) -> Option<String> {
    let mut parts: Vec<&str> = arn.splitn(6, ':').collect();
    if parts.len() != 6 || parts[0] != "arn" {
        return None;
    }
    parts[3] = region;
    Some(parts.join(":"))
}

/// Whether the key `arn` is a multi-Region key (its key ID starts `mrk-`).
pub fn is_multi_region(arn: &str) -> bool {
    KeyRef::key_id_in(arn).is_some_and(|id| id.starts_with("mrk-"))
}

fn region_of(arn: &str) -> Option<&str> {
    arn.split(':').nth(3).filter(|r| !r.is_empty())
}

/// The failures a region's trouble causes, which another region may not
/// have. The caller's and the key's own errors never fail over.
pub fn fails_over(e: &BackendError) -> bool {
    matches!(e.failure, Failure::Unavailable | Failure::Throttled)
}

impl Regions {
    pub fn new(home: Option<String>, fallbacks: Vec<String>, passes: u32) -> Regions {
        Regions {
            verify: true,
            replicas: Mutex::new(HashMap::new()),
            checked: Mutex::new(std::collections::HashSet::new()),
            home,
            fallbacks,
            passes: passes.max(1),
            hedging: hedge::Hedging::new(crate::config::Hedge::Off),
            health: Mutex::new(HashMap::new()),
        }
    }

    /// Hedged signing (`[signing] hedge_after_ms`).
    pub fn hedging(mut self, setting: crate::config::Hedge) -> Regions {
        self.hedging = hedge::Hedging::new(setting);
        self
    }

    /// Whether signatures are verified (`[signing] verify_signatures`).
    pub fn verifying(mut self, verify: bool) -> Regions {
        self.verify = verify;
        self
    }

    /// The fallback regions, in order.
    pub fn fallbacks(&self) -> impl Iterator<Item = &str> {
        self.fallbacks.iter().map(String::as_str)
    }

    /// A key's own region: its configured reference's (`target`, when an
    /// ARN), else the configured region, else the region of `arn` (where it
    /// was resolved).
    pub fn home_of(&self, target: &str, arn: &str) -> Option<String> {
        KeyRef::parse(target)
            .ok()
            .and_then(|k| k.region().map(str::to_string))
            .or_else(|| self.home.clone())
            .or_else(|| region_of(arn).map(str::to_string))
    }

    /// Whether the key `arn` can sign in more than one region.
    pub fn covers(&self, arn: &str) -> bool {
        !self.fallbacks.is_empty() && is_multi_region(arn) && region_of(arn).is_some()
    }

    /// The attempts of one pass, for a key `arn` configured as `target`:
    /// its own region and then the fallbacks, healthy regions first (in
    /// that order), cooling ones after them.
    pub fn plan(&self, arn: &str, target: &str) -> Vec<Attempt> {
        let Some(home) = self.home_of(target, arn) else {
            return Vec::new();
        };
        let home = home.as_str();
        let all = std::iter::once(home.to_string()).chain(
            self.fallbacks
                .iter()
                .filter(|r| r.as_str() != home)
                .cloned(),
        );
        let key_id = KeyRef::key_id_in(arn).unwrap_or_default();
        let replicas = self.replicas.lock();
        let usable = |r: &String| {
            r == home
                || match replicas.get(&(key_id.to_string(), r.clone())) {
                    Some(Replica::Same) => true,
                    Some(_) => false,
                    None => self.verify,
                }
        };
        let all: Vec<String> = all.filter(usable).collect();
        drop(replicas);
        let health = self.health.lock();
        let (healthy, cooling): (Vec<String>, Vec<String>) = all
            .into_iter()
            .partition(|r| health.get(r).is_none_or(|h| h.until.is_none()));
        healthy
            .into_iter()
            .chain(cooling)
            .filter_map(|region| {
                let expected = arn_in_region(arn, &region)?;
                let target = if region == home {
                    target.to_string()
                } else {
                    expected.clone()
                };
                Some(Attempt {
                    region,
                    target,
                    expected,
                })
            })
            .collect()
    }

    /// Whether `region` is cooling down.
    #[cfg(test)]
    pub fn cooling(&self, region: &str) -> bool {
        self.health
            .lock()
            .get(region)
            .is_some_and(|h| h.until.is_some())
    }

    pub fn succeeded(&self, region: &str) {
        if let Some(h) = self.health.lock().get_mut(region) {
            if h.until.is_some() {
                log_at!(
                    Info,
                    "KMS region {region} answers again; traffic returns to it"
                );
            }
            *h = Health::default();
        }
    }

    /// A request to `region` failed as a region fails. Requests that were
    /// already in flight when it started cooling down do not lengthen the
    /// cool-down; a failure after it (a probe's, or a last-resort
    /// attempt's) doubles it.
    pub fn failed(&self, region: &str, why: &BackendError) {
        let now = Instant::now();
        let mut health = self.health.lock();
        let h = health.entry(region.to_string()).or_default();
        match h.until {
            Some(until) if until > now && !h.probing => return,
            None => log_at!(
                Warn,
                "KMS region {region} failed ({why}); multi-Region keys sign in the next region \
                 while it cools down"
            ),
            Some(_) => {}
        }
        h.failures = h.failures.saturating_add(1);
        let wait = COOL_DOWN
            .saturating_mul(1 << (h.failures - 1).min(6))
            .min(COOL_DOWN_MAX);
        h.until = Some(now + wait);
        h.probing = false;
    }

    /// A region whose cool-down is over and that no probe is asking yet:
    /// the caller probes it (and reports with `succeeded` or `failed`).
    pub fn due_for_probe(&self) -> Option<String> {
        let now = Instant::now();
        let mut health = self.health.lock();
        let (region, h) = health
            .iter_mut()
            .find(|(_, h)| !h.probing && h.until.is_some_and(|t| t <= now))?;
        h.probing = true;
        Some(region.clone())
    }

    /// Signs with the key `arn` (configured as `target`) in its region,
    /// failing over as `plan` says, for at most `passes` passes over the
    /// regions with a jittered backoff between passes.
    #[allow(clippy::too_many_arguments)]
    pub async fn sign(
        self: &Arc<Self>,
        backend: &dyn Backend,
        arn: &str,
        target: &str,
        algorithm: SigningAlgorithm,
        message: &[u8],
        grant_tokens: &[String],
    ) -> Answer {
        let mut attempts: u32 = 0;
        let mut hedged = false;
        let mut last: Option<(Attempt, BackendError)> = None;
        self.hedging.earn();
        for pass in 0..self.passes {
            if pass > 0 {
                tokio::time::sleep(backoff(pass)).await;
            }
            let plan = self.plan(arn, target);
            let mut i = 0;
            while let Some(attempt) = plan.get(i) {
                // Only a signature's first request is hedged, to the next
                // region of the plan, once.
                let hedge = (pass == 0 && i == 0)
                    .then(|| self.hedging.delay(&attempt.region))
                    .flatten()
                    .zip(plan.get(1));
                let answers = match hedge {
                    Some((delay, next)) => {
                        let raced = self
                            .hedging
                            .race(
                                backend,
                                attempt,
                                next,
                                delay,
                                algorithm,
                                message,
                                grant_tokens,
                            )
                            .await;
                        hedged = raced.hedged;
                        let sent = if raced.hedged { 2 } else { 1 };
                        i += sent;
                        attempts += sent as u32;
                        raced.answers
                    }
                    None => {
                        i += 1;
                        attempts += 1;
                        let started = Instant::now();
                        let r = backend
                            .sign_once(&attempt.target, algorithm, message, grant_tokens)
                            .await;
                        if r.is_ok() {
                            self.hedging.observe(&attempt.region, started.elapsed());
                        }
                        vec![(attempt.clone(), r)]
                    }
                };
                for (attempt, answer) in answers {
                    match answer {
                        Ok(signed) => {
                            self.succeeded(&attempt.region);
                            return Answer {
                                signed: Ok(signed),
                                attempt,
                                attempts,
                                hedged,
                            };
                        }
                        Err(e) if fails_over(&e) => {
                            self.failed(&attempt.region, &e);
                            last = Some((attempt, e));
                        }
                        Err(e) if attempt.target == target => {
                            // The key's own region refused: the caller's or
                            // the key's error, the same in every region.
                            return Answer {
                                signed: Err(e),
                                attempt,
                                attempts,
                                hedged,
                            };
                        }
                        Err(e) => {
                            // A replica that is missing, disabled or denied
                            // to us: that region cannot help; others may.
                            log_at!(Warn, "the replica {} cannot sign: {e}", attempt.expected);
                            last = Some((attempt, e));
                        }
                    }
                }
            }
        }
        let (attempt, e) = last.unwrap_or_else(|| {
            let attempt = Attempt {
                region: region_of(arn).unwrap_or_default().to_string(),
                target: target.to_string(),
                expected: arn.to_string(),
            };
            let e = BackendError {
                failure: Failure::Configuration,
                code: "NoRegion".into(),
                message: format!("{arn} names no region"),
                request_id: None,
            };
            (attempt, e)
        });
        Answer {
            signed: Err(e),
            attempt,
            attempts,
            hedged,
        }
    }

    /// The regions the key `arn` (configured as `target`) may sign in, its
    /// own first, then the fallbacks in order, leaving out those found to
    /// have no replica or another public key; `None` for a key that does
    /// not fail over (single-Region, or no fallback regions).
    pub fn reach(&self, arn: &str, target: &str) -> Option<Vec<String>> {
        if !self.covers(arn) {
            return None;
        }
        let home = self.home_of(target, arn)?;
        let key_id = KeyRef::key_id_in(arn).unwrap_or_default().to_string();
        let replicas = self.replicas.lock();
        let found = |r: &String| {
            !matches!(
                replicas.get(&(key_id.clone(), r.clone())),
                Some(Replica::Different | Replica::Absent)
            )
        };
        let others = self.fallbacks.iter().filter(|r| **r != home && found(r));
        Some(
            std::iter::once(home.clone())
                .chain(others.cloned())
                .collect(),
        )
    }

    /// Asks a region that cooled down whether it answers again (DescribeKey
    /// of `arn`'s replica there); its answer, any answer but a transport,
    /// 5xx or throttling failure, brings the traffic back.
    pub async fn probe(&self, backend: &dyn Backend, region: String, arn: &str) {
        let Some(replica) = arn_in_region(arn, &region) else {
            return;
        };
        match backend.describe_key(&replica, &[]).await {
            Err(e) if fails_over(&e) => self.failed(&region, &e),
            _ => self.succeeded(&region),
        }
    }
}

/// The wait before pass `pass` (1, 2, ...): up to 100 ms, doubling, at
/// most 2 s, jittered (a region that failed is a region another pass
/// should not hammer; the regions' own cool-downs decide the order).
fn backoff(pass: u32) -> Duration {
    let cap = Duration::from_millis(100)
        .saturating_mul(1 << (pass - 1).min(5))
        .min(Duration::from_secs(2));
    let mut b = [0u8; 2];
    let _ = aws_lc_rs::rand::fill(&mut b);
    cap.mul_f64(f64::from(u16::from_le_bytes(b)) / f64::from(u16::MAX))
}

#[cfg(test)]
mod tests;
