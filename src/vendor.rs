//! kms11's own attribute types, in PKCS#11's vendor-defined space: the
//! values `include/kms11.h` gives C programs (a test compares the two).
//! A leaf: it imports only cryptoki-sys.

use cryptoki_sys::{CKA_VENDOR_DEFINED, CK_ATTRIBUTE_TYPE};

/// The first of kms11's attribute types ('K' 'M' in the vendor space).
pub const CKA_KMS11_BASE: CK_ATTRIBUTE_TYPE = CKA_VENDOR_DEFINED | 0x4B4D_0000;
/// UTF-8, read-only, on every object of a KMS key: the key's ARN.
pub const CKA_KMS11_KEY_ARN: CK_ATTRIBUTE_TYPE = CKA_KMS11_BASE + 0x01;
/// UTF-8, read-only: the KeySpec as KMS names it.
pub const CKA_KMS11_KEY_SPEC: CK_ATTRIBUTE_TYPE = CKA_KMS11_BASE + 0x02;
/// UTF-8, read-only: the KeyUsage as KMS names it.
pub const CKA_KMS11_KEY_USAGE: CK_ATTRIBUTE_TYPE = CKA_KMS11_BASE + 0x03;
/// UTF-8, read-only: the alias naming the key here (empty: by ID or ARN).
pub const CKA_KMS11_ALIAS: CK_ATTRIBUTE_TYPE = CKA_KMS11_BASE + 0x04;
/// CK_BBOOL: a multi-Region key; in a template, CreateKey's MultiRegion.
pub const CKA_KMS11_MULTI_REGION: CK_ATTRIBUTE_TYPE = CKA_KMS11_BASE + 0x05;
/// UTF-8 JSON, templates only: CreateKey's Policy.
pub const CKA_KMS11_KEY_POLICY: CK_ATTRIBUTE_TYPE = CKA_KMS11_BASE + 0x06;
/// UTF-8 JSON object of strings, templates only: more tags.
pub const CKA_KMS11_TAGS: CK_ATTRIBUTE_TYPE = CKA_KMS11_BASE + 0x07;
/// UTF-8, templates only: CreateKey's Description.
pub const CKA_KMS11_DESCRIPTION: CK_ATTRIBUTE_TYPE = CKA_KMS11_BASE + 0x08;

#[cfg(test)]
mod tests {
    use crate::attribute::ATTRIBUTES;
    use cryptoki_sys::CK_ATTRIBUTE_TYPE;

    const HEADER: &str = include_str!("../include/kms11.h");

    /// `#define NAME (CKA_KMS11_BASE + 0xNNUL)` lines of the header.
    fn header_values() -> Vec<(String, CK_ATTRIBUTE_TYPE)> {
        HEADER
            .lines()
            .filter_map(|l| {
                let rest = l.strip_prefix("#define CKA_KMS11_")?;
                let (name, value) = rest.split_once(' ')?;
                let offset = value
                    .strip_prefix("(CKA_KMS11_BASE + 0x")?
                    .strip_suffix("UL)")?;
                Some((
                    format!("CKA_KMS11_{name}"),
                    CK_ATTRIBUTE_TYPE::from_str_radix(offset, 16).ok()?,
                ))
            })
            .collect()
    }

    /// The header and the Rust constants are one list: every vendor row of
    /// the attribute table is in the header with its value, and the header
    /// defines nothing else.
    #[test]
    fn the_header_says_what_the_module_does() {
        assert!(
            HEADER.contains("#define CKA_KMS11_BASE (CKA_VENDOR_DEFINED | 0x4B4D0000UL)\n"),
            "the base"
        );
        assert_eq!(super::CKA_KMS11_BASE, 0xCB4D_0000);
        let mut header = header_values();
        let mut rust: Vec<(String, CK_ATTRIBUTE_TYPE)> = ATTRIBUTES
            .iter()
            .filter(|a| a.name.starts_with("CKA_KMS11_"))
            .map(|a| (a.name.to_string(), a.type_ - super::CKA_KMS11_BASE))
            .collect();
        header.sort();
        rust.sort();
        assert_eq!(header.len(), 8, "{header:?}");
        assert_eq!(header, rust);
        let defines = HEADER
            .lines()
            .filter(|l| l.starts_with("#define CKA_KMS11_"))
            .count();
        assert_eq!(defines, header.len() + 1, "every define has the one form");
    }
}
