//! C_SetAttributeValue of CKA_LABEL on a KMS key's object, where the token
//! allows key management: the key's alias moves to `alias/<prefix><label>`
//! (CreateAlias of the new name, then DeleteAlias of the old one, if it
//! still names the key), and the key's objects take the new label and keep
//! their handles.

use super::{alias_for, Module};
use crate::attribute;
use crate::error::{Error, Result};
use crate::log_at;
use cryptoki_sys::*;

impl Module {
    /// C_SetAttributeValue: only CKA_LABEL, only of a KMS key's object, only
    /// on a token that allows key management.
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
        let mut label = None;
        for (t, v) in template {
            match *t {
                CKA_LABEL => {
                    let text = String::from_utf8(v.clone()).map_err(|_| {
                        Error::new(CKR_ATTRIBUTE_VALUE_INVALID, "CKA_LABEL is UTF-8")
                    })?;
                    label = Some(text);
                }
                t if attribute::find(t).is_some() => {
                    return Err(Error::new(
                        CKR_ATTRIBUTE_READ_ONLY,
                        format!(
                            "{}: only CKA_LABEL of a KMS key can change",
                            attribute::name(t)
                        ),
                    ))
                }
                _ => return Err(CKR_ATTRIBUTE_TYPE_INVALID.into()),
            }
        }
        let Some(label) = label.filter(|l| *l != key.label) else {
            return Ok(());
        };
        let alias = alias_for(&slot.management.alias_prefix, &label)?;
        self.check_free(&alias)?;
        let (a, k) = (alias.clone(), key.arn.clone());
        self.kms(|b| async move { b.create_alias(&a, &k).await })?;
        let old = slot.alias_of(&key);
        if let Some(old) = &old {
            self.drop_alias(&slot, old, &key.arn);
        }
        let configured = slot.relabel(&key, &label, &alias, &self.next_object)?;
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
}
