//! C_GenerateKeyPair's and C_GenerateKey's templates as a KMS CreateKey
//! request: the key spec and usage they ask for, and what else a standard
//! client sends, accepted where kms11 can honour it and refused, before
//! KMS is asked, where it cannot.

use crate::attribute;
use crate::error::{Error, Result};
use crate::vendor::*;
use crate::vocabulary::{Curve, Family, KeySpec, KeyUsage, MacAlg, MlDsaSet, ED25519_OID};
use cryptoki_sys::*;
use der::Decode;

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

fn invalid(why: impl Into<String>) -> Error {
    Error::new(CKR_ATTRIBUTE_VALUE_INVALID, why)
}

fn inconsistent(why: impl Into<String>) -> Error {
    Error::new(CKR_TEMPLATE_INCONSISTENT, why)
}

fn as_ulong(t: CK_ATTRIBUTE_TYPE, v: &[u8]) -> Result<CK_ULONG> {
    v.try_into()
        .map(CK_ULONG::from_ne_bytes)
        .map_err(|_| invalid(format!("{} is a CK_ULONG", attribute::name(t))))
}

fn as_bool(t: CK_ATTRIBUTE_TYPE, v: &[u8]) -> Result<bool> {
    match v {
        [b] => Ok(*b != CK_FALSE),
        _ => Err(invalid(format!("{} is a CK_BBOOL", attribute::name(t)))),
    }
}

fn as_text(t: CK_ATTRIBUTE_TYPE, v: &[u8]) -> Result<String> {
    String::from_utf8(v.to_vec())
        .map_err(|_| invalid(format!("{} is UTF-8 text", attribute::name(t))))
}

/// What the templates say, attribute by attribute, before the key spec
/// is known.
#[derive(Default)]
struct Asked {
    usages: Vec<(KeyUsage, CK_ATTRIBUTE_TYPE)>,
    label: Option<String>,
    id: Option<Vec<u8>>,
    modulus_bits: Option<CK_ULONG>,
    exponent: Option<Vec<u8>>,
    ec_params: Option<Vec<u8>>,
    parameter_set: Option<CK_ULONG>,
    value_len: Option<CK_ULONG>,
    allowed: Vec<CK_MECHANISM_TYPE>,
    multi_region: bool,
    policy: Option<String>,
    tags: Vec<(String, String)>,
    description: Option<String>,
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
                "CKA_SENSITIVE false: a KMS key's private material never leaves KMS",
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
            CKA_SIGN | CKA_VERIFY => self.usage(t, v, KeyUsage::SignVerify),
            CKA_DECRYPT | CKA_ENCRYPT => self.usage(t, v, KeyUsage::EncryptDecrypt),
            CKA_DERIVE => self.usage(t, v, KeyUsage::KeyAgreement),
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

