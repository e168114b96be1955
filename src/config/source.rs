//! Where the configuration comes from (the path given to C_Initialize, the
//! environment, the default places) and how its file is read: once, from
//! the descriptor whose owner, mode and directories were checked. A
//! secure-execution host (setuid, setgid, capabilities) ignores the
//! environment.

use super::Config;
use crate::files::Refusal;
use std::path::{Path, PathBuf};

/// The longest configuration read: far more than any real one, and a
/// bound on what a wrong path can make the module read.
const MAX_CONFIG: u64 = 1 << 20;

/// The text of a configuration file, read from the one descriptor whose
/// owner, mode and directories were checked (`files::open_trusted`): it
/// names the keys the process signs with, so a file another user could
/// have written or swapped is refused, and so is anything that is not a
/// regular file (a FIFO would hang the caller). `/dev/null`, by that name,
/// is an empty configuration (docs/gpg.md uses it).
pub fn read_file(path: &Path) -> Result<(String, Option<std::fs::Metadata>), Refusal> {
    if path == Path::new("/dev/null") {
        return Ok((String::new(), None));
    }
    let (file, meta) = crate::files::open_trusted(path)?;
    let shown = path.display();
    if meta.len() > MAX_CONFIG {
        return Err(Refusal {
            what: format!(
                "{shown}: it is {} bytes long, more than a configuration",
                meta.len()
            ),
            fix: "name the configuration file (see pkcs11.conf.sample)".into(),
        });
    }
    let mut text = String::new();
    std::io::Read::read_to_string(&mut std::io::Read::take(file, MAX_CONFIG), &mut text).map_err(
        |e| Refusal {
            what: format!("{shown}: cannot read it ({e})"),
            fix: "a configuration file is UTF-8 TOML (see pkcs11.conf.sample)".into(),
        },
    )?;
    Ok((text, Some(meta)))
}

/// A configuration holding a `pin_hash` must not be readable by every
/// user: with the hash, a guesser needs no module and no rate limit, only
/// argon2id's cost per guess.
pub fn check_pin_hash_readers(
    config: &Config,
    path: &Path,
    meta: Option<&std::fs::Metadata>,
) -> Result<(), Refusal> {
    use std::os::unix::fs::MetadataExt;
    let Some(meta) = meta else { return Ok(()) };
    let mode = meta.mode() & 0o777;
    match config.tokens.iter().find(|t| t.pin_hash.is_some()) {
        Some(token) if mode & 0o004 != 0 => Err(Refusal {
            what: format!(
                "{}: token '{}' has a pin_hash and every user can read the file (mode {mode:04o}), so anyone can try PINs against the hash offline",
                path.display(),
                token.label.get_ref()
            ),
            fix: format!("chmod o-r {}", path.display()),
        }),
        _ => Ok(()),
    }
}

/// Where the configuration comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A file, and what named it.
    File(PathBuf, &'static str),
    /// `KMS11_KEYS`.
    KeyList(String),
    Nothing,
}

/// Set when the process runs with privileges its caller does not have
/// (setuid, setgid or file capabilities: `getauxval(AT_SECURE)`). Such a
/// host's environment belongs to the caller, so nothing in it may choose a
/// file the module reads, an endpoint it connects to, a key it signs with or
/// where credentials come from (docs/security.md).
static ENVIRONMENT_IGNORED: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(false);

/// Tells the module whether this process is a secure-execution one (the C
/// ABI asks the kernel at `C_Initialize`; it never changes in a process).
pub fn set_environment_ignored(ignored: bool) {
    ENVIRONMENT_IGNORED.store(ignored, std::sync::atomic::Ordering::Relaxed);
}

/// Whether the environment is ignored: see `set_environment_ignored`.
pub fn environment_ignored() -> bool {
    ENVIRONMENT_IGNORED.load(std::sync::atomic::Ordering::Relaxed)
}

/// An environment variable, unless the environment is ignored.
pub fn env_var(name: &str) -> Option<std::ffi::OsString> {
    if environment_ignored() {
        None
    } else {
        std::env::var_os(name)
    }
}

