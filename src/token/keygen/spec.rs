//! The key spec and usage a generation template asks for (the parameters
//! `request.rs` collected).

use super::request::{inconsistent, invalid, Asked};
use crate::attribute;
use crate::error::{Error, Result};
use crate::vocabulary::{Curve, Family, KeySpec, KeyUsage, MacAlg, MlDsaSet, ED25519_OID};
use cryptoki_sys::*;
use der::Decode;

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
pub(super) fn spec(key_type: CK_KEY_TYPE, mac: Option<MacAlg>, a: &Asked) -> Result<KeySpec> {
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
pub(super) fn usage(spec: KeySpec, asked: &[(KeyUsage, CK_ATTRIBUTE_TYPE)]) -> Result<KeyUsage> {
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
             --usage-derive; p11tool: --mark-sign or --mark-decrypt)",
            attribute::name(*a),
            attribute::name(*b)
        ))),
    }
}
