//! C_GenerateKeyPair's and C_GenerateKey's templates as a KMS CreateKey
//! request: the key spec and usage they ask for, and what else a standard
//! client sends, accepted where kms11 can honour it and refused, before
//! KMS is asked, where it cannot.

use super::spec::{spec, usage};
use crate::attribute;
use crate::error::{Error, Result};
use crate::token::template::{as_bool, as_ulong};
use crate::vendor::*;
use crate::vocabulary::{KeySpec, KeyUsage, MacAlg};
use cryptoki_sys::*;

pub type Template = [(CK_ATTRIBUTE_TYPE, Vec<u8>)];

/// The templates of a generation call.
#[derive(Clone, Copy)]
pub enum Templates<'a> {
    /// C_GenerateKeyPair's public- and private-key templates.
    Pair {
        public: &'a Template,
        private: &'a Template,
    },
    /// C_GenerateKey's.
    Secret(&'a Template),
}

/// What a template asks of the new KMS key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRequest {
    pub spec: KeySpec,
    pub usage: KeyUsage,
    pub label: Option<String>,
    pub id: Option<Vec<u8>>,
    pub multi_region: bool,
    pub policy: Option<String>,
    pub tags: Vec<(String, String)>,
    pub description: Option<String>,
}

/// The most tags KMS keeps on a key.
const TAGS_MAX: usize = 50;

pub(super) fn invalid(why: impl Into<String>) -> Error {
    Error::new(CKR_ATTRIBUTE_VALUE_INVALID, why)
}

pub(super) fn inconsistent(why: impl Into<String>) -> Error {
    Error::new(CKR_TEMPLATE_INCONSISTENT, why)
}

fn as_text(t: CK_ATTRIBUTE_TYPE, v: &[u8]) -> Result<String> {
    String::from_utf8(v.to_vec())
        .map_err(|_| invalid(format!("{} is UTF-8 text", attribute::name(t))))
}

/// What the templates say, attribute by attribute, before the key spec
/// is known.
#[derive(Default)]
pub(super) struct Asked {
    /// The usages the private (or secret) key's template asks for: the
    /// KMS key's.
    pub(super) usages: Vec<(KeyUsage, CK_ATTRIBUTE_TYPE)>,
    /// The usages the public key's template asks for: they decide only
    /// when the private key's says nothing (GnuTLS asks an RSA public key
    /// for CKA_ENCRYPT and CKA_VERIFY whatever the private key is for).
    pub(super) public_usages: Vec<(KeyUsage, CK_ATTRIBUTE_TYPE)>,
    pub(super) label: Option<String>,
    pub(super) id: Option<Vec<u8>>,
    pub(super) modulus_bits: Option<CK_ULONG>,
    pub(super) exponent: Option<Vec<u8>>,
    pub(super) ec_params: Option<Vec<u8>>,
    pub(super) parameter_set: Option<CK_ULONG>,
    pub(super) value_len: Option<CK_ULONG>,
    pub(super) allowed: Vec<CK_MECHANISM_TYPE>,
    pub(super) multi_region: bool,
    pub(super) policy: Option<String>,
    pub(super) tags: Vec<(String, String)>,
    pub(super) description: Option<String>,
}

/// Sets a value that both templates may give; they must agree.
fn once<T: PartialEq>(slot: &mut Option<T>, t: CK_ATTRIBUTE_TYPE, v: T) -> Result<()> {
    match slot {
        Some(old) if *old != v => Err(inconsistent(format!(
            "the two templates give {} different values",
            attribute::name(t)
        ))),
        _ => {
            *slot = Some(v);
            Ok(())
        }
    }
}

/// Flags a KMS key can only have false: what it cannot do.
const NEVER: [(CK_ATTRIBUTE_TYPE, &str); 7] = [
    (CKA_WRAP, "wrap keys"),
    (CKA_UNWRAP, "unwrap keys"),
    (CKA_SIGN_RECOVER, "sign with recovery"),
    (CKA_VERIFY_RECOVER, "verify with recovery"),
    (CKA_ALWAYS_AUTHENTICATE, "ask for the PIN at each use"),
    (CKA_TRUSTED, "be trusted"),
    (CKA_WRAP_WITH_TRUSTED, "be wrapped"),
];

