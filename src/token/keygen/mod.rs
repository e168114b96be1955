//! Making and retiring KMS keys through PKCS#11 (docs/keys.md): C_GenerateKeyPair
//! and C_GenerateKey become CreateKey (and CreateAlias for CKA_LABEL), and
//! C_DestroyObject on a key's private (or secret) key ScheduleKeyDeletion.
//! Off unless the token's configuration sets `allow_key_management`: a
//! signer's role then never needs, and kms11 never uses, those powers.

mod rename;
mod request;
mod spec;

pub use request::{key_request, KeyRequest, Templates};

use super::key::KeyInfo;
use super::loader::Found;
use super::object::Object;
use super::slot::{Entry, Slot};
use super::Module;
use crate::backend::{Backend, BackendError, Failure, NewKey, RemoteKey};
use crate::config::KeyConfig;
use crate::error::{Error, Result};
use crate::keyref::KeyRef;
use crate::log_at;
use crate::vocabulary::Family;
use cryptoki_sys::*;
use std::future::Future;
use std::sync::Arc;
use toml::Spanned;

/// The tag every key kms11 makes carries (value `kms11`).
pub const CREATED_BY: &str = "created-by";

/// What the orphan rule waits before KMS deletes a half-made key: KMS's
/// shortest window.
const ORPHAN_WINDOW_DAYS: u32 = 7;

/// CKR_ACTION_PROHIBITED for a token that does not allow key management,
/// with the line that says how to allow it.
fn prohibited(slot: &Slot, what: &str) -> Error {
    log_at!(
        Warn,
        "token '{}': {what} refused: key management is off for this token; set \
         allow_key_management = true in its [[token]] section to allow it (docs/keys.md)",
        slot.label
    );
    Error::new(
        CKR_ACTION_PROHIBITED,
        "key management is off for this token (allow_key_management)",
    )
}

/// A KMS failure of a managing call (C_GenerateKeyPair, C_GenerateKey,
/// C_DestroyObject, C_SetAttributeValue) as a CK_RV those functions may
/// return: what the role or the key policy does not allow is
/// CKR_ACTION_PROHIBITED (the reason names the permission), a key that is
/// gone CKR_OBJECT_HANDLE_INVALID; the rest as every KMS call maps it
/// (CKR_DEVICE_ERROR, CKR_GENERAL_ERROR, CKR_ATTRIBUTE_VALUE_INVALID).
fn management_error(e: BackendError) -> Error {
    let rv = match e.failure {
        Failure::AccessDenied | Failure::KeyUnusable | Failure::KeyUsage => CKR_ACTION_PROHIBITED,
        Failure::NotFound => CKR_OBJECT_HANDLE_INVALID,
        _ => e.rv(),
    };
    Error::new(rv, e.to_string())
}

/// A template refused: said at warn level, since the client may show no
/// more than a CK_RV (`PKCS #11 error`).
fn refused(slot: &Slot, what: &str, e: Error) -> Error {
    log_at!(
        Warn,
        "token '{}': {what} refused: {}",
        slot.label,
        e.reason.as_deref().unwrap_or("the template")
    );
    e
}

/// A tag value as KMS takes it: letters, digits, spaces and `_.:/=+-@`.
fn tag_value(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_alphanumeric() || c.is_whitespace() || "_.:/=+-@".contains(c) {
                c
            } else {
                '_'
            }
        })
        .take(256)
        .collect()
}

/// `alias/<prefix><label>`, when the label can be part of an alias name.
fn alias_for(prefix: &str, label: &str) -> Result<String> {
    let alias = format!("alias/{prefix}{label}");
    let fits = label
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "/_-".contains(c));
    if !fits || alias.len() > 256 || KeyRef::parse(&alias).is_err() {
        return Err(Error::new(
            CKR_ATTRIBUTE_VALUE_INVALID,
            format!(
                "CKA_LABEL '{label}' becomes alias {alias}: an alias name holds letters, \
                 digits, '/', '_' and '-', at most 256 in all"
            ),
        ));
    }
    Ok(alias)
}

impl Module {
    /// One KMS call through the backend, bounded by the module's deadline;
    /// a KMS failure as the CK_RV the managing functions may return
    /// (`management_error`).
    fn kms<T, F>(&self, call: impl FnOnce(Arc<dyn Backend>) -> F) -> Result<T>
    where
        T: Send + 'static,
        F: Future<Output = std::result::Result<T, BackendError>> + Send + 'static,
    {
        self.kms_answer(call)?.map_err(management_error)
    }

