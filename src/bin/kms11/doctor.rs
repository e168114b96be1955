//! `kms11 doctor`: checks a setup in the order things fail: the
//! configuration file, the credentials, the endpoint, then each key
//! (GetPublicKey, DescribeKey, a test Sign verified locally, or for a
//! decryption key a local encryption that KMS decrypts). Every failure
//! says what is wrong and how to fix it.

use kms11::backend::kms::KmsBackend;
use kms11::backend::{Backend, BackendError, RemoteKey};
use kms11::config::{locate, Config, KeyConfig, Location};
use kms11::token::key::KeyInfo;
use kms11::vocabulary::{KeySpec, KeyUsage};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::Duration;

mod advice;
mod endpoint;
mod failover;
mod management;
mod operation;

use advice::advice;
use endpoint::check_endpoint;

#[derive(Default)]
struct Report {
    failures: usize,
}

impl Report {
    fn ok(&mut self, what: &str, detail: impl AsRef<str>) {
        out!("[ok]   {what}: {}", detail.as_ref());
    }

    fn warn(&mut self, what: &str, detail: impl AsRef<str>) {
        out!("[warn] {what}: {}", detail.as_ref());
    }

    fn fail(&mut self, what: &str, problem: impl AsRef<str>, fix: impl AsRef<str>) {
        self.failures += 1;
        out!("[FAIL] {what}: {}", problem.as_ref());
        out!("       fix: {}", fix.as_ref());
    }

    fn skip(&mut self, what: &str, why: &str) {
        out!("[skip] {what}: {why}");
    }
}

/// Checks everything; returns whether all checks passed.
pub fn run(explicit: Option<&Path>) -> bool {
    let mut r = Report::default();
    let Some(config) = check_config(&mut r, explicit) else {
        return finish(r);
    };
    let runtime = match kms11::runtime::new_runtime() {
        Ok(rt) => rt,
        Err(e) => {
            r.fail("runtime", e.to_string(), "report this as a bug");
            return finish(r);
        }
    };
    let backend = KmsBackend::new(config.aws.clone());
    runtime.block_on(check_aws(&mut r, &config, &backend));
    finish(r)
}

fn finish(r: Report) -> bool {
    out!("");
    if r.failures == 0 {
        out!("all checks passed");
    } else {
        out!(
            "{} check{} failed",
            r.failures,
            if r.failures == 1 { "" } else { "s" }
        );
    }
    r.failures == 0
}

const CONFIGURATION: &str = "configuration";
const SAMPLE: &str = "every option is described in pkcs11.conf.sample";

fn check_config(r: &mut Report, explicit: Option<&Path>) -> Option<Config> {
    let location = match explicit {
        Some(p) => Location::File(p.to_path_buf(), "given explicitly"),
        None => locate(None),
    };
    let config = match location {
        Location::Nothing => {
            r.fail(
                CONFIGURATION,
                "no configuration found (KMS11_CONFIG, KMS11_KEYS, ~/.config/kms11/pkcs11.conf and /etc/kms11/pkcs11.conf are unset or missing)",
                format!("write ~/.config/kms11/pkcs11.conf ({SAMPLE}), or set KMS11_KEYS=alias/your-key"),
            );
            return None;
        }
        Location::KeyList(list) => {
            let c = match Config::from_key_list(&list) {
                Ok(c) => c,
                Err(e) => {
                    r.fail(
                        CONFIGURATION,
                        e,
                        "name each key by key ID, key ARN, alias/NAME or alias ARN",
                    );
                    return None;
                }
            };
            r.ok(
                CONFIGURATION,
                format!("KMS11_KEYS names {} key(s)", c.tokens[0].keys.len()),
            );
            c
        }
        Location::File(path, how) => read_config_file(r, &path, how)?,
    };
    if config.tokens.iter().all(|t| t.keys.is_empty()) {
        r.fail(
            CONFIGURATION,
            "no keys are configured",
            "add a [[token]] with [[token.key]] key = \"alias/...\" (see pkcs11.conf.sample)",
        );
        return None;
    }
    Some(config)
}

/// The configuration file, read and checked as the module reads it.
fn read_config_file(r: &mut Report, path: &Path, how: &str) -> Option<Config> {
    let shown = path.display();
    // The module's own reading (kms11::config::read_file): the same
    // checks, and the same words when it refuses the file.
    let (text, meta) = match kms11::config::read_file(path) {
        Ok(read) => read,
        Err(refusal) => {
            r.fail(
                CONFIGURATION,
                format!("{} ({how})", refusal.what),
                refusal.fix,
            );
            return None;
        }
    };
    let mode = meta.as_ref().map_or(0o666, |m| m.mode() & 0o777);
    let config = match Config::parse(&text, &shown.to_string()) {
        Ok(c) => c,
        Err(e) => {
            r.fail(CONFIGURATION, e, format!("correct that line; {SAMPLE}"));
            return None;
        }
    };
    if let Err(refusal) = kms11::config::check_pin_hash_readers(&config, path, meta.as_ref()) {
        r.fail(CONFIGURATION, refusal.what, refusal.fix);
        return None;
    }
    let keys: usize = config.tokens.iter().map(|t| t.keys.len()).sum();
    r.ok(
        CONFIGURATION,
        format!(
            "{shown} ({how}, mode {mode:04o}): {} token(s), {keys} key(s)",
            config.tokens.len()
        ),
    );
    Some(config)
}

