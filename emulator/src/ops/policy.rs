//! Key policies: CreateKey's `Policy`, GetKeyPolicy, PutKeyPolicy and
//! ListKeyPolicies.
//!
//! The emulator has no principals, so it checks a policy's form as KMS does
//! (length, characters, a JSON document with a `Statement`) but never
//! evaluates it, and it does not run KMS's lockout safety check (which
//! refuses a policy that would not let the caller call PutKeyPolicy).

use crate::error::KmsError;
use crate::request::Request;
use crate::store::{Key, Store};
use serde_json::{json, Value};

/// The only key policy name KMS has.
const POLICY_NAME: &str = "default";

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

/// The `Policy` member of CreateKey or PutKeyPolicy, checked.
pub fn policy_member(req: &Request, required: bool) -> Result<Option<String>, KmsError> {
    let Some(policy) = req.str_opt("Policy")? else {
        return if required {
            Err(KmsError::missing("Policy"))
        } else {
            Ok(None)
        };
    };
    check_policy(policy)?;
    Ok(Some(policy.to_string()))
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

/// `PolicyName` where an operation takes one: absent means "default", which
/// is also the only name that exists.
fn policy_name(req: &Request, required: bool) -> Result<(), KmsError> {
    let name = match req.str_len("PolicyName", 1, 128)? {
        Some(n) => n,
        None if required => return Err(KmsError::missing("PolicyName")),
        None => POLICY_NAME,
    };
    if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(KmsError::constraint(
            "PolicyName",
            "Member must satisfy regular expression pattern: [\\w]+",
        ));
    }
    if name != POLICY_NAME {
        return Err(KmsError::not_found(format!(
            "Key policy {name} is not found. The only valid policy name is default."
        )));
    }
    Ok(())
}

/// The policy a key has now.
pub fn current(key: &Key) -> String {
    key.policy
        .lock()
        .clone()
        .unwrap_or_else(|| default_policy(&key.account))
}

pub fn get_key_policy(store: &Store, req: &Request) -> Result<Value, KmsError> {
    let key = store.resolve(&req.region, req.key_id("KeyId")?, false)?;
    policy_name(req, false)?;
    Ok(json!({ "Policy": current(&key), "PolicyName": POLICY_NAME }))
}

pub fn put_key_policy(store: &Store, req: &Request) -> Result<Value, KmsError> {
    let key = store.resolve(&req.region, req.key_id("KeyId")?, false)?;
    policy_name(req, false)?;
    let policy = policy_member(req, true)?;
    *key.policy.lock() = policy;
    Ok(json!({}))
}

pub fn list_key_policies(store: &Store, req: &Request) -> Result<Value, KmsError> {
    store.resolve(&req.region, req.key_id("KeyId")?, false)?;
    Ok(json!({ "PolicyNames": [POLICY_NAME], "Truncated": false }))
}
