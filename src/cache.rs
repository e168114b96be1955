//! The on-disk public-key cache: what GetPublicKey said about a configured
//! key, so that a new process (pkcs11-tool, `openssl dgst`, gpg: one process
//! per signature) makes one KMS request, the Sign, instead of one per key
//! of its token first.
//!
//! One file per key, `$XDG_CACHE_HOME/kms11/<hash>.json` (0600 in a 0700
//! directory), keyed by the KMS endpoint, region, profile and caller's
//! account (the scope, `Backend::cache_scope`) and the key reference as
//! configured. An entry for an alias is trusted only for the alias refresh
//! interval; an entry for a key ID or ARN names one key for ever (a KMS
//! key's public key and ARN never change), and is used only if its ARN is
//! that key's (`KeyRef::names_key`).
//!
//! Nothing here decides which key signs: Sign goes to the key as
//! configured and its answer must name the ARN an entry gave
//! (`Module::sign_with_kms`), so a well-formed but wrong entry costs a
//! failed signature, never a signature by another key.
//!
//! The cache is a speed-up only: a missing, unreadable, corrupt, foreign or
//! stale entry is a miss, and a failing write is ignored. Each file holds a
//! SHA-256 of its body, so a torn or edited file is never used; a file or
//! directory that another user could write is never read.

use crate::backend::RemoteKey;
use crate::files;
use crate::log_at;
use data_encoding::{BASE64, HEXLOWER};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const MAGIC: &str = "kms11-cache 1";
/// Larger than any entry (an RSA-4096 SubjectPublicKeyInfo is 550 bytes).
const MAX_FILE: u64 = 64 * 1024;

#[derive(Debug, Clone)]
pub struct DiskCache {
    dir: PathBuf,
}

/// A cache hit: the key, and how long ago KMS said so.
#[derive(Debug, Clone)]
pub struct Hit {
    pub key: RemoteKey,
    pub age: Duration,
    /// The entry's file, to drop if KMS later disagrees with it.
    pub path: PathBuf,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    scope: String,
    reference: String,
    /// Milliseconds since the Unix epoch.
    stored_at_ms: u64,
    arn: String,
    key_spec: String,
    key_usage: String,
    /// Written by earlier builds (GetPublicKey's algorithms, which nothing
    /// used): accepted and ignored, so that their entries stay hits despite
    /// `deny_unknown_fields`; no longer written.
    #[serde(default, skip_serializing, rename = "signing_algorithms")]
    _signing_algorithms: serde::de::IgnoredAny,
    /// DER SubjectPublicKeyInfo, base64.
    public_key: String,
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

impl DiskCache {
    /// The cache in `dir` (created on the first store).
    pub fn new(dir: PathBuf) -> DiskCache {
        DiskCache { dir }
    }

