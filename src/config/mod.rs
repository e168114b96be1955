//! The configuration file (TOML; every option is documented in
//! `pkcs11.conf.sample`), where it is found, and the zero-config
//! `KMS11_KEYS` form.

mod regions;
mod source;

use regions::check_regions;
pub use regions::{is_region_id, Hedge};

pub use source::*;

use crate::keyref::KeyRef;
use serde::Deserialize;
use std::path::{Path, PathBuf};
use toml::Spanned;

/// Every section and setting may be left out: the containers carry
/// `#[serde(default)]`, so a missing setting takes its value from the
/// container's `Default`, the one place each default is written.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub aws: AwsConfig,
    pub log: LogConfig,
    pub cache: CacheConfig,
    pub signing: SigningConfig,
    #[serde(rename = "token")]
    pub tokens: Vec<TokenConfig>,
    /// Where the configuration came from, for messages.
    #[serde(skip)]
    pub source: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AwsConfig {
    pub region: Option<String>,
    pub profile: Option<String>,
    pub endpoint_url: Option<String>,
    pub ca_bundle: Option<PathBuf>,
    pub connect_timeout_ms: u64,
    pub call_timeout_ms: u64,
    pub max_attempts: u32,
    pub retry_mode: RetryMode,
    pub alias_refresh_seconds: u64,
    pub max_concurrent_requests: usize,
    /// Regions a multi-Region key's replicas are used in, in this order,
    /// when its own region fails (docs/availability.md).
    pub fallback_regions: Vec<String>,
    /// A KMS endpoint per region (VPC or FIPS endpoints, tests); regions
    /// not listed use `endpoint_url`, else the SDK's.
    pub endpoints: std::collections::BTreeMap<String, String>,
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
            connect_timeout_ms: 3_000,
            call_timeout_ms: 10_000,
            max_attempts: 3,
            retry_mode: RetryMode::Standard,
            alias_refresh_seconds: 300,
            // Enough for a token of up to 128 keys to resolve in one round trip.
            max_concurrent_requests: 128,
            fallback_regions: Vec::new(),
            endpoints: std::collections::BTreeMap::new(),
        }
    }
}

/// The on-disk public-key cache (`src/cache.rs`).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CacheConfig {
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
#[serde(default, deny_unknown_fields)]
pub struct SigningConfig {
    /// Check every signature KMS returns against the key's public key
    /// before the caller gets it.
    pub verify_signatures: bool,
    /// Hedged signing for multi-Region keys: a Sign not answered after
    /// this long is also sent to the next healthy region.
    pub hedge_after_ms: Hedge,
}

