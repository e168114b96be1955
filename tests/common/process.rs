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

/// What a helper process printed, and how long it ran.
pub struct HelperRun {
    pub stdout: String,
    pub stderr: String,
    pub took: std::time::Duration,
}

/// Runs the #[ignore]d test `name` of this test binary in a new process
/// with `env` added; fails if it runs longer than `limit` (showing its
/// threads' backtraces, as a hang) or does not end with status 0 after
/// printing "HELPER DONE".
pub fn run_helper(name: &str, env: &[(&str, String)], limit: std::time::Duration) -> HelperRun {
    use std::io::Read;
    use std::time::{Duration, Instant};
    let started = Instant::now();
    let mut cmd = Command::new(std::env::current_exe().expect("this test binary"));
    cmd.args([
        "--exact",
        name,
        "--ignored",
        "--nocapture",
        "--test-threads=1",
    ])
    .env("KMS11_MODULE", super::build::module_path())
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("run the helper");
    let mut stdout = child.stdout.take().expect("piped stdout");
    let mut stderr = child.stderr.take().expect("piped stderr");
    let out_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let status = loop {
        if let Some(st) = child.try_wait().expect("wait for the helper") {
            break st;
        }
        if started.elapsed() >= limit {
            let bt = backtrace(child.id());
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{name} did not end within {limit:?}: it hangs.\nstdout:\n{}\nthreads:\n{bt}",
                out_reader.join().unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let run = HelperRun {
        stdout: out_reader.join().unwrap_or_default(),
        stderr: err_reader.join().unwrap_or_default(),
        took: started.elapsed(),
    };
    assert!(
        status.success() && run.stdout.contains("HELPER DONE"),
        "{name} ended with {status} after {:?}\nstdout:\n{}\nstderr:\n{}",
        run.took,
        run.stdout,
        run.stderr
    );
    run
}
