//! Objects and their attributes. Every attribute value is encoded once, when
//! the key is resolved, so C_GetAttributeValue and C_FindObjects only
//! compare and copy bytes.

use super::key::{KeyInfo, PublicParts};
use crate::attribute::{self, boolean, ulong};
use crate::vendor::*;
use crate::vocabulary::KeyUsage;
use cryptoki_sys::*;
use std::collections::BTreeMap;
use std::sync::Arc;

#[derive(Debug)]
pub struct Object {
    pub handle: CK_OBJECT_HANDLE,
    pub class: CK_OBJECT_CLASS,
    /// The KMS key behind the object; `None` for a session object (a key
    /// C_DeriveKey made).
    pub key: Option<Arc<KeyInfo>>,
    /// The session that made a session object: it ends with that session.
    pub owner: Option<CK_SESSION_HANDLE>,
    /// A session object's key value (CKA_VALUE), zeroed when dropped; read
    /// only when the object is neither sensitive nor unextractable.
    secret: Option<zeroize::Zeroizing<Vec<u8>>>,
    /// CKA_PRIVATE: seen only after C_Login.
    pub private: bool,
    /// A certificate C_CreateObject stored in the token's
    /// `certificate_dir`: its file (C_DestroyObject removes it).
    pub stored: Option<std::path::PathBuf>,
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
    // On a token that allows key management (docs/keys.md), a key's label
    // can be changed through any of its objects, and the key retired
    // through its private (or secret) key; a certificate configured by
    // file is the file's.
    let key_object = class != CKO_CERTIFICATE;
    let retires = matches!(class, CKO_PRIVATE_KEY | CKO_SECRET_KEY);
    a.insert(CKA_MODIFIABLE, boolean(key.managed && key_object));
    a.insert(CKA_COPYABLE, boolean(false));
    a.insert(CKA_DESTROYABLE, boolean(key.managed && retires));
    a.insert(CKA_LABEL, key.label.as_bytes().to_vec());
    a.insert(CKA_ID, key.id.clone());
    a.insert(CKA_KMS11_KEY_ARN, key.arn.as_bytes().to_vec());
    a.insert(CKA_KMS11_KEY_SPEC, key.spec.as_kms().as_bytes().to_vec());
    a.insert(CKA_KMS11_KEY_USAGE, key.usage.as_kms().as_bytes().to_vec());
    a.insert(CKA_KMS11_ALIAS, key.alias.as_bytes().to_vec());
    a.insert(CKA_KMS11_MULTI_REGION, boolean(key.multi_region()));
    a
}

/// The attributes of every key object (PKCS#11's common key attributes).
fn key_common(key: &KeyInfo, class: CK_OBJECT_CLASS) -> BTreeMap<CK_ATTRIBUTE_TYPE, Vec<u8>> {
    let mut a = common(key, class);
    let family = key.spec.family();
    a.insert(CKA_KEY_TYPE, ulong(family.key_type()));
    a.insert(CKA_START_DATE, Vec::new());
    a.insert(CKA_END_DATE, Vec::new());
    let derives = class != CKO_PUBLIC_KEY && key.usage == KeyUsage::KeyAgreement;
    a.insert(CKA_DERIVE, boolean(derives));
    a.insert(CKA_LOCAL, boolean(true));
    a.insert(CKA_KEY_GEN_MECHANISM, ulong(family.key_gen_mechanism()));
    let allowed: Vec<u8> = crate::mechanism::for_key(family, key.usage)
        .flat_map(|m| m.to_ne_bytes())
        .collect();
    a.insert(CKA_ALLOWED_MECHANISMS, allowed);
    a
}

