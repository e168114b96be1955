//! A small logger: one line per event to stderr or a configured file,
//! never stdout (the host may be writing a signature there). The level comes
//! from `KMS11_LOG` (off, error, warn, info, debug), else the configuration.
//! Nothing logged here ever carries credentials, PINs or data to be signed.

use parking_lot::Mutex;
use std::io::Write;
use std::sync::atomic::{AtomicU8, Ordering};

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
#[repr(u8)]
pub enum Level {
    Off = 0,
    Error = 1,
    Warn = 2,
    Info = 3,
    Debug = 4,
}

impl Level {
    pub fn parse(s: &str) -> Option<Level> {
        Some(match s.trim().to_ascii_lowercase().as_str() {
            "off" | "none" => Level::Off,
            "error" => Level::Error,
            "warn" | "warning" => Level::Warn,
            "info" => Level::Info,
            "debug" | "trace" => Level::Debug,
            _ => return None,
        })
    }
}

static LEVEL: AtomicU8 = AtomicU8::new(Level::Warn as u8);
static FILE: Mutex<Option<std::fs::File>> = Mutex::new(None);

/// Sets the level and destination; `KMS11_LOG` wins over the configuration.
pub fn configure(level: Option<&str>, file: Option<&std::path::Path>) {
    let level = std::env::var("KMS11_LOG")
        .ok()
        .and_then(|l| Level::parse(&l))
        .or_else(|| level.and_then(Level::parse))
        .unwrap_or(Level::Warn);
    LEVEL.store(level as u8, Ordering::Relaxed);
    let opened = file.and_then(|p| {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(p)
            .map_err(|e| {
                eprintln!(
                    "kms11: cannot open log file {}: {e}; logging to stderr",
                    p.display()
                )
            })
            .ok()
    });
    *FILE.lock() = opened;
}

pub fn enabled(level: Level) -> bool {
    level as u8 <= LEVEL.load(Ordering::Relaxed) && level != Level::Off
}

pub fn write(level: Level, message: std::fmt::Arguments<'_>) {
    if !enabled(level) {
        return;
    }
    let line = format!("kms11[{}]: {:?}: {message}\n", std::process::id(), level);
    let mut file = FILE.lock();
    match file.as_mut() {
        Some(f) => {
            let _ = f.write_all(line.as_bytes());
        }
        None => {
            let _ = std::io::stderr().write_all(line.as_bytes());
        }
    }
}

#[macro_export]
macro_rules! log_at {
    ($level:ident, $($arg:tt)*) => {
        $crate::log::write($crate::log::Level::$level, format_args!($($arg)*))
    };
}
