//! The targets of issue 7, one row each: the words docs/performance.md
//! prints, the added latency and the limit they name, and the judge that
//! checks the results against that same limit. The words hold `{limit}`
//! and `{latency}` where those go, so the text printed and the check
//! cannot disagree.

use crate::report::{median, ms, ms_f, pct_diff, thousands, us_diff, Table};
use crate::results::{resolve_ms, Results};
use crate::settings::Kind;

pub struct Verdict {
    pub target: String,
    pub measured: String,
    pub met: bool,
}

/// What a target allows, and how it reads.
#[derive(Clone, Copy, Debug)]
pub enum Limit {
    /// kms11's time at most this many percent over the SDK's: "5%".
    PctOver(f64),
    /// kms11's time at most this many microseconds over the SDK's: "50 us".
    UsOver(f64),
    /// kms11's rate at least this many percent of the baseline's: "95%".
    PctOf(f64),
    /// At most this many round trips: "1.5 round trips".
    RoundTrips(f64),
    /// Exactly this many KMS requests: "no", "one".
    Requests(u64),
}

impl Limit {
    fn text(self) -> String {
        match self {
            Limit::PctOver(p) | Limit::PctOf(p) => format!("{p}%"),
            Limit::UsOver(us) => format!("{us} us"),
            Limit::RoundTrips(n) => format!("{n} round trips"),
            Limit::Requests(0) => "no".into(),
            Limit::Requests(1) => "one".into(),
            Limit::Requests(n) => n.to_string(),
        }
    }

    /// Whether `value` is within the limit: kms11's time over the SDK's
    /// (PctOver), kms11's time minus the SDK's in seconds (UsOver), kms11's
    /// rate over the baseline's (PctOf), round trips, requests.
    fn allows(self, value: f64) -> bool {
        match self {
            Limit::PctOver(p) => value <= 1.0 + p / 100.0,
            Limit::UsOver(us) => value <= us / 1e6,
            Limit::PctOf(p) => value >= p / 100.0,
            Limit::RoundTrips(n) => value <= n,
            Limit::Requests(n) => value == n as f64,
        }
    }
}

/// One target: its words, what it is measured at, its limit, its judge.
pub struct Target {
    /// As docs/performance.md prints them, with `{limit}`, `{latency}`,
    /// and `{key}` / `{threads}` where a target repeats over those.
    pub words: &'static str,
    /// The added latency the target is judged at, if it names one.
    pub latency_ms: Option<u64>,
    pub limit: Limit,
    /// The verdicts of this target (one per key or thread count it covers;
    /// none when the results hold no measurement of it).
    pub judge: fn(&Target, &Results) -> Vec<Verdict>,
}

impl Target {
    /// The words with the limit, the latency and `subs` filled in.
    fn says(&self, subs: &[(&str, String)]) -> String {
        let mut s = self.words.replace("{limit}", &self.limit.text());
        if let Some(l) = self.latency_ms {
            s = s.replace("{latency}", &format!("{l} ms"));
        }
        for (k, v) in subs {
            s = s.replace(&format!("{{{k}}}"), v);
        }
        s
    }

    /// The verdict on `value` (see [`Limit::allows`]).
    fn verdict(&self, subs: &[(&str, String)], measured: String, value: f64) -> Verdict {
        Verdict {
            target: self.says(subs),
            measured,
            met: self.limit.allows(value),
        }
    }

    fn at(&self, latency: u64) -> bool {
        self.latency_ms == Some(latency)
    }
}

