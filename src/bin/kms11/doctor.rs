//! `kms11 doctor`: checks a setup in the order things fail: the
//! configuration file, the credentials, the endpoint, then each key
//! (GetPublicKey, DescribeKey, a test Sign verified locally). Every failure
//! says what is wrong and how to fix it.

use crate::progress::waiting;
use kms11::backend::kms::KmsBackend;
use kms11::backend::{Backend, BackendError, Hash, KeySpec, SigningAlgorithm};
use kms11::config::{locate, Config, KeyConfig, Location};
use kms11::mechanism::ecdsa;
use kms11::token::key::KeyInfo;
use sha2::Digest;
use std::net::{TcpStream, ToSocketAddrs};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::Duration;

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

fn check_config(r: &mut Report, explicit: Option<&Path>) -> Option<Config> {
    const WHAT: &str = "configuration";
    let sample = "every option is described in pkcs11.conf.sample";
    let location = match explicit {
        Some(p) => Location::File(p.to_path_buf(), "given explicitly"),
        None => locate(None),
    };
    let config = match location {
        Location::Nothing => {
            r.fail(
                WHAT,
                "no configuration found (KMS11_CONFIG, KMS11_KEYS, ~/.config/kms11/pkcs11.conf and /etc/kms11/pkcs11.conf are unset or missing)",
                format!("write ~/.config/kms11/pkcs11.conf ({sample}), or set KMS11_KEYS=alias/your-key"),
            );
            return None;
        }
        Location::KeyList(list) => {
            let c = match Config::from_key_list(&list) {
                Ok(c) => c,
                Err(e) => {
                    r.fail(
                        WHAT,
                        e,
                        "name each key by key ID, key ARN, alias/NAME or alias ARN",
                    );
                    return None;
                }
            };
            r.ok(
                WHAT,
                format!("KMS11_KEYS names {} key(s)", c.tokens[0].keys.len()),
            );
            c
        }
        Location::File(path, how) => {
            let shown = path.display();
            // The module's own reading (kms11::config::read_file): the same
            // checks, and the same words when it refuses the file.
            let (text, meta) = match kms11::config::read_file(&path) {
                Ok(read) => read,
                Err(refusal) => {
                    r.fail(WHAT, format!("{} ({how})", refusal.what), refusal.fix);
                    return None;
                }
            };
            let mode = meta.as_ref().map_or(0o666, |m| m.mode() & 0o777);
            let config = match Config::parse(&text, &shown.to_string()) {
                Ok(c) => c,
                Err(e) => {
                    r.fail(WHAT, e, format!("correct that line; {sample}"));
                    return None;
                }
            };
            if let Err(refusal) =
                kms11::config::check_pin_hash_readers(&config, &path, meta.as_ref())
            {
                r.fail(WHAT, refusal.what, refusal.fix);
                return None;
            }
            let keys: usize = config.tokens.iter().map(|t| t.keys.len()).sum();
            r.ok(
                WHAT,
                format!(
                    "{shown} ({how}, mode {mode:04o}): {} token(s), {keys} key(s)",
                    config.tokens.len()
                ),
            );
            config
        }
    };
    if config.tokens.iter().all(|t| t.keys.is_empty()) {
        r.fail(
            WHAT,
            "no keys are configured",
            "add a [[token]] with [[token.key]] key = \"alias/...\" (see pkcs11.conf.sample)",
        );
        return None;
    }
    Some(config)
}

