//! What to do about a failed KMS call, in the words of the AWS error.

use kms11::backend::BackendError;
use kms11::keyref::KeyRef;

/// What to do about a failed KMS call.
pub(super) fn advice(op: &str, e: &BackendError, key: &KeyRef, region: &str, who: &str) -> String {
    let alias = key.is_alias();
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

#[cfg(test)]
mod tests {
    use super::advice;
    use kms11::backend::{BackendError, Failure};
    use kms11::keyref::KeyRef;

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
        let key = KeyRef::parse("alias/k").unwrap();
        assert!(advice("Sign", &e, &key, "us-east-1", "me").contains("clock is skewed"));
    }
}