/// Variables the AWS SDK reads by itself, whatever environment its loader is
/// given: a secure-execution process refuses to initialise while one is set.
pub const SDK_OWN_ENVIRONMENT: &[&str] = &["SMITHY_CLIENT_SDK_CUSTOM_PARTITION"];

/// The system-wide configuration, the only one a secure-execution process
/// finds by itself.
pub const SYSTEM_CONFIG: &str = "/etc/kms11/pkcs11.conf";

/// Finds the configuration: the path given to C_Initialize, else
/// `$KMS11_CONFIG`, else `$KMS11_KEYS`, else the per-user file, else
/// `/etc/kms11/pkcs11.conf`. A secure-execution process looks only at the
/// path given to C_Initialize and at `/etc/kms11/pkcs11.conf`.
pub fn locate(explicit: Option<&Path>) -> Location {
    if let Some(path) = explicit.filter(|p| !p.as_os_str().is_empty()) {
        return Location::File(path.to_path_buf(), "given explicitly");
    }
    if let Some(path) = env_var("KMS11_CONFIG").filter(|p| !p.is_empty()) {
        return Location::File(PathBuf::from(path), "KMS11_CONFIG");
    }
    if let Some(list) = env_var("KMS11_KEYS").and_then(|l| l.into_string().ok()) {
        if !list.trim().is_empty() {
            return Location::KeyList(list);
        }
    }
    for path in default_paths() {
        if path.is_file() {
            return Location::File(path, "default location");
        }
    }
    Location::Nothing
}

