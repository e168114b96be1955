//! C_SetAttributeValue of CKA_LABEL or CKA_ID on a KMS key's object, where
//! the token allows key management. A new label moves the key's alias to
//! `alias/<prefix><label>` (CreateAlias of the new name, then DeleteAlias of
//! the old one, if it still names the key); a new CKA_ID holds in this
//! process and is written as the key's `kms11:cka-id` tag (Java's keystore
//! sets both after generating a key). The key's objects take the new values
//! and keep their handles.

use super::{alias_for, Module};
use crate::attribute;
use crate::error::{Error, Result};
use crate::log_at;
use crate::token::key::KeyInfo;
use crate::token::slot::Slot;
use cryptoki_sys::*;
use std::sync::Arc;

impl Module {
    /// C_SetAttributeValue: only CKA_LABEL and CKA_ID, only of a KMS key's
    /// object, only on a token that allows key management.
    pub fn set_attribute_value(
        &self,
        h: CK_SESSION_HANDLE,
        object: CK_OBJECT_HANDLE,
        template: &[(CK_ATTRIBUTE_TYPE, Vec<u8>)],
    ) -> Result<()> {
        let o = self.with_object(h, object, |o| (o.class, o.key.clone()))?;
        let (class, key) = match o {
            (CKO_CERTIFICATE, _) | (_, None) => {
                return Err(Error::new(
                    CKR_ACTION_PROHIBITED,
                    "only a KMS key's label can be changed (CKA_MODIFIABLE is false)",
                ))
            }
            (class, Some(key)) => (class, key),
        };
        let slot = self.managing(h, "C_SetAttributeValue on a KMS key")?;
        let (mut label, mut id) = (None, None);
        for (t, v) in template {
            match *t {
                CKA_LABEL => {
                    let text = String::from_utf8(v.clone()).map_err(|_| {
                        Error::new(CKR_ATTRIBUTE_VALUE_INVALID, "CKA_LABEL is UTF-8")
                    })?;
                    label = Some(text);
                }
                CKA_ID => id = Some(v.clone()),
                t if attribute::find(t).is_some() => {
                    return Err(Error::new(
                        CKR_ATTRIBUTE_READ_ONLY,
                        format!(
                            "{}: only CKA_LABEL and CKA_ID of a KMS key can change",
                            attribute::name(t)
                        ),
                    ))
                }
                _ => return Err(CKR_ATTRIBUTE_TYPE_INVALID.into()),
            }
        }
        if let Some(label) = label.filter(|l| *l != key.label) {
            self.relabel(&slot, &key, class, &label)?;
        }
        if let Some(id) = id {
            // The key's objects now (a relabel just made them again).
            let now = self.with_object(h, object, |o| o.key.clone())?;
            let key = now.unwrap_or(key);
            if id != key.id {
                self.set_id(&slot, &key, &id);
            }
        }
        Ok(())
    }

    /// A new label: the alias moves.
    fn relabel(
        &self,
        slot: &Arc<Slot>,
        key: &Arc<KeyInfo>,
        class: CK_OBJECT_CLASS,
        label: &str,
    ) -> Result<()> {
        let alias = alias_for(&slot.management.alias_prefix, label)?;
        self.check_free(&alias)?;
        let (a, k) = (alias.clone(), key.arn.clone());
        self.kms(|b| async move { b.create_alias(&a, &k).await })?;
        let old = slot.alias_of(key);
        if let Some(old) = &old {
            self.drop_alias(slot, old, &key.arn);
        }
        let configured = slot.relabel(key, label, &alias, &self.next_object)?;
        log_at!(
            Audit,
            "token '{}': key {} (through its {:#x} object) is now {alias}{}",
            slot.label,
            key.arn,
            class,
            old.map(|o| format!(", was {o}")).unwrap_or_default()
        );
        if let Some(reference) = configured {
            log_at!(
                Warn,
                "token '{}': the configuration names {reference}, which no longer exists; \
                 change it to key = \"{alias}\" for later processes",
                slot.label
            );
        }
        Ok(())
    }

    /// A new CKA_ID: in this process, and as the key's kms11:cka-id tag.
    fn set_id(&self, slot: &Slot, key: &Arc<KeyInfo>, id: &[u8]) {
        if let Err(e) = slot.set_id(key, id, &self.next_object) {
            log_at!(
                Warn,
                "token '{}': CKA_ID of {} not changed: {e}",
                slot.label,
                key.arn
            );
            return;
        }
        let hex = data_encoding::HEXLOWER.encode(id);
        let tags = vec![("kms11:cka-id".to_string(), hex.chars().take(256).collect())];
        let arn = key.arn.clone();
        if let Err(e) = self.kms(|b| async move { b.tag_resource(&arn, &tags).await }) {
            log_at!(
                Warn,
                "token '{}': tagging {} with its CKA_ID failed: {e}",
                slot.label,
                key.arn
            );
        }
        log_at!(
            Warn,
            "token '{}': key {} has CKA_ID {hex} in this process; later processes give it \
             that CKA_ID when its [[token.key]] says id = \"{hex}\"",
            slot.label,
            key.arn
        );
    }
}
