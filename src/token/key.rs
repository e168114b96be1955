//! A resolved KMS key: what GetPublicKey said, parsed into what PKCS#11
//! objects need (modulus and exponent, or curve and point).

use crate::backend::RemoteKey;
use crate::error::{Error, Result};
use crate::vocabulary::{Curve, Family, KeySpec, KeyUsage, MlDsaSet, ED25519_KEY_LEN, ED25519_OID};
use cryptoki_sys::CKR_DEVICE_ERROR;
use der::asn1::{ObjectIdentifier, UintRef};
use der::{Decode, Encode, Sequence};
use spki::SubjectPublicKeyInfoRef;

pub const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
pub const EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");

#[derive(Sequence)]
struct RsaPublicKey<'a> {
    modulus: UintRef<'a>,
    public_exponent: UintRef<'a>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublicParts {
    Rsa {
        modulus: Vec<u8>,
        exponent: Vec<u8>,
    },
    /// The curve and the uncompressed point.
    Ec {
        curve: Curve,
        point: Vec<u8>,
    },
    /// The 32-byte Ed25519 public key (RFC 8032's encoding).
    Ed25519 {
        point: Vec<u8>,
    },
    /// A secret key (HMAC): nothing public.
    Secret,
    /// An ML-DSA public key (FIPS 204's pk encoding, in `KeyInfo::public_key`).
    MlDsa(MlDsaSet),
}

#[derive(Debug)]
pub struct KeyInfo {
    pub arn: String,
    pub spec: KeySpec,
    /// What KMS lets the key do: sign and verify, or decrypt (RSA).
    pub usage: KeyUsage,
    pub label: String,
    pub id: Vec<u8>,
    pub grant_tokens: Vec<String>,
    /// DER SubjectPublicKeyInfo.
    pub spki: Vec<u8>,
    /// The SPKI's subjectPublicKey: PKCS#1 RSAPublicKey or the EC point.
    pub public_key: Vec<u8>,
    /// ML-DSA's tr = SHAKE256(public key, 64), where every μ starts
    /// (computed once here, not at each C_SignInit); empty for other keys.
    pub mldsa_tr: Vec<u8>,
    pub parts: PublicParts,
    /// The certificate configured for this key, if any (DER).
    pub certificate: Option<Vec<u8>>,
    /// What Sign is sent to: the key as configured (key ID, key ARN, alias
    /// name or alias ARN), so that KMS, not the cache, decides which key
    /// signs; `arn` is what Sign's answer must then name.
    pub sign_target: String,
    /// The alias naming the key here (CKA_KMS11_ALIAS; empty: by ID or ARN).
    pub alias: String,
    /// Its token allows key management: the objects are modifiable (the
    /// label) and the private key destroyable (docs/keys.md).
    pub managed: bool,
    /// This key's disk cache entry (the one read, or the one written).
    pub cache_entry: Option<std::path::PathBuf>,
    /// Whether the objects were built from that entry rather than from KMS.
    pub from_cache: bool,
}

fn malformed(what: &str) -> Error {
    Error::new(
        CKR_DEVICE_ERROR,
        format!("KMS returned a public key that is not {what}"),
    )
}

/// The 16 bytes of the UUID in a key ID (after `mrk-` for a multi-Region key).
pub fn default_id(key_id: &str) -> Vec<u8> {
    let hex: String = key_id
        .trim_start_matches("mrk-")
        .chars()
        .filter(|c| *c != '-')
        .collect();
    crate::config::parse_hex(&hex).unwrap_or_else(|| key_id.as_bytes().to_vec())
}

