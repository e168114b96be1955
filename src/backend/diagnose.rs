//! What `kms11 doctor` asks the AWS side, beyond the three key calls: the
//! region, which credential provider answered, whose credentials they are
//! (STS, when reachable) and which endpoint KMS calls go to.

use super::kms::KmsBackend;
use crate::keyref::KeyRef;
use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::ProvideCredentials;
use std::time::Duration;

/// The credentials the SDK found, without the secret.
#[derive(Debug, Clone)]
pub struct CredentialSource {
    /// The provider that answered ("Environment", "ProfileFile", "IMDSv2", ...).
    pub provider: String,
    /// The access key ID with all but its last four characters hidden.
    pub access_key_hint: String,
    pub expires_in: Option<Duration>,
}

/// The provider name from the credentials' Debug form, the one place the
/// SDK shows it; the secret is redacted there.
fn provider_name(debug: &str) -> String {
    debug
        .split("provider_name: \"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap_or("unknown")
        .to_string()
}

impl KmsBackend {
    /// The region KMS calls use for keys not named by ARN.
    pub async fn region(&self) -> Option<String> {
        let sdk = self.sdk_config().await.ok()?;
        sdk.region().map(|r| r.to_string())
    }

    /// The region KMS calls about `key` go to, as the module chooses it:
    /// an ARN's own region, else `region()`.
    pub async fn region_of(&self, key: &KeyRef) -> Option<String> {
        let sdk = self.sdk_config().await.ok()?;
        super::kms::region_for(sdk, key.as_str())
    }

    /// Runs the credential provider chain once.
    pub async fn credentials(&self) -> Result<CredentialSource, String> {
        let sdk = self.sdk_config().await.map_err(|e| e.to_string())?;
        let provider = sdk
            .credentials_provider()
            .ok_or("no credential provider is configured")?;
        match provider.provide_credentials().await {
            Ok(c) => {
                let id = c.access_key_id();
                let tail = &id[id.len().saturating_sub(4)..];
                Ok(CredentialSource {
                    provider: provider_name(&format!("{c:?}")),
                    access_key_hint: format!("{}{tail}", "*".repeat(id.len().saturating_sub(4))),
                    expires_in: c
                        .expiry()
                        .and_then(|t| t.duration_since(std::time::SystemTime::now()).ok()),
                })
            }
            Err(CredentialsError::CredentialsNotLoaded(_)) => Err(
                "no AWS credentials found (environment, shared config and credentials files, \
                 SSO, web identity, container and instance roles were tried)"
                    .to_string(),
            ),
            Err(e) => Err(super::kms::source_chain(&e)),
        }
    }

    /// STS GetCallerIdentity: the ARN of the credentials' principal.
    pub async fn caller_identity(&self, timeout: Duration) -> Result<String, String> {
        let sdk = self.sdk_config().await.map_err(|e| e.to_string())?;
        let conf = aws_sdk_sts::config::Builder::from(sdk)
            .timeout_config(
                aws_config::timeout::TimeoutConfig::builder()
                    .operation_timeout(timeout)
                    .build(),
            )
            .retry_config(aws_config::retry::RetryConfig::disabled())
            .build();
        let client = aws_sdk_sts::Client::from_conf(conf);
        let out = client
            .get_caller_identity()
            .send()
            .await
            .map_err(|e| super::kms::source_chain(&e))?;
        Ok(out.arn.unwrap_or_default())
    }

    /// Where KMS calls for `region` go: the region's configured endpoint,
    /// the configured one, the SDK's environment variables, or the public
    /// regional endpoint.
    pub fn endpoint(&self, region: &str) -> String {
        let env = |k: &str| {
            crate::config::env_var(k)
                .and_then(|v| v.into_string().ok())
                .filter(|v| !v.is_empty())
        };
        let s = self.settings();
        s.endpoints
            .get(region)
            .or(s.endpoint_url.as_ref())
            .cloned()
            .or_else(|| env("AWS_ENDPOINT_URL_KMS"))
            .or_else(|| env("AWS_ENDPOINT_URL"))
            .unwrap_or_else(|| format!("https://kms.{region}.amazonaws.com"))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn provider_name_from_debug() {
        let c = aws_credential_types::Credentials::new(
            "AKIDEXAMPLE",
            "wJalrXUtnFEMI",
            None,
            None,
            "Env",
        );
        let debug = format!("{c:?}");
        assert!(!debug.contains("wJalrXUtnFEMI"));
        assert_eq!(super::provider_name(&debug), "Env");
    }
}
