//! A KMS public key in the formats verifiers want: SubjectPublicKeyInfo
//! PEM, JWK with the RFC 7638 thumbprint or the libtrust key ID that Docker
//! registries use as `kid`, and an OpenSSH line.

use crate::token::key::{KeyInfo, PublicParts};
use crate::vocabulary::KeySpec;
use data_encoding::{BASE32_NOPAD, BASE64, BASE64URL_NOPAD};
use sha2::{Digest, Sha256};

/// SubjectPublicKeyInfo as PEM ("PUBLIC KEY"), 64 columns, LF.
pub fn pem(spki: &[u8]) -> String {
    pem_block("PUBLIC KEY", spki)
}

/// A PEM block of any label (RFC 7468), LF line endings.
pub fn pem_block(label: &str, der: &[u8]) -> String {
    der::pem::encode_string(label, der::pem::LineEnding::LF, der).unwrap_or_default()
}

/// The libtrust key ID: SHA-256 of the DER SubjectPublicKeyInfo, its first
/// 240 bits in unpadded base32, in 12 groups of 4 joined by ':'.
pub fn libtrust_kid(spki: &[u8]) -> String {
    let digest = Sha256::digest(spki);
    let b32 = BASE32_NOPAD.encode(&digest[..30]);
    b32.as_bytes()
        .chunks(4)
        .map(|c| std::str::from_utf8(c).unwrap_or_default())
        .collect::<Vec<_>>()
        .join(":")
}

/// The JOSE algorithm a key signs with by default: its curve's for EC,
/// RS256 for RSA, EdDSA for Ed25519 (RFC 8037).
pub fn default_jose_alg(spec: KeySpec) -> &'static str {
    spec.row().jose
}

/// The members of the JWK that RFC 7638 hashes, in its lexicographic
/// order: (name, value).
fn required_members(key: &KeyInfo) -> Vec<(&'static str, String)> {
    match &key.parts {
        PublicParts::Rsa { modulus, exponent } => vec![
            ("e", BASE64URL_NOPAD.encode(exponent)),
            ("kty", "RSA".into()),
            ("n", BASE64URL_NOPAD.encode(modulus)),
        ],
        PublicParts::Ec { curve, point } => {
            let n = curve.row().field_len;
            // An uncompressed point: 0x04 || X || Y.
            let (x, y) = point
                .get(1..)
                .filter(|xy| xy.len() == 2 * n)
                .map_or((&[][..], &[][..]), |xy| xy.split_at(n));
            vec![
                ("crv", curve.row().jwk.into()),
                ("kty", "EC".into()),
                ("x", BASE64URL_NOPAD.encode(x)),
                ("y", BASE64URL_NOPAD.encode(y)),
            ]
        }
        // RFC 8037: an octet key pair.
        PublicParts::Ed25519 { point } => vec![
            ("crv", "Ed25519".into()),
            ("kty", "OKP".into()),
            ("x", BASE64URL_NOPAD.encode(point)),
        ],
        // A secret key has no public JWK (the CLI finds only key pairs);
        // ML-DSA has no registered JWK form yet (`kms11 pubkey` says so).
        PublicParts::Secret | PublicParts::MlDsa(_) => Vec::new(),
    }
}

/// The RFC 7638 JWK thumbprint (SHA-256, base64url).
pub fn jwk_thumbprint(key: &KeyInfo) -> String {
    // The required members only, sorted, no whitespace; every value is
    // base64url or a fixed name, so no JSON escaping is needed.
    let canonical = required_members(key)
        .iter()
        .map(|(k, v)| format!("\"{k}\":\"{v}\""))
        .collect::<Vec<_>>()
        .join(",");
    BASE64URL_NOPAD.encode(&Sha256::digest(format!("{{{canonical}}}").as_bytes()))
}