/// An RSA public key whose modulus is as long as its KeySpec says:
/// signatures are that long, and callers size their buffers by it.
fn rsa_parts(alg: ObjectIdentifier, public_key: &[u8], modulus_len: usize) -> Result<PublicParts> {
    if alg != RSA_ENCRYPTION {
        return Err(malformed("an RSA key"));
    }
    let rsa = RsaPublicKey::from_der(public_key).map_err(|_| malformed("an RSAPublicKey"))?;
    let modulus = rsa.modulus.as_bytes();
    if modulus.len() != modulus_len || modulus.first().is_none_or(|b| *b < 0x80) {
        return Err(malformed("an RSA modulus of its KeySpec's size"));
    }
    Ok(PublicParts::Rsa {
        modulus: modulus.to_vec(),
        exponent: rsa.public_exponent.as_bytes().to_vec(),
    })
}

/// An EC public key on its KeySpec's named curve, as an uncompressed
/// point, 04 || x || y, of the curve's size.
fn ec_parts(
    alg: ObjectIdentifier,
    named: Option<ObjectIdentifier>,
    public_key: &[u8],
    curve: Curve,
) -> Result<PublicParts> {
    let named = named.ok_or_else(|| malformed("an EC key with a named curve"))?;
    if alg != EC_PUBLIC_KEY || named != curve.row().oid {
        return Err(malformed("on the curve of its KeySpec"));
    }
    let n = curve.row().field_len;
    if public_key.len() != 1 + 2 * n || public_key[0] != 0x04 {
        return Err(malformed("an uncompressed point of its curve"));
    }
    Ok(PublicParts::Ec {
        curve,
        point: public_key.to_vec(),
    })
}

/// An Ed25519 public key (RFC 8410: the OID, no parameters, 32 bytes).
fn ed25519_parts(
    alg: ObjectIdentifier,
    has_params: bool,
    public_key: &[u8],
) -> Result<PublicParts> {
    if alg != ED25519_OID || has_params || public_key.len() != ED25519_KEY_LEN {
        return Err(malformed("an Ed25519 key"));
    }
    Ok(PublicParts::Ed25519 {
        point: public_key.to_vec(),
    })
}

/// The SubjectPublicKeyInfo's key and its parts, checked against the
/// key's spec.
fn public_parts(spec: KeySpec, spki_der: &[u8]) -> Result<(Vec<u8>, PublicParts)> {
    let spki = SubjectPublicKeyInfoRef::from_der(spki_der)
        .map_err(|_| malformed("a DER SubjectPublicKeyInfo"))?;
    let public_key = spki
        .subject_public_key
        .as_bytes()
        .ok_or_else(|| malformed("a whole number of bytes"))?
        .to_vec();
    let parts = match spec.family() {
        Family::Rsa { modulus_len } => rsa_parts(spki.algorithm.oid, &public_key, modulus_len)?,
        Family::Ec(curve) => {
            let named: Option<ObjectIdentifier> =
                spki.algorithm.parameters.and_then(|p| p.decode_as().ok());
            ec_parts(spki.algorithm.oid, named, &public_key, curve)?
        }
        Family::Hmac(_) => return Err(malformed("an asymmetric key")),
        Family::MlDsa(set) => {
            let fits = spki.algorithm.oid == set.row().oid
                && spki.algorithm.parameters.is_none()
                && public_key.len() == set.row().public_key_len;
            if !fits {
                return Err(malformed(set.row().name));
            }
            PublicParts::MlDsa(set)
        }
        Family::Ed25519 => ed25519_parts(
            spki.algorithm.oid,
            spki.algorithm.parameters.is_some(),
            &public_key,
        )?,
    };
    Ok((public_key, parts))
}

impl KeyInfo {
    pub fn new(
        remote: &RemoteKey,
        spec: KeySpec,
        usage: KeyUsage,
        label: String,
        id: Vec<u8>,
        grant_tokens: Vec<String>,
    ) -> Result<KeyInfo> {
        let (public_key, parts) = match spec.family() {
            Family::Hmac(_) => (Vec::new(), PublicParts::Secret),
            Family::Rsa { .. } | Family::Ec(_) | Family::Ed25519 | Family::MlDsa(_) => {
                public_parts(spec, &remote.public_key)?
            }
        };
        let mldsa_tr = match parts {
            PublicParts::MlDsa(_) => crate::mechanism::mldsa::tr(&public_key).to_vec(),
            _ => Vec::new(),
        };
        Ok(KeyInfo {
            mldsa_tr,
            arn: remote.arn.clone(),
            spec,
            usage,
            label,
            id,
            grant_tokens,
            spki: remote.public_key.clone(),
            public_key,
            parts,
            certificate: None,
            sign_target: remote.arn.clone(),
            alias: String::new(),
            managed: false,
            cache_entry: None,
            from_cache: false,
        })
    }