pub const TARGETS: [Target; 8] = [
    Target {
        words: "C_Sign {key} p50 within {limit} of the SDK at {latency}, verify off",
        latency_ms: Some(0),
        limit: Limit::UsOver(50.0),
        judge: sign_verify_off,
    },
    Target {
        words: "C_Sign {key} p50 within {limit} of the SDK at {latency}, verify on",
        latency_ms: Some(20),
        limit: Limit::PctOver(5.0),
        judge: sign_verify_on,
    },
    Target {
        words: "throughput with {threads} threads at least {limit} of the SDK's at {latency}",
        latency_ms: Some(20),
        limit: Limit::PctOf(95.0),
        judge: throughput,
    },
    Target {
        words: "exactly {limit} KMS request (Sign) per signature in steady state; no TCP or TLS connection opened per signature",
        latency_ms: None,
        limit: Limit::Requests(1),
        judge: one_request_per_signature,
    },
    Target {
        words: "{limit} network call in C_Initialize",
        latency_ms: None,
        limit: Limit::Requests(0),
        judge: initialize_offline,
    },
    Target {
        words: "a new process that signs once makes {limit} KMS request with a warm cache",
        latency_ms: None,
        limit: Limit::Requests(1),
        judge: warm_process,
    },
    Target {
        words: "100 keys at {latency} resolve in about one round trip: the latency adds at most {limit}",
        latency_ms: Some(20),
        limit: Limit::RoundTrips(1.5),
        judge: hundred_keys,
    },
    Target {
        words: "multi-part hashing at least {limit} of openssl dgst -sha256",
        latency_ms: None,
        limit: Limit::PctOf(90.0),
        judge: hashing,
    },
];

/// Every target's verdicts, in the order of [`TARGETS`].
pub fn verdicts(r: &Results) -> Vec<Verdict> {
    TARGETS.iter().flat_map(|t| (t.judge)(t, r)).collect()
}

/// The verdicts as a markdown table.
pub fn render(v: &[Verdict]) -> String {
    let mut t = Table::new(&["target", "measured", "verdict"]);
    for x in v {
        t.row(vec![
            x.target.clone(),
            x.measured.clone(),
            if x.met { "met" } else { "MISSED" }.into(),
        ]);
    }
    t.render()
}

/// The latency results of this target's latency (RSA-4096 has no target).
fn latencies<'a>(
    t: &'a Target,
    r: &'a Results,
) -> impl Iterator<Item = &'a crate::results::LatencyResult> {
    r.latency
        .iter()
        .filter(move |l| l.kind != Kind::Rsa4096 && t.at(l.latency))
}

fn sign_verify_off(t: &Target, r: &Results) -> Vec<Verdict> {
    latencies(t, r)
        .map(|l| {
            let measured = format!(
                "{} vs {} ({})",
                ms(l.off.p50),
                ms(l.direct.p50),
                us_diff(l.off.p50, l.direct.p50)
            );
            let diff = l.off.p50.as_secs_f64() - l.direct.p50.as_secs_f64();
            t.verdict(&[("key", l.key.into())], measured, diff)
        })
        .collect()
}

fn sign_verify_on(t: &Target, r: &Results) -> Vec<Verdict> {
    latencies(t, r)
        .map(|l| {
            let (on, sdk) = (l.on.p50.as_secs_f64(), l.direct.p50.as_secs_f64());
            let measured = format!(
                "{} vs {} ({})",
                ms(l.on.p50),
                ms(l.direct.p50),
                pct_diff(on, sdk)
            );
            t.verdict(&[("key", l.key.into())], measured, on / sdk)
        })
        .collect()
}

fn throughput(t: &Target, r: &Results) -> Vec<Verdict> {
    r.throughput
        .iter()
        .filter(|x| t.at(x.latency) && x.threads >= 16)
        .map(|x| {
            let ratio = x.module.rate() / x.direct.rate().max(1e-9);
            let measured = format!(
                "{}/s vs {}/s ({:.1}%); client CPU per signature {:.0} vs {:.0} us",
                thousands(x.module.rate()),
                thousands(x.direct.rate()),
                100.0 * ratio,
                x.module.cpu_us(),
                x.direct.cpu_us()
            );
            t.verdict(&[("threads", x.threads.to_string())], measured, ratio)
        })
        .collect()
}

/// New connections a run may open per signature: pooled connections may
/// still grow now and then (hyper races a new connection against the return
/// of a busy one), both for kms11 and for the SDK; "per signature" would be ~1.
const POOL_GROWTH: f64 = 0.001;

