//! The configuration file (TOML; every option is documented in
//! `pkcs11.conf.sample`), where it is found, and the zero-config
//! `KMS11_KEYS` form.

use crate::files::Refusal;
use serde::Deserialize;
use std::path::{Path, PathBuf};
use toml::Spanned;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub aws: AwsConfig,
    #[serde(default)]
    pub log: LogConfig,
    #[serde(default)]
    pub cache: CacheConfig,
    #[serde(default)]
    pub signing: SigningConfig,
    #[serde(default, rename = "token")]
    pub tokens: Vec<TokenConfig>,
    /// Where the configuration came from, for messages.
    #[serde(skip)]
    pub source: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AwsConfig {
    pub region: Option<String>,
    pub profile: Option<String>,
    pub endpoint_url: Option<String>,
    pub ca_bundle: Option<PathBuf>,
    #[serde(default = "defaults::connect_timeout_ms")]
    pub connect_timeout_ms: u64,
    #[serde(default = "defaults::call_timeout_ms")]
    pub call_timeout_ms: u64,
    #[serde(default = "defaults::max_attempts")]
    pub max_attempts: u32,
    #[serde(default)]
    pub retry_mode: RetryMode,
    #[serde(default = "defaults::alias_refresh_seconds")]
    pub alias_refresh_seconds: u64,
    #[serde(default = "defaults::max_concurrent_requests")]
    pub max_concurrent_requests: usize,
}

/// How the SDK retries throttling and 5xx answers. Both back off with
/// jitter; adaptive also rate-limits the client after a throttling answer,
/// which can hold a single signature past its time budget, so it is opt-in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RetryMode {
    #[default]
    Standard,
    Adaptive,
}

mod defaults {
    pub fn connect_timeout_ms() -> u64 {
        3_000
    }
    pub fn call_timeout_ms() -> u64 {
        10_000
    }
    pub fn max_attempts() -> u32 {
        3
    }
    pub fn alias_refresh_seconds() -> u64 {
        300
    }
    /// Enough for a token of up to 128 keys to resolve in one round trip.
    pub fn max_concurrent_requests() -> usize {
        128
    }
    pub fn yes() -> bool {
        true
    }
}

impl AwsConfig {
    /// The longest one KMS call may take, retries included: every attempt
    /// at its timeout plus the SDK's largest backoff before each retry
    /// (1 s, doubling, at most 20 s). Cutting it shorter would cancel the
    /// retries that throttling and 5xx answers need.
    pub fn operation_budget(&self) -> std::time::Duration {
        let attempts = u64::from(self.max_attempts.max(1));
        let backoff_ms: u64 = (1..attempts)
            .map(|i| (1000u64 << (i - 1).min(5)).min(20_000))
            .sum();
        std::time::Duration::from_millis(
            self.call_timeout_ms
                .saturating_add(self.connect_timeout_ms)
                .saturating_mul(attempts)
                .saturating_add(backoff_ms),
        )
    }
}

impl Default for AwsConfig {
    fn default() -> Self {
        AwsConfig {
            region: None,
            profile: None,
            endpoint_url: None,
            ca_bundle: None,
            connect_timeout_ms: defaults::connect_timeout_ms(),
            call_timeout_ms: defaults::call_timeout_ms(),
            max_attempts: defaults::max_attempts(),
            retry_mode: RetryMode::Standard,
            alias_refresh_seconds: defaults::alias_refresh_seconds(),
            max_concurrent_requests: defaults::max_concurrent_requests(),
        }
    }
}

/// The on-disk public-key cache (`src/cache.rs`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CacheConfig {
    #[serde(default = "defaults::yes")]
    pub enabled: bool,
    /// Default: `$XDG_CACHE_HOME/kms11`, else `~/.cache/kms11`.
    pub dir: Option<PathBuf>,
}

