//! DeriveSharedSecret: ECDH with a KEY_AGREEMENT key.

use super::super::{BackendError, Failure, SharedSecret};
use super::{classify, KmsBackend};
use aws_sdk_kms::operation::RequestId;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::KeyAgreementAlgorithmSpec;

impl KmsBackend {
    pub(super) async fn derive_shared_secret_call(
        &self,
        key: &str,
        peer_spki: &[u8],
        grant_tokens: &[String],
    ) -> Result<SharedSecret, BackendError> {
        let client = self.client(key).await?;
        let _permit = self.limit.acquire().await.ok();
        let out = client
            .derive_shared_secret()
            .key_id(key)
            .key_agreement_algorithm(KeyAgreementAlgorithmSpec::Ecdh)
            .public_key(Blob::new(peer_spki))
            .set_grant_tokens((!grant_tokens.is_empty()).then(|| grant_tokens.to_vec()))
            .send()
            .await
            .map_err(classify)?;
        let request_id = out.request_id().map(str::to_string);
        let secret = out
            .shared_secret
            .map(Blob::into_inner)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| BackendError {
                failure: Failure::MalformedAnswer,
                code: "EmptyResponse".into(),
                message: "DeriveSharedSecret returned no shared secret".into(),
                request_id: request_id.clone(),
            })?;
        Ok(SharedSecret {
            secret: zeroize::Zeroizing::new(secret),
            key_arn: out.key_id,
            request_id,
        })
    }
}