/// The key as a JWK: the required members, then `use`, `alg` and `kid`.
pub fn jwk(key: &KeyInfo, kid: &str, alg: Option<&str>) -> serde_json::Value {
    let mut map = serde_json::Map::new();
    for (k, v) in required_members(key) {
        map.insert(k.into(), v.into());
    }
    map.insert("use".into(), "sig".into());
    let alg = alg.unwrap_or_else(|| default_jose_alg(key.spec));
    map.insert("alg".into(), alg.into());
    map.insert("kid".into(), kid.into());
    serde_json::Value::Object(map)
}

fn ssh_string(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
    out.extend_from_slice(bytes);
}

/// An SSH mpint: big-endian, no leading zeros, a zero byte added when the
/// top bit is set.
fn ssh_mpint(out: &mut Vec<u8>, magnitude: &[u8]) {
    let start = magnitude
        .iter()
        .position(|b| *b != 0)
        .unwrap_or(magnitude.len());
    let m = &magnitude[start..];
    if m.first().is_some_and(|b| b & 0x80 != 0) {
        let mut padded = vec![0];
        padded.extend_from_slice(m);
        ssh_string(out, &padded);
    } else {
        ssh_string(out, m);
    }
}

/// The key as an OpenSSH public key line (RFC 4253, RFC 5656).
pub fn openssh(key: &KeyInfo, comment: &str) -> Result<String, String> {
    let Some(kind) = key.spec.row().ssh else {
        return Err(format!(
            "OpenSSH has no key type for {} keys; use --format pem or jwk",
            key.spec.as_kms()
        ));
    };
    let mut blob = Vec::new();
    ssh_string(&mut blob, kind.as_bytes());
    match &key.parts {
        PublicParts::Rsa { modulus, exponent } => {
            ssh_mpint(&mut blob, exponent);
            ssh_mpint(&mut blob, modulus);
        }
        PublicParts::Ec { point, .. } => {
            // RFC 5656: the curve identifier is the key type's suffix.
            let curve = kind.strip_prefix("ecdsa-sha2-").unwrap_or(kind);
            ssh_string(&mut blob, curve.as_bytes());
            ssh_string(&mut blob, point);
        }
        // RFC 8709: the 32-byte key as a string.
        PublicParts::Ed25519 { point } => ssh_string(&mut blob, point),
        PublicParts::Secret | PublicParts::MlDsa(_) => {
            return Err("no OpenSSH key type for this key".into())
        }
    }
    let line = format!("{kind} {}", BASE64.encode(&blob));
    Ok(if comment.is_empty() {
        line
    } else {
        format!("{line} {comment}")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libtrust_kid_shape() {
        let kid = libtrust_kid(b"any bytes");
        assert_eq!(kid.len(), 12 * 4 + 11);
        assert!(kid.split(':').all(|g| g.len() == 4));
        assert!(kid
            .chars()
            .all(|c| c == ':' || c.is_ascii_uppercase() || ('2'..='7').contains(&c)));
    }

    #[test]
    fn mpint_adds_a_zero_for_the_sign_bit() {
        let mut out = Vec::new();
        ssh_mpint(&mut out, &[0x00, 0x80, 0x01]);
        assert_eq!(out, vec![0, 0, 0, 3, 0x00, 0x80, 0x01]);
        let mut out = Vec::new();
        ssh_mpint(&mut out, &[0x01, 0x00, 0x01]);
        assert_eq!(out, vec![0, 0, 0, 3, 0x01, 0x00, 0x01]);
    }

    #[test]
    fn pem_lines_are_64_columns() {
        let p = pem(&[7u8; 100]);
        let body: Vec<&str> = p
            .lines()
            .skip(1)
            .take_while(|l| !l.starts_with("-----"))
            .collect();
        assert_eq!(body[0].len(), 64);
        assert!(p.starts_with("-----BEGIN PUBLIC KEY-----\n"));
        assert!(p.ends_with("-----END PUBLIC KEY-----\n"));
    }
}