impl Default for CacheConfig {
    fn default() -> Self {
        CacheConfig {
            enabled: true,
            dir: None,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SigningConfig {
    /// Check every signature KMS returns against the key's public key
    /// before the caller gets it.
    #[serde(default = "defaults::yes")]
    pub verify_signatures: bool,
}

impl Default for SigningConfig {
    fn default() -> Self {
        SigningConfig {
            verify_signatures: true,
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    pub level: Option<String>,
    pub file: Option<PathBuf>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenConfig {
    pub label: Spanned<String>,
    /// An argon2id PHC string (`kms11 pin-hash`); when set, signing needs
    /// C_Login with the PIN.
    pub pin_hash: Option<Spanned<String>>,
    #[serde(default, rename = "key")]
    pub keys: Vec<KeyConfig>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyConfig {
    /// Key ID, key ARN, alias name or alias ARN.
    pub key: Spanned<String>,
    pub label: Option<Spanned<String>>,
    /// CKA_ID in hex.
    pub id: Option<Spanned<String>>,
    #[serde(default)]
    pub grant_tokens: Vec<String>,
    pub certificate: Option<Spanned<PathBuf>>,
}

impl KeyConfig {
    pub fn reference(&self) -> &str {
        self.key.get_ref()
    }

    pub fn is_alias(&self) -> bool {
        let r = self.reference();
        r.starts_with("alias/") || (r.starts_with("arn:") && r.contains(":alias/"))
    }
}

/// Longest label a CK_TOKEN_INFO holds.
pub const TOKEN_LABEL_LEN: usize = 32;

/// Hex digits (either case) as bytes; `None` for anything else, including
/// the sign that `u8::from_str_radix` would take ("+1").
pub fn parse_hex(s: &str) -> Option<Vec<u8>> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    data_encoding::HEXLOWER_PERMISSIVE.decode(s.as_bytes()).ok()
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

impl Config {
    /// Parses and checks a configuration; errors name the file and line.
    pub fn parse(text: &str, source: &str) -> Result<Config, String> {
        let mut config: Config = toml::from_str(text).map_err(|e| {
            let line = e.span().map(|s| line_of(text, s.start));
            match line {
                Some(l) => format!("{source}, line {l}: {}", e.message()),
                None => format!("{source}: {}", e.message()),
            }
        })?;
        config.source = source.to_string();
        let at = |offset: usize, what: String| {
            format!("{source}, line {}: {what}", line_of(text, offset))
        };
        let mut labels = std::collections::HashSet::new();
        for token in &config.tokens {
            let label = token.label.get_ref();
            if label.is_empty() || label.len() > TOKEN_LABEL_LEN {
                return Err(at(
                    token.label.span().start,
                    format!("token label '{label}' must be 1 to {TOKEN_LABEL_LEN} bytes long"),
                ));
            }
            if !labels.insert(label.clone()) {
                return Err(at(
                    token.label.span().start,
                    format!("two tokens are labelled '{label}'"),
                ));
            }
            if let Some(h) = &token.pin_hash {
                crate::pin::check(h.get_ref()).map_err(|e| {
                    at(
                        h.span().start,
                        format!("pin_hash: {e}; make one with `kms11 pin-hash`"),
                    )
                })?;
            }
            for key in &token.keys {
                if key.reference().trim().is_empty() {
                    return Err(at(
                        key.key.span().start,
                        "key must name a KMS key (key ID, key ARN, alias name or alias ARN)".into(),
                    ));
                }
                if let Some(id) = &key.id {
                    if parse_hex(id.get_ref()).is_none() {
                        return Err(at(
                            id.span().start,
                            format!(
                                "id '{}' is not hex (for example id = \"01a2\")",
                                id.get_ref()
                            ),
                        ));
                    }
                }
                if let Some(cert) = &key.certificate {
                    if !cert.get_ref().is_file() {
                        return Err(at(
                            cert.span().start,
                            format!(
                                "certificate file {} cannot be read",
                                cert.get_ref().display()
                            ),
                        ));
                    }
                }
            }
        }
        if !(1..=20).contains(&config.aws.max_attempts) {
            return Err(format!(
                "{source}: [aws] max_attempts must be 1 to 20 (the first try and the retries)"
            ));
        }
        if config.aws.max_concurrent_requests == 0 {
            return Err(format!(
                "{source}: [aws] max_concurrent_requests must be at least 1"
            ));
        }
        Ok(config)
    }

    /// One token labelled `kms11` holding the keys of `KMS11_KEYS`.
    pub fn from_key_list(list: &str) -> Config {
        let keys = list
            .split(',')
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .map(|k| KeyConfig {
                key: Spanned::new(0..0, k.to_string()),
                label: None,
                id: None,
                grant_tokens: Vec::new(),
                certificate: None,
            })
            .collect();
        Config {
            tokens: vec![TokenConfig {
                label: Spanned::new(0..0, "kms11".to_string()),
                pin_hash: None,
                keys,
            }],
            source: "KMS11_KEYS".to_string(),
            ..Config::default()
        }
    }

    /// Reads and parses a configuration file (see `read_file`).
    pub fn from_file(path: &Path) -> Result<Config, String> {
        let (text, meta) = read_file(path).map_err(|r| r.to_string())?;
        let config = Config::parse(&text, &path.display().to_string())?;
        check_pin_hash_readers(&config, path, meta.as_ref()).map_err(|r| r.to_string())?;
        Ok(config)
    }

    /// Loads the configuration `locate` finds; with none, no tokens.
    pub fn load(explicit: Option<&Path>) -> Result<Config, String> {
        match locate(explicit) {
            Location::File(path, _) => Config::from_file(&path),
            Location::KeyList(list) => Ok(Config::from_key_list(&list)),
            Location::Nothing => Ok(Config {
                source: "no configuration file".to_string(),
                ..Config::default()
            }),
        }
    }
}

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
    fn unknown_setting_names_file_and_line() {
        let e =
            Config::parse("[aws]\nregion = \"us-east-1\"\nregoin = \"x\"\n", "t.conf").unwrap_err();
        assert!(e.starts_with("t.conf, line 3:"), "{e}");
        assert!(e.contains("regoin"), "{e}");
    }

    #[test]
    fn bad_hex_id_names_line() {
        let text = "[[token]]\nlabel = \"a\"\n[[token.key]]\nkey = \"alias/x\"\nid = \"zz\"\n";
        let e = Config::parse(text, "t.conf").unwrap_err();
        assert!(e.starts_with("t.conf, line 5:"), "{e}");
    }

    #[test]
    fn hex_ids_are_hex_digits_only() {
        // Found by fuzz_config: from_str_radix took a sign ("+1+2").
        assert_eq!(parse_hex("+1+2"), None);
        assert_eq!(parse_hex("-1"), None);
        assert_eq!(parse_hex("abc"), None);
        assert_eq!(parse_hex(""), None);
        assert_eq!(parse_hex("01aB"), Some(vec![0x01, 0xab]));
        let e = Config::parse("[aws]\nmax_attempts = 4294967295\n", "t.conf").unwrap_err();
        assert!(e.contains("max_attempts must be 1 to 20"), "{e}");
    }

    #[test]
    fn key_list_makes_one_token() {
        let c = Config::from_key_list("alias/a, alias/b,");
        assert_eq!(c.tokens.len(), 1);
        assert_eq!(c.tokens[0].keys.len(), 2);
        assert!(c.tokens[0].keys[0].is_alias());
    }

    #[test]
    fn pin_hash_must_be_argon2id() {
        let text = "[[token]]\nlabel = \"a\"\npin_hash = \"1234\"\n";
        let e = Config::parse(text, "t.conf").unwrap_err();
        assert!(e.starts_with("t.conf, line 3:"), "{e}");
        assert!(e.contains("kms11 pin-hash"), "{e}");
        let good = crate::pin::hash(b"1234").unwrap();
        let text = format!("[[token]]\nlabel = \"a\"\npin_hash = \"{good}\"\n");
        Config::parse(&text, "t.conf").unwrap();
    }

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

    #[test]
    fn full_example_parses() {
        let text = include_str!("../pkcs11.conf.sample");
        Config::parse(text, "sample").unwrap();
    }
}
