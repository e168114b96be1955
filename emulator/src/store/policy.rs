//! Key policies as KMS checks their form: the default policy of a key
//! made without one, and the rules a policy document must meet (used by
//! CreateKey, PutKeyPolicy, ReplicateKey and the seed and state files).

use crate::error::KmsError;
use serde_json::{json, Value};

/// The policy KMS gives a key created without one: the account's IAM
/// policies decide.
pub fn default_policy(account: &str) -> String {
    let doc = json!({
        "Version": "2012-10-17",
        "Id": "key-default-1",
        "Statement": [{
            "Sid": "Enable IAM User Permissions",
            "Effect": "Allow",
            "Principal": {"AWS": format!("arn:aws:iam::{account}:root")},
            "Action": "kms:*",
            "Resource": "*"
        }]
    });
    serde_json::to_string_pretty(&doc).expect("a JSON value serializes")
}

/// A key policy's form, as KMS checks it: 1..32768 characters from tab, LF,
/// CR and U+0020..U+00FF (a ValidationException otherwise), and a JSON
/// object with a `Statement` (MalformedPolicyDocumentException otherwise).
pub fn check_policy(policy: &str) -> Result<(), KmsError> {
    let chars = policy.chars().count();
    if !(1..=32768).contains(&chars) {
        return Err(KmsError::constraint(
            "Policy",
            "Member must have length between 1 and 32768",
        ));
    }
    let allowed = |c: char| matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{ff}');
    if !policy.chars().all(allowed) {
        return Err(KmsError::constraint(
            "Policy",
            "Member must satisfy regular expression pattern: [\\u0009\\u000A\\u000D\\u0020-\\u00FF]+",
        ));
    }
    let statement_ok = match serde_json::from_str::<Value>(policy) {
        Ok(Value::Object(doc)) => match doc.get("Statement") {
            Some(Value::Array(list)) => !list.is_empty() && list.iter().all(Value::is_object),
            Some(Value::Object(_)) => true,
            _ => false,
        },
        _ => false,
    };
    if !statement_ok {
        return Err(KmsError::new(
            "MalformedPolicyDocumentException",
            "The key policy is not a JSON policy document with at least one Statement",
        ));
    }
    Ok(())
}
