//! The AWS KMS backend on aws-sdk-kms: one client per region (a key named by
//! ARN is used in the ARN's region), created on first use so that
//! C_Initialize makes no network call, and a cap on concurrent requests.

use super::credentials::{caller_of, ReuseFirst};
use super::{
    Backend, BackendError, BoxFuture, Decrypted, Failure, KeyMetadata, MacAlg, MacAnswer,
    RemoteKey, SharedSecret, Signed, SigningAlgorithm,
};
use crate::config::{AwsConfig, RetryMode};
use crate::keyref::KeyRef;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_sdk_kms::operation::RequestId;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::EncryptionAlgorithmSpec;
use aws_sdk_kms::Client;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{OnceCell, Semaphore};

pub struct KmsBackend {
    settings: AwsConfig,
    sdk: OnceCell<aws_config::SdkConfig>,
    /// The SDK's credential provider as the KMS clients see it (set with `sdk`).
    credentials: std::sync::OnceLock<Arc<ReuseFirst>>,
    /// Whose credentials these are, for the cache scope: resolved once per
    /// process (see `caller`).
    caller: OnceCell<String>,
    clients: Mutex<HashMap<String, Client>>,
    limit: Semaphore,
}

/// The region calls about `key` go to: a key or alias ARN's own region,
/// else the SDK's (`[aws] region`, AWS_REGION, the profile's); `None`
/// when there is neither.
pub(super) fn region_for(sdk: &aws_config::SdkConfig, key: &str) -> Option<String> {
    let arn_region = KeyRef::parse(key)
        .ok()
        .and_then(|k| k.region().map(str::to_string));
    arn_region.or_else(|| sdk.region().map(|r| r.to_string()))
}

impl KmsBackend {
    pub fn new(settings: AwsConfig) -> Self {
        let limit = Semaphore::new(settings.max_concurrent_requests);
        KmsBackend {
            settings,
            sdk: OnceCell::new(),
            credentials: std::sync::OnceLock::new(),
            caller: OnceCell::new(),
            clients: Mutex::new(HashMap::new()),
            limit,
        }
    }

    pub(crate) fn settings(&self) -> &AwsConfig {
        &self.settings
    }

    pub(crate) async fn sdk_config(&self) -> Result<&aws_config::SdkConfig, BackendError> {
        self.sdk
            .get_or_try_init(|| async {
                let s = &self.settings;
                let timeouts = aws_config::timeout::TimeoutConfig::builder()
                    .connect_timeout(Duration::from_millis(s.connect_timeout_ms))
                    .operation_attempt_timeout(Duration::from_millis(s.call_timeout_ms))
                    .operation_timeout(s.operation_budget())
                    .build();
                let retry = match s.retry_mode {
                    RetryMode::Standard => aws_config::retry::RetryConfig::standard(),
                    RetryMode::Adaptive => aws_config::retry::RetryConfig::adaptive(),
                }
                .with_max_attempts(s.max_attempts);
                let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
                    .timeout_config(timeouts)
                    .retry_config(retry);
                if let Some(region) = &s.region {
                    loader = loader.region(aws_config::Region::new(region.clone()));
                }
                if let Some(profile) = &s.profile {
                    loader = loader.profile_name(profile);
                }
                if crate::config::environment_ignored() {
                    // A secure-execution host: its environment is the
                    // caller's, so no AWS_* variable may choose credentials'
                    // sources, profiles, files or endpoints. (The SDK names
                    // this switch for tests; it is exactly "read no
                    // environment variable".) Credentials then come from the
                    // instance or container role; ~/.aws is not found
                    // without HOME.
                    loader = loader.empty_test_environment();
                }
                if let Some(bundle) = &s.ca_bundle {
                    loader = loader.http_client(http_client_with_roots(bundle)?);
                } else if crate::config::environment_ignored() {
                    // The system's roots, from its bundle file: the usual
                    // loader would read SSL_CERT_FILE / SSL_CERT_DIR, the
                    // caller's choice of whom to trust.
                    let bundle = system_roots().ok_or_else(|| BackendError {
                        failure: Failure::Configuration,
                        code: "CaBundle".into(),
                        message: "no system CA bundle found; set ca_bundle in [aws]".into(),
                        request_id: None,
                    })?;
                    loader = loader.http_client(http_client_with_roots(bundle)?);
                }
                let sdk = loader.load().await;
                let Some(inner) = sdk.credentials_provider() else {
                    return Ok(sdk);
                };
                let reuse = self
                    .credentials
                    .get_or_init(|| {
                        Arc::new(ReuseFirst {
                            inner,
                            first: Mutex::new(None),
                        })
                    })
                    .clone();
                let provider: Arc<dyn ProvideCredentials> = reuse;
                Ok(sdk
                    .to_builder()
                    .credentials_provider(SharedCredentialsProvider::from(provider))
                    .build())
            })
            .await
    }

