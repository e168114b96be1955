//! A KMS key reference, parsed once: a key ID, a key ARN, an alias name or
//! an alias ARN, the four forms KMS's `KeyId` parameter takes. The
//! configuration, the command line, `kms11 doctor` and the backend all read
//! a reference through this type, so they agree on what is an alias, which
//! region an ARN names, and what is not a key reference at all.
//!
//! A leaf module: it imports only std, so every layer may use it.

use std::fmt;
use std::str::FromStr;

/// Where an ARN puts its key or alias: `arn:PARTITION:kms:REGION:ACCOUNT:…`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ArnScope {
    /// `aws`, `aws-cn`, `aws-us-gov`, ...
    pub partition: String,
    pub region: String,
    /// Twelve digits.
    pub account: String,
}

/// Which of the four forms a reference has.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Form {
    /// A UUID, or `mrk-` and 32 hex digits (a Multi-Region key).
    KeyId,
    /// `arn:PARTITION:kms:REGION:ACCOUNT:key/KEY-ID`.
    KeyArn(ArnScope),
    /// `alias/NAME`.
    AliasName,
    /// `arn:PARTITION:kms:REGION:ACCOUNT:alias/NAME`.
    AliasArn(ArnScope),
}

/// A well-formed KMS key reference. Its `Display` (and `as_str`) is the
/// string KMS takes, exactly as it was given.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct KeyRef {
    text: String,
    form: Form,
}

/// Why a string is not a KMS key reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRefError {
    pub text: String,
    pub why: String,
}

impl fmt::Display for KeyRefError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "'{}' is not a KMS key reference: {} (a key is named by key ID, key ARN, \
             alias/NAME or alias ARN)",
            self.text, self.why
        )
    }
}

impl std::error::Error for KeyRefError {}

const KEY_ID_FORM: &str =
    "a key ID is a UUID (1234abcd-12ab-34cd-56ef-1234567890ab) or mrk- and 32 hex digits";
const ALIAS_FORM: &str = "an alias name is alias/ and 1 to 250 letters, digits, '/', '_' or '-'";
const ARN_FORM: &str = "a KMS ARN is arn:PARTITION:kms:REGION:ACCOUNT:key/KEY-ID or ...:alias/NAME";

fn is_hex(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_hexdigit())
}

fn is_uuid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups.iter().map(|g| g.len()).eq([8, 4, 4, 4, 12])
        && groups.iter().all(|g| is_hex(g))
}

fn is_key_id(s: &str) -> bool {
    is_uuid(s)
        || s.strip_prefix("mrk-")
            .is_some_and(|h| h.len() == 32 && is_hex(h))
}

/// `alias/` and what KMS allows in an alias name (at most 256 in all).
fn is_alias_name(s: &str) -> bool {
    s.len() <= 256
        && s.strip_prefix("alias/").is_some_and(|name| {
            !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'_' | b'-'))
        })
}

/// A partition or region: lower-case letters, digits and inner dashes.
fn is_label(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with('-')
        && !s.ends_with('-')
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// The scope and resource (`key/…` or `alias/…`) of a KMS ARN.
fn split_arn(s: &str) -> Result<(ArnScope, &str), String> {
    let parts: Vec<&str> = s.splitn(6, ':').collect();
    let [_, partition, service, region, account, resource] = parts[..] else {
        return Err(ARN_FORM.into());
    };
    if service != "kms" {
        return Err(format!("an ARN of the service '{service}', not of KMS"));
    }
    if !is_label(partition) {
        return Err(format!(
            "'{partition}' is not a partition (aws, aws-cn, ...)"
        ));
    }
    if !is_label(region) {
        return Err(format!("'{region}' is not a region (us-east-1, ...)"));
    }
    if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("the account '{account}' is not 12 digits"));
    }
    let scope = ArnScope {
        partition: partition.into(),
        region: region.into(),
        account: account.into(),
    };
    Ok((scope, resource))
}