impl Asked {
    /// One attribute of the template of objects of `class`.
    fn take(
        &mut self,
        class: CK_OBJECT_CLASS,
        key_type: CK_KEY_TYPE,
        t: CK_ATTRIBUTE_TYPE,
        v: &[u8],
    ) -> Result<()> {
        let secret_half = class != CKO_PUBLIC_KEY;
        match t {
            CKA_CLASS if as_ulong(t, v)? != class => Err(inconsistent(format!(
                "CKA_CLASS {:#x} in the template of a {} object",
                as_ulong(t, v)?,
                class_name(class)
            ))),
            CKA_KEY_TYPE if as_ulong(t, v)? != key_type => Err(inconsistent(format!(
                "CKA_KEY_TYPE {:#x}: this mechanism makes keys of type {key_type:#x}",
                as_ulong(t, v)?
            ))),
            CKA_CLASS | CKA_KEY_TYPE => Ok(()),
            CKA_TOKEN if !as_bool(t, v)? => Err(invalid(
                "CKA_TOKEN false: a KMS key is always a token object",
            )),
            CKA_SENSITIVE if secret_half && !as_bool(t, v)? => Err(invalid(
                "CKA_SENSITIVE false: a KMS key's private material never leaves KMS \
                 (pkcs11-tool --keygen sends it unless given --sensitive)",
            )),
            CKA_EXTRACTABLE if as_bool(t, v)? => Err(invalid(
                "CKA_EXTRACTABLE true: a KMS key's private material never leaves KMS",
            )),
            CKA_TOKEN | CKA_PRIVATE | CKA_SENSITIVE | CKA_EXTRACTABLE | CKA_MODIFIABLE
            | CKA_COPYABLE | CKA_DESTROYABLE => as_bool(t, v).map(drop),
            // A certificate's subject, which the key's objects take from
            // a certificate when one is stored.
            CKA_SUBJECT => Ok(()),
            CKA_START_DATE | CKA_END_DATE if !v.is_empty() => Err(invalid(format!(
                "{}: a KMS key has no validity dates",
                attribute::name(t)
            ))),
            CKA_START_DATE | CKA_END_DATE => Ok(()),
            CKA_LABEL => {
                let label = as_text(t, v)?;
                once(&mut self.label, t, label)
            }
            CKA_ID => once(&mut self.id, t, v.to_vec()),
            CKA_SIGN | CKA_VERIFY => self.usage(class, t, v, KeyUsage::SignVerify),
            CKA_DECRYPT | CKA_ENCRYPT => self.usage(class, t, v, KeyUsage::EncryptDecrypt),
            CKA_DERIVE => self.usage(class, t, v, KeyUsage::KeyAgreement),
            t if NEVER.iter().any(|(n, _)| *n == t) => {
                let what = NEVER.iter().find(|(n, _)| *n == t).map_or("", |(_, w)| w);
                if as_bool(t, v)? {
                    Err(invalid(format!(
                        "{}: a KMS key cannot {what}",
                        attribute::name(t)
                    )))
                } else {
                    Ok(())
                }
            }
            CKA_MODULUS_BITS => once(&mut self.modulus_bits, t, as_ulong(t, v)?),
            CKA_PUBLIC_EXPONENT => once(&mut self.exponent, t, v.to_vec()),
            CKA_EC_PARAMS => once(&mut self.ec_params, t, v.to_vec()),
            CKA_PARAMETER_SET => once(&mut self.parameter_set, t, as_ulong(t, v)?),
            CKA_VALUE_LEN => once(&mut self.value_len, t, as_ulong(t, v)?),
            CKA_ALLOWED_MECHANISMS if attribute::fits(t, v) => {
                self.allowed.extend(
                    v.chunks(size_of::<CK_MECHANISM_TYPE>()).map(|c| {
                        CK_MECHANISM_TYPE::from_ne_bytes(c.try_into().unwrap_or_default())
                    }),
                );
                Ok(())
            }
            CKA_ALLOWED_MECHANISMS => Err(invalid(
                "CKA_ALLOWED_MECHANISMS is an array of CK_MECHANISM_TYPE",
            )),
            CKA_KMS11_MULTI_REGION => {
                self.multi_region |= as_bool(t, v)?;
                Ok(())
            }
            CKA_KMS11_KEY_POLICY => once(&mut self.policy, t, policy(v)?),
            CKA_KMS11_TAGS => {
                self.tags.extend(tags(v)?);
                Ok(())
            }
            CKA_KMS11_DESCRIPTION => {
                let text = as_text(t, v)?;
                if text.len() > 8192 {
                    return Err(invalid(
                        "CKA_KMS11_DESCRIPTION: KMS keeps at most 8,192 bytes",
                    ));
                }
                once(&mut self.description, t, text)
            }
            CKA_KMS11_KEY_ARN | CKA_KMS11_KEY_SPEC | CKA_KMS11_KEY_USAGE | CKA_KMS11_ALIAS => {
                Err(Error::new(
                    CKR_ATTRIBUTE_READ_ONLY,
                    format!("{} is KMS's to say, not a template's", attribute::name(t)),
                ))
            }
            t if attribute::find(t).is_some() => Err(inconsistent(format!(
                "{} cannot be set on a key KMS generates",
                attribute::name(t)
            ))),
            _ => Err(CKR_ATTRIBUTE_TYPE_INVALID.into()),
        }
    }

