//! The configuration file (`Config::parse`), as C_Initialize and the
//! `kms11` command read it, and `KMS11_KEYS` (`Config::from_key_list`).
//!
//! Properties: parsing never panics; an error names the source and, for
//! anything found at a place in the file, a line that exists; an accepted
//! configuration satisfies the checks `parse` promises (token labels 1 to 32
//! bytes and distinct, hex key IDs, at least one attempt and request).

#![no_main]

use kms11::config::{parse_hex, Config, TOKEN_LABEL_LEN};
use kms11::keyref::KeyRef;
use libfuzzer_sys::fuzz_target;

const SOURCE: &str = "fuzz.conf";

/// The checks of whole sections, which have no one line to name.
const WHOLE_SECTION: &[&str] = &[
    "fuzz.conf: [aws] max_attempts must be at least 1",
    "fuzz.conf: [aws] max_concurrent_requests must be at least 1",
];

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // KMS11_KEYS, the configuration without a file: one token, one key per
    // non-empty comma-separated item.
    // A list with an item that is not a KMS key reference is refused.
    let expected: Vec<&str> = text
        .split(',')
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .collect();
    match Config::from_key_list(text) {
        Ok(listed) => {
            assert_eq!(listed.tokens.len(), 1);
            let keys: Vec<&str> = listed.tokens[0]
                .keys
                .iter()
                .map(|k| k.reference())
                .collect();
            assert_eq!(keys, expected);
        }
        Err(_) => assert!(expected.iter().any(|k| KeyRef::parse(k).is_err())),
    }
    match Config::parse(text, SOURCE) {
        Err(e) => {
            if WHOLE_SECTION.contains(&e.as_str()) {
                return;
            }
            let rest = e
                .strip_prefix("fuzz.conf, line ")
                .unwrap_or_else(|| panic!("the error names no line: {e:?}"));
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            let line: usize = digits.parse().expect("a line number");
            let lines = text.matches('\n').count() + 1;
            assert!(
                (1..=lines).contains(&line),
                "line {line} of a {lines}-line file: {e:?}"
            );
            assert!(rest[digits.len()..].starts_with(": "), "{e:?}");
        }
        Ok(config) => {
            assert_eq!(config.source, SOURCE);
            let mut labels = std::collections::HashSet::new();
            for token in &config.tokens {
                let label = token.label.get_ref();
                assert!((1..=TOKEN_LABEL_LEN).contains(&label.len()));
                assert!(labels.insert(label.clone()));
                for key in &token.keys {
                    assert!(KeyRef::parse(key.reference()).is_ok());
                    if let Some(id) = &key.id {
                        assert!(parse_hex(id.get_ref()).is_some());
                    }
                    let _ = key.is_alias();
                }
            }
            assert!(config.aws.max_attempts >= 1);
            assert!(config.aws.max_concurrent_requests >= 1);
            // The time budget of a KMS call, which C_Initialize computes:
            // it adds up one backoff per retry.
            if config.aws.max_attempts <= 100_000 {
                let _ = config.aws.operation_budget();
            }
        }
    }
});
