//! Who may have written a file: the checks the module makes before it
//! trusts a file it reads. Two rules, one per kind of file:
//!
//! - `private_to_us`: the public-key cache's entries and directory, which
//!   this process writes itself, must be this user's alone;
//! - `open_trusted` / `check_owner_and_mode`: a file that decides what the
//!   module does (the configuration, and what it names) may also be root's
//!   (a system-wide configuration), and no one else may write it or the
//!   directories above it.

use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// The effective uid of this process.
pub fn current_uid() -> u32 {
    rustix::process::geteuid().as_raw()
}

/// The cache's rule: Ok when the file or directory belongs to this
/// process's user (not even root's: the cache holds only what this user's
/// processes wrote) and no other user can write it.
pub fn private_to_us(meta: &std::fs::Metadata) -> Result<(), String> {
    let me = current_uid();
    if meta.uid() != me {
        return Err(format!("belongs to uid {}, not to uid {me}", meta.uid()));
    }
    if meta.mode() & 0o022 != 0 {
        return Err(format!(
            "can be written by other users (mode {:o})",
            meta.mode() & 0o777
        ));
    }
    Ok(())
}

/// Why a file that decides what the module does was refused: what is
/// wrong, and how to fix it. The module's log and `kms11 doctor` print the
/// same two sentences.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub what: String,
    pub fix: String,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "refusing {}: {}", self.what, self.fix)
    }
}

fn refuse(what: impl Into<String>, fix: impl Into<String>) -> Refusal {
    Refusal {
        what: what.into(),
        fix: fix.into(),
    }
}

/// What a file system entry is, in words, for refusals.
fn kind(ft: std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if ft.is_fifo() {
        "a named pipe (FIFO)"
    } else if ft.is_socket() {
        "a socket"
    } else if ft.is_char_device() || ft.is_block_device() {
        "a device"
    } else if ft.is_dir() {
        "a directory"
    } else if ft.is_symlink() {
        "a symbolic link"
    } else {
        "not a regular file"
    }
}

/// Opens a file that names the keys the process signs with (the
/// configuration), the way OpenSSH's StrictModes treats `~/.ssh`, and
/// returns the open file and what `fstat` says of it.
///
/// The path is opened once (non-blocking, so a FIFO with no writer cannot
/// hang the caller, and without becoming a controlling terminal); every
/// check is made on that descriptor and the caller reads from it, so a file
/// swapped after the check is never the one read. It must be a regular
/// file, belong to this user or root, and be writable by no one else.
/// Every directory above it, both along the path as given and along the
/// path of the file actually opened (symbolic links resolved), must belong
/// to this user or root and be writable by no one else, except a sticky
/// directory such as /tmp, where only an entry of one's own or root's is
/// accepted (no one else can rename or remove it there).
pub fn open_trusted(path: &Path) -> Result<(std::fs::File, std::fs::Metadata), Refusal> {
    use std::os::unix::fs::OpenOptionsExt;
    let shown = path.display();
    // The directories along the path as given, before anything is opened
    // (opening a device another user's link points at can have effects):
    // each entry on the way is judged by its own owner (lstat), so a link
    // someone else left in a sticky directory is refused whatever it
    // points at. What passes cannot change afterwards: no one else can
    // write those directories or move our entries in them.
    let given = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    check_directories(&given)?;
    let flags = rustix::fs::OFlags::NONBLOCK | rustix::fs::OFlags::NOCTTY;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(flags.bits() as i32)
        .open(path)
        .map_err(|e| match std::fs::metadata(path) {
            // Opening a socket fails (ENXIO): say what it is.
            Ok(m) if !m.is_file() => refuse(
                format!("{shown}: it is {}, not a regular file", kind(m.file_type())),
                format!("point the module at a configuration file (see pkcs11.conf.sample), not at {shown}"),
            ),
            _ => refuse(
                format!("{shown}: cannot open it ({e})"),
                "create it (see pkcs11.conf.sample) or name the right file",
            ),
        })?;
    let meta = file
        .metadata()
        .map_err(|e| refuse(format!("{shown}: cannot read it ({e})"), "check the file"))?;
    if !meta.is_file() {
        return Err(refuse(
            format!(
                "{shown}: it is {}, not a regular file",
                kind(meta.file_type())
            ),
            format!(
                "point the module at a configuration file (see pkcs11.conf.sample), not at {shown}"
            ),
        ));
    }
    check_owner_and_mode(path, &meta)?;
    // Then the directories along the file that was opened (links resolved).
    let opened = std::fs::read_link(format!("/proc/self/fd/{}", file.as_raw_fd()))
        .or_else(|_| std::fs::canonicalize(path))
        .map_err(|e| {
            refuse(
                format!("{shown}: cannot find where it is ({e})"),
                "check the path",
            )
        })?;
    if opened != given {
        check_directories(&opened)?;
    }
    Ok((file, meta))
}

/// Reads a regular file the configuration names (a certificate, a CA
/// bundle), at most `max` bytes: opened without blocking, so that a FIFO
/// left in its place fails at once instead of hanging the host, and
/// refused unless the open descriptor is a regular file.
pub fn read_regular(path: &Path, max: u64) -> Result<Vec<u8>, String> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let flags = rustix::fs::OFlags::NONBLOCK | rustix::fs::OFlags::NOCTTY;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(flags.bits() as i32)
        .open(path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let meta = file
        .metadata()
        .map_err(|e| format!("{}: {e}", path.display()))?;
    if !meta.is_file() {
        return Err(format!(
            "{}: it is {}, not a regular file",
            path.display(),
            kind(meta.file_type())
        ));
    }
    if meta.len() > max {
        return Err(format!(
            "{}: {} bytes, more than the {max} this file can hold",
            path.display(),
            meta.len()
        ));
    }
    let mut bytes = Vec::new();
    file.take(max)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(bytes)
}

