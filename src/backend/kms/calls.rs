//! The KMS calls the signing path makes: GetPublicKey (in a key's region
//! or a fallback region) and Sign (with the configured retries, or one
//! attempt for multi-Region failover).

use super::classify::classify;
use super::KmsBackend;
use crate::backend::{BackendError, Failure, RemoteKey, Signed, SigningAlgorithm};
use aws_sdk_kms::operation::RequestId;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{MessageType, SigningAlgorithmSpec};
use aws_sdk_kms::Client;

impl KmsBackend {
    /// GetPublicKey with `client`.
    pub(super) async fn public_key_from(
        &self,
        client: Client,
        key: &str,
        grant_tokens: &[String],
    ) -> Result<RemoteKey, BackendError> {
        let _permit = self.limit.acquire().await.ok();
        let out = client
            .get_public_key()
            .key_id(key)
            .set_grant_tokens((!grant_tokens.is_empty()).then(|| grant_tokens.to_vec()))
            .send()
            .await
            .map_err(classify)?;
        Ok(RemoteKey {
            arn: out.key_id.unwrap_or_default(),
            key_spec: out
                .key_spec
                .map(|s| s.as_str().to_string())
                .unwrap_or_default(),
            key_usage: out
                .key_usage
                .map(|u| u.as_str().to_string())
                .unwrap_or_default(),
            public_key: out.public_key.map(Blob::into_inner).unwrap_or_default(),
        })
    }
}

impl KmsBackend {
    /// Sign, with the configured retries or `attempts`.
    pub(super) async fn sign_call(
        &self,
        key: &str,
        algorithm: SigningAlgorithm,
        message: &[u8],
        grant_tokens: &[String],
        attempts: Option<u32>,
    ) -> Result<Signed, BackendError> {
        // A key or alias ARN goes to its own region; a key ID or alias
        // name to the configured one, as GetPublicKey did.
        let client = self.client(key).await?;
        let _permit = self.limit.acquire().await.ok();
        let request = client
            .sign()
            .key_id(key)
            .message(Blob::new(message))
            .message_type(MessageType::from(algorithm.message_type().as_kms()))
            .signing_algorithm(SigningAlgorithmSpec::from(algorithm.as_kms()))
            .set_grant_tokens((!grant_tokens.is_empty()).then(|| grant_tokens.to_vec()));
        let out = match attempts {
            None => request.send().await,
            Some(n) => {
                let retry = aws_config::retry::RetryConfig::standard().with_max_attempts(n);
                request
                    .customize()
                    .config_override(aws_sdk_kms::config::Builder::new().retry_config(retry))
                    .send()
                    .await
            }
        }
        .map_err(classify)?;
        let request_id = out.request_id().map(str::to_string);
        let signature = out
            .signature
            .map(Blob::into_inner)
            .ok_or_else(|| BackendError {
                failure: Failure::MalformedAnswer,
                code: "EmptyResponse".into(),
                message: "Sign returned no signature".into(),
                request_id: request_id.clone(),
            })?;
        Ok(Signed {
            signature,
            key_arn: out.key_id,
            request_id,
        })
    }
}
