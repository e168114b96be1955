//! The configuration's parsing rules and defaults, pinned.
use super::*;

#[test]
fn unknown_setting_names_file_and_line() {
    let e = Config::parse("[aws]\nregion = \"us-east-1\"\nregoin = \"x\"\n", "t.conf").unwrap_err();
    assert!(e.starts_with("t.conf, line 3:"), "{e}");
    assert!(e.contains("regoin"), "{e}");
}

#[test]
fn bad_hex_id_names_line() {
    let text = "[[token]]\nlabel = \"a\"\n[[token.key]]\nkey = \"alias/x\"\nid = \"zz\"\n";
    let e = Config::parse(text, "t.conf").unwrap_err();
    assert!(e.starts_with("t.conf, line 5:"), "{e}");
}

#[test]
fn hex_ids_are_hex_digits_only() {
    // Found by fuzz_config: from_str_radix took a sign ("+1+2").
    assert_eq!(parse_hex("+1+2"), None);
    assert_eq!(parse_hex("-1"), None);
    assert_eq!(parse_hex("abc"), None);
    assert_eq!(parse_hex(""), None);
    assert_eq!(parse_hex("01aB"), Some(vec![0x01, 0xab]));
    let e = Config::parse("[aws]\nmax_attempts = 4294967295\n", "t.conf").unwrap_err();
    assert!(e.contains("max_attempts must be 1 to 20"), "{e}");
}

#[test]
fn key_list_makes_one_token() {
    let c = Config::from_key_list("alias/a, alias/b,").unwrap();
    assert_eq!(c.tokens.len(), 1);
    assert_eq!(c.tokens[0].keys.len(), 2);
    assert!(c.tokens[0].keys[0].is_alias());
    let e = Config::from_key_list("alias/a, release").unwrap_err();
    assert!(
        e.starts_with("KMS11_KEYS: 'release' is not a KMS key reference"),
        "{e}"
    );
}

#[test]
fn a_key_that_is_not_a_kms_key_reference_names_its_line() {
    let key = |k: &str| format!("[[token]]\nlabel = \"a\"\n[[token.key]]\nkey = \"{k}\"\n");
    for bad in ["", " ", "release", "arn:aws:s3:::bucket", "alias/"] {
        let e = Config::parse(&key(bad), "t.conf").unwrap_err();
        assert!(e.starts_with("t.conf, line 4:"), "{e}");
        assert!(e.contains("is not a KMS key reference"), "{e}");
    }
    let arn = "arn:aws:kms:eu-west-1:111122223333:alias/x";
    let c = Config::parse(&key(arn), "t.conf").unwrap();
    let k = &c.tokens[0].keys[0];
    assert_eq!((k.reference(), k.is_alias()), (arn, true));
    assert_eq!(k.key_ref().region(), Some("eu-west-1"));
}

#[test]
fn pin_hash_must_be_argon2id() {
    let text = "[[token]]\nlabel = \"a\"\npin_hash = \"1234\"\n";
    let e = Config::parse(text, "t.conf").unwrap_err();
    assert!(e.starts_with("t.conf, line 3:"), "{e}");
    assert!(e.contains("kms11 pin-hash"), "{e}");
    let good = crate::pin::hash(b"1234").unwrap();
    let text = format!("[[token]]\nlabel = \"a\"\npin_hash = \"{good}\"\n");
    Config::parse(&text, "t.conf").unwrap();
}

/// Every default, whether a section is missing, empty or the whole
/// configuration is `Config::default()`.
#[test]
fn every_default_is_pinned() {
    let empty_sections = "[aws]\n[log]\n[cache]\n[signing]\n";
    for c in [
        Config::default(),
        Config::parse("", "t.conf").unwrap(),
        Config::parse(empty_sections, "t.conf").unwrap(),
    ] {
        let a = &c.aws;
        assert_eq!(a.region, None);
        assert_eq!(a.profile, None);
        assert_eq!(a.endpoint_url, None);
        assert_eq!(a.ca_bundle, None);
        assert_eq!(a.connect_timeout_ms, 3_000);
        assert_eq!(a.call_timeout_ms, 10_000);
        assert_eq!(a.max_attempts, 3);
        assert_eq!(a.retry_mode, RetryMode::Standard);
        assert_eq!(a.alias_refresh_seconds, 300);
        assert_eq!(a.max_concurrent_requests, 128);
        assert!(c.cache.enabled);
        assert_eq!(c.cache.dir, None);
        assert!(c.signing.verify_signatures);
        assert_eq!(c.log.level, None);
        assert_eq!(c.log.file, None);
        assert!(c.tokens.is_empty());
    }
    let text = "[[token]]\nlabel = \"a\"\n[[token.key]]\nkey = \"alias/x\"\n";
    let c = Config::parse(text, "t.conf").unwrap();
    let (token, key) = (&c.tokens[0], &c.tokens[0].keys[0]);
    assert!(token.pin_hash.is_none());
    assert!(key.label.is_none() && key.id.is_none() && key.certificate.is_none());
    assert!(key.grant_tokens.is_empty());
    let c = Config::parse("[[token]]\nlabel = \"a\"\n", "t.conf").unwrap();
    assert!(c.tokens[0].keys.is_empty());
    assert_eq!(c.tokens[0].management(), Management::default());
    assert!(!Management::default().allowed);
    assert_eq!(Management::default().deletion_window_days, 30);
}

