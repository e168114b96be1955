//! C_CreateObject of X.509 certificates (what keytool, gnupg-pkcs11-scd's
//! tools and `pkcs11-tool --write-object` do after making a key): a session
//! object kept in memory, or a token object stored in the token's
//! `certificate_dir` (`certstore.rs`) and found by later processes. Keys
//! are made in KMS (C_GenerateKeyPair), never imported.

use super::certificate::Certificate;
use super::certstore::{CertStore, Stored};
use super::object::Object;
use super::slot::Slot;
use super::template::{as_bool, as_ulong};
use super::Module;
use crate::attribute;
use crate::error::{Error, Result};
use crate::log_at;
use cryptoki_sys::CK_OBJECT_HANDLE;
use cryptoki_sys::*;
use std::sync::atomic::Ordering;
use std::sync::Arc;

fn invalid(why: impl Into<String>) -> Error {
    Error::new(CKR_ATTRIBUTE_VALUE_INVALID, why)
}

/// What a certificate template asks for.
struct Asked {
    der: Vec<u8>,
    token: bool,
    private: bool,
    label: Option<String>,
    id: Option<Vec<u8>>,
}

/// The template of a certificate object; anything else is refused.
fn asked(template: &[(CK_ATTRIBUTE_TYPE, Vec<u8>)]) -> Result<Asked> {
    let (mut class, mut cert_type, mut der) = (None, None, None);
    let mut a = Asked {
        der: Vec::new(),
        token: false,
        private: false,
        label: None,
        id: None,
    };
    // The class first: what is not a certificate is refused as such.
    if let Some((t, v)) = template.iter().find(|(t, _)| *t == CKA_CLASS) {
        let c = as_ulong(*t, v)?;
        if c != CKO_CERTIFICATE {
            return Err(Error::new(
                CKR_TEMPLATE_INCONSISTENT,
                format!(
                    "CKA_CLASS {c:#x}: this token stores certificates only; keys are made in \
                     KMS (C_GenerateKeyPair), never imported"
                ),
            ));
        }
    }
    for (t, v) in template {
        match *t {
            CKA_CLASS => class = Some(as_ulong(*t, v)?),
            CKA_CERTIFICATE_TYPE => cert_type = Some(as_ulong(*t, v)?),
            CKA_VALUE => der = Some(v.clone()),
            CKA_TOKEN => a.token = as_bool(*t, v)?,
            CKA_PRIVATE => a.private = as_bool(*t, v)?,
            CKA_LABEL => {
                let label =
                    String::from_utf8(v.clone()).map_err(|_| invalid("CKA_LABEL is UTF-8 text"))?;
                a.label = Some(label);
            }
            CKA_ID => a.id = Some(v.clone()),
            CKA_TRUSTED if as_bool(*t, v)? => {
                return Err(invalid("CKA_TRUSTED: only a security officer could set it"))
            }
            CKA_URL if !v.is_empty() => {
                return Err(invalid(
                    "CKA_URL: the certificate itself is stored (CKA_VALUE)",
                ))
            }
            // Said by the certificate itself; the object shows the
            // certificate's own values.
            CKA_SUBJECT
            | CKA_ISSUER
            | CKA_SERIAL_NUMBER
            | CKA_START_DATE
            | CKA_END_DATE
            | CKA_CHECK_VALUE
            | CKA_HASH_OF_SUBJECT_PUBLIC_KEY
            | CKA_HASH_OF_ISSUER_PUBLIC_KEY
            | CKA_URL
            | CKA_PUBLIC_KEY_INFO => {}
            CKA_TRUSTED | CKA_MODIFIABLE | CKA_COPYABLE | CKA_DESTROYABLE => {
                as_bool(*t, v)?;
            }
            CKA_CERTIFICATE_CATEGORY | CKA_JAVA_MIDP_SECURITY_DOMAIN | CKA_NAME_HASH_ALGORITHM => {
                as_ulong(*t, v)?;
            }
            t if attribute::find(t).is_some() => {
                return Err(Error::new(
                    CKR_TEMPLATE_INCONSISTENT,
                    format!(
                        "{} is not an attribute of a certificate",
                        attribute::name(t)
                    ),
                ))
            }
            _ => return Err(CKR_ATTRIBUTE_TYPE_INVALID.into()),
        }
    }
    match class {
        None => {
            return Err(Error::new(
                CKR_TEMPLATE_INCOMPLETE,
                "the template needs CKA_CLASS",
            ))
        }
        Some(CKO_CERTIFICATE) => {}
        Some(_) => {
            return Err(Error::new(
                CKR_TEMPLATE_INCONSISTENT,
                "this token stores certificates only: keys are made in KMS (C_GenerateKeyPair)",
            ))
        }
    }
    match cert_type {
        Some(CKC_X_509) => {}
        Some(_) => return Err(invalid("CKA_CERTIFICATE_TYPE: X.509 certificates only")),
        None => {
            return Err(Error::new(
                CKR_TEMPLATE_INCOMPLETE,
                "the template needs CKA_CERTIFICATE_TYPE (CKC_X_509)",
            ))
        }
    }
    a.der =
        der.ok_or_else(|| Error::new(CKR_TEMPLATE_INCOMPLETE, "the template needs CKA_VALUE"))?;
    Ok(a)
}