impl Default for SigningConfig {
    fn default() -> Self {
        SigningConfig {
            verify_signatures: true,
            hedge_after_ms: Hedge::Off,
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
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
    /// Key generation, retirement and renaming through PKCS#11
    /// (C_GenerateKeyPair, C_GenerateKey, C_DestroyObject and
    /// C_SetAttributeValue on a KMS key): off unless set (docs/keys.md).
    #[serde(default)]
    pub allow_key_management: bool,
    /// A generated key's alias is `alias/<alias_prefix><CKA_LABEL>`.
    #[serde(default = "no_prefix")]
    pub alias_prefix: Spanned<String>,
    /// ScheduleKeyDeletion's waiting period when C_DestroyObject retires a
    /// key: 7 to 30 days.
    #[serde(default = "default_deletion_window")]
    pub deletion_window_days: Spanned<u32>,
    /// An alias-name prefix (`alias/release-`): the token also holds the
    /// key of every alias that starts with it (ListAliases, in the
    /// configured region), found again at each alias refresh.
    pub discover_aliases: Option<Spanned<String>>,
    /// Where certificates that C_CreateObject makes token objects are kept
    /// (one file each; made 0700 when missing). Without it, only session
    /// certificates can be made.
    pub certificate_dir: Option<PathBuf>,
}

fn no_prefix() -> Spanned<String> {
    Spanned::new(0..0, String::new())
}

fn default_deletion_window() -> Spanned<u32> {
    Spanned::new(0..0, 30)
}

impl TokenConfig {
    /// What the token lets PKCS#11 callers do to its KMS keys.
    pub fn management(&self) -> Management {
        Management {
            allowed: self.allow_key_management,
            alias_prefix: self.alias_prefix.get_ref().clone(),
            deletion_window_days: *self.deletion_window_days.get_ref(),
            discover_aliases: self.discover_aliases.as_ref().map(|d| d.get_ref().clone()),
            certificate_dir: self.certificate_dir.clone(),
        }
    }
}

/// A token's key-management settings (`TokenConfig::management`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Management {
    pub allowed: bool,
    pub alias_prefix: String,
    pub deletion_window_days: u32,
    /// `discover_aliases`.
    pub discover_aliases: Option<String>,
    /// `certificate_dir`.
    pub certificate_dir: Option<PathBuf>,
}

impl Default for Management {
    fn default() -> Self {
        Management {
            allowed: false,
            alias_prefix: String::new(),
            deletion_window_days: 30,
            discover_aliases: None,
            certificate_dir: None,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyConfig {
    /// Key ID, key ARN, alias name or alias ARN.
    pub key: Spanned<KeyRef>,
    pub label: Option<Spanned<String>>,
    /// CKA_ID in hex.
    pub id: Option<Spanned<String>>,
    #[serde(default)]
    pub grant_tokens: Vec<String>,
    pub certificate: Option<Spanned<PathBuf>>,
}

/// A key reference is checked where the configuration is read, so a typo
/// is reported with its file and line, not as a key that KMS cannot find.
impl<'de> Deserialize<'de> for KeyRef {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<KeyRef, D::Error> {
        let text = String::deserialize(d)?;
        KeyRef::parse(&text).map_err(serde::de::Error::custom)
    }
}

impl KeyConfig {
    pub fn key_ref(&self) -> &KeyRef {
        self.key.get_ref()
    }

    /// The reference as KMS takes it.
    pub fn reference(&self) -> &str {
        self.key_ref().as_str()
    }

    pub fn is_alias(&self) -> bool {
        self.key_ref().is_alias()
    }
}

/// The settings of `TokenConfig::management` that can be wrong: the
/// deletion window KMS accepts, and a prefix KMS takes in an alias name.
fn check_management(token: &TokenConfig) -> Result<(), (usize, String)> {
    let window = &token.deletion_window_days;
    if !(7..=30).contains(window.get_ref()) {
        return Err((
            window.span().start,
            format!(
                "deletion_window_days = {}: KMS waits 7 to 30 days before deleting a key",
                window.get_ref()
            ),
        ));
    }
    let prefix = &token.alias_prefix;
    let fits = prefix
        .get_ref()
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "/_-".contains(c));
    if !fits || prefix.get_ref().len() > 200 || prefix.get_ref().starts_with("aws/") {
        return Err((
            prefix.span().start,
            format!(
                "alias_prefix '{}': an alias name holds letters, digits, '/', '_' and '-' \
                 (at most 200 here), and aws/ is AWS's",
                prefix.get_ref()
            ),
        ));
    }
    if let Some(d) = &token.discover_aliases {
        let name = d.get_ref();
        let fits = name.strip_prefix("alias/").is_some_and(|rest| {
            rest.chars()
                .all(|c| c.is_ascii_alphanumeric() || "/_-".contains(c))
        });
        if !fits || name.len() > 256 {
            return Err((
                d.span().start,
                format!(
                    "discover_aliases '{name}': an alias-name prefix is alias/ and letters, \
                     digits, '/', '_' or '-' (for example \"alias/release-\")"
                ),
            ));
        }
    }
    Ok(())
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
            check_management(token).map_err(|(offset, why)| at(offset, why))?;
            for key in &token.keys {
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
        check_regions(&config.aws).map_err(|e| format!("{source}: {e}"))?;
        if config.aws.max_concurrent_requests == 0 {
            return Err(format!(
                "{source}: [aws] max_concurrent_requests must be at least 1"
            ));
        }
        Ok(config)
    }

    /// One token labelled `kms11` holding the keys of `KMS11_KEYS`.
    pub fn from_key_list(list: &str) -> Result<Config, String> {
        let keys = list
            .split(',')
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .map(|k| {
                Ok(KeyConfig {
                    key: Spanned::new(0..0, KeyRef::parse(k)?),
                    label: None,
                    id: None,
                    grant_tokens: Vec::new(),
                    certificate: None,
                })
            })
            .collect::<Result<_, crate::keyref::KeyRefError>>()
            .map_err(|e| format!("KMS11_KEYS: {e}"))?;
        Ok(Config {
            tokens: vec![TokenConfig {
                label: Spanned::new(0..0, "kms11".to_string()),
                pin_hash: None,
                keys,
                allow_key_management: false,
                alias_prefix: no_prefix(),
                deletion_window_days: default_deletion_window(),
                discover_aliases: None,
                certificate_dir: None,
            }],
            source: "KMS11_KEYS".to_string(),
            ..Config::default()
        })
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
            Location::KeyList(list) => Config::from_key_list(&list),
            Location::Nothing => Ok(Config {
                source: "no configuration file".to_string(),
                ..Config::default()
            }),
        }
    }
}

#[cfg(test)]
mod tests;
