//! The module's own tokio runtime. C calls come from the host's threads,
//! which may themselves be inside some other async runtime, so a call never
//! uses `block_on`: it hands the future to our runtime and waits on a
//! channel, bounded by a deadline so that nothing can hang the host.

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
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    runtime.spawn(async move {
        if let Ok(out) = tokio::time::timeout(deadline, future).await {
            let _ = tx.send(out);
        }
    });
    // The task drops its sender on timeout or if the runtime shuts down.
    rx.recv_timeout(deadline + Duration::from_secs(1))
        .map_err(|_| {
            Error::new(
                CKR_DEVICE_ERROR,
                format!("no answer from KMS within {} ms", deadline.as_millis()),
            )
        })
}
