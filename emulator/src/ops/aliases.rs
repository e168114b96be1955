//! CreateAlias, UpdateAlias, DeleteAlias, ListAliases.

use super::keys::{decode_marker, page, paged_response, same_kind};
use crate::error::KmsError;
use crate::request::Request;
use crate::store::{self, Alias, KeyStatus, Store};
use serde_json::{json, Value};

fn alias_name(req: &Request) -> Result<&str, KmsError> {
    let name = req.str("AliasName")?;
    store::check_alias_name(name)?;
    Ok(name)
}

fn refuse_pending(key: &store::Key) -> Result<(), KmsError> {
    match *key.status.lock() {
        KeyStatus::PendingDeletion { .. } => Err(KmsError::invalid_state(format!(
            "{} is pending deletion.",
            key.arn
        ))),
        _ => Ok(()),
    }
}

pub fn create_alias(store: &Store, req: &Request) -> Result<Value, KmsError> {
    let name = alias_name(req)?;
    let target = req.key_id("TargetKeyId")?;
    let mut t = store.tables.write();
    let key = store.resolve_in(&t, &req.region, target, false)?;
    refuse_pending(&key)?;
    let slot = (req.region.clone(), name.to_string());
    if t.aliases.contains_key(&slot) {
        return Err(KmsError::new(
            "AlreadyExistsException",
            format!(
                "An alias with the name {} already exists",
                store.alias_arn(&req.region, name)
            ),
        ));
    }
    let when = store::now();
    t.aliases.insert(
        slot,
        Alias {
            target: key.id.clone(),
            created: when,
            updated: when,
        },
    );
    Ok(json!({}))
}

pub fn update_alias(store: &Store, req: &Request) -> Result<Value, KmsError> {
    let name = alias_name(req)?;
    let target = req.key_id("TargetKeyId")?;
    let mut t = store.tables.write();
    let key = store.resolve_in(&t, &req.region, target, false)?;
    refuse_pending(&key)?;
    let current = store.resolve_in(&t, &req.region, name, true)?;
    if !same_kind(&current, &key) {
        return Err(KmsError::validation(format!(
            "{} and {} are not the same type of key or do not have the same key usage. An alias can only be moved between KMS keys of the same type and key usage.",
            current.arn, key.arn
        )));
    }
    let alias = t
        .aliases
        .get_mut(&(req.region.clone(), name.to_string()))
        .ok_or_else(|| KmsError::internal("alias vanished"))?;
    alias.target = key.id.clone();
    alias.updated = store::now();
    Ok(json!({}))
}

pub fn delete_alias(store: &Store, req: &Request) -> Result<Value, KmsError> {
    let name = alias_name(req)?;
    let mut t = store.tables.write();
    match t.aliases.remove(&(req.region.clone(), name.to_string())) {
        Some(_) => Ok(json!({})),
        None => Err(KmsError::not_found(format!(
            "Alias {} is not found.",
            store.alias_arn(&req.region, name)
        ))),
    }
}

pub fn list_aliases(store: &Store, req: &Request) -> Result<Value, KmsError> {
    let limit = req.int_opt("Limit", 1, 100)?.unwrap_or(50) as usize;
    let after = decode_marker(req)?;
    let filter = match req.str_opt("KeyId")? {
        Some(k) => Some(store.resolve(&req.region, k, false)?.id.clone()),
        None => None,
    };
    let t = store.tables.read();
    let found: Vec<(String, Value)> = t
        .aliases
        .iter()
        .filter(|((region, name), a)| {
            *region == req.region
                && after.as_ref().is_none_or(|m| name > m)
                && filter.as_ref().is_none_or(|f| *f == a.target)
        })
        .take(limit + 1)
        .map(|((region, name), a)| {
            (
                name.clone(),
                json!({
                    "AliasName": name,
                    "AliasArn": store.alias_arn(region, name),
                    "TargetKeyId": a.target,
                    "CreationDate": a.created,
                    "LastUpdatedDate": a.updated,
                }),
            )
        })
        .collect();
    let (items, next) = page(found, limit, |(name, _)| name.clone());
    Ok(paged_response(
        "Aliases",
        items.into_iter().map(|(_, v)| v).collect(),
        next,
    ))
}
