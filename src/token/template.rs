//! The template of C_DeriveKey: what the caller may ask of the derived
//! session key, checked before KMS is asked, with PKCS#11's defaults; and
//! the readers of a template's scalar values that every template parser
//! (C_GenerateKeyPair's, C_CreateObject's) shares.

use crate::attribute::{self, boolean, ulong};
use crate::error::{Error, Result};
use crate::mechanism::ecdh::Kdf;
use crate::vocabulary::Curve;
use cryptoki_sys::*;
use std::collections::BTreeMap;

/// The yes/no attributes a template may set, and their defaults here.
/// CKA_EXTRACTABLE defaults to true and CKA_SENSITIVE to false, so that a
/// client that asks for nothing (pkcs11-tool --derive) can read the value.
const FLAGS: [(CK_ATTRIBUTE_TYPE, bool); 11] = [
    (CKA_PRIVATE, false),
    (CKA_SENSITIVE, false),
    (CKA_EXTRACTABLE, true),
    (CKA_ENCRYPT, false),
    (CKA_DECRYPT, false),
    (CKA_SIGN, false),
    (CKA_VERIFY, false),
    (CKA_WRAP, false),
    (CKA_UNWRAP, false),
    (CKA_DERIVE, false),
    (CKA_DESTROYABLE, true),
];

/// The attributes that hold only this value here (a session object that
/// cannot be changed or copied).
const FIXED: [(CK_ATTRIBUTE_TYPE, bool); 3] = [
    (CKA_TOKEN, false),
    (CKA_MODIFIABLE, false),
    (CKA_COPYABLE, false),
];

fn inconsistent(why: String) -> Error {
    Error::new(CKR_TEMPLATE_INCONSISTENT, why)
}

/// A template's CK_ULONG value (the caller's bytes, checked).
pub(super) fn as_ulong(t: CK_ATTRIBUTE_TYPE, v: &[u8]) -> Result<CK_ULONG> {
    v.try_into().map(CK_ULONG::from_ne_bytes).map_err(|_| {
        Error::new(
            CKR_ATTRIBUTE_VALUE_INVALID,
            format!("{} is a CK_ULONG", attribute::name(t)),
        )
    })
}

/// A template's CK_BBOOL value (the caller's byte, checked).
pub(super) fn as_bool(t: CK_ATTRIBUTE_TYPE, v: &[u8]) -> Result<bool> {
    match v {
        [b] => Ok(*b != CK_FALSE),
        _ => Err(Error::new(
            CKR_ATTRIBUTE_VALUE_INVALID,
            format!("{} is a CK_BBOOL", attribute::name(t)),
        )),
    }
}

/// The derived key's attributes (CKA_VALUE aside) and its length in bytes.
pub fn derived_key(
    template: &[(CK_ATTRIBUTE_TYPE, Vec<u8>)],
    kdf: Kdf,
    curve: Curve,
) -> Result<(BTreeMap<CK_ATTRIBUTE_TYPE, Vec<u8>>, usize)> {
    let mut a: BTreeMap<_, _> = FLAGS.iter().map(|(t, v)| (*t, boolean(*v))).collect();
    a.extend(FIXED.iter().map(|(t, v)| (*t, boolean(*v))));
    let (mut key_type, mut len) = (CKK_GENERIC_SECRET, None);
    for (t, v) in template {
        match *t {
            CKA_CLASS if as_ulong(*t, v)? != CKO_SECRET_KEY => {
                return Err(inconsistent(
                    "ECDH derives a secret key (CKO_SECRET_KEY)".into(),
                ))
            }
            CKA_CLASS => {}
            CKA_KEY_TYPE => key_type = as_ulong(*t, v)?,
            CKA_VALUE_LEN => len = Some(as_ulong(*t, v)? as usize),
            CKA_LABEL | CKA_ID | CKA_START_DATE | CKA_END_DATE => {
                a.insert(*t, v.clone());
            }
            t if FLAGS.iter().any(|(f, _)| *f == t) => {
                a.insert(t, boolean(as_bool(t, v)?));
            }
            t if FIXED.iter().any(|(f, _)| *f == t) => {
                if as_bool(t, v)? {
                    return Err(inconsistent(format!(
                        "{} must be false: a derived key is a session object this token \
                         cannot keep, change or copy",
                        attribute::name(t)
                    )));
                }
            }
            t if attribute::find(t).is_some() => {
                return Err(inconsistent(format!(
                    "{} cannot be set on a derived key",
                    attribute::name(t)
                )))
            }
            _ => return Err(CKR_ATTRIBUTE_TYPE_INVALID.into()),
        }
    }
    let len = value_len(key_type, len, kdf, curve)?;
    let (sensitive, extractable) = (
        a[&CKA_SENSITIVE] == boolean(true),
        a[&CKA_EXTRACTABLE] == boolean(true),
    );
    a.insert(CKA_CLASS, ulong(CKO_SECRET_KEY));
    a.insert(CKA_KEY_TYPE, ulong(key_type));
    a.insert(CKA_VALUE_LEN, ulong(len as CK_ULONG));
    a.entry(CKA_LABEL).or_default();
    a.entry(CKA_ID).or_default();
    a.entry(CKA_START_DATE).or_default();
    a.entry(CKA_END_DATE).or_default();
    a.insert(CKA_LOCAL, boolean(false));
    a.insert(CKA_KEY_GEN_MECHANISM, ulong(CK_UNAVAILABLE_INFORMATION));
    a.insert(CKA_ALLOWED_MECHANISMS, Vec::new());
    // The base key never left KMS: the derived key was always sensitive
    // and never extractable exactly when it is now.
    a.insert(CKA_ALWAYS_SENSITIVE, boolean(sensitive));
    a.insert(CKA_NEVER_EXTRACTABLE, boolean(!extractable));
    Ok((a, len))
}

