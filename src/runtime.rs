//! The module's own tokio runtime. C calls come from the host's threads.
//! A thread that is not inside an async runtime (every C host) drives the
//! call itself with `block_on`, as a direct SDK caller would: the request is
//! written from the caller's thread and the runtime's IO driver wakes it
//! once when the answer arrives. A thread that is already inside a tokio
//! runtime (a Rust host) must not block it that way: its call is handed to
//! our runtime and waited for on a channel. Either way the wait is bounded
//! by a deadline, so that nothing can hang the host.

use crate::error::{Error, Result};
use cryptoki_sys::{CKR_DEVICE_ERROR, CKR_GENERAL_ERROR};
use std::future::Future;
use std::time::Duration;
use tokio::runtime::Runtime;

pub fn new_runtime() -> Result<Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("kms11")
        .enable_all()
        .build()
        .map_err(|e| {
            Error::new(
                CKR_GENERAL_ERROR,
                format!("cannot start the KMS runtime: {e}"),
            )
        })
}

/// Runs `future` on the runtime and waits for it, for at most `deadline`.
pub fn run<T: Send + 'static>(
    runtime: &Runtime,
    deadline: Duration,
    future: impl Future<Output = T> + Send + 'static,
) -> Result<T> {
    let no_answer = || {
        Error::new(
            CKR_DEVICE_ERROR,
            format!("no answer from KMS within {} ms", deadline.as_millis()),
        )
    };
    if tokio::runtime::Handle::try_current().is_err() {
        // The timer is made inside block_on, where the runtime's context is.
        return runtime
            .block_on(async move { tokio::time::timeout(deadline, future).await })
            .map_err(|_| no_answer());
    }
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    runtime.spawn(async move {
        if let Ok(out) = tokio::time::timeout(deadline, future).await {
            let _ = tx.send(out);
        }
    });
    // The task drops its sender on timeout or if the runtime shuts down.
    rx.recv_timeout(deadline + Duration::from_secs(1))
        .map_err(|_| no_answer())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_thread_drives_the_call_itself() {
        let rt = new_runtime().unwrap();
        let caller = std::thread::current().id();
        let ran_on = run(&rt, Duration::from_secs(5), async move {
            std::thread::current().id()
        })
        .unwrap();
        assert_eq!(ran_on, caller);
    }

    #[test]
    fn a_thread_inside_a_tokio_runtime_hands_the_call_over() {
        let rt = new_runtime().unwrap();
        let host = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let caller = std::thread::current().id();
        // block_on on our runtime from here would panic ("cannot start a
        // runtime from within a runtime"); run must not.
        let ran_on = host.block_on(async {
            run(&rt, Duration::from_secs(5), async move {
                std::thread::current().id()
            })
            .unwrap()
        });
        assert_ne!(ran_on, caller);
    }

    #[test]
    fn the_deadline_holds_on_both_paths() {
        let rt = new_runtime().unwrap();
        let forever = || std::future::pending::<()>();
        let e = run(&rt, Duration::from_millis(50), forever()).unwrap_err();
        assert_eq!(e.rv, CKR_DEVICE_ERROR);
        let host = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let e = host
            .block_on(async { run(&rt, Duration::from_millis(50), forever()) })
            .unwrap_err();
        assert_eq!(e.rv, CKR_DEVICE_ERROR);
    }
}
