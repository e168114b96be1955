//! GenerateMac and VerifyMac.

use super::super::{BackendError, Failure, MacAlg, MacAnswer};
use super::{classify, KmsBackend};
use aws_sdk_kms::operation::RequestId;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::MacAlgorithmSpec;

fn grants(grant_tokens: &[String]) -> Option<Vec<String>> {
    (!grant_tokens.is_empty()).then(|| grant_tokens.to_vec())
}

impl KmsBackend {
    pub(super) async fn generate_mac_call(
        &self,
        key: &str,
        algorithm: MacAlg,
        message: &[u8],
        grant_tokens: &[String],
    ) -> Result<MacAnswer, BackendError> {
        let client = self.client(key).await?;
        let _permit = self.limit.acquire().await.ok();
        let out = client
            .generate_mac()
            .key_id(key)
            .message(Blob::new(message))
            .mac_algorithm(MacAlgorithmSpec::from(algorithm.as_kms()))
            .set_grant_tokens(grants(grant_tokens))
            .send()
            .await
            .map_err(classify)?;
        let request_id = out.request_id().map(str::to_string);
        let mac = out
            .mac
            .map(Blob::into_inner)
            .filter(|m| m.len() == algorithm.output_len())
            .ok_or_else(|| BackendError {
                failure: Failure::MalformedAnswer,
                code: "EmptyResponse".into(),
                message: format!(
                    "GenerateMac returned no {}-byte {}",
                    algorithm.output_len(),
                    algorithm.as_kms()
                ),
                request_id: request_id.clone(),
            })?;
        Ok(MacAnswer {
            mac,
            key_arn: out.key_id,
            request_id,
        })
    }

    pub(super) async fn verify_mac_call(
        &self,
        key: &str,
        algorithm: MacAlg,
        message: &[u8],
        mac: &[u8],
        grant_tokens: &[String],
    ) -> Result<MacAnswer, BackendError> {
        let client = self.client(key).await?;
        let _permit = self.limit.acquire().await.ok();
        let out = client
            .verify_mac()
            .key_id(key)
            .message(Blob::new(message))
            .mac(Blob::new(mac))
            .mac_algorithm(MacAlgorithmSpec::from(algorithm.as_kms()))
            .set_grant_tokens(grants(grant_tokens))
            .send()
            .await
            .map_err(classify)?;
        let request_id = out.request_id().map(str::to_string);
        // KMS answers an invalid MAC with KMSInvalidMacException; an answer
        // that says neither is not believed.
        if !out.mac_valid {
            return Err(BackendError {
                failure: Failure::MalformedAnswer,
                code: "MacValid".into(),
                message: "VerifyMac answered without MacValid=true".into(),
                request_id,
            });
        }
        Ok(MacAnswer {
            mac: Vec::new(),
            key_arn: out.key_id,
            request_id,
        })
    }
}
