//! KMS errors as the JSON 1.1 protocol carries them: an HTTP status and a body
//! `{"__type": "...", "message": "..."}` whose type is the exception name a
//! KMS client matches on.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KmsError {
    pub code: &'static str,
    pub message: String,
    pub status: u16,
}

impl KmsError {
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        KmsError {
            code,
            message: message.into(),
            status: 400,
        }
    }

    pub fn validation(message: impl Into<String>) -> Self {
        Self::new("ValidationException", message)
    }

    /// The message AWS's request validation produces for a missing member.
    pub fn missing(member: &str) -> Self {
        Self::validation(format!(
            "1 validation error detected: Value null at '{}' failed to satisfy constraint: Member must not be null",
            lower_first(member)
        ))
    }

    /// The message AWS's request validation produces for an out-of-range value.
    pub fn constraint(member: &str, constraint: &str) -> Self {
        Self::validation(format!(
            "1 validation error detected: Value at '{}' failed to satisfy constraint: {constraint}",
            lower_first(member)
        ))
    }

    pub fn serialization(message: impl Into<String>) -> Self {
        Self::new("SerializationException", message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new("NotFoundException", message)
    }

    pub fn invalid_state(message: impl Into<String>) -> Self {
        Self::new("KMSInvalidStateException", message)
    }

    pub fn invalid_key_usage(message: impl Into<String>) -> Self {
        Self::new("InvalidKeyUsageException", message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        KmsError {
            code: "KMSInternalException",
            message: message.into(),
            status: 500,
        }
    }

    pub fn to_body(&self) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({
            "__type": self.code,
            "message": self.message,
        }))
        .unwrap_or_default()
    }
}

impl fmt::Display for KmsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for KmsError {}

fn lower_first(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_lowercase().chain(c).collect(),
        None => String::new(),
    }
}