async fn check_aws(r: &mut Report, config: &Config, backend: &KmsBackend) {
    let keys: Vec<(&str, &KeyConfig)> = config
        .tokens
        .iter()
        .flat_map(|t| t.keys.iter().map(move |k| (t.label.get_ref().as_str(), k)))
        .collect();
    let all_arns = keys.iter().all(|(_, k)| k.reference().starts_with("arn:"));
    let region = backend.region().await;
    match &region {
        Some(reg) => r.ok("region", reg),
        None if all_arns => r.ok("region", "none set; every key is named by ARN"),
        None => {
            r.fail(
                "region",
                "no AWS region is set, and some keys are not named by ARN",
                "set region in [aws], AWS_REGION, or the profile's region; or name the keys by ARN",
            );
            return;
        }
    }
    let region = region.unwrap_or_else(|| "us-east-1".into());

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
        }
        Err(e) => {
            r.fail(
                "credentials",
                e,
                "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or a profile (AWS_PROFILE or profile in [aws]; `aws sso login` for SSO), or run with an instance or task role",
            );
            r.skip("keys", "no credentials to call KMS with");
            return;
        }
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

    let endpoint = backend.endpoint(&region);
    if !check_endpoint(r, &endpoint, config.aws.connect_timeout_ms) {
        r.skip("keys", "the endpoint cannot be reached");
        return;
    }
    let who = identity.as_deref().unwrap_or("these credentials");
    for (token, key) in keys {
        check_key(r, backend, token, key, &region, who).await;
    }
}

