//! Percentiles, the formatting of the tables' cells, and the machine and
//! source a run measured.

use std::process::Command;
use std::time::Duration;

/// p50 and p99 of a set of samples (nearest rank).
#[derive(Debug, Clone, Copy, Default)]
pub struct Pct {
    pub p50: Duration,
    pub p99: Duration,
    pub n: usize,
}

pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

impl Pct {
    pub fn of(mut samples: Vec<Duration>) -> Pct {
        samples.sort();
        Pct {
            p50: percentile(&samples, 0.50),
            p99: percentile(&samples, 0.99),
            n: samples.len(),
        }
    }
}

pub fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let n = v.len();
    if !n.is_multiple_of(2) {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// "0.412 ms", "20.9 ms", "1.23 s".
pub fn ms(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1e3;
    if ms < 10.0 {
        format!("{ms:.3} ms")
    } else if ms < 1000.0 {
        format!("{ms:.1} ms")
    } else {
        format!("{:.2} s", ms / 1e3)
    }
}

pub fn ms_f(ms_value: f64) -> String {
    ms(Duration::from_secs_f64(ms_value.max(0.0) / 1e3))
}

/// "+31 us", "-4 us".
pub fn us_diff(a: Duration, b: Duration) -> String {
    let d = a.as_secs_f64() * 1e6 - b.as_secs_f64() * 1e6;
    format!("{d:+.0} us")
}

/// "+3.1%".
pub fn pct_diff(a: f64, b: f64) -> String {
    if b == 0.0 {
        return "n/a".into();
    }
    format!("{:+.1}%", (a / b - 1.0) * 100.0)
}

/// "2,431".
pub fn thousands(v: f64) -> String {
    let n = v.round() as u64;
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

pub fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

/// A markdown table.
pub struct Table {
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(header: &[&str]) -> Table {
        Table {
            header: header.iter().map(|s| s.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    pub fn render(&self) -> String {
        let line = |cells: &[String]| format!("| {} |", cells.join(" | "));
        let mut out = vec![
            line(&self.header),
            line(
                &self
                    .header
                    .iter()
                    .map(|_| "---".to_string())
                    .collect::<Vec<_>>(),
            ),
        ];
        out.extend(self.rows.iter().map(|r| line(r)));
        out.join("\n")
    }
}

/// The commit measured, and whether src/ had uncommitted changes.
pub fn source_version() -> String {
    let git = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .current_dir(kms11_testkit::artefact::repo())
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    match git(&["rev-parse", "--short", "HEAD"]) {
        Some(commit) => {
            let dirty = git(&["status", "--porcelain", "--", "src", "Cargo.toml"])
                .is_some_and(|s| !s.is_empty());
            if dirty {
                format!("{commit} with uncommitted changes in src/ or Cargo.toml")
            } else {
                commit
            }
        }
        None => "unknown (no git)".into(),
    }
}

pub fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")
                .map(|v| v.trim_start_matches([' ', '\t', ':']).to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .unwrap_or_default()
        .trim()
        .to_string();
    format!("{cores} cores ({cpu}), Linux {kernel}")
}

pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}