    /// One KMS call, its failure as KMS said it (the module's own failures,
    /// a runtime that cannot start or no answer in time, are the `Err`).
    fn kms_answer<T, F>(
        &self,
        call: impl FnOnce(Arc<dyn Backend>) -> F,
    ) -> Result<std::result::Result<T, BackendError>>
    where
        T: Send + 'static,
        F: Future<Output = std::result::Result<T, BackendError>> + Send + 'static,
    {
        let future = call(self.backend.clone());
        self.runtime()?.run(self.deadline, future)
    }

    /// The slot of a session that may change its token's keys: allowed by
    /// the configuration, read/write, logged in where a PIN is set.
    fn managing(&self, h: CK_SESSION_HANDLE, what: &str) -> Result<Arc<Slot>> {
        let session = self.session(h)?;
        let slot = self.slots[session.slot].clone();
        if !slot.management.allowed {
            return Err(prohibited(&slot, what));
        }
        if !session.is_rw() {
            return Err(CKR_SESSION_READ_ONLY.into());
        }
        if slot.login.has_pin() && !slot.login.private_visible() {
            return Err(CKR_USER_NOT_LOGGED_IN.into());
        }
        Ok(slot)
    }

    /// C_GenerateKeyPair: the new key's (public key, private key) handles.
    pub fn generate_key_pair(
        &self,
        h: CK_SESSION_HANDLE,
        ckm: CK_MECHANISM_TYPE,
        public: &request::Template,
        private: &request::Template,
    ) -> Result<(CK_OBJECT_HANDLE, CK_OBJECT_HANDLE)> {
        let slot = self.managing(h, "C_GenerateKeyPair")?;
        let asked = key_request(ckm, Templates::Pair { public, private })
            .map_err(|e| refused(&slot, "C_GenerateKeyPair", e))?;
        let objects = self.make_key(&slot, &asked)?;
        let handle = |class| objects.iter().find(|(c, _)| *c == class).map(|(_, h)| *h);
        match (handle(CKO_PUBLIC_KEY), handle(CKO_PRIVATE_KEY)) {
            (Some(public), Some(private)) => Ok((public, private)),
            _ => Err(Error::new(
                CKR_GENERAL_ERROR,
                "the new key has no key pair objects",
            )),
        }
    }

    /// C_GenerateKey: the new HMAC key's handle.
    pub fn generate_key(
        &self,
        h: CK_SESSION_HANDLE,
        ckm: CK_MECHANISM_TYPE,
        template: &request::Template,
    ) -> Result<CK_OBJECT_HANDLE> {
        let slot = self.managing(h, "C_GenerateKey")?;
        let asked = key_request(ckm, Templates::Secret(template))
            .map_err(|e| refused(&slot, "C_GenerateKey", e))?;
        let objects = self.make_key(&slot, &asked)?;
        objects
            .iter()
            .find(|(c, _)| *c == CKO_SECRET_KEY)
            .map(|(_, h)| *h)
            .ok_or_else(|| Error::new(CKR_GENERAL_ERROR, "the new key has no secret key object"))
    }

    /// CreateKey (and CreateAlias), then the key's objects.
    fn make_key(
        &self,
        slot: &Arc<Slot>,
        asked: &KeyRequest,
    ) -> Result<Vec<(CK_OBJECT_CLASS, CK_OBJECT_HANDLE)>> {
        let alias = match &asked.label {
            Some(label) => Some(alias_for(&slot.management.alias_prefix, label)?),
            None => None,
        };
        if let Some(alias) = &alias {
            self.check_free(alias)?;
        }
        let new = new_key(&slot.label, asked);
        let created = self.kms(|b| async move { b.create_key(&new).await })?;
        let arn = created.arn.clone();
        log_at!(
            Audit,
            "token '{}': CreateKey made {} {} key {arn}",
            slot.label,
            asked.spec.as_kms(),
            asked.usage.as_kms()
        );
        if let Some(alias) = &alias {
            let (a, k) = (alias.clone(), arn.clone());
            if let Err(e) = self.kms(|b| async move { b.create_alias(&a, &k).await }) {
                self.abandon(slot, &arn, &format!("CreateAlias {alias} failed: {e}"));
                return Err(e);
            }
        }
        let remote = match self.public_half(asked, &created) {
            Ok(remote) => remote,
            Err(e) => {
                let why = format!("its public key could not be read: {e}");
                self.unmake(slot, alias.as_deref(), &arn, &why);
                return Err(e);
            }
        };
        let entry = generated_entry(&remote, asked, alias.clone())?;
        let found = Found {
            key: remote,
            cached: None,
            entry: None,
        };
        let discovered = |a: &str| {
            let prefix = slot.management.discover_aliases.as_deref();
            prefix.is_some_and(|p| a.starts_with(p))
        };
        let named = alias
            .as_deref()
            .is_some_and(|a| slot.configures(a) || discovered(a));
        let objects = match slot.add_key(entry, &found, &self.next_object) {
            Ok(objects) => objects,
            Err(e) => {
                self.unmake(slot, alias.as_deref(), &arn, &format!("{e}"));
                return Err(e);
            }
        };
        let made = format!(
            "token '{}': generated {} key {arn}{}",
            slot.label,
            asked.spec.as_kms(),
            alias
                .as_deref()
                .map(|a| format!(" as {a}"))
                .unwrap_or_default(),
        );
        if named {
            log_at!(Audit, "{made}, which later processes find by its alias");
        } else {
            log_at!(
                Warn,
                "{made}; later processes see it once the configuration names it: \
                 [[token.key]] key = \"{}\"",
                alias.as_deref().unwrap_or(&arn)
            );
        }
        Ok(objects)
    }