/// host and port of an http(s) URL.
fn host_port(url: &str) -> Option<(String, u16)> {
    let (scheme, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?']).next()?;
    let authority = authority.rsplit_once('@').map_or(authority, |(_, a)| a);
    let default = if scheme == "http" { 80 } else { 443 };
    if let Some(v6) = authority.strip_prefix('[') {
        let (host, rest) = v6.split_once(']')?;
        let port = rest
            .strip_prefix(':')
            .map_or(Some(default), |p| p.parse().ok())?;
        return Some((host.to_string(), port));
    }
    match authority.rsplit_once(':') {
        Some((h, p)) => Some((h.to_string(), p.parse().ok()?)),
        None => Some((authority.to_string(), default)),
    }
}

fn check_endpoint(r: &mut Report, endpoint: &str, connect_timeout_ms: u64) -> bool {
    const WHAT: &str = "endpoint";
    let fix = "check endpoint_url in [aws] (or AWS_ENDPOINT_URL_KMS), the region, and the network path (firewall, proxy, VPC endpoint)";
    let Some((host, port)) = host_port(endpoint) else {
        r.fail(WHAT, format!("'{endpoint}' is not an http(s) URL"), fix);
        return false;
    };
    let proxy = ["HTTPS_PROXY", "https_proxy", "ALL_PROXY"]
        .iter()
        .find_map(|k| std::env::var(k).ok().filter(|v| !v.is_empty()));
    if let Some(p) = proxy {
        r.ok(
            WHAT,
            format!("{endpoint}, through the proxy {p} (not probed)"),
        );
        return true;
    }
    let timeout = Duration::from_millis(connect_timeout_ms.max(1));
    let result = waiting(format!("connecting to {host}:{port}"), || {
        let addrs: Vec<_> = (host.as_str(), port)
            .to_socket_addrs()
            .map_err(|e| format!("cannot resolve {host}: {e}"))?
            .collect();
        let mut last = format!("{host} has no address");
        for a in addrs {
            match TcpStream::connect_timeout(&a, timeout) {
                Ok(_) => return Ok(a),
                Err(e) => last = format!("cannot connect to {a}: {e}"),
            }
        }
        Err(last)
    });
    match result {
        Ok(addr) => {
            r.ok(WHAT, format!("{endpoint} accepts connections ({addr})"));
            true
        }
        Err(e) => {
            r.fail(WHAT, format!("{endpoint}: {e}"), fix);
            false
        }
    }
}

/// What to do about a failed KMS call.
fn advice(op: &str, e: &BackendError, key: &str, region: &str, who: &str) -> String {
    let alias = key.starts_with("alias/") || key.contains(":alias/");
    match e.code.as_str() {
        "NotFoundException" if alias => format!(
            "the alias does not exist in {region}: check its name (aws kms list-aliases --region {region}) and the region (region in [aws], or name the key by its ARN)"
        ),
        "NotFoundException" => format!(
            "no such key in {region}: is it in another region or account? Name it by its key ARN, or set region in [aws]"
        ),
        "AccessDeniedException" => format!(
            "{who} may not call kms:{op} on {key}: add \"kms:{op}\" to the key policy statement (or the IAM policy the key policy allows) for this principal"
        ),
        "DisabledException" => format!(
            "the key is disabled: enable it (aws kms enable-key --key-id {key})"
        ),
        "KMSInvalidStateException" => format!(
            "the key cannot be used in its current state (pending deletion or import): aws kms describe-key --key-id {key}; a key pending deletion can be kept with aws kms cancel-key-deletion, then enable-key"
        ),
        "InvalidKeyUsageException" | "UnsupportedOperationException" => {
            "kms11 needs an asymmetric SIGN_VERIFY key (RSA or ECC): this key cannot sign".into()
        }
        "UnrecognizedClientException" | "InvalidClientTokenId" => {
            "AWS does not know this access key ID: check the credentials (aws sts get-caller-identity)".into()
        }
        "InvalidSignatureException" if e.message.to_ascii_lowercase().contains("expired") || e.message.contains("not yet current") => {
            "the request's time is too far from AWS's: the clock is skewed; sync it (timedatectl set-ntp true, or chrony)".into()
        }
        "InvalidSignatureException" => {
            "AWS refused the request signature: the secret access key is wrong, or the clock is skewed (sync it with NTP)".into()
        }
        "ExpiredToken" | "ExpiredTokenException" => {
            "the session credentials have expired: renew them (aws sso login, or assume the role again)".into()
        }
        "ThrottlingException" | "LimitExceededException" => {
            "KMS throttled the requests (its quota is shared by the account and region): try again later, lower max_concurrent_requests, or ask AWS for a higher quota".into()
        }
        "Timeout" => {
            "no answer in time: check the network path to the endpoint, or raise call_timeout_ms in [aws]".into()
        }
        "DispatchFailure" => {
            "the request did not reach KMS or the connection broke: check the endpoint, the network and any proxy".into()
        }
        "NoRegion" => "set region in [aws] or AWS_REGION, or name the key by ARN".into(),
        c if c.starts_with("KMSInternal") || c.contains("ServiceUnavailable") || c.contains("Internal") => {
            "KMS answered with an internal error after the retries: usually transient; try again".into()
        }
        _ => format!("see the AWS error {} in the KMS API reference for {op}", e.code),
    }
}

/// The algorithm and digest of the test signature.
fn test_signature(spec: KeySpec) -> (SigningAlgorithm, Vec<u8>) {
    let data = b"kms11 doctor: test signature";
    let hash = if spec.is_rsa() {
        Hash::Sha256
    } else {
        ecdsa::curve_hash(spec)
    };
    let digest = match hash {
        Hash::Sha256 => sha2::Sha256::digest(data).to_vec(),
        Hash::Sha384 => sha2::Sha384::digest(data).to_vec(),
        Hash::Sha512 => sha2::Sha512::digest(data).to_vec(),
    };
    let alg = if spec.is_rsa() {
        SigningAlgorithm::RsaPkcs1(hash)
    } else {
        SigningAlgorithm::Ecdsa(hash)
    };
    (alg, digest)
}

async fn check_key(
    r: &mut Report,
    backend: &KmsBackend,
    token: &str,
    key: &KeyConfig,
    region: &str,
    who: &str,
) {
    let name = key.reference();
    let what = format!("key {name} (token '{token}')");
    let grants = &key.grant_tokens;
    let fail = |r: &mut Report, op: &str, e: &BackendError| {
        r.fail(
            &what,
            format!("{op}: {e}"),
            advice(op, e, name, region, who),
        );
    };
    let public = {
        let _p = crate::progress::Progress::start(format!("GetPublicKey {name}"));
        backend.get_public_key(name, grants).await
    };
    let info = match public {
        Ok(remote) => {
            let spec = KeySpec::from_kms(&remote.key_spec);
            match spec.filter(|_| remote.key_usage == "SIGN_VERIFY") {
                Some(spec) => {
                    r.ok(
                        &what,
                        format!(
                            "GetPublicKey: {} {} {}",
                            remote.key_spec, remote.key_usage, remote.arn
                        ),
                    );
                    KeyInfo::new(&remote, spec, String::new(), Vec::new(), grants.clone())
                        .map_err(|e| r.fail(&what, e.to_string(), "report this as a bug"))
                        .ok()
                }
                None => {
                    r.fail(
                        &what,
                        format!(
                            "GetPublicKey: a {} {} key cannot sign",
                            remote.key_spec, remote.key_usage
                        ),
                        "kms11 needs an asymmetric SIGN_VERIFY key (RSA_2048/3072/4096, ECC_NIST_P256/P384/P521, ECC_SECG_P256K1)",
                    );
                    None
                }
            }
        }
        Err(e) => {
            fail(r, "GetPublicKey", &e);
            None
        }
    };
    let described = {
        let _p = crate::progress::Progress::start(format!("DescribeKey {name}"));
        backend.describe_key(name, grants).await
    };
    match described {
        Ok(m) if m.key_state == "Enabled" => r.ok(
            &what,
            format!(
                "DescribeKey: Enabled, created {}",
                kms11::x509::iso_date(m.creation_date)
            ),
        ),
        Ok(m) => {
            let fix = match m.key_state.as_str() {
                "Disabled" => format!("enable it: aws kms enable-key --key-id {}", m.arn),
                "PendingDeletion" => format!(
                    "it is scheduled for deletion: aws kms cancel-key-deletion --key-id {0}, then aws kms enable-key --key-id {0}",
                    m.arn
                ),
                s => format!("a key in state {s} cannot sign; see aws kms describe-key --key-id {}", m.arn),
            };
            r.fail(
                &what,
                format!("DescribeKey: the key is {}", m.key_state),
                fix,
            );
        }
        Err(e) => fail(r, "DescribeKey", &e),
    }
    let Some(info) = info else {
        r.skip(&what, "Sign needs the public key");
        return;
    };
    let (alg, digest) = test_signature(info.spec);
    let signed = {
        let _p = crate::progress::Progress::start(format!("Sign with {name}"));
        backend.sign(&info.arn, alg, &digest, grants).await
    };
    match signed {
        Ok(signed) => {
            let sig = signed.signature;
            let fixed = if info.spec.is_rsa() {
                Ok(sig)
            } else {
                ecdsa::der_to_fixed(info.spec, &sig)
            };
            match fixed.and_then(|s| kms11::token::verify::verify(&info, alg, &digest, &s)) {
                Ok(()) => r.ok(
                    &what,
                    format!("Sign: {} signature verified with the public key", alg.as_kms()),
                ),
                Err(e) => r.fail(
                    &what,
                    format!("Sign: the signature does not verify with the key's public key ({e})"),
                    "something between kms11 and KMS changes answers (a proxy?), or the endpoint is not KMS",
                ),
            }
        }
        Err(e) => fail(r, "Sign", &e),
    }
}

#[cfg(test)]
mod tests {
    use super::{advice, host_port};
    use kms11::backend::{BackendError, Failure};

    /// The emulator does not check SigV4 times, so the clock-skew advice is
    /// checked here with the message AWS sends.
    #[test]
    fn advice_for_clock_skew() {
        let e = BackendError {
            failure: Failure::Credentials,
            code: "InvalidSignatureException".into(),
            message: "Signature expired: 20260101T000000Z is now earlier than 20260101T000500Z"
                .into(),
            request_id: None,
        };
        assert!(advice("Sign", &e, "alias/k", "us-east-1", "me").contains("clock is skewed"));
    }

    #[test]
    fn endpoints() {
        assert_eq!(
            host_port("https://kms.eu-west-1.amazonaws.com"),
            Some(("kms.eu-west-1.amazonaws.com".into(), 443))
        );
        assert_eq!(
            host_port("http://127.0.0.1:4566/"),
            Some(("127.0.0.1".into(), 4566))
        );
        assert_eq!(host_port("https://[::1]:8443"), Some(("::1".into(), 8443)));
        assert_eq!(host_port("kms.local"), None);
    }
}