fn form_of(s: &str) -> Result<Form, String> {
    if s.is_empty() {
        return Err("it is empty".into());
    }
    if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("it holds spaces or control characters".into());
    }
    if s.starts_with("arn:") {
        let (scope, resource) = split_arn(s)?;
        return if let Some(id) = resource.strip_prefix("key/") {
            is_key_id(id)
                .then_some(Form::KeyArn(scope))
                .ok_or_else(|| KEY_ID_FORM.into())
        } else if resource.starts_with("alias/") {
            is_alias_name(resource)
                .then_some(Form::AliasArn(scope))
                .ok_or_else(|| ALIAS_FORM.into())
        } else {
            Err(ARN_FORM.into())
        };
    }
    if s.starts_with("alias/") {
        return is_alias_name(s)
            .then_some(Form::AliasName)
            .ok_or_else(|| ALIAS_FORM.into());
    }
    if is_key_id(s) {
        return Ok(Form::KeyId);
    }
    Err(format!(
        "neither a key ID nor an ARN, and an alias needs the alias/ prefix; {KEY_ID_FORM}"
    ))
}

fn key_id_of<'a>(text: &'a str, form: &Form) -> Option<&'a str> {
    match form {
        Form::KeyId => Some(text),
        Form::KeyArn(_) => text.rsplit_once(":key/").map(|(_, id)| id),
        Form::AliasName | Form::AliasArn(_) => None,
    }
}

impl KeyRef {
    /// Parses a reference as KMS would take it (nothing is trimmed).
    pub fn parse(text: &str) -> Result<KeyRef, KeyRefError> {
        match form_of(text) {
            Ok(form) => Ok(KeyRef {
                text: text.to_string(),
                form,
            }),
            Err(why) => Err(KeyRefError {
                text: text.to_string(),
                why,
            }),
        }
    }

    /// The reference as KMS takes it.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    pub fn form(&self) -> &Form {
        &self.form
    }

    /// An alias name or alias ARN: it may name another key tomorrow.
    pub fn is_alias(&self) -> bool {
        matches!(self.form, Form::AliasName | Form::AliasArn(_))
    }

    /// The partition, region and account of an ARN.
    pub fn scope(&self) -> Option<&ArnScope> {
        match &self.form {
            Form::KeyArn(s) | Form::AliasArn(s) => Some(s),
            Form::KeyId | Form::AliasName => None,
        }
    }

    /// The region an ARN names; a key ID or alias name has none (it is
    /// looked up in the configured region).
    pub fn region(&self) -> Option<&str> {
        self.scope().map(|s| s.region.as_str())
    }

    /// The key ID of a key ID or key ARN.
    pub fn key_id(&self) -> Option<&str> {
        key_id_of(&self.text, &self.form)
    }

    /// The key ID in `text` if it is a key ID or key ARN, borrowed from it
    /// (for a key ARN that KMS answered with, kept as a string).
    pub fn key_id_in(text: &str) -> Option<&str> {
        key_id_of(text, &form_of(text).ok()?)
    }

    /// `alias/NAME` of an alias name or alias ARN.
    pub fn alias_name(&self) -> Option<&str> {
        match self.form {
            Form::AliasName => Some(&self.text),
            Form::AliasArn(_) => self.text.find(":alias/").map(|i| &self.text[i + 1..]),
            Form::KeyId | Form::KeyArn(_) => None,
        }
    }

    /// Whether `arn`, a key ARN that GetPublicKey or the disk cache gave
    /// for this reference, can be the key it names.
    ///
    /// A key ID or key ARN names one key for ever, so the ARN must be that
    /// key: the whole ARN for a key ARN, its key ID for a key ID (which
    /// says nothing of the account or region). An alias may name any key of
    /// its account and region, so only that much is checked (an alias ARN's
    /// partition, region and account; for an alias name, that the ARN is a
    /// key ARN at all): which key an alias names now is checked on every
    /// signature, against Sign's answer.
    pub fn names_key(&self, arn: &str) -> bool {
        let Ok(answer) = KeyRef::parse(arn) else {
            return false;
        };
        let Form::KeyArn(key_scope) = &answer.form else {
            return false;
        };
        match &self.form {
            Form::KeyId => answer.key_id() == Some(self.text.as_str()),
            Form::KeyArn(_) => answer.text == self.text,
            Form::AliasName => true,
            Form::AliasArn(alias_scope) => alias_scope == key_scope,
        }
    }
}