/// A configured key, and the region the module sends its calls to: the
/// region of its ARN, else the configured one (`None`: no region).
struct Planned<'a> {
    token: &'a str,
    key: &'a KeyConfig,
    region: Option<String>,
}

/// Each configured key with its region (`KmsBackend::region_of`).
async fn plan<'a>(config: &'a Config, backend: &KmsBackend) -> Vec<Planned<'a>> {
    let mut planned = Vec::new();
    for token in &config.tokens {
        for key in &token.keys {
            planned.push(Planned {
                token: token.label.get_ref(),
                key,
                region: backend.region_of(key.key_ref()).await,
            });
        }
    }
    planned
}

/// Each region once, in the order the keys name them.
fn regions(planned: &[Planned]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for region in planned.iter().filter_map(|p| p.region.clone()) {
        if !out.contains(&region) {
            out.push(region);
        }
    }
    out
}

/// The region line; false when a key has no region to be used in.
fn check_region(r: &mut Report, default: Option<&str>, planned: &[Planned]) -> bool {
    let own: Vec<String> = regions(planned)
        .into_iter()
        .filter(|reg| Some(reg.as_str()) != default)
        .collect();
    match default {
        _ if planned.iter().any(|p| p.region.is_none()) => {
            r.fail(
                "region",
                "no AWS region is set, and some keys are not named by ARN",
                "set region in [aws], AWS_REGION, or the profile's region; or name the keys by ARN",
            );
            return false;
        }
        Some(reg) if own.is_empty() => r.ok("region", reg),
        Some(reg) => r.ok(
            "region",
            format!(
                "{reg}; keys named by ARN use their own ({})",
                own.join(", ")
            ),
        ),
        None => r.ok(
            "region",
            format!("none set; every key is named by ARN ({})", own.join(", ")),
        ),
    }
    true
}

async fn check_aws(r: &mut Report, config: &Config, backend: &KmsBackend) {
    let planned = plan(config, backend).await;
    if !check_region(r, backend.region().await.as_deref(), &planned) {
        return;
    }
    if !check_credentials(r, backend).await {
        r.skip("keys", "no credentials to call KMS with");
        return;
    }
    let identity = {
        let _p = crate::progress::Progress::start("asking STS who these credentials belong to");
        backend.caller_identity(Duration::from_secs(3)).await
    };
    let identity = match identity {
        Ok(arn) => {
            r.ok("identity", format!("{arn} (STS GetCallerIdentity)"));
            Some(arn)
        }
        Err(e) => {
            r.warn("identity", format!("unknown: STS did not answer ({e})"));
            None
        }
    };
    // The endpoints of the regions the keys are used in, each probed once.
    let mut reachable: Vec<(String, bool)> = Vec::new();
    for region in regions(&planned) {
        let endpoint = backend.endpoint(&region);
        if !reachable.iter().any(|(e, _)| *e == endpoint) {
            let ok = check_endpoint(r, &endpoint, config.aws.connect_timeout_ms);
            reachable.push((endpoint, ok));
        }
    }
    if reachable.iter().all(|(_, ok)| !ok) {
        r.skip("keys", "the endpoint cannot be reached");
        return;
    }
    let who = identity.as_deref().unwrap_or("these credentials");
    for p in planned {
        let region = p.region.unwrap_or_default();
        let endpoint = backend.endpoint(&region);
        let check = KeyCheck::new(p.token, p.key, &region, who, &config.aws.fallback_regions);
        if reachable.contains(&(endpoint, true)) {
            check.run(r, backend).await;
        } else {
            r.skip(&check.what, "its endpoint cannot be reached");
        }
    }
    for token in &config.tokens {
        management::check_management(r, token, backend).await;
    }
}

async fn check_credentials(r: &mut Report, backend: &KmsBackend) -> bool {
    let creds = {
        let _p = crate::progress::Progress::start("looking for AWS credentials");
        backend.credentials().await
    };
    match creds {
        Ok(c) => {
            let expiry = c
                .expires_in
                .map(|d| format!(", expire in {} min", d.as_secs() / 60))
                .unwrap_or_default();
            r.ok(
                "credentials",
                format!(
                    "from the {} provider (access key {}{expiry})",
                    c.provider, c.access_key_hint
                ),
            );
            true
        }
        Err(e) => {
            r.fail(
                "credentials",
                e,
                "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or a profile (AWS_PROFILE or profile in [aws]; `aws sso login` for SSO), or run with an instance or task role",
            );
            false
        }
    }
}

/// The checks of one configured key: GetPublicKey, DescribeKey, and the
/// test operation its usage allows (doctor/operation.rs).
struct KeyCheck<'a> {
    key: &'a KeyConfig,
    what: String,
    region: &'a str,
    who: &'a str,
    /// `[aws] fallback_regions`.
    fallbacks: &'a [String],
}