    /// Length of a signature: the modulus, or r||s.
    pub fn signature_len(&self) -> usize {
        self.spec.signature_len()
    }

    pub fn modulus_bits(&self) -> usize {
        match &self.parts {
            PublicParts::Rsa { modulus, .. } => {
                modulus.len() * 8 - modulus.first().map_or(0, |b| b.leading_zeros() as usize)
            }
            PublicParts::Ec { .. }
            | PublicParts::Ed25519 { .. }
            | PublicParts::Secret
            | PublicParts::MlDsa(_) => 0,
        }
    }

    /// Whether the key is a multi-Region one (its key ID starts `mrk-`).
    pub fn multi_region(&self) -> bool {
        crate::keyref::KeyRef::key_id_in(&self.arn).is_some_and(|id| id.starts_with("mrk-"))
    }

    /// CKA_EC_PARAMS: the DER curve OID (for Ed25519 the RFC 8410 OID,
    /// which PKCS#11 3.0 allows beside the curve's name and which OpenSC,
    /// p11-kit and pkcs11-provider read).
    pub fn ec_params(&self) -> Option<Vec<u8>> {
        match &self.parts {
            PublicParts::Ec { curve, .. } => curve.row().oid.to_der().ok(),
            PublicParts::Ed25519 { .. } => ED25519_OID.to_der().ok(),
            PublicParts::Rsa { .. } | PublicParts::Secret | PublicParts::MlDsa(_) => None,
        }
    }

    /// CKA_EC_POINT: the point as a DER OCTET STRING (for Ed25519 its 32
    /// bytes, as SoftHSM, OpenSC and pkcs11-provider encode it).
    pub fn ec_point(&self) -> Option<Vec<u8>> {
        match &self.parts {
            PublicParts::Ec { point, .. } | PublicParts::Ed25519 { point } => {
                der::asn1::OctetString::new(point.clone())
                    .ok()
                    .and_then(|o| o.to_der().ok())
            }
            PublicParts::Rsa { .. } | PublicParts::Secret | PublicParts::MlDsa(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn remote(spki: &[u8]) -> RemoteKey {
        RemoteKey {
            arn: "arn:aws:kms:us-east-1:111122223333:key/k".into(),
            key_spec: String::new(),
            key_usage: "SIGN_VERIFY".into(),
            public_key: spki.to_vec(),
        }
    }

    fn info(spki: &[u8], spec: KeySpec) -> Result<KeyInfo> {
        KeyInfo::new(
            &remote(spki),
            spec,
            KeyUsage::SignVerify,
            "k".into(),
            vec![1],
            Vec::new(),
        )
    }

    const RSA2048: &[u8] = include_bytes!("../../fuzz/keys/rsa2048.spki.der");
    const P256: &[u8] = include_bytes!("../../fuzz/keys/p256.spki.der");

    #[test]
    fn public_keys_must_match_their_key_spec() {
        info(RSA2048, KeySpec::Rsa2048).unwrap();
        info(P256, KeySpec::EccNistP256).unwrap();
        // Found by fuzz_spki: a modulus of another size, or a point that
        // is not 04 || x || y of the curve, was taken.
        assert!(info(RSA2048, KeySpec::Rsa3072).is_err());
        assert!(info(P256, KeySpec::EccNistP384).is_err());
        let mut compressed = P256.to_vec();
        let point_at = compressed.len() - 65;
        assert_eq!(compressed[point_at], 0x04);
        compressed[point_at] = 0x02;
        assert!(info(&compressed, KeySpec::EccNistP256).is_err());
    }
}