    /// Whose credentials the KMS clients use (`caller_of`), found once per
    /// process: a process has one identity (its session keys may rotate,
    /// its account does not). `None` when there are no credentials: then
    /// nothing is cached, and the KMS call fails anyway.
    async fn caller(&self) -> Option<&str> {
        self.caller
            .get_or_try_init(|| async {
                self.sdk_config().await.map_err(|_| ())?;
                let reuse = self.credentials.get().ok_or(())?;
                let creds = reuse.resolve_and_keep().await.ok_or(())?;
                Ok::<_, ()>(caller_of(&creds))
            })
            .await
            .ok()
            .map(String::as_str)
    }

    /// The client for the region of `key` (`region_for`).
    async fn client(&self, key: &str) -> Result<Client, BackendError> {
        let sdk = self.sdk_config().await?;
        let Some(region) = region_for(sdk, key) else {
            return Err(BackendError {
                failure: Failure::Configuration,
                code: "NoRegion".into(),
                message: "no AWS region: set region in [aws], AWS_REGION, or name keys by ARN"
                    .into(),
                request_id: None,
            });
        };
        self.client_in(region).await
    }

    /// The client for `region` (its endpoint from [aws.endpoints], else
    /// endpoint_url, else the SDK's).
    async fn client_in(&self, region: String) -> Result<Client, BackendError> {
        let sdk = self.sdk_config().await?;
        let mut clients = self.clients.lock();
        Ok(clients
            .entry(region.clone())
            .or_insert_with(|| {
                // The endpoint is KMS's alone: the credential providers'
                // own calls (STS, SSO) keep their endpoints.
                let url = self
                    .settings
                    .endpoints
                    .get(&region)
                    .or(self.settings.endpoint_url.as_ref());
                let mut conf = aws_sdk_kms::config::Builder::from(sdk)
                    .region(aws_sdk_kms::config::Region::new(region));
                if let Some(url) = url {
                    conf = conf.endpoint_url(url);
                }
                Client::from_conf(conf.build())
            })
            .clone())
    }
}

/// Where distributions keep the system's CA bundle (Debian and Ubuntu,
/// Fedora and RHEL, openSUSE, Alpine and Arch use one of these).
const SYSTEM_CA_BUNDLES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/ssl/cert.pem",
];

/// The first system CA bundle that exists.
fn system_roots() -> Option<&'static std::path::Path> {
    SYSTEM_CA_BUNDLES
        .iter()
        .map(std::path::Path::new)
        .find(|p| p.is_file())
}

fn http_client_with_roots(
    bundle: &std::path::Path,
) -> Result<aws_smithy_runtime_api::client::http::SharedHttpClient, BackendError> {
    use aws_smithy_http_client::tls::{self, TlsContext, TrustStore};
    let pem = crate::files::read_regular(bundle, 16 << 20).map_err(|e| BackendError {
        failure: Failure::Configuration,
        code: "CaBundle".into(),
        message: format!("cannot read CA bundle {e}"),
        request_id: None,
    })?;
    let trust = TrustStore::empty()
        .with_native_roots(false)
        .with_pem_certificate(pem);
    let context = TlsContext::builder()
        .with_trust_store(trust)
        .build()
        .map_err(|e| BackendError {
            failure: Failure::Configuration,
            code: "CaBundle".into(),
            message: format!("CA bundle {}: {e}", bundle.display()),
            request_id: None,
        })?;
    Ok(aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::AwsLc,
        ))
        .tls_context(context)
        .build_https())
}

