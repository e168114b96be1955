//! Objects and their attributes. Every attribute value is encoded once, when
//! the key is resolved, so C_GetAttributeValue and C_FindObjects only
//! compare and copy bytes.

use super::key::{KeyInfo, PublicParts};
use crate::attribute::{self, boolean, ulong};
use crate::vocabulary::KeyUsage;
use cryptoki_sys::*;
use std::collections::BTreeMap;
use std::sync::Arc;

#[derive(Debug)]
pub struct Object {
    pub handle: CK_OBJECT_HANDLE,
    pub class: CK_OBJECT_CLASS,
    pub key: Arc<KeyInfo>,
    /// CKA_PRIVATE: seen only after C_Login.
    pub private: bool,
    attributes: BTreeMap<CK_ATTRIBUTE_TYPE, Vec<u8>>,
}

/// What C_GetAttributeValue finds for one attribute of the template.
#[derive(Debug, PartialEq, Eq)]
pub enum AttributeValue<'a> {
    Value(&'a [u8]),
    /// Exists, but the key's private half never leaves KMS.
    Sensitive,
    /// Not an attribute of this object.
    Invalid,
}

/// CKA_KEY_TYPE of `key`: the attribute table says which attributes its
/// private key holds but never reveals.
fn key_type(key: &KeyInfo) -> CK_KEY_TYPE {
    key.spec.family().key_type()
}

/// The object's values, each checked in debug builds against its row of
/// the attribute table: an attribute the table does not know, or a value
/// not of its encoding, is a bug here.
fn checked(
    attributes: BTreeMap<CK_ATTRIBUTE_TYPE, Vec<u8>>,
) -> BTreeMap<CK_ATTRIBUTE_TYPE, Vec<u8>> {
    for (t, v) in &attributes {
        debug_assert!(
            attribute::fits(*t, v),
            "{} does not fit its row of the attribute table",
            attribute::name(*t)
        );
    }
    attributes
}

fn common(key: &KeyInfo, class: CK_OBJECT_CLASS) -> BTreeMap<CK_ATTRIBUTE_TYPE, Vec<u8>> {
    let mut a = BTreeMap::new();
    a.insert(CKA_CLASS, ulong(class));
    a.insert(CKA_TOKEN, boolean(true));
    a.insert(CKA_PRIVATE, boolean(false));
    a.insert(CKA_MODIFIABLE, boolean(false));
    a.insert(CKA_COPYABLE, boolean(false));
    a.insert(CKA_DESTROYABLE, boolean(false));
    a.insert(CKA_LABEL, key.label.as_bytes().to_vec());
    a.insert(CKA_ID, key.id.clone());
    a
}

fn key_attributes(
    key: &KeyInfo,
    class: CK_OBJECT_CLASS,
    subject: &[u8],
) -> BTreeMap<CK_ATTRIBUTE_TYPE, Vec<u8>> {
    let mut a = common(key, class);
    let family = key.spec.family();
    a.insert(CKA_KEY_TYPE, ulong(family.key_type()));
    a.insert(CKA_START_DATE, Vec::new());
    a.insert(CKA_END_DATE, Vec::new());
    a.insert(CKA_DERIVE, boolean(false));
    a.insert(CKA_LOCAL, boolean(true));
    a.insert(CKA_KEY_GEN_MECHANISM, ulong(family.key_gen_mechanism()));
    let allowed: Vec<u8> = crate::mechanism::for_key(family, key.usage)
        .flat_map(|m| m.to_ne_bytes())
        .collect();
    a.insert(CKA_ALLOWED_MECHANISMS, allowed);
    a.insert(CKA_SUBJECT, subject.to_vec());
    a.insert(CKA_PUBLIC_KEY_INFO, key.spki.clone());
    match &key.parts {
        PublicParts::Rsa { modulus, exponent } => {
            a.insert(CKA_MODULUS, modulus.clone());
            a.insert(CKA_MODULUS_BITS, ulong(key.modulus_bits() as CK_ULONG));
            a.insert(CKA_PUBLIC_EXPONENT, exponent.clone());
        }
        PublicParts::Ec { .. } | PublicParts::Ed25519 { .. } => {
            a.insert(CKA_EC_PARAMS, key.ec_params().unwrap_or_default());
            a.insert(CKA_EC_POINT, key.ec_point().unwrap_or_default());
        }
    }
    a
}

