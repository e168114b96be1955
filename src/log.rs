//! A small logger: one line per event to stderr or a configured file,
//! never stdout (the host may be writing a signature there). The level comes
//! from `KMS11_LOG` (off, error, warn, audit, info, debug), else the configuration.
//! Nothing logged here ever carries credentials, PINs or data to be signed.
//!
//! No lock is taken to log: a lock held by some thread at `fork()` stays
//! held forever in the child, and a child calls C_Initialize, which logs.
//! Each line is one `write` on a file handle opened for appending.

use arc_swap::ArcSwapOption;
use std::io::Write;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
#[repr(u8)]
pub enum Level {
    Off = 0,
    Error = 1,
    Warn = 2,
    /// One line per KMS call made for a signature: quiet enough to stay on.
    Audit = 3,
    Info = 4,
    Debug = 5,
}

impl Level {
    pub fn parse(s: &str) -> Option<Level> {
        Some(match s.trim().to_ascii_lowercase().as_str() {
            "off" | "none" => Level::Off,
            "error" => Level::Error,
            "warn" | "warning" => Level::Warn,
            "audit" => Level::Audit,
            "info" => Level::Info,
            "debug" | "trace" => Level::Debug,
            _ => return None,
        })
    }
}

static LEVEL: AtomicU8 = AtomicU8::new(Level::Warn as u8);
/// Where lines go: the configured file, or stderr opened anew for
/// appending (std's own stderr handle has a lock). `None`: std's stderr.
static SINK: ArcSwapOption<std::fs::File> = ArcSwapOption::const_empty();

fn env_level() -> Option<Level> {
    crate::config::env_var("KMS11_LOG")
        .and_then(|l| l.into_string().ok())
        .and_then(|l| Level::parse(&l))
}

/// Applies `KMS11_LOG` alone, before the configuration is read.
pub fn level_from_env() {
    if let Some(level) = env_level() {
        LEVEL.store(level as u8, Ordering::Relaxed);
    }
}

/// Sets the level and destination; `KMS11_LOG` wins over the configuration.
pub fn configure(level: Option<&str>, file: Option<&std::path::Path>) {
    let level = env_level()
        .or_else(|| level.and_then(Level::parse))
        .unwrap_or(Level::Warn);
    LEVEL.store(level as u8, Ordering::Relaxed);
    let sink = match file {
        Some(p) => open_log_file(p)
            .map_err(|e| eprintln!("kms11: log file {}: {e}; logging to stderr", p.display()))
            .ok(),
        None => None,
    }
    .or_else(|| {
        std::fs::OpenOptions::new()
            .append(true)
            .open("/dev/stderr")
            .ok()
    });
    SINK.store(sink.map(Arc::new));
}

/// Opens the configured log file for appending: created 0600 (lines name
/// keys and tokens), never through a symbolic link (another user could
/// point one at a file of ours), and only a regular file of this user's
/// own (or root's) is written.
pub fn open_log_file(path: &std::path::Path) -> Result<std::fs::File, String> {
    use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
    let flags = rustix::fs::OFlags::NOFOLLOW | rustix::fs::OFlags::NONBLOCK;
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .custom_flags(flags.bits() as i32)
        .open(path)
        .map_err(|e| match e.raw_os_error() {
            Some(code) if code == rustix::io::Errno::LOOP.raw_os_error() => {
                "it is a symbolic link, which kms11 does not follow; name the file itself".into()
            }
            _ => format!("cannot open it ({e})"),
        })?;
    let meta = file.metadata().map_err(|e| e.to_string())?;
    let me = crate::files::current_uid();
    if !meta.is_file() {
        return Err("it is not a regular file".into());
    }
    if meta.uid() != me && meta.uid() != 0 {
        return Err(format!(
            "it belongs to uid {}, not to you (uid {me}) or root; remove it or name another file",
            meta.uid()
        ));
    }
    Ok(file)
}

pub fn enabled(level: Level) -> bool {
    level as u8 <= LEVEL.load(Ordering::Relaxed) && level != Level::Off
}

pub fn write(level: Level, message: std::fmt::Arguments<'_>) {
    if !enabled(level) {
        return;
    }
    let line = format!(
        "{} kms11[{}]: {:?}: {message}\n",
        timestamp(),
        std::process::id(),
        level
    );
    match SINK.load().as_deref() {
        Some(mut file) => {
            let _ = file.write_all(line.as_bytes());
        }
        None => {
            let _ = std::io::stderr().write_all(line.as_bytes());
        }
    }
}

/// Now, as RFC 3339 UTC with milliseconds: 2026-01-02T03:04:05.678Z.
fn timestamp() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let whole = std::time::Duration::from_secs(now.as_secs());
    match der::DateTime::from_unix_duration(whole) {
        Ok(t) => format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
            t.year(),
            t.month(),
            t.day(),
            t.hour(),
            t.minutes(),
            t.seconds(),
            now.subsec_millis()
        ),
        Err(_) => now.as_secs().to_string(),
    }
}

#[macro_export]
macro_rules! log_at {
    ($level:ident, $($arg:tt)*) => {
        $crate::log::write($crate::log::Level::$level, format_args!($($arg)*))
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{MetadataExt, PermissionsExt};

    fn scratch() -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("kms11-log-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir(&dir).unwrap();
        dir
    }

    #[test]
    fn the_log_file_is_ours_regular_private_and_not_followed() {
        let dir = scratch();
        // Created 0600 whatever the umask.
        let new = dir.join("new.log");
        let mut f = open_log_file(&new).unwrap();
        f.write_all(b"line\n").unwrap();
        assert_eq!(std::fs::metadata(&new).unwrap().mode() & 0o777, 0o600);
        // A link (someone else's choice of target) is not followed.
        let victim = dir.join("victim");
        std::fs::write(&victim, b"kept\n").unwrap();
        let link = dir.join("link.log");
        std::os::unix::fs::symlink(&victim, &link).unwrap();
        let e = open_log_file(&link).unwrap_err();
        assert!(e.contains("symbolic link"), "{e}");
        assert_eq!(std::fs::read(&victim).unwrap(), b"kept\n");
        // A FIFO is refused at once (O_NONBLOCK: no reader, no hang).
        let fifo = dir.join("fifo.log");
        crate::files::make_fifo(&fifo);
        assert!(open_log_file(&fifo).is_err());
        // Another user's file is refused.
        assert_eq!(
            crate::files::current_uid(),
            0,
            "this test makes a file of another user and must run as root (CI does)"
        );
        let theirs = dir.join("theirs.log");
        std::fs::write(&theirs, b"").unwrap();
        std::fs::set_permissions(&theirs, std::fs::Permissions::from_mode(0o666)).unwrap();
        std::os::unix::fs::chown(&theirs, Some(65534), Some(65534)).unwrap();
        let e = open_log_file(&theirs).unwrap_err();
        assert!(e.contains("belongs to uid 65534"), "{e}");
        assert!(std::fs::read(&theirs).unwrap().is_empty());
        std::fs::remove_dir_all(dir).unwrap();
    }
}