/// KeyMetadata as the module keeps it (DescribeKey's and CreateKey's
/// answers); `None` is a malformed answer of operation `op`.
pub(super) fn metadata(
    m: Option<aws_sdk_kms::types::KeyMetadata>,
    op: &str,
) -> Result<KeyMetadata, BackendError> {
    let m = m.ok_or_else(|| BackendError {
        failure: Failure::MalformedAnswer,
        code: "EmptyResponse".into(),
        message: format!("{op} returned no KeyMetadata"),
        request_id: None,
    })?;
    let name = |s: Option<&str>| s.unwrap_or_default().to_string();
    Ok(KeyMetadata {
        arn: m.arn.unwrap_or_default(),
        key_spec: name(m.key_spec.as_ref().map(|s| s.as_str())),
        key_usage: name(m.key_usage.as_ref().map(|u| u.as_str())),
        creation_date: m.creation_date.map_or(0, |d| d.secs()),
        key_state: name(m.key_state.as_ref().map(|s| s.as_str())),
    })
}

mod agree;
mod calls;
mod classify;
mod mac;
mod manage;
use classify::classify;
pub(crate) use classify::source_chain;

impl Backend for KmsBackend {
    fn get_public_key<'a>(
        &'a self,
        key: &'a str,
        grant_tokens: &'a [String],
    ) -> BoxFuture<'a, Result<RemoteKey, BackendError>> {
        Box::pin(async move {
            let client = self.client(key).await?;
            self.public_key_from(client, key, grant_tokens).await
        })
    }

    fn get_public_key_in<'a>(
        &'a self,
        region: &'a str,
        key: &'a str,
        grant_tokens: &'a [String],
    ) -> BoxFuture<'a, Result<RemoteKey, BackendError>> {
        Box::pin(async move {
            let client = self.client_in(region.to_string()).await?;
            self.public_key_from(client, key, grant_tokens).await
        })
    }

    fn describe_key<'a>(
        &'a self,
        key: &'a str,
        grant_tokens: &'a [String],
    ) -> BoxFuture<'a, Result<KeyMetadata, BackendError>> {
        Box::pin(async move {
            let client = self.client(key).await?;
            let _permit = self.limit.acquire().await.ok();
            let out = client
                .describe_key()
                .key_id(key)
                .set_grant_tokens((!grant_tokens.is_empty()).then(|| grant_tokens.to_vec()))
                .send()
                .await
                .map_err(classify)?;
            metadata(out.key_metadata, "DescribeKey")
        })
    }

    fn cache_scope<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Option<String>> {
        Box::pin(async move {
            let sdk = self.sdk_config().await.ok()?;
            let region = region_for(sdk, key)?;
            let profile = self
                .settings
                .profile
                .clone()
                .or_else(|| crate::config::env_var("AWS_PROFILE")?.into_string().ok())
                .unwrap_or_else(|| "default".into());
            // (An endpoint_url in a profile file is covered by the profile.)
            let endpoint = self.endpoint(&region);
            // Two AWS accounts used from one home directory (one profile
            // and region, other credentials) never share an alias
            // resolution: an alias names a key per account.
            let caller = self.caller().await?;
            Some(format!(
                "endpoint={endpoint} region={region} profile={profile} {caller}"
            ))
        })
    }

    fn decrypt<'a>(
        &'a self,
        key: &'a str,
        algorithm: &'a str,
        ciphertext: &'a [u8],
        grant_tokens: &'a [String],
    ) -> BoxFuture<'a, Result<Decrypted, BackendError>> {
        Box::pin(async move {
            let client = self.client(key).await?;
            let _permit = self.limit.acquire().await.ok();
            let out = client
                .decrypt()
                .key_id(key)
                .ciphertext_blob(Blob::new(ciphertext))
                .encryption_algorithm(EncryptionAlgorithmSpec::from(algorithm))
                .set_grant_tokens((!grant_tokens.is_empty()).then(|| grant_tokens.to_vec()))
                .send()
                .await
                .map_err(classify)?;
            let request_id = out.request_id().map(str::to_string);
            let plaintext = out
                .plaintext
                .map(Blob::into_inner)
                .ok_or_else(|| BackendError {
                    failure: Failure::MalformedAnswer,
                    code: "EmptyResponse".into(),
                    message: "Decrypt returned no plaintext".into(),
                    request_id: request_id.clone(),
                })?;
            Ok(Decrypted {
                plaintext: zeroize::Zeroizing::new(plaintext),
                key_arn: out.key_id,
                request_id,
            })
        })
    }

    fn generate_mac<'a>(
        &'a self,
        key: &'a str,
        algorithm: MacAlg,
        message: &'a [u8],
        grant_tokens: &'a [String],
    ) -> BoxFuture<'a, Result<MacAnswer, BackendError>> {
        Box::pin(self.generate_mac_call(key, algorithm, message, grant_tokens))
    }

    fn verify_mac<'a>(
        &'a self,
        key: &'a str,
        algorithm: MacAlg,
        message: &'a [u8],
        mac: &'a [u8],
        grant_tokens: &'a [String],
    ) -> BoxFuture<'a, Result<MacAnswer, BackendError>> {
        Box::pin(self.verify_mac_call(key, algorithm, message, mac, grant_tokens))
    }

    fn derive_shared_secret<'a>(
        &'a self,
        key: &'a str,
        peer_spki: &'a [u8],
        grant_tokens: &'a [String],
    ) -> BoxFuture<'a, Result<SharedSecret, BackendError>> {
        Box::pin(self.derive_shared_secret_call(key, peer_spki, grant_tokens))
    }

    fn generate_random<'a>(
        &'a self,
        near: &'a str,
        len: usize,
    ) -> BoxFuture<'a, Result<Vec<u8>, BackendError>> {
        Box::pin(async move {
            let client = self.client(near).await?;
            let _permit = self.limit.acquire().await.ok();
            let out = client
                .generate_random()
                .number_of_bytes(i32::try_from(len).unwrap_or(i32::MAX))
                .send()
                .await
                .map_err(classify)?;
            let request_id = out.request_id().map(str::to_string);
            out.plaintext
                .map(Blob::into_inner)
                .filter(|bytes| bytes.len() == len)
                .ok_or_else(|| BackendError {
                    failure: Failure::MalformedAnswer,
                    code: "EmptyResponse".into(),
                    message: format!("GenerateRandom did not return the {len} bytes asked for"),
                    request_id,
                })
        })
    }

    fn sign<'a>(
        &'a self,
        key: &'a str,
        algorithm: SigningAlgorithm,
        message: &'a [u8],
        grant_tokens: &'a [String],
    ) -> BoxFuture<'a, Result<Signed, BackendError>> {
        Box::pin(self.sign_call(key, algorithm, message, grant_tokens, None))
    }

    fn sign_once<'a>(
        &'a self,
        key: &'a str,
        algorithm: SigningAlgorithm,
        message: &'a [u8],
        grant_tokens: &'a [String],
    ) -> BoxFuture<'a, Result<Signed, BackendError>> {
        Box::pin(self.sign_call(key, algorithm, message, grant_tokens, Some(1)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_arn_is_used_in_its_own_region() {
        let west = "arn:aws:kms:eu-west-1:111122223333:alias/release";
        let gov = "arn:aws-us-gov:kms:us-gov-west-1:111122223333:key/\
                   1234abcd-12ab-34cd-56ef-1234567890ab";
        let none = aws_config::SdkConfig::builder().build();
        let east = aws_config::SdkConfig::builder()
            .region(aws_config::Region::new("us-east-1"))
            .build();
        for sdk in [&none, &east] {
            assert_eq!(region_for(sdk, west).as_deref(), Some("eu-west-1"));
            assert_eq!(region_for(sdk, gov).as_deref(), Some("us-gov-west-1"));
        }
        assert_eq!(region_for(&none, "alias/release"), None);
        assert_eq!(
            region_for(&east, "alias/release").as_deref(),
            Some("us-east-1")
        );
        // Not a key reference: the configured region, as KMS would be asked.
        assert_eq!(
            region_for(&east, "arn:aws:s3:::bucket").as_deref(),
            Some("us-east-1")
        );
    }

    #[test]
    fn a_secure_host_finds_the_system_roots_without_the_environment() {
        // CI's Debian keeps them in ca-certificates' bundle.
        let bundle = system_roots().expect("a system CA bundle");
        assert_eq!(bundle, std::path::Path::new(SYSTEM_CA_BUNDLES[0]));
        http_client_with_roots(bundle).expect("an HTTPS client trusting only that bundle");
    }
}