pub fn default_paths() -> Vec<PathBuf> {
    let mut paths = Vec::new();
    if let Some(x) = env_var("XDG_CONFIG_HOME").filter(|x| !x.is_empty()) {
        paths.push(PathBuf::from(x).join("kms11/pkcs11.conf"));
    } else if let Some(home) = env_var("HOME").filter(|h| !h.is_empty()) {
        paths.push(PathBuf::from(home).join(".config/kms11/pkcs11.conf"));
    }
    paths.push(PathBuf::from(SYSTEM_CONFIG));
    paths
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_others_can_write_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let path =
            std::env::temp_dir().join(format!("kms11-config-mode-{}.conf", std::process::id()));
        std::fs::write(&path, "[aws]\nregion = \"us-east-1\"\n").unwrap();
        for (mode, ok) in [
            (0o600, true),
            (0o644, true),
            (0o664, false),
            (0o666, false),
            (0o646, false),
        ] {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
            let r = Config::from_file(&path);
            assert_eq!(r.is_ok(), ok, "mode {mode:o}: {r:?}");
            if let Err(e) = r {
                assert!(e.contains("chmod go-w"), "{e}");
            }
        }
        std::fs::remove_file(path).unwrap();
        // /dev/null, by that name (mode 0666), is no configuration.
        Config::from_file(Path::new("/dev/null")).unwrap();
    }

    /// A fresh directory of this user's, mode 0755, under the temp dir.
    fn scratch(name: &str) -> PathBuf {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("kms11-config-{name}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir(&dir).unwrap();
        set_mode(&dir, 0o755);
        dir
    }

    fn set_mode(path: &Path, mode: u32) {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    const GOOD: &str = "[[token]]\nlabel = \"mine\"\n";
    const THEIRS: &str = "[[token]]\nlabel = \"theirs\"\n";

    /// Another user's files, for the cases that need one: only root can
    /// make them (CI runs as root).
    const OTHER_UID: u32 = 65534;
    fn chown_other(path: &Path) {
        assert_eq!(
            crate::files::current_uid(),
            0,
            "this test makes files of another user and must run as root (CI does)"
        );
        std::os::unix::fs::lchown(path, Some(OTHER_UID), Some(OTHER_UID)).unwrap();
    }

    /// Reads `path` on another thread: a refusal must come at once, never
    /// a hang (a FIFO with no writer blocked the reader before).
    fn read_bounded(path: &Path) -> Result<String, Refusal> {
        let (tx, rx) = std::sync::mpsc::channel();
        let p = path.to_path_buf();
        std::thread::spawn(move || tx.send(read_file(&p).map(|(t, _)| t)));
        rx.recv_timeout(std::time::Duration::from_secs(10))
            .unwrap_or_else(|_| panic!("reading {} did not return in 10 s", path.display()))
    }

    fn refused(path: &Path, words: &str) {
        match read_bounded(path) {
            Ok(text) => panic!("{} was read: {text:?}", path.display()),
            Err(r) => assert!(
                r.to_string().contains(words),
                "{}: expected '{words}' in: {r}",
                path.display()
            ),
        }
    }

    #[test]
    fn a_fifo_or_socket_is_refused_at_once() {
        let dir = scratch("special");
        let fifo = dir.join("fifo.conf");
        crate::files::make_fifo(&fifo);
        refused(&fifo, "it is a named pipe (FIFO), not a regular file");
        let sock = dir.join("sock.conf");
        let _listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
        refused(&sock, "it is a socket, not a regular file");
        refused(&dir, "it is a directory, not a regular file");
        // A regular file of ours in the same directory is read.
        let good = dir.join("good.conf");
        std::fs::write(&good, GOOD).unwrap();
        assert_eq!(read_bounded(&good).unwrap(), GOOD);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_directory_others_can_write_is_refused() {
        let dir = scratch("dirmode");
        let sub = dir.join("kms11");
        std::fs::create_dir(&sub).unwrap();
        let conf = sub.join("pkcs11.conf");
        std::fs::write(&conf, GOOD).unwrap();
        set_mode(&conf, 0o644);
        set_mode(&sub, 0o755);
        assert_eq!(read_bounded(&conf).unwrap(), GOOD);
        for mode in [0o775, 0o757, 0o777] {
            set_mode(&sub, mode);
            refused(
                &conf,
                &format!("can be written by other users (mode {mode:04o})"),
            );
            refused(&conf, &format!("chmod go-w {}", sub.display()));
        }
        // Sticky (as /tmp is): only an entry of one's own is accepted there.
        set_mode(&sub, 0o1777);
        assert_eq!(read_bounded(&conf).unwrap(), GOOD);
        // A directory above it counts as much as its own.
        set_mode(&sub, 0o755);
        set_mode(&dir, 0o775);
        refused(
            &conf,
            &format!("directory {} can be written", dir.display()),
        );
        set_mode(&dir, 0o755);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn another_users_file_or_link_is_refused() {
        let dir = scratch("owner");
        let theirs = dir.join("theirs.conf");
        std::fs::write(&theirs, THEIRS).unwrap();
        chown_other(&theirs);
        refused(&theirs, &format!("belongs to uid {OTHER_UID}"));
        // Through a link of ours: the file opened is still theirs.
        let link = dir.join("link.conf");
        std::os::unix::fs::symlink(&theirs, &link).unwrap();
        refused(&link, &format!("belongs to uid {OTHER_UID}"));
        // Their link, in a sticky directory anyone can write (as /tmp), to
        // a file of ours: where it points is their choice, so it is refused.
        let sticky = dir.join("tmp");
        std::fs::create_dir(&sticky).unwrap();
        set_mode(&sticky, 0o1777);
        let mine = dir.join("mine.conf");
        std::fs::write(&mine, GOOD).unwrap();
        let planted = sticky.join("pkcs11.conf");
        std::os::unix::fs::symlink(&mine, &planted).unwrap();
        chown_other(&planted);
        refused(&planted, "can be written by other users (mode 1777)");
        // The same link of ours there is fine.
        std::fs::remove_file(&planted).unwrap();
        std::os::unix::fs::symlink(&mine, &planted).unwrap();
        assert_eq!(read_bounded(&planted).unwrap(), GOOD);
        // Their link to a directory of ours, in the sticky directory: the
        // link's owner counts, not its target's.
        let ours = dir.join("ours");
        std::fs::create_dir(&ours).unwrap();
        std::fs::write(ours.join("pkcs11.conf"), GOOD).unwrap();
        let linked_dir = sticky.join("d");
        std::os::unix::fs::symlink(&ours, &linked_dir).unwrap();
        chown_other(&linked_dir);
        refused(
            &linked_dir.join("pkcs11.conf"),
            "can be written by other users (mode 1777), who could replace",
        );
        // A second name of our file, made there: refused (its owner is ours,
        // but whoever made the name chose the file).
        let hard = sticky.join("hard.conf");
        std::fs::hard_link(&mine, &hard).unwrap();
        refused(&hard, "can be written by other users (mode 1777)");
        std::fs::remove_file(&hard).unwrap();
        // A missing entry is refused, not passed over.
        refused(&sticky.join("missing.conf"), "cannot open it");
        // A directory of another user's on the way is refused.
        let foreign = dir.join("foreign");
        std::fs::create_dir(&foreign).unwrap();
        let inside = foreign.join("pkcs11.conf");
        std::fs::write(&inside, GOOD).unwrap();
        chown_other(&foreign);
        refused(
            &inside,
            &format!("directory {} belongs to uid {OTHER_UID}", foreign.display()),
        );
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_file_swapped_while_it_is_read_is_never_read_as_theirs() {
        // One thread keeps replacing the configuration (rename, as someone
        // with write access to the entry would) with our file and another
        // user's in turn; every read gives ours or a refusal, never theirs,
        // whichever moment the swap lands on.
        use std::sync::atomic::{AtomicU32, Ordering};
        let dir = scratch("race");
        let conf = dir.join("pkcs11.conf");
        std::fs::write(&conf, GOOD).unwrap();
        let swaps = std::sync::Arc::new(AtomicU32::new(0));
        const SWAPS: u32 = 400;
        let swapper = {
            let (dir, conf, swaps) = (dir.clone(), conf.clone(), swaps.clone());
            std::thread::spawn(move || {
                for n in 0..SWAPS {
                    let next = dir.join(format!("next-{n}"));
                    std::fs::write(&next, if n % 2 == 0 { THEIRS } else { GOOD }).unwrap();
                    if n % 2 == 0 {
                        chown_other(&next);
                    }
                    std::fs::rename(&next, &conf).unwrap();
                    swaps.fetch_add(1, Ordering::Relaxed);
                    std::thread::sleep(std::time::Duration::from_micros(200));
                }
            })
        };
        let (mut ours, mut refusals) = (0, 0);
        while swaps.load(Ordering::Relaxed) < SWAPS {
            match read_file(&conf) {
                Ok((text, _)) => {
                    assert_eq!(text, GOOD, "another user's configuration was read");
                    ours += 1;
                }
                Err(r) => {
                    assert!(
                        r.what.contains("belongs to uid")
                            || r.what.contains("cannot find")
                            || r.what.contains("cannot open it"),
                        "{r}"
                    );
                    refusals += 1;
                }
            }
        }
        swapper.join().unwrap();
        assert!(ours > 0 && refusals > 0, "ours {ours}, refused {refusals}");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_pin_hash_needs_a_file_not_everyone_can_read() {
        let dir = scratch("pinmode");
        let conf = dir.join("pkcs11.conf");
        let h = crate::pin::hash(b"123456").unwrap();
        std::fs::write(
            &conf,
            format!("[[token]]\nlabel = \"a\"\npin_hash = \"{h}\"\n"),
        )
        .unwrap();
        set_mode(&conf, 0o644);
        let e = Config::from_file(&conf).unwrap_err();
        assert!(
            e.contains("every user can read the file (mode 0644)"),
            "{e}"
        );
        assert!(e.contains(&format!("chmod o-r {}", conf.display())), "{e}");
        for mode in [0o600, 0o640] {
            set_mode(&conf, mode);
            Config::from_file(&conf).unwrap();
        }
        // Without a pin_hash, a world-readable file is fine.
        std::fs::write(&conf, GOOD).unwrap();
        set_mode(&conf, 0o644);
        Config::from_file(&conf).unwrap();
        std::fs::remove_dir_all(dir).unwrap();
    }
}
