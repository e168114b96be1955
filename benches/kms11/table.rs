//! The table of measurements: one group of rows per kind of measurement,
//! in the order docs/performance.md shows them.

use crate::report::{median, mib, ms, ms_f, pct_diff, thousands, us_diff, Table};
use crate::results::{resolve_ms, HundredResult, ProcessRun, Results, Run};

pub fn table(r: &Results) -> String {
    let mut t = Table::new(&[
        "measurement",
        "added latency",
        "kms11 (libkms11.so)",
        "baseline",
        "kms11 vs baseline",
    ]);
    for rows in [
        latency, tls, throughput, requests, startup, hundred, hash, handoff, size,
    ] {
        rows(&mut t, r);
    }
    t.render()
}

/// C_Sign, one thread, p50 / p99, verify on and off, against the SDK.
fn latency(t: &mut Table, r: &Results) {
    for l in &r.latency {
        let lat = format!("{} ms", l.latency);
        t.row(vec![
            format!(
                "C_Sign {}, 1 thread, p50 / p99 ({} each), verify on",
                l.key, l.on.n
            ),
            lat.clone(),
            format!("{} / {}", ms(l.on.p50), ms(l.on.p99)),
            format!("SDK Sign {} / {}", ms(l.direct.p50), ms(l.direct.p99)),
            format!(
                "p50 {} ({})",
                us_diff(l.on.p50, l.direct.p50),
                pct_diff(l.on.p50.as_secs_f64(), l.direct.p50.as_secs_f64())
            ),
        ]);
        t.row(vec![
            format!("C_Sign {}, 1 thread, p50 / p99, verify off", l.key),
            lat,
            format!("{} / {}", ms(l.off.p50), ms(l.off.p99)),
            "(same)".into(),
            format!(
                "p50 {} ({})",
                us_diff(l.off.p50, l.direct.p50),
                pct_diff(l.off.p50.as_secs_f64(), l.direct.p50.as_secs_f64())
            ),
        ]);
    }
}

/// The same over HTTPS, verify on.
fn tls(t: &mut Table, r: &Results) {
    if let Some((d, on)) = &r.tls_latency {
        t.row(vec![
            "C_Sign P-256 over HTTPS, 1 thread, p50 / p99, verify on".into(),
            "0 ms".into(),
            format!("{} / {}", ms(on.p50), ms(on.p99)),
            format!("SDK Sign {} / {}", ms(d.p50), ms(d.p99)),
            format!(
                "p50 {} ({})",
                us_diff(on.p50, d.p50),
                pct_diff(on.p50.as_secs_f64(), d.p50.as_secs_f64())
            ),
        ]);
    }
}

/// Signatures per second with N threads (and N tasks of the SDK).
fn throughput(t: &mut Table, r: &Results) {
    for x in &r.throughput {
        let what = if x.transport == "https" {
            format!("signatures/s over HTTPS, P-256, {}", threads(x.threads))
        } else {
            format!("signatures/s, P-256, {}", threads(x.threads))
        };
        let run = |r: &Run| format!("{}/s, {:.0} us CPU/sig", thousands(r.rate()), r.cpu_us());
        t.row(vec![
            what,
            format!("{} ms", x.latency),
            match &x.module_off {
                Some(off) => format!("{} (verify off: {})", run(&x.module), run(off)),
                None => run(&x.module),
            },
            format!("SDK, {} in flight: {}", x.threads, run(&x.direct)),
            format!(
                "{:.1}%",
                100.0 * x.module.rate() / x.direct.rate().max(1e-9)
            ),
        ]);
    }
}

/// What each throughput run asked of KMS, per signature.
fn requests(t: &mut Table, r: &Results) {
    for x in &r.throughput {
        let proto = if x.transport == "https" {
            " (HTTPS)"
        } else {
            ""
        };
        t.row(vec![
            format!(
                "KMS requests per measured signature{proto}, {}",
                threads(x.threads)
            ),
            format!("{} ms", x.latency),
            per_signature(&x.module),
            format!("SDK: {}", per_signature(&x.direct)),
            String::new(),
        ]);
    }
}

/// New processes: dlopen, C_Initialize, first signature, cold and warm.
fn startup(t: &mut Table, r: &Results) {
    for s in &r.startup {
        let lat = format!("{} ms", s.latency);
        let first = |runs: &[ProcessRun]| {
            median(
                runs.iter()
                    .map(|p| (p.us("sign_us") - p.us("paused_us")) / 1e3)
                    .collect(),
            )
        };
        let wall =
            |runs: &[ProcessRun]| median(runs.iter().map(|p| p.wall.as_secs_f64() * 1e3).collect());
        let requests =
            |runs: &[ProcessRun]| runs.first().map(|p| p.stats.summary()).unwrap_or_default();
        let init = median(
            s.cold
                .iter()
                .map(|p| (p.us("initialize_us") - p.us("dlopen_us")) / 1e3)
                .collect(),
        );
        let dlopen = median(s.cold.iter().map(|p| p.us("dlopen_us") / 1e3).collect());
        let init_requests: u64 = s
            .cold
            .iter()
            .chain(&s.warm)
            .map(|p| p.json["requests_after_initialize"].as_u64().unwrap_or(99))
            .max()
            .unwrap_or(0);
        t.row(vec![
            "new process: dlopen, C_Initialize".into(),
            lat.clone(),
            format!(
                "dlopen {}, C_Initialize {}; KMS requests by then: {init_requests}",
                ms_f(dlopen),
                ms_f(init)
            ),
            String::new(),
            String::new(),
        ]);
        for (name, runs) in [("cold", &s.cold), ("warm", &s.warm)] {
            t.row(vec![
                format!(
                    "new process: dlopen .. first C_Sign (P-256, token of 3 keys), {name} cache"
                ),
                lat.clone(),
                format!(
                    "{} (whole process {}); KMS: {}",
                    ms_f(first(runs)),
                    ms_f(wall(runs)),
                    requests(runs)
                ),
                format!(
                    "SDK in a new process, first Sign: {} (client built at {}; whole process {}); KMS: {}",
                    ms_f(first(&s.direct)),
                    ms_f(median(s.direct.iter().map(|p| p.us("client_us") / 1e3).collect())),
                    ms_f(wall(&s.direct)),
                    requests(&s.direct)
                ),
                format!("{:+.1} ms", first(runs) - first(&s.direct)),
            ]);
        }
    }
}

