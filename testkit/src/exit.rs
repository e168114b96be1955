//! What a test or bench process leaves behind when it exits: the emulators
//! it started are stopped, its scratch directory removed (kept with
//! KMS11_TEST_KEEP=1). A process whose fixture is a leaked static never
//! drops its emulator, so this runs at exit (atexit), and every emulator
//! also runs under `timeout` in case the process is killed.

use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

static PIDS: Mutex<Vec<u32>> = Mutex::new(Vec::new());
static SCRATCH: OnceLock<PathBuf> = OnceLock::new();

extern "C" {
    fn atexit(cb: extern "C" fn()) -> std::os::raw::c_int;
}

fn register_cleanup() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    // SAFETY: atexit only stores the pointer of a function that lives as
    // long as the program and takes no arguments.
    ONCE.call_once(|| unsafe {
        atexit(cleanup);
    });
}

/// At exit: stop the emulators this process started, remove the scratch directory.
extern "C" fn cleanup() {
    if let Ok(pids) = PIDS.try_lock() {
        for &pid in pids.iter() {
            sigterm(pid);
        }
    }
    if std::env::var_os("KMS11_TEST_KEEP").is_none() {
        if let Some(d) = SCRATCH.get() {
            let _ = std::fs::remove_dir_all(d);
        }
    }
}

fn sigterm(pid: u32) {
    if let Some(pid) = rustix::process::Pid::from_raw(pid as i32) {
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
    }
}

/// Remembers a child process to stop at exit.
pub fn register_pid(pid: u32) {
    register_cleanup();
    PIDS.lock().unwrap_or_else(|e| e.into_inner()).push(pid);
}

/// SIGTERM to `pid` (an emulator's `timeout` wrapper, which passes it on),
/// which is then no longer stopped at exit.
pub fn terminate(pid: u32) {
    PIDS.lock()
        .unwrap_or_else(|e| e.into_inner())
        .retain(|&p| p != pid);
    sigterm(pid);
}

/// This process's scratch directory, removed at exit (kept with KMS11_TEST_KEEP=1).
pub fn scratch_dir() -> PathBuf {
    SCRATCH
        .get_or_init(|| {
            let nanos = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default()
                .subsec_nanos();
            let d = std::env::temp_dir().join(format!(
                "kms11-tests-{}-{}",
                std::process::id(),
                nanos % 1_000_000
            ));
            std::fs::create_dir_all(&d).expect("create temp dir");
            register_cleanup();
            d
        })
        .clone()
}
