//! The attributes the module knows, one row each: the CKA constant, its name
//! (the constant's own, by `stringify!`), how its value is encoded, and for
//! which private keys it exists but is never revealed. `ffi` reads the
//! encodings to check a search template; `token::object` encodes values
//! with it and answers C_GetAttributeValue from it. A leaf: it imports only
//! cryptoki-sys, std and kms11's own attribute types (`vendor`).

use crate::vendor::*;
use cryptoki_sys::*;
use std::borrow::Cow;
use std::mem::size_of;

/// How an attribute's value is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// A CK_ULONG, or a type defined as one (CK_OBJECT_CLASS, CK_KEY_TYPE,
    /// CK_MECHANISM_TYPE, ...), in native byte order.
    Ulong,
    /// A CK_BBOOL: one byte, CK_TRUE or CK_FALSE.
    Bool,
    /// Bytes whose structure the module does not rely on (CKA_ID, a hash).
    Bytes,
    /// DER: a name, a SubjectPublicKeyInfo, an OID, an OCTET STRING, an
    /// INTEGER.
    Der,
    /// A big-endian unsigned integer (a modulus, an exponent, a prime).
    BigInteger,
    /// A CK_DATE ("YYYYMMDD"), or empty when there is none.
    Date,
    /// UTF-8 text, not NUL-terminated.
    Utf8,
    /// An array of CK_MECHANISM_TYPE.
    Mechanisms,
}

impl Encoding {
    /// The size of the C scalar this encoding is (CK_ULONG, CK_BBOOL); a
    /// value of another size is the caller's mistake. `None` for the
    /// encodings whose length varies.
    pub fn scalar_size(self) -> Option<usize> {
        match self {
            Encoding::Ulong => Some(size_of::<CK_ULONG>()),
            Encoding::Bool => Some(size_of::<CK_BBOOL>()),
            Encoding::Bytes
            | Encoding::Der
            | Encoding::BigInteger
            | Encoding::Date
            | Encoding::Utf8
            | Encoding::Mechanisms => None,
        }
    }

    /// True when `value` has this encoding's shape (its size, the bytes a
    /// CK_BBOOL or a CK_DATE may hold, valid UTF-8). DER and integers are
    /// taken as they are.
    pub fn fits(self, value: &[u8]) -> bool {
        match self {
            Encoding::Ulong => value.len() == size_of::<CK_ULONG>(),
            Encoding::Bool => matches!(value, [CK_TRUE] | [CK_FALSE]),
            Encoding::Date => {
                value.is_empty() || (value.len() == 8 && value.iter().all(u8::is_ascii_digit))
            }
            Encoding::Utf8 => std::str::from_utf8(value).is_ok(),
            Encoding::Mechanisms => value.len().is_multiple_of(size_of::<CK_MECHANISM_TYPE>()),
            Encoding::Bytes | Encoding::Der | Encoding::BigInteger => true,
        }
    }
}

/// One attribute the module knows.
#[derive(Debug, PartialEq, Eq)]
pub struct Attribute {
    pub type_: CK_ATTRIBUTE_TYPE,
    /// The constant's own name, "CKA_...".
    pub name: &'static str,
    pub encoding: Encoding,
    /// Private keys of these types have this attribute but never reveal it
    /// (their private half stays in KMS): C_GetAttributeValue answers
    /// CKR_ATTRIBUTE_SENSITIVE. Empty for everything the module shows.
    pub sensitive_for: &'static [CK_KEY_TYPE],
}

impl Attribute {
    /// True when a private key of `key_type` has this attribute but never
    /// reveals it.
    pub fn is_sensitive_for(&self, key_type: CK_KEY_TYPE) -> bool {
        self.sensitive_for.contains(&key_type)
    }
}

