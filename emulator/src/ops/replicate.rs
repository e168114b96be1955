//! ReplicateKey: a multi-Region primary key's replica in another region,
//! with the same key ID and key material (so the same public key), and its
//! own description, policy, tags, state and aliases, as in KMS.

use super::keys::metadata;
use super::policy::{current, policy_member};
use crate::error::KmsError;
use crate::request::Request;
use crate::store::{self, Key, KeyStatus, Store};
use parking_lot::{Mutex, RwLock};
use serde_json::{json, Value};

/// A Region ID as KMS takes one (`us-east-1`, `ap-southeast-2`,
/// `us-gov-west-1`).
fn check_region(region: &str) -> Result<(), KmsError> {
    let parts: Vec<&str> = region.split('-').collect();
    let ok = (3..=4).contains(&parts.len())
        && parts[..parts.len() - 1]
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
        && parts[parts.len() - 1].bytes().all(|b| b.is_ascii_digit())
        && !parts[parts.len() - 1].is_empty();
    if ok && region.len() <= 32 {
        Ok(())
    } else {
        Err(KmsError::constraint(
            "ReplicaRegion",
            "Member must satisfy regular expression pattern: ^([a-z]+-){2,3}\\d+$",
        ))
    }
}

pub fn replicate_key(store: &Store, req: &Request) -> Result<Value, KmsError> {
    let primary = store.resolve(&req.region, req.key_id("KeyId")?, false)?;
    let region = req.str("ReplicaRegion")?;
    check_region(region)?;
    let description = req
        .str_len("Description", 0, 8192)?
        .unwrap_or("")
        .to_string();
    let tags = req.tags("Tags")?;
    let policy = policy_member(req, false)?;
    if !primary.multi_region {
        return Err(KmsError::new(
            "UnsupportedOperationException",
            format!("{} is not a multi-Region key", primary.arn),
        ));
    }
    if primary.region != primary.primary_region {
        return Err(KmsError::new(
            "UnsupportedOperationException",
            format!(
                "{} is a replica key: replicate its primary key in {}",
                primary.arn, primary.primary_region
            ),
        ));
    }
    primary.expire_material();
    match *primary.status.lock() {
        KeyStatus::Disabled => {
            return Err(KmsError::new(
                "DisabledException",
                format!("{} is disabled.", primary.arn),
            ))
        }
        KeyStatus::PendingDeletion { .. } | KeyStatus::PendingImport => {
            return Err(KmsError::invalid_state(format!(
                "{} is pending deletion or import.",
                primary.arn
            )))
        }
        KeyStatus::Enabled => {}
    }
    if region == primary.region {
        return Err(KmsError::validation(format!(
            "The replica must be in a different Region than its primary key ({})",
            primary.region
        )));
    }
    let replica = {
        let mut t = store.tables.write();
        let at = (region.to_string(), primary.id.clone());
        if t.keys.contains_key(&at) {
            return Err(KmsError::new(
                "AlreadyExistsException",
                format!(
                    "Replica key {} already exists.",
                    store.key_arn(region, &primary.id)
                ),
            ));
        }
        let replica = std::sync::Arc::new(Key {
            arn: store.key_arn(region, &primary.id),
            id: primary.id.clone(),
            region: region.to_string(),
            account: primary.account.clone(),
            spec: primary.spec,
            usage: primary.usage,
            origin: primary.origin,
            description,
            creation_date: store::now(),
            multi_region: true,
            primary_region: primary.region.clone(),
            tags: Mutex::new(tags.clone()),
            policy: Mutex::new(policy),
            status: Mutex::new(KeyStatus::Enabled),
            material: RwLock::new(primary.material.read().clone()),
            valid_to: Mutex::new(*primary.valid_to.lock()),
        });
        t.order.push(at.clone());
        t.keys.insert(at, replica.clone());
        replica
    };
    let tags: Vec<Value> = tags
        .iter()
        .map(|(k, v)| json!({"TagKey": k, "TagValue": v}))
        .collect();
    Ok(json!({
        "ReplicaKeyMetadata": metadata(store, &replica)["KeyMetadata"],
        "ReplicaPolicy": current(&replica),
        "ReplicaTags": tags,
    }))
}

#[cfg(test)]
mod tests {
    use super::check_region;

    #[test]
    fn region_ids() {
        for ok in [
            "us-east-1",
            "ap-southeast-2",
            "us-gov-west-1",
            "eu-central-2",
        ] {
            assert!(check_region(ok).is_ok(), "{ok}");
        }
        for bad in ["", "us-east", "US-EAST-1", "us-east-1a", "east-1", "us--1"] {
            assert!(check_region(bad).is_err(), "{bad}");
        }
    }
}