impl Module {
    /// C_CreateObject: a certificate object.
    pub fn create_object(
        &self,
        h: CK_SESSION_HANDLE,
        template: &[(CK_ATTRIBUTE_TYPE, Vec<u8>)],
    ) -> Result<CK_OBJECT_HANDLE> {
        let session = self.session(h)?;
        let slot = self.slots[session.slot].clone();
        let a = asked(template)?;
        let cert =
            Certificate::from_der(a.der.clone()).map_err(|e| invalid(format!("CKA_VALUE: {e}")))?;
        if (a.token || a.private) && slot.login.has_pin() && !slot.login.private_visible() {
            return Err(CKR_USER_NOT_LOGGED_IN.into());
        }
        // The token's key whose public key the certificate holds, if any:
        // its label and CKA_ID are the certificate's unless the template
        // says otherwise (so clients pairing by CKA_ID find the pair).
        let key = slot.key_with_spki(&cert.spki);
        let made = Stored {
            label: a
                .label
                .or_else(|| key.as_ref().map(|k| k.label.clone()))
                .unwrap_or_default(),
            id: a
                .id
                .or_else(|| key.as_ref().map(|k| k.id.clone()))
                .unwrap_or_default(),
            key_arn: key.as_ref().map(|k| k.arn.clone()),
            private: a.private,
        };
        let handle = self.next_object.fetch_add(1, Ordering::Relaxed);
        if !a.token {
            let o = Object::created_certificate(handle, &cert, &made, Some(h), None);
            slot.add_session_object(o);
            return Ok(handle);
        }
        let Some(dir) = slot.management.certificate_dir.clone() else {
            return Err(Error::new(
                CKR_TEMPLATE_INCONSISTENT,
                "CKA_TOKEN true: this token keeps no certificates (set certificate_dir in its \
                 [[token]] section), only session ones",
            ));
        };
        if !session.is_rw() {
            return Err(CKR_SESSION_READ_ONLY.into());
        }
        let store = CertStore::new(dir);
        let key_id = key
            .as_ref()
            .and_then(|k| crate::keyref::KeyRef::key_id_in(&k.arn).map(str::to_string));
        let path = store.path_for(key_id.as_deref(), &cert.der);
        store.save(&path, &cert.der, &made).map_err(|e| {
            Error::new(
                CKR_DEVICE_ERROR,
                format!("storing the certificate in {}: {e}", path.display()),
            )
        })?;
        log_at!(
            Audit,
            "token '{}': certificate stored in {}{}",
            slot.label,
            path.display(),
            made.key_arn
                .as_deref()
                .map(|a| format!(" for {a}"))
                .unwrap_or_default()
        );
        let o = Object::created_certificate(handle, &cert, &made, None, Some(path));
        slot.add_stored(o);
        Ok(handle)
    }

    /// C_DestroyObject of a stored certificate: its file goes too.
    pub(super) fn destroy_stored(&self, h: CK_SESSION_HANDLE, o: &Object) -> Result<()> {
        let session = self.session(h)?;
        let slot = &self.slots[session.slot];
        if !session.is_rw() {
            return Err(CKR_SESSION_READ_ONLY.into());
        }
        if let Some(path) = &o.stored {
            match std::fs::remove_file(path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(Error::new(
                        CKR_DEVICE_ERROR,
                        format!("removing {}: {e}", path.display()),
                    ))
                }
            }
        }
        slot.remove_object(o.handle);
        Ok(())
    }
}

/// A token's stored certificates in its object table.
impl Slot {
    /// Adds a certificate stored in `certificate_dir`, in place of the one
    /// stored in the same file before (a renewed certificate).
    pub fn add_stored(&self, o: Object) {
        let mut t = self.table.write();
        let replaced: Vec<CK_OBJECT_HANDLE> = t
            .objects
            .values()
            .filter(|old| old.stored.is_some() && old.stored == o.stored)
            .map(|old| old.handle)
            .collect();
        for h in replaced {
            t.objects.remove(&h);
        }
        t.objects.insert(o.handle, Arc::new(o));
    }

    /// Removes the stored certificates of key `arn` (a key being retired),
    /// files and objects; the files that could not be removed.
    pub fn drop_stored_of(&self, arn: &str) -> Vec<String> {
        let mut t = self.table.write();
        let of_key: Vec<(CK_OBJECT_HANDLE, std::path::PathBuf)> = t
            .objects
            .values()
            .filter(|o| {
                matches!(o.attribute(crate::vendor::CKA_KMS11_KEY_ARN),
                    super::object::AttributeValue::Value(v) if v == arn.as_bytes())
            })
            .filter_map(|o| Some((o.handle, o.stored.clone()?)))
            .collect();
        let mut failed = Vec::new();
        for (h, path) in of_key {
            match std::fs::remove_file(&path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    failed.push(format!("{}: {e}", path.display()));
                }
                _ => {
                    t.objects.remove(&h);
                }
            }
        }
        failed
    }

    /// Removes a token object that is no KMS key's (a stored certificate).
    pub fn remove_object(&self, handle: CK_OBJECT_HANDLE) {
        let mut t = self.table.write();
        if t.objects
            .get(&handle)
            .is_some_and(|o| o.key.is_none() && o.owner.is_none())
        {
            t.objects.remove(&handle);
        }
    }
}
