//! PKCS#11 URIs (RFC 7512): the URI that names each object of a token, and
//! the parser the `kms11` command uses to find the key a user names.

use std::fmt::Write;

/// The path attributes of RFC 7512 section 2.3 (the query attributes, such
/// as `pin-value` or `module-path`, select a module or a PIN, not an object).
const PATH_ATTRIBUTES: &[&str] = &[
    "token",
    "manufacturer",
    "serial",
    "model",
    "library-manufacturer",
    "library-description",
    "library-version",
    "object",
    "type",
    "id",
    "slot-description",
    "slot-manufacturer",
    "slot-id",
];

/// Percent-encodes everything but RFC 3986's unreserved characters, so a
/// label with `/`, `;`, `?` or spaces stays one attribute value.
pub fn encode(value: &[u8]) -> String {
    let mut out = String::with_capacity(value.len());
    for &b in value {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// Every byte percent-encoded, as is usual for `id`.
pub fn encode_all(value: &[u8]) -> String {
    value.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "%{b:02X}");
        s
    })
}

fn decode(value: &str) -> Result<Vec<u8>, String> {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| data_encoding::HEXLOWER_PERMISSIVE.decode(h).ok())
                .map(|b| b[0])
                .ok_or_else(|| format!("'{value}' has a '%' not followed by two hex digits"))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Ok(out)
}

/// The URI of one object: token label, object label, CKA_ID and class.
pub fn object_uri(token: &str, label: &str, id: &[u8], kind: &str) -> String {
    format!(
        "pkcs11:token={};object={};id={};type={kind}",
        encode(token.as_bytes()),
        encode(label.as_bytes()),
        encode_all(id)
    )
}

/// A parsed PKCS#11 URI: its path attributes, decoded.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Pkcs11Uri {
    pub attributes: Vec<(String, Vec<u8>)>,
}

impl Pkcs11Uri {
    pub fn parse(uri: &str) -> Result<Pkcs11Uri, String> {
        let rest = uri
            .strip_prefix("pkcs11:")
            .ok_or_else(|| format!("'{uri}' is not a PKCS#11 URI (it must start with pkcs11:)"))?;
        let path = rest.split_once('?').map_or(rest, |(p, _)| p);
        let mut parsed = Pkcs11Uri::default();
        for part in path.split(';').filter(|p| !p.is_empty()) {
            let (name, value) = part
                .split_once('=')
                .ok_or_else(|| format!("'{part}' in '{uri}' is not name=value"))?;
            if !PATH_ATTRIBUTES.contains(&name) && !name.starts_with("x-") {
                return Err(format!(
                    "'{name}' in '{uri}' is not a PKCS#11 URI path attribute"
                ));
            }
            if parsed.get(name).is_some() {
                return Err(format!("'{name}' appears twice in '{uri}'"));
            }
            parsed.attributes.push((name.to_string(), decode(value)?));
        }
        Ok(parsed)
    }

    pub fn get(&self, name: &str) -> Option<&[u8]> {
        self.attributes
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_slice())
    }

    /// Whether an attribute of the URI, if present, has this value.
    pub fn allows(&self, name: &str, value: &[u8]) -> bool {
        self.get(name).is_none_or(|v| v == value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_with_reserved_characters_round_trip() {
        let uri = object_uri("release keys", "a/b;c?d%", &[0x01, 0xa2], "private");
        assert_eq!(
            uri,
            "pkcs11:token=release%20keys;object=a%2Fb%3Bc%3Fd%25;id=%01%A2;type=private"
        );
        let p = Pkcs11Uri::parse(&uri).unwrap();
        assert_eq!(p.get("token"), Some(&b"release keys"[..]));
        assert_eq!(p.get("object"), Some(&b"a/b;c?d%"[..]));
        assert_eq!(p.get("id"), Some(&[0x01, 0xa2][..]));
        assert_eq!(p.get("type"), Some(&b"private"[..]));
    }

    #[test]
    fn query_is_ignored_and_errors_are_named() {
        let p = Pkcs11Uri::parse("pkcs11:object=k?pin-value=1234").unwrap();
        assert_eq!(p.get("object"), Some(&b"k"[..]));
        assert!(Pkcs11Uri::parse("pkcs11:object=%zz").is_err());
        // Found by fuzz_uri: from_str_radix took a sign ("%+1" as 0x01).
        assert!(Pkcs11Uri::parse("pkcs11:object=%+1").is_err());
        assert!(Pkcs11Uri::parse("pkcs11:object=%+7").is_err());
        assert!(Pkcs11Uri::parse("pkcs11:object=%a").is_err());
        assert_eq!(
            Pkcs11Uri::parse("pkcs11:id=%aB").unwrap().get("id"),
            Some(&[0xab][..])
        );
        assert!(Pkcs11Uri::parse("pkcs11:object=a;object=b").is_err());
        assert!(Pkcs11Uri::parse("pkcs11:colour=red").is_err());
        assert!(Pkcs11Uri::parse("pkcs11:x-vendor=1").is_ok());
        assert!(Pkcs11Uri::parse("alias/x").is_err());
        assert!(Pkcs11Uri::parse("pkcs11:object").is_err());
    }
}
