//! Child processes and threads, for the fork, thread and lifecycle tests.

use std::process::{Command, Stdio};

/// Every thread's backtrace, by gdb, for a hang report.
pub fn backtrace(pid: u32) -> String {
    let out = Command::new("timeout")
        .args(["120", "gdb", "-nx", "-batch", "-p"])
        .arg(pid.to_string())
        .args(["-ex", "thread apply all bt 25"])
        .stdin(Stdio::null())
        .output();
    match out {
        Ok(o) => String::from_utf8_lossy(&o.stdout)
            .lines()
            .filter(|l| l.starts_with('#') || l.starts_with("Thread"))
            .collect::<Vec<_>>()
            .join("\n"),
        Err(e) => format!("(gdb: {e})"),
    }
}

/// Threads of this process named "kms11" (the module's runtime's threads).
pub fn kms11_threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .map(|d| {
            d.flatten()
                .filter(|t| {
                    std::fs::read_to_string(t.path().join("comm"))
                        .map(|c| c.trim().starts_with("kms11"))
                        .unwrap_or(false)
                })
                .count()
        })
        .unwrap_or(0)
}