    /// A label already taken is refused before any key is made.
    fn check_free(&self, alias: &str) -> Result<()> {
        let a = alias.to_string();
        match self.kms_answer(|b| async move { b.describe_key(&a, &[]).await.map(|m| m.arn) })? {
            Ok(arn) => Err(Error::new(
                CKR_ATTRIBUTE_VALUE_INVALID,
                format!("CKA_LABEL: {alias} already names {arn}; choose another label"),
            )),
            Err(e) if e.failure == Failure::NotFound => Ok(()),
            Err(e) => Err(management_error(e)),
        }
    }

    /// What GetPublicKey says of the new key (an HMAC key has no public
    /// half: CreateKey's answer says all).
    fn public_half(
        &self,
        asked: &KeyRequest,
        created: &crate::backend::KeyMetadata,
    ) -> Result<RemoteKey> {
        if let Family::Hmac(_) = asked.spec.family() {
            return Ok(RemoteKey {
                arn: created.arn.clone(),
                key_spec: created.key_spec.clone(),
                key_usage: created.key_usage.clone(),
                public_key: Vec::new(),
            });
        }
        let arn = created.arn.clone();
        let remote = self.kms(|b| async move { b.get_public_key(&arn, &[]).await })?;
        if remote.arn != created.arn {
            return Err(BackendError {
                failure: Failure::WrongKey,
                code: "WrongKey".into(),
                message: format!(
                    "GetPublicKey of {} answered for {}",
                    created.arn, remote.arn
                ),
                request_id: None,
            }
            .into());
        }
        Ok(remote)
    }

    /// A key made with its alias that cannot be used after all: the alias
    /// goes, and the orphan rule applies.
    fn unmake(&self, slot: &Slot, alias: Option<&str>, arn: &str, why: &str) {
        if let Some(alias) = alias {
            let (a, k) = (alias.to_string(), arn.to_string());
            let _ = self.kms(|b| async move { b.delete_alias(&a, &k).await });
        }
        self.abandon(slot, arn, why);
    }

    /// The orphan rule: a key whose making failed half-way is tagged and
    /// scheduled for deletion at KMS's shortest window, so a failed call
    /// leaves nothing usable behind.
    fn abandon(&self, slot: &Slot, arn: &str, why: &str) {
        let tags = vec![("kms11:orphaned".to_string(), "true".to_string())];
        let (k, t) = (arn.to_string(), tags);
        let tagged = self.kms(|b| async move { b.tag_resource(&k, &t).await });
        let k = arn.to_string();
        let scheduled =
            self.kms(|b| async move { b.schedule_key_deletion(&k, ORPHAN_WINDOW_DAYS).await });
        log_at!(
            Error,
            "token '{}': the new key {arn} is abandoned: {why}; {}; {}",
            slot.label,
            match tagged {
                Ok(()) => "tagged kms11:orphaned".to_string(),
                Err(e) => format!("tagging it failed ({e})"),
            },
            match scheduled {
                Ok(()) => format!("KMS deletes it in {ORPHAN_WINDOW_DAYS} days"),
                Err(e) => format!("scheduling its deletion failed ({e}): delete it by hand"),
            }
        );
    }