/// Declares the table from the constants themselves: `ATTRIBUTES` to read
/// and `find` to look a type up. `find` is a `match`, so one constant
/// twice (or two constants with one value) is an unreachable arm, which
/// does not compile.
macro_rules! attributes {
    ($($cka:ident: $encoding:ident $(, sensitive for $($ckk:ident)|+)?;)*) => {
        /// Every attribute the module knows.
        pub const ATTRIBUTES: &[Attribute] = &[$(
            Attribute {
                type_: $cka,
                name: stringify!($cka),
                encoding: Encoding::$encoding,
                sensitive_for: &[$($($ckk),+)?],
            },
        )*];

        /// The row of attribute `t`; `None` for one the module does not know.
        #[deny(unreachable_patterns)]
        pub fn find(t: CK_ATTRIBUTE_TYPE) -> Option<&'static Attribute> {
            match t {
                $($cka => Some(&Attribute {
                    type_: $cka,
                    name: stringify!($cka),
                    encoding: Encoding::$encoding,
                    sensitive_for: &[$($($ckk),+)?],
                }),)*
                _ => None,
            }
        }
    };
}

attributes! {
    // Every object.
    CKA_CLASS: Ulong;
    CKA_TOKEN: Bool;
    CKA_PRIVATE: Bool;
    CKA_MODIFIABLE: Bool;
    CKA_COPYABLE: Bool;
    CKA_DESTROYABLE: Bool;
    CKA_LABEL: Utf8;
    CKA_ID: Bytes;

    // Keys.
    CKA_KEY_TYPE: Ulong;
    CKA_START_DATE: Date;
    CKA_END_DATE: Date;
    CKA_DERIVE: Bool;
    CKA_LOCAL: Bool;
    CKA_KEY_GEN_MECHANISM: Ulong;
    CKA_ALLOWED_MECHANISMS: Mechanisms;
    CKA_SUBJECT: Der;
    CKA_PUBLIC_KEY_INFO: Der;

    // Private keys.
    CKA_SENSITIVE: Bool;
    CKA_DECRYPT: Bool;
    CKA_SIGN: Bool;
    CKA_SIGN_RECOVER: Bool;
    CKA_UNWRAP: Bool;
    CKA_EXTRACTABLE: Bool;
    CKA_ALWAYS_SENSITIVE: Bool;
    CKA_NEVER_EXTRACTABLE: Bool;
    CKA_WRAP_WITH_TRUSTED: Bool;
    CKA_ALWAYS_AUTHENTICATE: Bool;

    // Public keys (CKA_TRUSTED also certificates).
    CKA_ENCRYPT: Bool;
    CKA_VERIFY: Bool;
    CKA_VERIFY_RECOVER: Bool;
    CKA_WRAP: Bool;
    CKA_TRUSTED: Bool;

    // RSA keys.
    CKA_MODULUS: BigInteger;
    CKA_MODULUS_BITS: Ulong;
    CKA_PUBLIC_EXPONENT: BigInteger;
    CKA_PRIVATE_EXPONENT: BigInteger, sensitive for CKK_RSA;
    CKA_PRIME_1: BigInteger, sensitive for CKK_RSA;
    CKA_PRIME_2: BigInteger, sensitive for CKK_RSA;
    CKA_EXPONENT_1: BigInteger, sensitive for CKK_RSA;
    CKA_EXPONENT_2: BigInteger, sensitive for CKK_RSA;
    CKA_COEFFICIENT: BigInteger, sensitive for CKK_RSA;

    // EC keys.
    CKA_EC_PARAMS: Der;
    CKA_EC_POINT: Der;

    // A certificate's DER; an EC private key's scalar, never revealed.
    CKA_VALUE: Bytes, sensitive for CKK_EC | CKK_EC_EDWARDS | CKK_GENERIC_SECRET | CKK_ML_DSA;

    // Certificates.
    CKA_CERTIFICATE_TYPE: Ulong;
    CKA_CERTIFICATE_CATEGORY: Ulong;
    CKA_CHECK_VALUE: Bytes;
    CKA_ISSUER: Der;
    CKA_SERIAL_NUMBER: Der;
    CKA_URL: Utf8;
    CKA_HASH_OF_SUBJECT_PUBLIC_KEY: Bytes;
    CKA_HASH_OF_ISSUER_PUBLIC_KEY: Bytes;
    CKA_JAVA_MIDP_SECURITY_DOMAIN: Ulong;
    CKA_NAME_HASH_ALGORITHM: Ulong;

    // No object here has these; they are known so that a search for one
    // with a value of the wrong size is refused like any other.
    CKA_VALUE_BITS: Ulong;
    CKA_VALUE_LEN: Ulong;
    CKA_PARAMETER_SET: Ulong;
    CKA_PRIME_BITS: Ulong;
    CKA_SUBPRIME_BITS: Ulong;
    CKA_HW_FEATURE_TYPE: Ulong;
    CKA_MECHANISM_TYPE: Ulong;
    CKA_PROFILE_ID: Ulong;

    // kms11's own (include/kms11.h): which KMS key an object is, on every
    // object of one, and what a generation template may ask of KMS.
    CKA_KMS11_KEY_ARN: Utf8;
    CKA_KMS11_KEY_SPEC: Utf8;
    CKA_KMS11_KEY_USAGE: Utf8;
    CKA_KMS11_ALIAS: Utf8;
    CKA_KMS11_MULTI_REGION: Bool;
    CKA_KMS11_KEY_POLICY: Utf8;
    CKA_KMS11_TAGS: Utf8;
    CKA_KMS11_DESCRIPTION: Utf8;
}