    /// `$XDG_CACHE_HOME/kms11`, or `~/.cache/kms11`; `None` when neither
    /// variable gives an absolute path, or the environment is ignored
    /// (`config::environment_ignored`: a secure-execution host caches only
    /// in a `[cache] dir` its configuration names).
    pub fn default_dir() -> Option<PathBuf> {
        let absolute = |v: std::ffi::OsString| Some(PathBuf::from(v)).filter(|p| p.is_absolute());
        crate::config::env_var("XDG_CACHE_HOME")
            .and_then(absolute)
            .or_else(|| {
                crate::config::env_var("HOME")
                    .and_then(absolute)
                    .map(|h| h.join(".cache"))
            })
            .map(|d| d.join("kms11"))
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file of one key: a hash, so that references (which hold `/` and
    /// `:`) and scopes never reach the file system as names.
    pub fn path(&self, scope: &str, reference: &str) -> PathBuf {
        let mut h = Sha256::new();
        h.update(scope.as_bytes());
        h.update([0]);
        h.update(reference.as_bytes());
        let name = HEXLOWER.encode(&h.finalize()[..16]);
        self.dir.join(format!("{name}.json"))
    }

    /// The cached key, if there is a usable entry no older than `max_age`
    /// (`None`: any age).
    pub fn load(&self, scope: &str, reference: &str, max_age: Option<Duration>) -> Option<Hit> {
        let path = self.path(scope, reference);
        match self.read(&path, scope, reference, max_age) {
            Ok(hit) => Some(hit),
            Err(why) => {
                if why != "no entry" {
                    log_at!(Debug, "cache: {} not used: {why}", path.display());
                }
                None
            }
        }
    }

    fn read(
        &self,
        path: &Path,
        scope: &str,
        reference: &str,
        max_age: Option<Duration>,
    ) -> Result<Hit, String> {
        let dir = std::fs::metadata(&self.dir).map_err(|_| "no entry".to_string())?;
        files::private_to_us(&dir).map_err(|e| format!("directory {e}"))?;
        // Without blocking (a FIFO left here must not hang the host, with
        // the token's resolution lock held) and through no symbolic link.
        let flags = rustix::fs::OFlags::NONBLOCK
            | rustix::fs::OFlags::NOFOLLOW
            | rustix::fs::OFlags::NOCTTY;
        let opened = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(flags.bits() as i32)
            .open(path);
        let file = match opened {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err("no entry".into()),
            Err(e) => return Err(e.to_string()),
        };
        let meta = file.metadata().map_err(|e| e.to_string())?;
        files::private_to_us(&meta)?;
        if !meta.is_file() || meta.len() > MAX_FILE {
            return Err("not a cache entry".into());
        }
        let text = std::io::read_to_string(std::io::Read::take(file, MAX_FILE))
            .map_err(|e| e.to_string())?;
        let (head, body) = text.split_once('\n').ok_or("truncated")?;
        let sum = head
            .strip_prefix(MAGIC)
            .map(str::trim)
            .ok_or("not a cache entry")?;
        if sum != HEXLOWER.encode(&Sha256::digest(body.as_bytes())) {
            return Err("checksum mismatch".into());
        }
        let e: Entry = serde_json::from_str(body).map_err(|e| e.to_string())?;
        if e.scope != scope || e.reference != reference {
            return Err("entry of another key".into());
        }
        let age = Duration::from_millis(
            now_ms()
                .checked_sub(e.stored_at_ms)
                .ok_or("stored in the future")?,
        );
        if let Some(max) = max_age.filter(|max| age >= *max) {
            return Err(format!("older than {} s", max.as_secs()));
        }
        let public_key = BASE64
            .decode(e.public_key.as_bytes())
            .map_err(|e| e.to_string())?;
        Ok(Hit {
            key: RemoteKey {
                arn: e.arn,
                key_spec: e.key_spec,
                key_usage: e.key_usage,
                public_key,
            },
            age,
            path: path.to_path_buf(),
        })
    }

    /// Stores what KMS said; a failure is logged and otherwise ignored.
    pub fn store(&self, scope: &str, reference: &str, key: &RemoteKey) {
        if let Err(e) = self.write(scope, reference, key) {
            log_at!(Debug, "cache: not stored in {}: {e}", self.dir.display());
        }
    }

    fn write(&self, scope: &str, reference: &str, key: &RemoteKey) -> std::io::Result<()> {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.dir)?;
        let entry = Entry {
            scope: scope.into(),
            reference: reference.into(),
            stored_at_ms: now_ms(),
            arn: key.arn.clone(),
            key_spec: key.key_spec.clone(),
            key_usage: key.key_usage.clone(),
            _signing_algorithms: serde::de::IgnoredAny,
            public_key: BASE64.encode(&key.public_key),
        };
        let body = serde_json::to_string(&entry)?;
        let text = format!(
            "{MAGIC} {}\n{body}",
            HEXLOWER.encode(&Sha256::digest(body.as_bytes()))
        );
        files::replace_file(&self.path(scope, reference), text.as_bytes())
    }

    /// Drops an entry that KMS contradicted (the key is gone, or its
    /// signature did not verify with the cached public key).
    pub fn forget(path: &Path) {
        match std::fs::remove_file(path) {
            Ok(()) => log_at!(Info, "cache: dropped {}", path.display()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => log_at!(Warn, "cache: cannot drop {}: {e}", path.display()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> RemoteKey {
        RemoteKey {
            arn: "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
                .into(),
            key_spec: "ECC_NIST_P256".into(),
            key_usage: "SIGN_VERIFY".into(),
            public_key: vec![0x30, 0x59, 1, 2, 3],
        }
    }

    fn temp() -> (DiskCache, PathBuf) {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("kms11-cache-test-{}-{n}", std::process::id()));
        (DiskCache::new(dir.join("kms11")), dir)
    }

    #[test]
    fn stores_and_loads_with_private_modes() {
        use std::os::unix::fs::PermissionsExt;
        let (c, root) = temp();
        assert!(c.load("s", "alias/a", None).is_none());
        c.store("s", "alias/a", &key());
        let hit = c.load("s", "alias/a", None).expect("hit");
        assert_eq!(hit.key.arn, key().arn);
        assert_eq!(hit.key.public_key, key().public_key);
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(c.dir()), 0o700);
        assert_eq!(mode(&hit.path), 0o600);
        // Another scope or reference is another entry.
        assert!(c.load("t", "alias/a", None).is_none());
        assert!(c.load("s", "alias/b", None).is_none());
        // No temporary file is left behind.
        assert_eq!(std::fs::read_dir(c.dir()).unwrap().count(), 1);
        std::fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn an_entry_older_than_max_age_is_a_miss() {
        let (c, root) = temp();
        c.store("s", "alias/a", &key());
        assert!(c
            .load("s", "alias/a", Some(Duration::from_secs(300)))
            .is_some());
        assert!(c.load("s", "alias/a", Some(Duration::ZERO)).is_none());
        std::fs::remove_dir_all(root).unwrap();
    }

    /// A cache holding the entry of `key()` for scope "s" and reference
    /// "k": the cache, its temporary root, the entry's path and text.
    fn one_entry() -> (DiskCache, PathBuf, PathBuf, String) {
        let (c, root) = temp();
        c.store("s", "k", &key());
        let path = c.path("s", "k");
        let text = std::fs::read_to_string(&path).unwrap();
        (c, root, path, text)
    }

    /// An entry as earlier builds wrote it, with `signing_algorithms`, is
    /// still a hit; any other unknown field is not.
    #[test]
    fn an_entry_with_the_old_algorithms_field_is_a_hit() {
        let (c, root, path, text) = one_entry();
        let body = text.split_once('\n').unwrap().1;
        assert!(!body.contains("signing_algorithms"), "{body}");
        let with = |field: &str| {
            let old = body.replace(r#""public_key""#, &format!(r#"{field},"public_key""#));
            let sum = HEXLOWER.encode(&Sha256::digest(old.as_bytes()));
            std::fs::write(&path, format!("{MAGIC} {sum}\n{old}")).unwrap();
        };
        with(r#""signing_algorithms":["ECDSA_SHA_256"]"#);
        let hit = c.load("s", "k", None).expect("an old entry is a hit");
        assert_eq!(hit.key.public_key, key().public_key);
        with(r#""something_else":1"#);
        assert!(c.load("s", "k", None).is_none());
        std::fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn corrupt_and_edited_entries_are_misses() {
        let (c, root, path, good) = one_entry();
        let cases = [
            String::new(),
            "garbage".to_string(),
            good[..good.len() / 2].to_string(),
            good.replace("1234abcd", "ffffabcd"),
            good.replace(MAGIC, "kms11-cache 9"),
            format!("{good}\n"),
        ];
        for bad in cases {
            std::fs::write(&path, &bad).unwrap();
            assert!(c.load("s", "k", None).is_none(), "{bad:?} was used");
        }
        // Another key's entry copied over this one is not used either.
        c.store("s", "other", &key());
        std::fs::copy(c.path("s", "other"), &path).unwrap();
        assert!(c.load("s", "k", None).is_none());
        std::fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn a_group_writable_entry_or_directory_is_not_read() {
        use std::os::unix::fs::PermissionsExt;
        let (c, root) = temp();
        c.store("s", "k", &key());
        let path = c.path("s", "k");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o620)).unwrap();
        assert!(c.load("s", "k", None).is_none());
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        std::fs::set_permissions(c.dir(), std::fs::Permissions::from_mode(0o777)).unwrap();
        assert!(c.load("s", "k", None).is_none());
        std::fs::set_permissions(c.dir(), std::fs::Permissions::from_mode(0o700)).unwrap();
        assert!(c.load("s", "k", None).is_some());
        std::fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn a_fifo_or_a_link_in_an_entrys_place_is_a_miss_at_once() {
        let (c, root) = temp();
        c.store("s", "k", &key());
        let path = c.path("s", "k");
        // A link to a good entry of ours is not followed.
        let aside = c.dir().join("aside");
        std::fs::rename(&path, &aside).unwrap();
        std::os::unix::fs::symlink(&aside, &path).unwrap();
        assert!(c.load("s", "k", None).is_none());
        // A FIFO (a restored cache can hold one) does not block the reader.
        std::fs::remove_file(&path).unwrap();
        crate::files::make_fifo(&path);
        let (tx, rx) = std::sync::mpsc::channel();
        let c2 = c.clone();
        std::thread::spawn(move || tx.send(c2.load("s", "k", None).is_none()));
        assert!(rx
            .recv_timeout(Duration::from_secs(10))
            .expect("loading a FIFO entry did not return in 10 s"));
        std::fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn an_unwritable_directory_only_loses_the_speed_up() {
        let (_, root) = temp();
        std::fs::create_dir_all(&root).unwrap();
        let file = root.join("not-a-dir");
        std::fs::write(&file, b"x").unwrap();
        let c = DiskCache::new(file.join("kms11"));
        c.store("s", "k", &key());
        assert!(c.load("s", "k", None).is_none());
        std::fs::remove_dir_all(root).unwrap();
    }
}