/// The 100-key token: resolving it cold and warm, one key alone, again,
/// and the memory it takes.
fn hundred(t: &mut Table, r: &Results) {
    for h in &r.hundred {
        let lat = format!("{} ms", h.latency);
        let zero = r.hundred.iter().find(|z| z.latency == 0);
        let cell = |variant: usize| {
            let runs = h.variant(variant);
            let t = resolve_ms(runs);
            let rtt = h.rtt.as_secs_f64() * 1e3;
            let mut trips = String::new();
            if h.latency > 0 && rtt > 0.0 {
                trips = format!(", {:.1} round trips", t / rtt);
                if let Some(z) = zero {
                    trips += &format!(
                        " ({:.1} of them added by the latency)",
                        h.added_trips(z, variant)
                    );
                }
            }
            let p = runs.first();
            format!(
                "{}{trips}; KMS: {}, peak {} in flight",
                ms_f(t),
                p.map(|p| p.stats.summary()).unwrap_or_default(),
                p.map_or(0, |p| p.stats.peak_in_flight)
            )
        };
        for (variant, name) in HundredResult::VARIANTS.iter().enumerate() {
            t.row(vec![
                name.to_string(),
                lat.clone(),
                cell(variant),
                if h.latency > 0 {
                    format!("one round trip: {}", ms(h.rtt))
                } else {
                    String::new()
                },
                String::new(),
            ]);
        }
        let again = median(
            h.cold
                .iter()
                .map(|p| p.us("find_attrs_again_us") / 1e3)
                .collect(),
        );
        t.row(vec![
            "100 keys: C_FindObjects + C_GetAttributeValue again, token resolved".into(),
            lat.clone(),
            ms_f(again),
            String::new(),
            String::new(),
        ]);
        if h.latency == r.hundred[0].latency {
            if let Some(p) = h.cold.first() {
                t.row(vec![
                    "resident memory: module loaded, 100 keys resolved (VmRSS)".into(),
                    "-".into(),
                    format!(
                        "{} (process before dlopen {}, after C_Initialize {}; peak {})",
                        mib(p.json["rss_resolved_kib"].as_u64().unwrap_or(0)),
                        mib(p.json["rss_start_kib"].as_u64().unwrap_or(0)),
                        mib(p.json["rss_initialized_kib"].as_u64().unwrap_or(0)),
                        mib(p.json["hwm_kib"].as_u64().unwrap_or(0)),
                    ),
                    String::new(),
                    String::new(),
                ]);
            }
        }
    }
}

/// Multi-part hashing against openssl dgst.
fn hash(t: &mut Table, r: &Results) {
    if let Some(hash) = &r.hash {
        let m = median(hash.module_mbs.clone());
        let o = median(hash.openssl_mbs.clone());
        t.row(vec![
            format!(
                "multi-part: {} MiB file read in 1 MiB C_SignUpdate calls + C_SignFinal (ECDSA-SHA256)",
                hash.mib
            ),
            "0 ms".into(),
            format!("{} MB/s", thousands(m)),
            format!("openssl dgst -sha256 on the file: {} MB/s", thousands(o)),
            format!("{:.1}%", 100.0 * m / o),
        ]);
    }
}

/// The diagnostic: what handing a call to a runtime costs.
fn handoff(t: &mut Table, r: &Results) {
    if let Some((block_on, spawn)) = r.handoff {
        t.row(vec![
            "diagnostic: one loopback TCP request/response on a 2-worker runtime, p50".into(),
            "-".into(),
            format!(
                "spawn + wait on a std channel (runtime::run for overlapping calls and callers inside a tokio runtime): {}",
                ms(spawn)
            ),
            format!(
                "block_on on the caller's thread (runtime::run for a lone call; a direct SDK caller): {}",
                ms(block_on)
            ),
            us_diff(spawn, block_on),
        ]);
    }
}

/// The size of libkms11.so.
fn size(t: &mut Table, r: &Results) {
    t.row(vec![
        "libkms11.so size".into(),
        "-".into(),
        format!(
            "{:.1} MiB ({} bytes)",
            r.library_size as f64 / (1 << 20) as f64,
            thousands(r.library_size as f64)
        ),
        String::new(),
        String::new(),
    ]);
}

fn threads(n: usize) -> String {
    if n == 1 {
        "1 thread".into()
    } else {
        format!("{n} threads")
    }
}

/// Per signature: "Sign 1.000/sig, other: none, new connections 0".
fn per_signature(run: &Run) -> String {
    let (stats, sigs) = (&run.stats, run.sigs.max(1) as f64);
    format!(
        "Sign {:.3}/sig, other: {}, new connections {} (in {} signatures); emulator CPU {:.0} us/request",
        stats.get("Sign") as f64 / sigs,
        stats.others("Sign"),
        stats.connections,
        thousands(sigs),
        run.emulator_cpu_us()
    )
}
