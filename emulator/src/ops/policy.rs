//! Key policies: CreateKey's `Policy`, GetKeyPolicy, PutKeyPolicy and
//! ListKeyPolicies.
//!
//! The emulator has no principals, so it checks a policy's form as KMS does
//! (length, characters, a JSON document with a `Statement`) but never
//! evaluates it, and it does not run KMS's lockout safety check (which
//! refuses a policy that would not let the caller call PutKeyPolicy).

use crate::error::KmsError;
use crate::request::Request;
use crate::store::policy::{check_policy, default_policy};
use crate::store::{Key, Store};
use serde_json::{json, Value};

/// The only key policy name KMS has.
const POLICY_NAME: &str = "default";

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