/// CKA_VALUE_LEN as the key type and KDF allow it.
fn value_len(key_type: CK_KEY_TYPE, len: Option<usize>, kdf: Kdf, curve: Curve) -> Result<usize> {
    let max = kdf.max_len(curve);
    match (key_type, len) {
        (CKK_AES, Some(n @ (16 | 24 | 32))) if n <= max => Ok(n),
        (CKK_AES, Some(n)) => Err(Error::new(
            CKR_ATTRIBUTE_VALUE_INVALID,
            format!("an AES key of {n} bytes cannot be derived here (16, 24 or 32, at most {max})"),
        )),
        (CKK_AES, None) => Err(Error::new(
            CKR_TEMPLATE_INCOMPLETE,
            "an AES key needs CKA_VALUE_LEN",
        )),
        (CKK_GENERIC_SECRET, None) => Ok(kdf.default_len(curve)),
        (CKK_GENERIC_SECRET, Some(n)) if (1..=max).contains(&n) => Ok(n),
        (CKK_GENERIC_SECRET, Some(n)) => Err(Error::new(
            CKR_ATTRIBUTE_VALUE_INVALID,
            format!("CKA_VALUE_LEN {n}: this derivation gives 1 to {max} bytes"),
        )),
        (t, _) => Err(inconsistent(format!(
            "key type {t:#x}: ECDH here derives CKK_GENERIC_SECRET or CKK_AES keys"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn derive(
        template: &[(CK_ATTRIBUTE_TYPE, Vec<u8>)],
    ) -> Result<(BTreeMap<CK_ATTRIBUTE_TYPE, Vec<u8>>, usize)> {
        derived_key(template, Kdf::Null, Curve::P256)
    }

    fn rv(template: &[(CK_ATTRIBUTE_TYPE, Vec<u8>)]) -> CK_RV {
        derive(template).unwrap_err().rv
    }

    #[test]
    fn defaults_let_a_plain_client_read_the_value() {
        let (a, len) = derive(&[]).unwrap();
        assert_eq!(len, 32, "the P-256 secret");
        assert_eq!(a[&CKA_EXTRACTABLE], boolean(true));
        assert_eq!(a[&CKA_SENSITIVE], boolean(false));
        assert_eq!(a[&CKA_KEY_TYPE], ulong(CKK_GENERIC_SECRET));
        assert_eq!(a[&CKA_TOKEN], boolean(false));
        for (t, v) in &a {
            assert!(attribute::fits(*t, v), "{}", attribute::name(*t));
        }
        let (a, len) = derive(&[
            (CKA_KEY_TYPE, ulong(CKK_AES)),
            (CKA_VALUE_LEN, ulong(16)),
            (CKA_SENSITIVE, boolean(true)),
            (CKA_LABEL, b"session".to_vec()),
        ])
        .unwrap();
        assert_eq!((len, &a[&CKA_LABEL][..]), (16, &b"session"[..]));
        assert_eq!(a[&CKA_ALWAYS_SENSITIVE], boolean(true));
    }

    #[test]
    fn what_cannot_be_honoured_is_refused() {
        assert_eq!(rv(&[(CKA_TOKEN, boolean(true))]), CKR_TEMPLATE_INCONSISTENT);
        assert_eq!(
            rv(&[(CKA_CLASS, ulong(CKO_PRIVATE_KEY))]),
            CKR_TEMPLATE_INCONSISTENT
        );
        assert_eq!(rv(&[(CKA_VALUE, vec![1; 32])]), CKR_TEMPLATE_INCONSISTENT);
        assert_eq!(rv(&[(CKA_MODULUS, vec![1])]), CKR_TEMPLATE_INCONSISTENT);
        assert_eq!(rv(&[(0x8000_1234, vec![1])]), CKR_ATTRIBUTE_TYPE_INVALID);
        assert_eq!(
            rv(&[(CKA_VALUE_LEN, ulong(33))]),
            CKR_ATTRIBUTE_VALUE_INVALID
        );
        assert_eq!(
            rv(&[(CKA_VALUE_LEN, ulong(0))]),
            CKR_ATTRIBUTE_VALUE_INVALID
        );
        assert_eq!(rv(&[(CKA_VALUE_LEN, vec![1])]), CKR_ATTRIBUTE_VALUE_INVALID);
        assert_eq!(rv(&[(CKA_SIGN, vec![1, 0])]), CKR_ATTRIBUTE_VALUE_INVALID);
        assert_eq!(
            rv(&[(CKA_KEY_TYPE, ulong(CKK_AES))]),
            CKR_TEMPLATE_INCOMPLETE
        );
        assert_eq!(
            rv(&[(CKA_KEY_TYPE, ulong(CKK_DES3))]),
            CKR_TEMPLATE_INCONSISTENT
        );
        let x963 = derived_key(&[(CKA_VALUE_LEN, ulong(100))], Kdf::X963(32), Curve::P521);
        assert_eq!(x963.unwrap().1, 100);
    }
}