#[test]
fn key_management_settings_are_checked_where_they_are_written() {
    let token = |extra: &str| format!("[[token]]\nlabel = \"a\"\n{extra}\n");
    for (bad, why) in [
        ("deletion_window_days = 6", "7 to 30 days"),
        ("deletion_window_days = 31", "7 to 30 days"),
        ("alias_prefix = \"release signing\"", "alias_prefix"),
        ("alias_prefix = \"aws/x\"", "aws/ is AWS's"),
        ("discover_aliases = \"release-\"", "alias-name prefix"),
        ("discover_aliases = \"alias/a b\"", "alias-name prefix"),
    ] {
        let e = Config::parse(&token(bad), "t.conf").unwrap_err();
        assert!(e.starts_with("t.conf, line 3:"), "{e}");
        assert!(e.contains(why), "{e}");
    }
    let text =
        token("allow_key_management = true\nalias_prefix = \"ci/\"\ndeletion_window_days = 7");
    let c = Config::parse(&text, "t.conf").unwrap();
    assert_eq!(
        c.tokens[0].management(),
        Management {
            allowed: true,
            alias_prefix: "ci/".into(),
            deletion_window_days: 7,
            discover_aliases: None,
            certificate_dir: None,
        }
    );
}

#[test]
fn full_example_parses() {
    let text = include_str!("../../pkcs11.conf.sample");
    Config::parse(text, "sample").unwrap();
}

#[test]
fn failover_settings_are_checked_where_written() {
    let ok = Config::parse(
        "[aws]\nregion = \"us-east-1\"\nfallback_regions = [\"us-west-2\", \"eu-west-1\"]\n\
         [aws.endpoints]\n\"us-west-2\" = \"http://127.0.0.1:4567\"\n\
         [signing]\nhedge_after_ms = \"auto\"\n",
        "t",
    )
    .unwrap();
    assert_eq!(ok.aws.fallback_regions, ["us-west-2", "eu-west-1"]);
    assert_eq!(ok.aws.endpoints["us-west-2"], "http://127.0.0.1:4567");
    assert_eq!(ok.signing.hedge_after_ms, Hedge::Auto);
    for (ms, want) in [("0", Hedge::Off), ("40", Hedge::After(40))] {
        let c = Config::parse(&format!("[signing]\nhedge_after_ms = {ms}\n"), "t").unwrap();
        assert_eq!(c.signing.hedge_after_ms, want);
    }
    assert_eq!(
        Config::parse("", "t").unwrap().signing.hedge_after_ms,
        Hedge::Off
    );
    for (text, words) in [
        ("[aws]\nfallback_regions = [\"west\"]\n", "not a region ID"),
        (
            "[aws]\nfallback_regions = [\"us-west-2\", \"us-west-2\"]\n",
            "twice",
        ),
        (
            "[aws]\nregion = \"us-east-1\"\nfallback_regions = [\"us-east-1\"]\n",
            "region itself",
        ),
        (
            "[aws.endpoints]\n\"US-WEST-2\" = \"https://x\"\n",
            "not a region ID",
        ),
        (
            "[aws.endpoints]\n\"us-west-2\" = \"kms.example\"\n",
            "https://",
        ),
        ("[signing]\nhedge_after_ms = \"soon\"\n", "\"auto\""),
        ("[signing]\nhedge_after_ms = -1\n", "hedge_after_ms"),
    ] {
        let e = Config::parse(text, "t").unwrap_err();
        assert!(e.contains(words), "{text}: {e}");
    }
    for ok in ["us-east-1", "ap-southeast-2", "us-gov-west-1"] {
        assert!(is_region_id(ok), "{ok}");
    }
    for bad in ["", "us-east", "us-east-1a", "east-1", "us--1", "a-b-c-d-1"] {
        assert!(!is_region_id(bad), "{bad}");
    }
}
