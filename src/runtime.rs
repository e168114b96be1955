//! The module's own tokio runtime, and how a C call waits for it.
//!
//! A call that is alone (no other KMS call of this module in flight) and
//! comes from a thread outside any tokio runtime (every C host) drives the
//! request itself with `block_on`, as a direct SDK caller does: nothing is
//! handed to another thread, which is what a process that signs one thing at
//! a time (pkcs11-tool, openssl, gpg) waits on. Calls that overlap are handed
//! to the runtime's two workers and waited for on a channel: dozens of host
//! threads each driving its own request would each be woken several times
//! per request and queue for the CPU (64 threads at 20 ms of latency reached
//! 91% of the direct SDK's signatures/s that way, 97% through the workers).
//! A thread that is itself inside a tokio runtime (a Rust host) must not
//! block that runtime with `block_on`, so it always hands over. Either way
//! the wait is bounded by a deadline, so that nothing can hang the host.

use crate::error::{Error, Result};
use cryptoki_sys::{CKR_DEVICE_ERROR, CKR_GENERAL_ERROR};
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
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

/// The runtime, and how many calls are waiting on it now.
pub struct Executor {
    runtime: Runtime,
    in_flight: AtomicUsize,
}

/// Counts a call as in flight until dropped.
struct InFlight<'a>(&'a AtomicUsize);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Executor {
    pub fn new() -> Result<Executor> {
        Ok(Executor {
            runtime: new_runtime()?,
            in_flight: AtomicUsize::new(0),
        })
    }

    /// Runs `future` and waits for it, for at most `deadline`.
    pub fn run<T: Send + 'static>(
        &self,
        deadline: Duration,
        future: impl Future<Output = T> + Send + 'static,
    ) -> Result<T> {
        let alone = self.in_flight.fetch_add(1, Ordering::Relaxed) == 0;
        let _counted = InFlight(&self.in_flight);
        let no_answer = || {
            Error::new(
                CKR_DEVICE_ERROR,
                format!("no answer from KMS within {} ms", deadline.as_millis()),
            )
        };
        if alone && tokio::runtime::Handle::try_current().is_err() {
            // The timer is made inside block_on, where the runtime's context is.
            return self
                .runtime
                .block_on(async move { tokio::time::timeout(deadline, future).await })
                .map_err(|_| no_answer());
        }
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.runtime.spawn(async move {
            if let Ok(out) = tokio::time::timeout(deadline, future).await {
                let _ = tx.send(out);
            }
        });
        // The task drops its sender on timeout or if the runtime shuts down.
        rx.recv_timeout(deadline + Duration::from_secs(1))
            .map_err(|_| no_answer())
    }

    /// Runs `future` on the workers without waiting for it (a background
    /// refresh). It ends with the runtime: shutting down drops it at its
    /// next await.
    pub fn spawn(&self, future: impl Future<Output = ()> + Send + 'static) {
        self.runtime.spawn(future);
    }

    /// Stops the runtime, waiting a little for its tasks (cache writes)
    /// unless the calling thread is inside some tokio runtime, where waiting
    /// for threads is not allowed.
    pub fn shutdown(self) {
        if tokio::runtime::Handle::try_current().is_ok() {
            self.runtime.shutdown_background();
        } else {
            self.runtime.shutdown_timeout(Duration::from_secs(2));
        }
    }

    /// Stops the runtime without waiting.
    pub fn shutdown_background(self) {
        self.runtime.shutdown_background();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Barrier};

    fn where_it_ran(ex: &Executor) -> std::thread::ThreadId {
        ex.run(Duration::from_secs(5), async move {
            std::thread::current().id()
        })
        .unwrap()
    }

    #[test]
    fn a_lone_call_from_a_plain_thread_runs_on_that_thread() {
        let ex = Executor::new().unwrap();
        assert_eq!(where_it_ran(&ex), std::thread::current().id());
        assert_eq!(ex.in_flight.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn overlapping_calls_go_to_the_workers() {
        let ex = Arc::new(Executor::new().unwrap());
        let inside = Arc::new(Barrier::new(2));
        let release = Arc::new(Barrier::new(2));
        let first = {
            let (ex, inside, release) = (ex.clone(), inside.clone(), release.clone());
            std::thread::spawn(move || {
                let caller = std::thread::current().id();
                let ran_on = ex
                    .run(Duration::from_secs(5), async move {
                        let id = std::thread::current().id();
                        // Blocking inside a future is wrong in general; here
                        // it holds the first call in flight on purpose.
                        inside.wait();
                        release.wait();
                        id
                    })
                    .unwrap();
                (caller, ran_on)
            })
        };
        inside.wait();
        let second = where_it_ran(&ex);
        assert_ne!(second, std::thread::current().id());
        release.wait();
        let (caller, ran_on) = first.join().unwrap();
        assert_eq!(ran_on, caller, "the first call was alone");
        assert_eq!(ex.in_flight.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn a_thread_inside_a_tokio_runtime_hands_the_call_over() {
        let ex = Executor::new().unwrap();
        let host = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        // block_on on our runtime from here would panic ("cannot start a
        // runtime from within a runtime"); run must not.
        let ran_on = host.block_on(async { where_it_ran(&ex) });
        assert_ne!(ran_on, std::thread::current().id());
    }

    #[test]
    fn the_deadline_holds_on_both_paths() {
        let ex = Executor::new().unwrap();
        let forever = || std::future::pending::<()>();
        let e = ex.run(Duration::from_millis(50), forever()).unwrap_err();
        assert_eq!(e.rv, CKR_DEVICE_ERROR);
        let host = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let e = host
            .block_on(async { ex.run(Duration::from_millis(50), forever()) })
            .unwrap_err();
        assert_eq!(e.rv, CKR_DEVICE_ERROR);
        assert_eq!(ex.in_flight.load(Ordering::Relaxed), 0);
    }
}