/// A key pair's half: the common key attributes and the public parts.
fn key_attributes(
    key: &KeyInfo,
    class: CK_OBJECT_CLASS,
    subject: &[u8],
) -> BTreeMap<CK_ATTRIBUTE_TYPE, Vec<u8>> {
    let mut a = key_common(key, class);
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
        PublicParts::Secret => {}
        PublicParts::MlDsa(set) => {
            a.insert(CKA_PARAMETER_SET, ulong(set.row().ckp));
            // The public key's value; the private key's never leaves KMS.
            if class == CKO_PUBLIC_KEY {
                a.insert(CKA_VALUE, key.public_key.clone());
            }
        }
    }
    a
}

/// What every X.509 certificate object says of its certificate.
fn certificate_attributes(
    a: &mut BTreeMap<CK_ATTRIBUTE_TYPE, Vec<u8>>,
    cert: &super::certificate::Certificate,
) {
    a.insert(CKA_CERTIFICATE_TYPE, ulong(CKC_X_509));
    a.insert(CKA_TRUSTED, boolean(false));
    a.insert(
        CKA_CERTIFICATE_CATEGORY,
        ulong(CK_CERTIFICATE_CATEGORY_TOKEN_USER),
    );
    a.insert(CKA_CHECK_VALUE, cert.check_value.clone());
    a.insert(CKA_START_DATE, cert.start_date.clone());
    a.insert(CKA_END_DATE, cert.end_date.clone());
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
        for (t, v) in [
            (CKA_SENSITIVE, true),
            (CKA_DECRYPT, key.usage == KeyUsage::EncryptDecrypt),
            (CKA_SIGN, key.usage == KeyUsage::SignVerify),
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
            key: Some(key),
            owner: None,
            secret: None,
            stored: None,
            private,
            attributes: checked(a),
        }
    }

    pub fn public_key(handle: CK_OBJECT_HANDLE, key: Arc<KeyInfo>, subject: &[u8]) -> Object {
        let mut a = key_attributes(&key, CKO_PUBLIC_KEY, subject);
        for (t, v) in [
            (CKA_ENCRYPT, key.usage == KeyUsage::EncryptDecrypt),
            (CKA_VERIFY, key.usage == KeyUsage::SignVerify),
            (CKA_VERIFY_RECOVER, false),
            (CKA_WRAP, false),
            (CKA_TRUSTED, false),
        ] {
            a.insert(t, boolean(v));
        }
        Object {
            handle,
            class: CKO_PUBLIC_KEY,
            key: Some(key),
            owner: None,
            secret: None,
            stored: None,
            private: false,
            attributes: checked(a),
        }
    }

    /// An HMAC key: signs and verifies (MACs), never leaves KMS. Its
    /// CKA_VALUE_LEN is the key material KMS generates for the spec (an
    /// imported key's may be longer: KMS does not say).
    pub fn secret_key(handle: CK_OBJECT_HANDLE, key: Arc<KeyInfo>, private: bool) -> Object {
        let mut a = key_common(&key, CKO_SECRET_KEY);
        a.insert(CKA_PRIVATE, boolean(private));
        a.insert(CKA_VALUE_LEN, ulong(key.spec.signature_len() as CK_ULONG));
        let macs = key.usage == KeyUsage::GenerateVerifyMac;
        for (t, v) in [
            (CKA_SENSITIVE, true),
            (CKA_ENCRYPT, false),
            (CKA_DECRYPT, false),
            (CKA_SIGN, macs),
            (CKA_VERIFY, macs),
            (CKA_WRAP, false),
            (CKA_UNWRAP, false),
            (CKA_EXTRACTABLE, false),
            (CKA_ALWAYS_SENSITIVE, true),
            (CKA_NEVER_EXTRACTABLE, true),
            (CKA_TRUSTED, false),
            (CKA_WRAP_WITH_TRUSTED, false),
        ] {
            a.insert(t, boolean(v));
        }
        Object {
            handle,
            class: CKO_SECRET_KEY,
            key: Some(key),
            owner: None,
            secret: None,
            stored: None,
            private,
            attributes: checked(a),
        }
    }

    pub fn certificate(
        handle: CK_OBJECT_HANDLE,
        key: Arc<KeyInfo>,
        cert: &super::certificate::Certificate,
    ) -> Object {
        let mut a = common(&key, CKO_CERTIFICATE);
        certificate_attributes(&mut a, cert);
        a.insert(CKA_PUBLIC_KEY_INFO, key.spki.clone());
        Object {
            handle,
            class: CKO_CERTIFICATE,
            key: Some(key),
            owner: None,
            secret: None,
            stored: None,
            private: false,
            attributes: checked(a),
        }
    }

    /// A certificate C_CreateObject made: a session object of `owner`, or
    /// a token object stored in file `stored`. It has no KMS key.
    pub fn created_certificate(
        handle: CK_OBJECT_HANDLE,
        cert: &super::certificate::Certificate,
        made: &super::certstore::Stored,
        owner: Option<CK_SESSION_HANDLE>,
        stored: Option<std::path::PathBuf>,
    ) -> Object {
        let mut a = BTreeMap::new();
        a.insert(CKA_CLASS, ulong(CKO_CERTIFICATE));
        a.insert(CKA_TOKEN, boolean(owner.is_none()));
        a.insert(CKA_PRIVATE, boolean(made.private));
        a.insert(CKA_MODIFIABLE, boolean(false));
        a.insert(CKA_COPYABLE, boolean(false));
        a.insert(CKA_DESTROYABLE, boolean(true));
        a.insert(CKA_LABEL, made.label.as_bytes().to_vec());
        a.insert(CKA_ID, made.id.clone());
        certificate_attributes(&mut a, cert);
        a.insert(CKA_PUBLIC_KEY_INFO, cert.spki.clone());
        if let Some(arn) = &made.key_arn {
            a.insert(CKA_KMS11_KEY_ARN, arn.as_bytes().to_vec());
        }
        Object {
            handle,
            class: CKO_CERTIFICATE,
            key: None,
            owner,
            secret: None,
            stored,
            private: made.private,
            attributes: checked(a),
        }
    }

    /// A session secret key (C_DeriveKey's): `attributes` as the template
    /// and the derivation made them, `value` its CKA_VALUE.
    pub fn session_secret(
        handle: CK_OBJECT_HANDLE,
        owner: CK_SESSION_HANDLE,
        attributes: BTreeMap<CK_ATTRIBUTE_TYPE, Vec<u8>>,
        value: zeroize::Zeroizing<Vec<u8>>,
    ) -> Object {
        let private = attributes.get(&CKA_PRIVATE) == Some(&boolean(true));
        Object {
            handle,
            class: CKO_SECRET_KEY,
            key: None,
            owner: Some(owner),
            secret: Some(value),
            stored: None,
            private,
            attributes: checked(attributes),
        }
    }

    fn flag(&self, t: CK_ATTRIBUTE_TYPE) -> bool {
        self.attributes.get(&t) == Some(&boolean(true))
    }

    pub fn attribute(&self, t: CK_ATTRIBUTE_TYPE) -> AttributeValue<'_> {
        if let Some(v) = self.attributes.get(&t) {
            return AttributeValue::Value(v);
        }
        if let (CKA_VALUE, Some(value)) = (t, &self.secret) {
            return if self.flag(CKA_SENSITIVE) || !self.flag(CKA_EXTRACTABLE) {
                AttributeValue::Sensitive
            } else {
                AttributeValue::Value(value)
            };
        }
        let key_type = self
            .attributes
            .get(&CKA_KEY_TYPE)
            .and_then(|v| v.as_slice().try_into().ok())
            .map_or(CK_UNAVAILABLE_INFORMATION, CK_ULONG::from_ne_bytes);
        // Not stored: a private key's part that exists in KMS only, or no
        // attribute of this object.
        let sensitive = matches!(self.class, CKO_PRIVATE_KEY | CKO_SECRET_KEY)
            && attribute::find(t).is_some_and(|a| a.is_sensitive_for(key_type));
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
        let value = self.secret.as_ref().map_or(0, |v| v.len());
        self.attributes.values().map(Vec::len).sum::<usize>() + value
    }
}