    fn usage(
        &mut self,
        class: CK_OBJECT_CLASS,
        t: CK_ATTRIBUTE_TYPE,
        v: &[u8],
        usage: KeyUsage,
    ) -> Result<()> {
        if as_bool(t, v)? {
            match class {
                CKO_PUBLIC_KEY => self.public_usages.push((usage, t)),
                _ => self.usages.push((usage, t)),
            }
        }
        Ok(())
    }
}

fn class_name(class: CK_OBJECT_CLASS) -> &'static str {
    match class {
        CKO_PUBLIC_KEY => "public-key",
        CKO_PRIVATE_KEY => "private-key",
        _ => "secret-key",
    }
}

/// A key policy: a JSON object (KMS checks the rest).
fn policy(v: &[u8]) -> Result<String> {
    let text = as_text(CKA_KMS11_KEY_POLICY, v)?;
    match serde_json::from_str::<serde_json::Value>(&text) {
        Ok(serde_json::Value::Object(_)) if text.len() <= 32_768 => Ok(text),
        _ => Err(invalid(
            "CKA_KMS11_KEY_POLICY is a key policy: a JSON object of at most 32,768 bytes",
        )),
    }
}

/// Tags: a JSON object of strings, none of them kms11's or AWS's.
fn tags(v: &[u8]) -> Result<Vec<(String, String)>> {
    let text = as_text(CKA_KMS11_TAGS, v)?;
    let bad = || invalid("CKA_KMS11_TAGS is a JSON object of strings, {\"team\":\"release\"}");
    let serde_json::Value::Object(map) = serde_json::from_str(&text).map_err(|_| bad())? else {
        return Err(bad());
    };
    map.into_iter()
        .map(|(k, v)| {
            let serde_json::Value::String(v) = v else {
                return Err(bad());
            };
            let ours = k == super::CREATED_BY || k.starts_with("kms11:");
            if k.is_empty() || k.len() > 128 || v.len() > 256 || k.starts_with("aws:") || ours {
                return Err(invalid(format!(
                    "CKA_KMS11_TAGS: tag '{k}': keys are 1 to 128 characters and values at \
                     most 256; aws:, kms11: and {} are reserved",
                    super::CREATED_BY
                )));
            }
            Ok((k, v))
        })
        .collect()
}