impl Object {
    /// The private key; `private` (the token has a PIN) makes it
    /// CKA_PRIVATE, visible only after C_Login.
    pub fn private_key(
        handle: CK_OBJECT_HANDLE,
        key: Arc<KeyInfo>,
        subject: &[u8],
        private: bool,
    ) -> Object {
        let mut a = key_attributes(&key, CKO_PRIVATE_KEY, subject);
        a.insert(CKA_PRIVATE, boolean(private));
        let signs = key.usage == KeyUsage::SignVerify;
        for (t, v) in [
            (CKA_SENSITIVE, true),
            (CKA_DECRYPT, !signs),
            (CKA_SIGN, signs),
            (CKA_SIGN_RECOVER, false),
            (CKA_UNWRAP, false),
            (CKA_EXTRACTABLE, false),
            (CKA_ALWAYS_SENSITIVE, true),
            (CKA_NEVER_EXTRACTABLE, true),
            (CKA_WRAP_WITH_TRUSTED, false),
            (CKA_ALWAYS_AUTHENTICATE, false),
        ] {
            a.insert(t, boolean(v));
        }
        Object {
            handle,
            class: CKO_PRIVATE_KEY,
            key,
            private,
            attributes: checked(a),
        }
    }

    pub fn public_key(handle: CK_OBJECT_HANDLE, key: Arc<KeyInfo>, subject: &[u8]) -> Object {
        let mut a = key_attributes(&key, CKO_PUBLIC_KEY, subject);
        let signs = key.usage == KeyUsage::SignVerify;
        for (t, v) in [
            (CKA_ENCRYPT, !signs),
            (CKA_VERIFY, signs),
            (CKA_VERIFY_RECOVER, false),
            (CKA_WRAP, false),
            (CKA_TRUSTED, false),
        ] {
            a.insert(t, boolean(v));
        }
        Object {
            handle,
            class: CKO_PUBLIC_KEY,
            key,
            private: false,
            attributes: checked(a),
        }
    }

    pub fn certificate(
        handle: CK_OBJECT_HANDLE,
        key: Arc<KeyInfo>,
        cert: &super::certificate::Certificate,
    ) -> Object {
        let mut a = common(&key, CKO_CERTIFICATE);
        a.insert(CKA_CERTIFICATE_TYPE, ulong(CKC_X_509));
        a.insert(CKA_TRUSTED, boolean(false));
        a.insert(
            CKA_CERTIFICATE_CATEGORY,
            ulong(CK_CERTIFICATE_CATEGORY_TOKEN_USER),
        );
        a.insert(CKA_CHECK_VALUE, cert.check_value.clone());
        a.insert(CKA_START_DATE, cert.start_date.clone());
        a.insert(CKA_END_DATE, cert.end_date.clone());
        a.insert(CKA_PUBLIC_KEY_INFO, key.spki.clone());
        a.insert(CKA_SUBJECT, cert.subject.clone());
        a.insert(CKA_ISSUER, cert.issuer.clone());
        a.insert(CKA_SERIAL_NUMBER, cert.serial.clone());
        a.insert(CKA_VALUE, cert.der.clone());
        a.insert(CKA_URL, Vec::new());
        a.insert(CKA_HASH_OF_SUBJECT_PUBLIC_KEY, Vec::new());
        a.insert(CKA_HASH_OF_ISSUER_PUBLIC_KEY, Vec::new());
        a.insert(
            CKA_JAVA_MIDP_SECURITY_DOMAIN,
            ulong(CK_SECURITY_DOMAIN_UNSPECIFIED),
        );
        a.insert(CKA_NAME_HASH_ALGORITHM, ulong(CKM_SHA_1));
        Object {
            handle,
            class: CKO_CERTIFICATE,
            key,
            private: false,
            attributes: checked(a),
        }
    }

    pub fn attribute(&self, t: CK_ATTRIBUTE_TYPE) -> AttributeValue<'_> {
        if let Some(v) = self.attributes.get(&t) {
            return AttributeValue::Value(v);
        }
        // Not stored: a private key's part that exists in KMS only, or no
        // attribute of this object.
        let sensitive = self.class == CKO_PRIVATE_KEY
            && attribute::find(t).is_some_and(|a| a.is_sensitive_for(key_type(&self.key)));
        if sensitive {
            AttributeValue::Sensitive
        } else {
            AttributeValue::Invalid
        }
    }

    /// True when every attribute of the template has exactly this value.
    pub fn matches(&self, template: &[(CK_ATTRIBUTE_TYPE, Vec<u8>)]) -> bool {
        template
            .iter()
            .all(|(t, v)| self.attributes.get(t).is_some_and(|mine| mine == v))
    }

    /// C_GetObjectSize's answer: the bytes of all attribute values.
    pub fn size(&self) -> usize {
        self.attributes.values().map(Vec::len).sum()
    }
}