fn one_request_per_signature(t: &Target, r: &Results) -> Vec<Verdict> {
    if r.throughput.is_empty() {
        return Vec::new();
    }
    let runs = || r.throughput.iter().map(|x| &x.module);
    let sigs: u64 = runs().map(|m| m.sigs).sum();
    let other: u64 = runs().map(|m| m.stats.total() - m.stats.get("Sign")).sum();
    let signs: u64 = runs().map(|m| m.stats.get("Sign")).sum();
    let connections: u64 = runs().map(|m| m.stats.connections).sum();
    let sdk_connections: u64 = r
        .throughput
        .iter()
        .map(|x| x.direct.stats.connections)
        .sum();
    let measured = format!(
        "{} signatures in {} runs (HTTP and HTTPS): {} Sign requests, {} other requests, {} new connections ({:.5} per signature; the SDK alone: {})",
        thousands(sigs as f64),
        r.throughput.len(),
        thousands(signs as f64),
        other,
        connections,
        connections as f64 / sigs.max(1) as f64,
        sdk_connections
    );
    let mut v = t.verdict(&[], measured, signs as f64 / sigs.max(1) as f64);
    v.met &= signs == sigs && other == 0 && (connections as f64) <= POOL_GROWTH * sigs as f64;
    vec![v]
}

fn initialize_offline(t: &Target, r: &Results) -> Vec<Verdict> {
    if r.startup.is_empty() {
        return Vec::new();
    }
    let init: u64 = r
        .startup
        .iter()
        .flat_map(|s| s.cold.iter().chain(&s.warm))
        .map(|p| p.json["requests_after_initialize"].as_u64().unwrap_or(99))
        .max()
        .unwrap_or(0);
    let measured = format!("{init} KMS requests after C_Initialize (every new process)");
    vec![t.verdict(&[], measured, init as f64)]
}

fn warm_process(t: &Target, r: &Results) -> Vec<Verdict> {
    if r.startup.is_empty() {
        return Vec::new();
    }
    let warm: Vec<_> = r.startup.iter().flat_map(|s| &s.warm).collect();
    let mut shown: Vec<String> = warm.iter().map(|p| p.stats.summary()).collect();
    shown.dedup();
    let measured = format!("{} processes: {}", warm.len(), shown.join("; "));
    // Every process must make exactly the limit's requests, all of them Sign.
    let n = requests(t);
    let odd = warm
        .iter()
        .map(|p| p.stats.total())
        .find(|&k| k != n)
        .unwrap_or(n);
    let mut v = t.verdict(&[], measured, odd as f64);
    v.met &= warm.iter().all(|p| p.stats.get("Sign") == p.stats.total());
    vec![v]
}

/// The request count a [`Limit::Requests`] target allows.
fn requests(t: &Target) -> u64 {
    match t.limit {
        Limit::Requests(n) => n,
        _ => unreachable!("{} is not a count of requests", t.words),
    }
}

fn hundred_keys(t: &Target, r: &Results) -> Vec<Verdict> {
    let zero = r.hundred.iter().find(|z| z.latency == 0);
    r.hundred
        .iter()
        .filter(|h| t.at(h.latency))
        .map(|h| {
            let total = resolve_ms(&h.cold);
            let one = resolve_ms(&h.cold_one);
            let rtt = h.rtt.as_secs_f64() * 1e3;
            // What the latency adds, in round trips: 100 requests one after
            // the other would add 100, two waves 2; concurrent requests add 1.
            let added = zero.map(|z| h.added_trips(z, 0));
            let measured = format!(
                "{} in all ({:.1} round trips of {}), of which the latency added {}; one key alone: {} ({:.1} round trips)",
                ms_f(total),
                total / rtt,
                ms(h.rtt),
                added.map_or("? (no 0 ms run)".into(), |a| format!("{a:.1} round trips")),
                ms_f(one),
                one / rtt,
            );
            t.verdict(&[], measured, added.unwrap_or(f64::INFINITY))
        })
        .collect()
}

fn hashing(t: &Target, r: &Results) -> Vec<Verdict> {
    let Some(hash) = &r.hash else {
        return Vec::new();
    };
    let m = median(hash.module_mbs.clone());
    let o = median(hash.openssl_mbs.clone());
    let measured = format!(
        "{} vs {} MB/s ({:.1}%)",
        thousands(m),
        thousands(o),
        100.0 * m / o
    );
    vec![t.verdict(&[], measured, m / o)]
}
