//! `kms11 doctor`'s key-management line per token: whether the token
//! allows C_GenerateKeyPair, C_GenerateKey and C_DestroyObject of KMS keys
//! (docs/keys.md), and, where it does, whether the role may call what they
//! need. Nothing is made or deleted: ScheduleKeyDeletion and DeleteAlias
//! are asked about a key and an alias that do not exist (NotFound: the
//! role's policies allow the call; AccessDenied: they do not). CreateKey
//! cannot be asked without making a key, and is said to be unchecked.

use super::Report;
use kms11::backend::kms::KmsBackend;
use kms11::backend::{BackendError, Failure, Management};
use kms11::config::TokenConfig;

/// What one probe found.
enum Probe {
    Allowed,
    Denied(BackendError),
    Unknown(BackendError),
}

fn judge(answer: Result<(), BackendError>) -> Probe {
    match answer {
        Err(e) if e.failure == Failure::AccessDenied => Probe::Denied(e),
        Err(e) if e.failure == Failure::NotFound => Probe::Allowed,
        Err(e) => Probe::Unknown(e),
        // A key that exists under the probe's made-up ID: it was asked.
        Ok(()) => Probe::Allowed,
    }
}

/// A key ID no key has (asked in the configured region, where keys are
/// made; KMS answers NotFound for it when the caller may call the
/// operation).
const ABSENT_KEY: &str = "00000000-0000-4000-8000-00000000d0c7";

pub async fn check_management(r: &mut Report, token: &TokenConfig, backend: &KmsBackend) {
    let what = format!("key management (token '{}')", token.label.get_ref());
    let m = token.management();
    if !m.allowed {
        r.ok(
            &what,
            "off: C_GenerateKeyPair, C_GenerateKey and C_DestroyObject of KMS keys are \
             refused (allow_key_management)",
        );
        return;
    }
    let alias = format!("alias/{}kms11-doctor-probe", m.alias_prefix);
    let probes = [
        (
            "kms:ScheduleKeyDeletion",
            judge(backend.schedule_key_deletion(ABSENT_KEY, 7).await),
        ),
        (
            "kms:DeleteAlias",
            judge(backend.delete_alias(&alias, "").await),
        ),
    ];
    let mut allowed = Vec::new();
    for (permission, probe) in probes {
        match probe {
            Probe::Allowed => allowed.push(permission),
            Probe::Denied(e) => r.fail(
                &what,
                format!("the role may not call {permission} ({e})"),
                format!(
                    "grant {permission} (and kms:CreateKey, kms:CreateAlias, kms:TagResource) \
                     to the role that manages keys, or set allow_key_management = false"
                ),
            ),
            Probe::Unknown(e) => r.warn(&what, format!("{permission} could not be checked: {e}")),
        }
    }
    r.ok(
        &what,
        format!(
            "on: new keys are named alias/{}<CKA_LABEL>, retired keys deleted after {} days; \
             allowed: {}; kms:CreateKey, kms:CreateAlias and kms:TagResource not checked \
             (only making a key would tell)",
            m.alias_prefix,
            m.deletion_window_days,
            if allowed.is_empty() {
                "none of those checked".to_string()
            } else {
                allowed.join(", ")
            }
        ),
    );
}