/// The key type and, for C_GenerateKey, the HMAC a mechanism fixes.
fn mechanism(ckm: CK_MECHANISM_TYPE, pair: bool) -> Result<(CK_KEY_TYPE, Option<MacAlg>)> {
    let pair_types = [
        (CKM_RSA_PKCS_KEY_PAIR_GEN, CKK_RSA),
        (CKM_EC_KEY_PAIR_GEN, CKK_EC),
        (CKM_EC_EDWARDS_KEY_PAIR_GEN, CKK_EC_EDWARDS),
        (CKM_ML_DSA_KEY_PAIR_GEN, CKK_ML_DSA),
    ];
    let found = if pair {
        pair_types
            .iter()
            .find(|(m, _)| *m == ckm)
            .map(|(_, k)| (*k, None))
    } else if ckm == CKM_GENERIC_SECRET_KEY_GEN {
        Some((CKK_GENERIC_SECRET, None))
    } else {
        MacAlg::ALL
            .into_iter()
            .find(|a| a.row().key_gen == ckm)
            .map(|a| (CKK_GENERIC_SECRET, Some(a)))
    };
    found.ok_or_else(|| {
        Error::new(
            CKR_MECHANISM_INVALID,
            format!(
                "mechanism {ckm:#x}: {} makes {}",
                if pair {
                    "C_GenerateKeyPair"
                } else {
                    "C_GenerateKey"
                },
                if pair {
                    "RSA, EC, Ed25519 and ML-DSA key pairs"
                } else {
                    "HMAC keys (CKM_GENERIC_SECRET_KEY_GEN, CKM_SHA*_KEY_GEN)"
                }
            ),
        )
    })
}

/// The CreateKey request C_GenerateKeyPair (or C_GenerateKey) with
/// mechanism `ckm` asks for; an error for anything kms11 cannot honour.
pub fn key_request(ckm: CK_MECHANISM_TYPE, templates: Templates<'_>) -> Result<KeyRequest> {
    let pair = matches!(templates, Templates::Pair { .. });
    let (key_type, mac) = mechanism(ckm, pair)?;
    let mut a = Asked::default();
    let parts: Vec<(CK_OBJECT_CLASS, &Template)> = match templates {
        Templates::Pair { public, private } => {
            vec![(CKO_PUBLIC_KEY, public), (CKO_PRIVATE_KEY, private)]
        }
        Templates::Secret(t) => vec![(CKO_SECRET_KEY, t)],
    };
    for (class, template) in parts {
        for (t, v) in template {
            a.take(class, key_type, *t, v)?;
        }
    }
    let spec = spec(key_type, mac, &a)?;
    let asked = if a.usages.is_empty() {
        &a.public_usages
    } else {
        &a.usages
    };
    let usage = usage(spec, asked)?;
    let offered: Vec<CK_MECHANISM_TYPE> = crate::mechanism::for_key(spec.family(), usage).collect();
    if let Some(m) = a.allowed.iter().find(|m| !offered.contains(m)) {
        return Err(invalid(format!(
            "CKA_ALLOWED_MECHANISMS names {}, which a {} {} key cannot do here",
            crate::mechanism::row(*m).map_or_else(|| format!("{m:#x}"), |r| r.name.to_string()),
            spec.as_kms(),
            usage.as_kms()
        )));
    }
    if a.tags.len() > TAGS_MAX - 3 {
        return Err(invalid(format!(
            "CKA_KMS11_TAGS: at most {} tags",
            TAGS_MAX - 3
        )));
    }
    Ok(KeyRequest {
        spec,
        usage,
        label: a.label.filter(|l| !l.is_empty()),
        id: a.id,
        multi_region: a.multi_region,
        policy: a.policy,
        tags: a.tags,
        description: a.description,
    })
}

#[cfg(test)]
#[path = "request_tests.rs"]
mod tests;