    fn usage(&mut self, t: CK_ATTRIBUTE_TYPE, v: &[u8], usage: KeyUsage) -> Result<()> {
        if as_bool(t, v)? {
            self.usages.push((usage, t));
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

fn incomplete(what: &str) -> Error {
    Error::new(
        CKR_TEMPLATE_INCOMPLETE,
        format!("the template needs {what}"),
    )
}

fn spec_where(f: impl Fn(Family) -> bool) -> Option<KeySpec> {
    KeySpec::ALL.iter().copied().find(|s| f(s.family()))
}

/// The KMS key spec the parameters ask for.
fn spec(key_type: CK_KEY_TYPE, mac: Option<MacAlg>, a: &Asked) -> Result<KeySpec> {
    match key_type {
        CKK_RSA => {
            let bits = a
                .modulus_bits
                .ok_or_else(|| incomplete("CKA_MODULUS_BITS"))?;
            let e = a.exponent.as_deref().unwrap_or(&[1, 0, 1]);
            let start = e.iter().position(|b| *b != 0).unwrap_or(e.len());
            if e[start..] != [1, 0, 1] {
                return Err(invalid(
                    "CKA_PUBLIC_EXPONENT: KMS's RSA keys have exponent 65537",
                ));
            }
            spec_where(
                |f| matches!(f, Family::Rsa { modulus_len } if modulus_len as CK_ULONG * 8 == bits),
            )
            .ok_or_else(|| {
                invalid(format!(
                    "CKA_MODULUS_BITS {bits}: KMS makes RSA keys of 2048, 3072 and 4096 bits"
                ))
            })
        }
        CKK_EC => {
            let params = a
                .ec_params
                .as_deref()
                .ok_or_else(|| incomplete("CKA_EC_PARAMS"))?;
            match Curve::from_ec_params(params) {
                Some(curve) => {
                    spec_where(|f| f == Family::Ec(curve)).ok_or_else(|| invalid("no key spec"))
                }
                None if well_formed(params) => Err(Error::new(
                    CKR_CURVE_NOT_SUPPORTED,
                    "CKA_EC_PARAMS: KMS makes EC keys on P-256, P-384, P-521 and secp256k1",
                )),
                None => Err(invalid(
                    "CKA_EC_PARAMS is a DER OID or PrintableString curve name",
                )),
            }
        }
        CKK_EC_EDWARDS => {
            let ed25519 = match a.ec_params.as_deref() {
                None => true,
                Some(p) => {
                    <der::asn1::ObjectIdentifier>::from_der(p).is_ok_and(|o| o == ED25519_OID)
                        || der::asn1::PrintableStringRef::from_der(p)
                            .is_ok_and(|n| n.as_str() == "edwards25519")
                }
            };
            match (ed25519, a.ec_params.as_deref()) {
                (true, _) => Ok(KeySpec::EccNistEdwards25519),
                (false, Some(p)) if well_formed(p) => Err(Error::new(
                    CKR_CURVE_NOT_SUPPORTED,
                    "CKA_EC_PARAMS: KMS makes Edwards keys on Ed25519 only",
                )),
                (false, _) => Err(invalid(
                    "CKA_EC_PARAMS is a DER OID or PrintableString curve name",
                )),
            }
        }
        CKK_ML_DSA => {
            let set = a
                .parameter_set
                .ok_or_else(|| incomplete("CKA_PARAMETER_SET"))?;
            let set = MlDsaSet::ALL
                .iter()
                .copied()
                .find(|s| s.row().ckp == set)
                .ok_or_else(|| {
                    invalid(format!(
                        "CKA_PARAMETER_SET {set:#x}: CKP_ML_DSA_44, _65 or _87"
                    ))
                })?;
            spec_where(|f| f == Family::MlDsa(set)).ok_or_else(|| invalid("no key spec"))
        }
        _ => {
            let by_len = |len: CK_ULONG| {
                MacAlg::ALL
                    .into_iter()
                    .find(|m| m.row().len as CK_ULONG == len)
            };
            let alg = match (mac, a.value_len) {
                (Some(alg), None) => alg,
                (Some(alg), Some(len)) if alg.row().len as CK_ULONG == len => alg,
                (None, Some(len)) => by_len(len).ok_or_else(|| {
                    invalid(format!(
                        "CKA_VALUE_LEN {len}: KMS makes HMAC keys of 28, 32, 48 and 64 bytes"
                    ))
                })?,
                (Some(alg), Some(len)) => {
                    return Err(inconsistent(format!(
                        "CKA_VALUE_LEN {len}: this mechanism makes {}-byte keys",
                        alg.row().len
                    )))
                }
                (None, None) => return Err(incomplete("CKA_VALUE_LEN (28, 32, 48 or 64)")),
            };
            spec_where(|f| f == Family::Hmac(alg)).ok_or_else(|| invalid("no key spec"))
        }
    }
}

/// A DER OID or PrintableString: a curve named properly, if not one KMS has.
fn well_formed(params: &[u8]) -> bool {
    <der::asn1::ObjectIdentifier>::from_der(params).is_ok()
        || der::asn1::PrintableStringRef::from_der(params).is_ok()
}

/// The one usage the templates ask for, or the spec's first.
fn usage(spec: KeySpec, asked: &[(KeyUsage, CK_ATTRIBUTE_TYPE)]) -> Result<KeyUsage> {
    let hmac = matches!(spec.family(), Family::Hmac(_));
    let mut wanted: Vec<(KeyUsage, CK_ATTRIBUTE_TYPE)> = asked
        .iter()
        .map(|(u, t)| match (hmac, u) {
            (true, KeyUsage::SignVerify) => (KeyUsage::GenerateVerifyMac, *t),
            _ => (*u, *t),
        })
        .collect();
    wanted.dedup_by_key(|(u, _)| *u);
    wanted.sort_by_key(|(u, _)| u.as_kms());
    wanted.dedup_by_key(|(u, _)| *u);
    let usages = spec.row().usages;
    match wanted.as_slice() {
        [] => Ok(usages[0]),
        [(u, _)] if usages.contains(u) => Ok(*u),
        [(u, t)] => Err(inconsistent(format!(
            "{} asks for a {} key; a {} key is {}",
            attribute::name(*t),
            u.as_kms(),
            spec.as_kms(),
            usages
                .iter()
                .map(|u| u.as_kms())
                .collect::<Vec<_>>()
                .join(" or ")
        ))),
        [(_, a), (_, b), ..] => Err(inconsistent(format!(
            "{} and {} ask for two uses; a KMS key has one (signing, decryption or key \
             agreement): ask for one (pkcs11-tool: --usage-sign, --usage-decrypt or \
             --usage-derive)",
            attribute::name(*a),
            attribute::name(*b)
        ))),
    }
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
    let usage = usage(spec, &a.usages)?;
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
