//! A progress line on stderr for anything that waits on the network for
//! more than a moment, shown only on a terminal and erased when done.

use std::io::{IsTerminal, Write};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

/// How long a wait goes unannounced.
const QUIET: Duration = Duration::from_millis(300);

pub struct Progress {
    done: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Progress {
    pub fn start(message: impl Into<String>) -> Progress {
        if !std::io::stderr().is_terminal() {
            return Progress {
                done: None,
                thread: None,
            };
        }
        let message = message.into();
        let (tx, rx) = mpsc::channel::<()>();
        let thread = std::thread::spawn(move || {
            if rx.recv_timeout(QUIET) != Err(mpsc::RecvTimeoutError::Timeout) {
                return;
            }
            let mut err = std::io::stderr();
            let _ = write!(err, "kms11: {message}...");
            let _ = err.flush();
            let _ = rx.recv();
            // Erase the line so the answer starts on a clean one.
            let _ = write!(err, "\r\x1b[K");
            let _ = err.flush();
        });
        Progress {
            done: Some(tx),
            thread: Some(thread),
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        drop(self.done.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Runs `f` with a progress line.
pub fn waiting<T>(message: impl Into<String>, f: impl FnOnce() -> T) -> T {
    let _p = Progress::start(message);
    f()
}