impl fmt::Display for KeyRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl FromStr for KeyRef {
    type Err = KeyRefError;

    fn from_str(s: &str) -> Result<KeyRef, KeyRefError> {
        KeyRef::parse(s)
    }
}

impl AsRef<str> for KeyRef {
    fn as_ref(&self) -> &str {
        &self.text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "1234abcd-12ab-34cd-56ef-1234567890ab";
    const MRK: &str = "mrk-1234abcd12ab34cd56ef1234567890ab";
    const ARN: &str = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    const OTHER: &str =
        "arn:aws:kms:us-east-1:111122223333:key/ffffffff-12ab-34cd-56ef-1234567890ab";

    fn r(s: &str) -> KeyRef {
        KeyRef::parse(s).unwrap_or_else(|e| panic!("{e}"))
    }

    fn scope(partition: &str, region: &str, account: &str) -> ArnScope {
        ArnScope {
            partition: partition.into(),
            region: region.into(),
            account: account.into(),
        }
    }

    #[test]
    fn every_form_parses_and_prints_back_as_given() {
        for (text, alias, key_id, alias_name, region) in [
            (ID, false, Some(ID), None, None),
            (MRK, false, Some(MRK), None, None),
            (ARN, false, Some(ID), None, Some("us-east-1")),
            ("alias/release", true, None, Some("alias/release"), None),
            (
                "alias/team/a_b-1",
                true,
                None,
                Some("alias/team/a_b-1"),
                None,
            ),
            (
                "arn:aws:kms:eu-west-1:111122223333:alias/release",
                true,
                None,
                Some("alias/release"),
                Some("eu-west-1"),
            ),
        ] {
            let k = r(text);
            assert_eq!(k.to_string(), text);
            assert_eq!(k.as_str(), text);
            assert_eq!(k, text.parse::<KeyRef>().unwrap());
            assert_eq!(k.is_alias(), alias, "{text}");
            assert_eq!(k.key_id(), key_id, "{text}");
            assert_eq!(k.alias_name(), alias_name, "{text}");
            assert_eq!(k.region(), region, "{text}");
        }
        assert_eq!(*r(ID).form(), Form::KeyId);
        assert_eq!(*r("alias/x").form(), Form::AliasName);
        assert_eq!(
            *r(ARN).form(),
            Form::KeyArn(scope("aws", "us-east-1", "111122223333"))
        );
    }

    #[test]
    fn the_key_id_of_a_string() {
        assert_eq!(KeyRef::key_id_in(ARN), Some(ID));
        assert_eq!(KeyRef::key_id_in(MRK), Some(MRK));
        assert_eq!(KeyRef::key_id_in("alias/x"), None);
        assert_eq!(
            KeyRef::key_id_in("arn:aws:kms:us-east-1:111122223333:key/x"),
            None
        );
    }

    #[test]
    fn multi_region_keys() {
        let arn = format!("arn:aws:kms:ap-southeast-2:111122223333:key/{MRK}");
        let k = r(&arn);
        assert_eq!(k.key_id(), Some(MRK));
        assert_eq!(k.region(), Some("ap-southeast-2"));
        assert!(!k.is_alias());
        // An mrk- ID is 32 hex digits, not a UUID.
        assert!(KeyRef::parse("mrk-1234").is_err());
        assert!(KeyRef::parse(&format!("mrk-{ID}")).is_err());
        assert!(KeyRef::parse("mrk-1234abcd12ab34cd56ef1234567890ag").is_err());
    }

    #[test]
    fn other_partitions() {
        for (partition, region) in [
            ("aws-cn", "cn-north-1"),
            ("aws-us-gov", "us-gov-west-1"),
            ("aws-iso-b", "us-isob-east-1"),
        ] {
            let key = r(&format!(
                "arn:{partition}:kms:{region}:111122223333:key/{ID}"
            ));
            assert_eq!(key.scope(), Some(&scope(partition, region, "111122223333")));
            let alias = r(&format!(
                "arn:{partition}:kms:{region}:111122223333:alias/x"
            ));
            assert_eq!(alias.region(), Some(region));
            assert!(alias.is_alias());
        }
    }

    #[test]
    fn what_is_not_a_key_reference_is_refused_with_a_reason() {
        for (bad, why) in [
            ("", "empty"),
            (" alias/x", "spaces"),
            ("alias/x\n", "spaces"),
            ("release", "alias/ prefix"),
            ("key/1234", "alias/ prefix"),
            ("1234abcd-12ab-34cd-56ef-1234567890", "UUID"),
            ("1234abcd-12ab-34cd-56ef1-234567890ab", "UUID"),
            ("alias/", "alias name"),
            ("alias/a:b", "alias name"),
            ("alias/a b", "spaces"),
            ("arn:aws:s3:::bucket", "the service 's3'"),
            ("arn:aws:kms:us-east-1:key/x", "KMS ARN is"),
            ("arn:aws:kms:us-east-1:1111:key/x", "not 12 digits"),
            ("arn:aws:kms::111122223333:alias/x", "not a region"),
            ("arn::kms:us-east-1:111122223333:alias/x", "not a partition"),
            (
                "arn:AWS:kms:us-east-1:111122223333:alias/x",
                "not a partition",
            ),
            ("arn:aws:kms:us-east-1:111122223333:key/", "UUID"),
            ("arn:aws:kms:us-east-1:111122223333:key/x", "UUID"),
            ("arn:aws:kms:us-east-1:111122223333:alias/", "alias name"),
            ("arn:aws:kms:us-east-1:111122223333:grant/x", "KMS ARN is"),
            ("arn:aws:kms:us-east-1:111122223333:key/x:y", "UUID"),
        ] {
            let e = KeyRef::parse(bad).expect_err(bad);
            assert!(e.why.contains(why), "{bad:?}: {e}");
            assert!(e.to_string().contains("not a KMS key reference"), "{e}");
            assert_eq!(e.text, bad);
        }
        assert!(KeyRef::parse(&format!("{ARN}/x")).is_err());
        assert!(KeyRef::parse(&format!("alias/{}", "a".repeat(251))).is_err());
        r(&format!("alias/{}", "a".repeat(250)));
    }

    #[test]
    fn a_key_id_or_key_arn_names_only_its_key() {
        assert!(r(ID).names_key(ARN));
        assert!(!r(ID).names_key(OTHER));
        assert!(r(ARN).names_key(ARN));
        assert!(!r(ARN).names_key(OTHER));
        // The same key ID in another account or region is another key.
        let elsewhere = ARN.replace("111122223333", "444455556666");
        assert!(
            r(ID).names_key(&elsewhere),
            "a key ID says nothing of the account"
        );
        assert!(!r(ARN).names_key(&elsewhere));
        assert!(!r(ARN).names_key(&ARN.replace("us-east-1", "eu-west-1")));
        // Multi-Region keys.
        let mrk = format!("arn:aws:kms:eu-west-1:111122223333:key/{MRK}");
        assert!(r(MRK).names_key(&mrk));
        assert!(!r(MRK).names_key(ARN));
        // Not key ARNs at all.
        for bad in [
            "",
            ID,
            "arn:aws:kms:us-east-1:111122223333:alias/x",
            "key/1234",
        ] {
            assert!(!r(ID).names_key(bad), "{bad:?}");
        }
        assert!(!r(ID).names_key(&format!("{ARN}/x")));
        assert!(!r(ID).names_key(&format!("arn:aws:kms:us-east-1:key/{ID}")));
    }

    #[test]
    fn an_alias_names_keys_of_its_account_and_region() {
        assert!(r("alias/release").names_key(ARN));
        assert!(r("alias/release").names_key(OTHER));
        let alias_arn = r("arn:aws:kms:us-east-1:111122223333:alias/release");
        assert!(alias_arn.names_key(ARN));
        assert!(!alias_arn.names_key(&ARN.replace("111122223333", "444455556666")));
        assert!(!alias_arn.names_key(&ARN.replace("us-east-1", "eu-west-1")));
        assert!(!alias_arn.names_key(&ARN.replace("arn:aws:", "arn:aws-cn:")));
        assert!(!r("alias/release").names_key("not an arn"));
    }
}