    /// C_DestroyObject of a KMS key's private (or secret) key:
    /// ScheduleKeyDeletion, then DeleteAlias of the alias naming it here
    /// (if it still names it); the key's objects leave the token.
    pub(super) fn retire(&self, h: CK_SESSION_HANDLE, o: &Object) -> Result<()> {
        let slot = self.managing(h, "C_DestroyObject on a KMS key")?;
        let key: Arc<KeyInfo> = o
            .key
            .clone()
            .ok_or(Error::from(CKR_OBJECT_HANDLE_INVALID))?;
        match o.class {
            CKO_PRIVATE_KEY | CKO_SECRET_KEY => {}
            CKO_PUBLIC_KEY => {
                return Err(Error::new(
                    CKR_ACTION_PROHIBITED,
                    "a KMS key's public key goes with its private key: destroy that one",
                ))
            }
            _ => {
                return Err(Error::new(
                    CKR_ACTION_PROHIBITED,
                    "a configured certificate is removed from the configuration, not here",
                ))
            }
        }
        let days = slot.management.deletion_window_days;
        let arn = key.arn.clone();
        self.kms(|b| async move { b.schedule_key_deletion(&arn, days).await })?;
        let alias = slot.retire(&key);
        // Other processes of this user must not find it in the cache.
        if let Some(path) = &key.cache_entry {
            crate::cache::DiskCache::forget(path);
        }
        log_at!(
            Audit,
            "token '{}': key {} scheduled for deletion in {days} days (CancelKeyDeletion \
             undoes it until then)",
            slot.label,
            key.arn
        );
        if let Some(alias) = alias {
            self.drop_alias(&slot, &alias, &key.arn);
        }
        // Its stored certificate would bring the retired key back.
        for failed in slot.drop_stored_of(&key.arn) {
            log_at!(
                Warn,
                "token '{}': stored certificate not removed: {failed}",
                slot.label
            );
        }
        Ok(())
    }

    /// DeleteAlias `alias` if it still names `arn` (it may have moved on).
    fn drop_alias(&self, slot: &Slot, alias: &str, arn: &str) {
        let a = alias.to_string();
        let names = self.kms(|b| async move { b.describe_key(&a, &[]).await.map(|m| m.arn) });
        if names.as_deref().is_ok_and(|named| named == arn) {
            let (a, k) = (alias.to_string(), arn.to_string());
            if let Err(e) = self.kms(|b| async move { b.delete_alias(&a, &k).await }) {
                log_at!(
                    Warn,
                    "token '{}': {alias} still names {arn}, which is pending deletion: {e}",
                    slot.label
                );
            }
        }
    }
}

/// CreateKey's request: the spec and usage asked for, a description, and
/// the tags that say who made the key.
fn new_key(token: &str, asked: &KeyRequest) -> NewKey {
    let label = asked.label.as_deref().unwrap_or("(no label)");
    let mut tags = vec![
        (CREATED_BY.to_string(), "kms11".to_string()),
        ("kms11:token".to_string(), tag_value(token)),
    ];
    if let Some(l) = &asked.label {
        tags.push(("kms11:label".to_string(), tag_value(l)));
    }
    if let Some(id) = &asked.id {
        tags.push((
            "kms11:cka-id".to_string(),
            data_encoding::HEXLOWER
                .encode(id)
                .chars()
                .take(256)
                .collect(),
        ));
    }
    tags.extend(asked.tags.iter().cloned());
    NewKey {
        key_spec: asked.spec.as_kms(),
        key_usage: asked.usage.as_kms(),
        description: asked
            .description
            .clone()
            .unwrap_or_else(|| format!("{label} (kms11 token '{token}')")),
        tags,
        multi_region: asked.multi_region,
        policy: asked.policy.clone(),
    }
}

/// The token entry of a key made here: named by its ARN, with the
/// template's label and CKA_ID.
fn generated_entry(remote: &RemoteKey, asked: &KeyRequest, alias: Option<String>) -> Result<Entry> {
    let key = KeyRef::parse(&remote.arn)
        .map_err(|e| Error::new(CKR_DEVICE_ERROR, format!("CreateKey's ARN: {e}")))?;
    let config = KeyConfig {
        key: Spanned::new(0..0, key),
        label: Some(Spanned::new(
            0..0,
            asked
                .label
                .clone()
                .unwrap_or_else(|| remote.key_id().to_string()),
        )),
        id: asked
            .id
            .as_ref()
            .filter(|id| !id.is_empty())
            .map(|id| Spanned::new(0..0, data_encoding::HEXLOWER.encode(id))),
        grant_tokens: Vec::new(),
        certificate: None,
    };
    let mut entry = Entry::new(config, None);
    entry.alias = alias;
    Ok(entry)
}

#[cfg(test)]
mod tests;