/// The name of attribute `t` for logs; one the module does not know as
/// `CKA_0x%08X`.
pub fn name(t: CK_ATTRIBUTE_TYPE) -> Cow<'static, str> {
    match find(t) {
        Some(a) => Cow::Borrowed(a.name),
        None => Cow::Owned(format!("CKA_0x{t:08X}")),
    }
}

/// True when `value` is what attribute `t` may hold: the module knows `t`
/// and the value has its encoding's shape.
pub fn fits(t: CK_ATTRIBUTE_TYPE, value: &[u8]) -> bool {
    find(t).is_some_and(|a| a.encoding.fits(value))
}

/// A CK_ULONG attribute's value.
pub fn ulong(v: CK_ULONG) -> Vec<u8> {
    v.to_ne_bytes().to_vec()
}

/// A CK_BBOOL attribute's value.
pub fn boolean(b: bool) -> Vec<u8> {
    vec![if b { CK_TRUE } else { CK_FALSE }]
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn rows(encoding: Encoding) -> impl Iterator<Item = &'static Attribute> {
        ATTRIBUTES.iter().filter(move |a| a.encoding == encoding)
    }

    #[test]
    fn every_ulong_attribute_is_a_ck_ulong_when_encoded() {
        for a in rows(Encoding::Ulong) {
            for v in [0, 1, CK_ULONG::MAX] {
                let bytes = ulong(v);
                assert_eq!(bytes.len(), size_of::<CK_ULONG>(), "{}", a.name);
                assert_eq!(Some(bytes.len()), a.encoding.scalar_size(), "{}", a.name);
                assert!(fits(a.type_, &bytes), "{}", a.name);
                assert!(!fits(a.type_, &bytes[..4]), "{}: 4 bytes", a.name);
            }
        }
    }

    #[test]
    fn every_bool_attribute_is_one_ck_bbool_when_encoded() {
        for a in rows(Encoding::Bool) {
            for b in [true, false] {
                let bytes = boolean(b);
                assert_eq!(bytes.len(), size_of::<CK_BBOOL>(), "{}", a.name);
                assert_eq!(Some(bytes.len()), a.encoding.scalar_size(), "{}", a.name);
                assert!(fits(a.type_, &bytes), "{}", a.name);
            }
            assert!(!fits(a.type_, &[2]), "{}: 2 is no CK_BBOOL", a.name);
            assert!(!fits(a.type_, &ulong(1)), "{}: a CK_ULONG", a.name);
        }
    }

    #[test]
    fn only_ulong_and_bool_have_a_scalar_size() {
        for a in ATTRIBUTES {
            let scalar = matches!(a.encoding, Encoding::Ulong | Encoding::Bool);
            assert_eq!(a.encoding.scalar_size().is_some(), scalar, "{}", a.name);
        }
    }

    /// What the search check sizes: the CK_ULONG and CK_BBOOL attributes
    /// (the table replaced two lists of 15 and 22 in ffi/object.rs).
    #[test]
    fn the_search_check_sizes_the_scalars() {
        let size = |t| find(t).and_then(|a| a.encoding.scalar_size());
        for t in [CKA_CLASS, CKA_KEY_TYPE, CKA_MODULUS_BITS, CKA_PROFILE_ID] {
            assert_eq!(size(t), Some(size_of::<CK_ULONG>()), "{}", name(t));
        }
        for t in [CKA_TOKEN, CKA_SIGN, CKA_TRUSTED, CKA_ALWAYS_AUTHENTICATE] {
            assert_eq!(size(t), Some(1), "{}", name(t));
        }
        for t in [CKA_LABEL, CKA_ID, CKA_VALUE, CKA_EC_POINT, CKA_START_DATE] {
            assert_eq!(size(t), None, "{}", name(t));
        }
        assert_eq!(rows(Encoding::Ulong).count(), 16);
        assert_eq!(rows(Encoding::Bool).count(), 23);
    }

    #[test]
    fn the_sensitive_rows() {
        let sensitive = |kt| {
            ATTRIBUTES
                .iter()
                .filter(|a| a.is_sensitive_for(kt))
                .map(|a| a.name)
                .collect::<Vec<_>>()
        };
        assert_eq!(
            sensitive(CKK_RSA),
            [
                "CKA_PRIVATE_EXPONENT",
                "CKA_PRIME_1",
                "CKA_PRIME_2",
                "CKA_EXPONENT_1",
                "CKA_EXPONENT_2",
                "CKA_COEFFICIENT",
            ]
        );
        assert_eq!(sensitive(CKK_EC), ["CKA_VALUE"]);
        assert_eq!(sensitive(CKK_EC_EDWARDS), ["CKA_VALUE"]);
        assert!(sensitive(CKK_AES).is_empty());
        // Public halves are never sensitive.
        for t in [
            CKA_MODULUS,
            CKA_PUBLIC_EXPONENT,
            CKA_EC_POINT,
            CKA_EC_PARAMS,
        ] {
            let a = find(t).unwrap();
            assert!(a.sensitive_for.is_empty(), "{}", a.name);
        }
    }

    #[test]
    fn names_are_the_constants_and_unique() {
        let mut types = HashSet::new();
        let mut names = HashSet::new();
        for a in ATTRIBUTES {
            assert!(types.insert(a.type_), "{} twice", a.name);
            assert!(names.insert(a.name), "{} twice", a.name);
            assert!(a.name.starts_with("CKA_"), "{}", a.name);
            assert_eq!(find(a.type_), Some(a), "{}", a.name);
            assert_eq!(name(a.type_), a.name);
        }
        assert_eq!(name(CKA_CLASS), "CKA_CLASS");
        assert_eq!(name(CKA_EC_POINT), "CKA_EC_POINT");
        assert_eq!(name(CKA_MODULUS_BITS), "CKA_MODULUS_BITS");
    }

    #[test]
    fn an_unknown_attribute_prints_in_hex_and_fits_nothing() {
        assert_eq!(find(CKA_APPLICATION), None);
        assert_eq!(name(CKA_APPLICATION), "CKA_0x00000010");
        assert_eq!(name(CKA_VENDOR_DEFINED | 7), "CKA_0x80000007");
        assert_eq!(name(CKA_KMS11_KEY_ARN), "CKA_KMS11_KEY_ARN");
        assert!(!fits(CKA_VENDOR_DEFINED, &[]));
    }

    #[test]
    fn shapes_of_the_variable_encodings() {
        assert!(Encoding::Date.fits(b""));
        assert!(Encoding::Date.fits(b"20240229"));
        assert!(!Encoding::Date.fits(b"2024-02-29"));
        assert!(!Encoding::Date.fits(b"2024022x"));
        assert!(Encoding::Utf8.fits("clé".as_bytes()));
        assert!(!Encoding::Utf8.fits(&[0xff]));
        let two: Vec<u8> = [CKM_ECDSA, CKM_ECDSA_SHA256]
            .iter()
            .flat_map(|m| m.to_ne_bytes())
            .collect();
        assert!(Encoding::Mechanisms.fits(&two));
        assert!(Encoding::Mechanisms.fits(&[]));
        assert!(!Encoding::Mechanisms.fits(&two[1..]));
        assert!(Encoding::Der.fits(&[0x30, 0]));
    }
}
