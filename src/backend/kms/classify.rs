//! KMS and SDK failures as the module's `Failure`s (the one table, with
//! `BackendError::rv`, from which every CK_RV of a KMS call comes).

use super::super::{BackendError, Failure};
use aws_sdk_kms::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_kms::operation::RequestId;

pub(super) fn classify<E, R>(e: SdkError<E, R>) -> BackendError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    SdkError<E, R>: RequestId,
    R: std::fmt::Debug + 'static,
{
    let request_id = e.request_id().map(str::to_string);
    match &e {
        SdkError::ServiceError(service) => {
            let err = service.err();
            let code = err.code().unwrap_or("Unknown").to_string();
            let failure = match code.as_str() {
                "NotFoundException" => Failure::NotFound,
                "AccessDeniedException" => Failure::AccessDenied,
                // Credentials that expired, were mistyped or are signed with a
                // skewed clock say nothing about the key: transient.
                "UnrecognizedClientException"
                | "InvalidSignatureException"
                | "ExpiredTokenException"
                | "ExpiredToken" => Failure::Credentials,
                "DisabledException" | "KMSInvalidStateException" | "KeyUnavailableException" => {
                    Failure::KeyUnusable
                }
                "InvalidKeyUsageException" => Failure::KeyUsage,
                "InvalidCiphertextException" | "IncorrectKeyException" => {
                    Failure::InvalidCiphertext
                }
                "KMSInvalidMacException" => Failure::InvalidMac,
                "AlreadyExistsException" | "MalformedPolicyDocumentException" | "TagException" => {
                    Failure::Refused
                }
                "ThrottlingException" | "LimitExceededException" => Failure::Throttled,
                "ValidationException"
                | "SerializationException"
                | "InvalidGrantTokenException"
                | "InvalidArnException"
                | "UnsupportedOperationException" => Failure::InvalidRequest,
                _ => Failure::Unavailable,
            };
            BackendError {
                failure,
                message: err.message().unwrap_or("").to_string(),
                code,
                request_id,
            }
        }
        SdkError::ConstructionFailure(_) => BackendError {
            failure: Failure::Credentials,
            code: "ConstructionFailure".into(),
            message: source_chain(&e),
            request_id,
        },
        SdkError::TimeoutError(_) => BackendError {
            failure: Failure::Unavailable,
            code: "Timeout".into(),
            message: source_chain(&e),
            request_id,
        },
        _ => {
            let message = source_chain(&e);
            let failure = if message.contains("credential") {
                Failure::Credentials
            } else {
                Failure::Unavailable
            };
            BackendError {
                failure,
                code: "DispatchFailure".into(),
                message,
                request_id,
            }
        }
    }
}

/// The error and its causes on one line: the SDK's top-level message alone
/// ("dispatch failure") does not say what to fix.
pub(crate) fn source_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        out.push_str(": ");
        out.push_str(&s.to_string());
        cur = s.source();
    }
    out
}