impl<'a> KeyCheck<'a> {
    fn new(
        token: &str,
        key: &'a KeyConfig,
        region: &'a str,
        who: &'a str,
        fallbacks: &'a [String],
    ) -> Self {
        let what = format!("key {} (token '{token}')", key.reference());
        KeyCheck {
            key,
            what,
            region,
            who,
            fallbacks,
        }
    }

    fn fail(&self, r: &mut Report, op: &str, e: &BackendError) {
        let fix = advice(op, e, self.key.key_ref(), self.region, self.who);
        r.fail(&self.what, format!("{op}: {e}"), fix);
    }

    async fn run(&self, r: &mut Report, backend: &KmsBackend) {
        let info = self.public_key(r, backend).await;
        self.describe(r, backend).await;
        match info {
            Some(info) => {
                match info.usage {
                    KeyUsage::EncryptDecrypt => self.decrypt(r, backend, &info).await,
                    KeyUsage::GenerateVerifyMac => self.mac(r, backend, &info).await,
                    KeyUsage::KeyAgreement => self.derive(r, backend, &info).await,
                    KeyUsage::SignVerify => self.sign(r, backend, &info).await,
                }
                if info.usage == KeyUsage::SignVerify {
                    self.failover(r, backend, &info, self.fallbacks).await;
                }
            }
            None => r.skip(&self.what, "the test operation needs the public key"),
        }
    }

    async fn public_key(&self, r: &mut Report, backend: &KmsBackend) -> Option<KeyInfo> {
        let (name, grants) = (self.key.reference(), &self.key.grant_tokens);
        let public = {
            let _p = crate::progress::Progress::start(format!("GetPublicKey {name}"));
            backend.get_public_key(name, grants).await
        };
        let remote = match public {
            Ok(remote) => remote,
            // A symmetric key: what DescribeKey says of it (an HMAC key's
            // objects need no more).
            Err(e) if e.code == "UnsupportedOperationException" => {
                match backend.describe_key(name, grants).await {
                    Ok(m) => RemoteKey {
                        arn: m.arn,
                        key_spec: m.key_spec,
                        key_usage: m.key_usage,
                        public_key: Vec::new(),
                    },
                    Err(_) => {
                        self.fail(r, "GetPublicKey", &e);
                        return None;
                    }
                }
            }
            Err(e) => {
                self.fail(r, "GetPublicKey", &e);
                return None;
            }
        };
        let usage = KeyUsage::from_kms(&remote.key_usage);
        let spec = KeySpec::from_kms(&remote.key_spec);
        let (Some(spec), Some(usage)) = (
            spec,
            usage.filter(|u| spec.is_some_and(|s| s.row().usages.contains(u))),
        ) else {
            r.fail(
                &self.what,
                format!(
                    "GetPublicKey: a {} {} key cannot become a PKCS#11 key",
                    remote.key_spec, remote.key_usage
                ),
                "kms11 needs an asymmetric SIGN_VERIFY key (RSA_2048/3072/4096, ECC_NIST_P256/P384/P521, ECC_SECG_P256K1, ECC_NIST_EDWARDS25519), an RSA ENCRYPT_DECRYPT key, an ECC_NIST_P256/P384/P521 KEY_AGREEMENT key or an HMAC key (HMAC_224/256/384/512)",
            );
            return None;
        };
        let how = if remote.public_key.is_empty() {
            "DescribeKey (a secret key has no public key)"
        } else {
            "GetPublicKey"
        };
        r.ok(
            &self.what,
            format!(
                "{how}: {} {} {}",
                remote.key_spec, remote.key_usage, remote.arn
            ),
        );
        KeyInfo::new(
            &remote,
            spec,
            usage,
            String::new(),
            Vec::new(),
            grants.clone(),
        )
        .map_err(|e| r.fail(&self.what, e.to_string(), "report this as a bug"))
        .ok()
    }

    async fn describe(&self, r: &mut Report, backend: &KmsBackend) {
        let name = self.key.reference();
        let described = {
            let _p = crate::progress::Progress::start(format!("DescribeKey {name}"));
            backend.describe_key(name, &self.key.grant_tokens).await
        };
        let m = match described {
            Ok(m) => m,
            Err(e) => return self.fail(r, "DescribeKey", &e),
        };
        let fix = match m.key_state.as_str() {
            "Enabled" => {
                let created = kms11::x509::iso_date(m.creation_date);
                return r.ok(&self.what, format!("DescribeKey: Enabled, created {created}"));
            }
            "Disabled" => format!("enable it: aws kms enable-key --key-id {}", m.arn),
            "PendingDeletion" => format!(
                "it is scheduled for deletion: aws kms cancel-key-deletion --key-id {0}, then aws kms enable-key --key-id {0}",
                m.arn
            ),
            s => format!("a key in state {s} cannot sign; see aws kms describe-key --key-id {}", m.arn),
        };
        r.fail(
            &self.what,
            format!("DescribeKey: the key is {}", m.key_state),
            fix,
        );
    }
}
