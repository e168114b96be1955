//! PKCS#11 URIs (RFC 7512) as the `kms11` command parses the key a user
//! names, and the URIs the module writes for its objects.
//!
//! Properties: a parsed URI, written again with its attributes
//! percent-encoded, parses to the same value; `object_uri` of any token
//! label, object label and CKA_ID, and each type, parses back to exactly those.

#![no_main]

use kms11::uri::{encode, object_uri, Pkcs11Uri};
use libfuzzer_sys::arbitrary::{Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode & 1 == 0 {
        let Ok(text) = std::str::from_utf8(rest) else {
            return;
        };
        let Ok(uri) = Pkcs11Uri::parse(text) else {
            return;
        };
        let again: Vec<String> = uri
            .attributes
            .iter()
            .map(|(name, value)| format!("{name}={}", encode(value)))
            .collect();
        let again = format!("pkcs11:{}", again.join(";"));
        assert_eq!(
            Pkcs11Uri::parse(&again).as_ref(),
            Ok(&uri),
            "{text:?} re-encoded as {again:?}"
        );
        for (name, value) in &uri.attributes {
            assert_eq!(uri.get(name), Some(value.as_slice()));
            assert!(uri.allows(name, value));
        }
    } else {
        let mut u = Unstructured::new(rest);
        let (Ok(kind), Ok(token), Ok(label), Ok(id)) = (
            u.choose(&["private", "public", "cert"]),
            String::arbitrary(&mut u),
            String::arbitrary(&mut u),
            Vec::<u8>::arbitrary(&mut u),
        ) else {
            return;
        };
        let text = object_uri(&token, &label, &id, kind);
        let uri = Pkcs11Uri::parse(&text).unwrap_or_else(|e| panic!("{text:?}: {e}"));
        assert_eq!(uri.get("token"), Some(token.as_bytes()));
        assert_eq!(uri.get("object"), Some(label.as_bytes()));
        assert_eq!(uri.get("id"), Some(id.as_slice()));
        assert_eq!(uri.get("type"), Some(kind.as_bytes()));
    }
});