/// Replaces `path` with a file of `bytes`, private to this user (0600):
/// written aside in the same directory and renamed, so that a reader sees
/// the old file or the new one, never half of one, even with many
/// processes at once.
pub fn replace_file(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    static WRITES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let tmp = path.with_file_name(format!(
        ".{name}.{}.{}",
        std::process::id(),
        WRITES.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    ));
    let result = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(bytes)?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Whose files may decide what the module does: root's, and this user's
/// unless the process runs with privileges its caller lacks (setuid,
/// setgid, capabilities), where only root's are.
pub(crate) fn trusted_owner(uid: u32) -> bool {
    uid == 0 || (uid == current_uid() && !crate::config::environment_ignored())
}

/// A file that decides what the module does must belong to this user or to
/// root, and no one else may write it.
pub fn check_owner_and_mode(path: &Path, meta: &std::fs::Metadata) -> Result<(), Refusal> {
    let shown = path.display();
    let me = current_uid();
    if !trusted_owner(meta.uid()) {
        return Err(refuse(
            format!(
                "{shown}: it belongs to uid {}, not to you (uid {me}) or root, and could point the module at other keys",
                meta.uid()
            ),
            format!("chown {me} {shown}, or use a copy of your own"),
        ));
    }
    let mode = meta.mode() & 0o7777;
    if mode & 0o022 != 0 {
        return Err(refuse(
            format!(
                "{shown}: it can be changed by other users (mode {mode:04o}), who could point the module at their keys"
            ),
            format!("chmod go-w {shown}"),
        ));
    }
    Ok(())
}

/// The directories above `path`, from its parent up to `/`: each belongs to
/// this user or root, and no one else can write it, except a sticky one
/// where the entry in it (judged by lstat: a link by the link's owner) is
/// this user's or root's and, if a file, has no other name (a hard link
/// another user made there would carry our file's owner). Fails closed: an
/// entry or directory that cannot be looked at is refused.
fn check_directories(path: &Path) -> Result<(), Refusal> {
    let me = current_uid();
    let mut child = path;
    for dir in path.ancestors().skip(1) {
        if dir.as_os_str().is_empty() {
            break;
        }
        let shown = dir.display();
        let look = |p: &Path, e: std::io::Error| {
            refuse(
                format!("{}: cannot open it ({}: {e})", path.display(), p.display()),
                "create it (see pkcs11.conf.sample) or name the right file",
            )
        };
        let entry = std::fs::symlink_metadata(child).map_err(|e| look(child, e))?;
        let meta = std::fs::metadata(dir).map_err(|e| look(dir, e))?;
        if !trusted_owner(meta.uid()) {
            return Err(refuse(
                format!(
                    "{}: directory {shown} belongs to uid {}, not to you (uid {me}) or root, who could replace the configuration",
                    path.display(),
                    meta.uid()
                ),
                "keep the configuration in a directory of your own",
            ));
        }
        let mode = meta.mode() & 0o7777;
        // In a sticky directory only the entry's owner, the directory's
        // and root can rename or remove the entry: safe when that is us or
        // root, and the entry is not a second name of some file.
        let safe_in_sticky = mode & 0o1000 != 0
            && trusted_owner(entry.uid())
            && (entry.is_dir() || entry.file_type().is_symlink() || entry.nlink() == 1);
        if mode & 0o022 != 0 && !safe_in_sticky {
            return Err(refuse(
                format!(
                    "{}: directory {shown} can be written by other users (mode {mode:04o}), who could replace {}",
                    path.display(),
                    child.display()
                ),
                format!(
                    "chmod go-w {shown}, or keep the configuration in a directory only you can write"
                ),
            ));
        }
        child = dir;
    }
    Ok(())
}

/// Makes a FIFO (mode 0600) for tests of what the module refuses to read.
#[cfg(test)]
pub fn make_fifo(path: &Path) {
    rustix::fs::mknodat(
        rustix::fs::CWD,
        path,
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o600),
        0,
    )
    .unwrap_or_else(|e| panic!("mkfifo {}: {e}", path.display()));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_named_file_is_read_only_if_it_is_regular_and_small_enough() {
        let dir = std::env::temp_dir().join(format!("kms11-files-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir(&dir).unwrap();
        let file = dir.join("cert.pem");
        std::fs::write(&file, b"0123456789").unwrap();
        assert_eq!(read_regular(&file, 10).unwrap(), b"0123456789");
        let e = read_regular(&file, 9).unwrap_err();
        assert!(e.contains("10 bytes, more than the 9"), "{e}");
        // A FIFO in a certificate's or CA bundle's place: refused at once
        // (before, reading it blocked C_Initialize until a writer came).
        let fifo = dir.join("fifo.pem");
        make_fifo(&fifo);
        let (tx, rx) = std::sync::mpsc::channel();
        let f = fifo.clone();
        std::thread::spawn(move || tx.send(read_regular(&f, 1 << 20)));
        let r = rx
            .recv_timeout(std::time::Duration::from_secs(10))
            .expect("reading a FIFO did not return in 10 s");
        assert!(r
            .unwrap_err()
            .contains("a named pipe (FIFO), not a regular file"));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
