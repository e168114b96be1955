//! A KMS public key in the formats verifiers want: SubjectPublicKeyInfo
//! PEM, JWK with the RFC 7638 thumbprint or the libtrust key ID that Docker
//! registries use as `kid`, and an OpenSSH line.

use crate::backend::KeySpec;
use crate::mechanism::ecdsa::field_len;
use crate::token::key::{KeyInfo, PublicParts};
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

/// The JWK curve name and JOSE algorithm of an EC key spec.
fn curve_names(spec: KeySpec) -> Option<(&'static str, &'static str)> {
    Some(match spec {
        KeySpec::EccNistP256 => ("P-256", "ES256"),
        KeySpec::EccNistP384 => ("P-384", "ES384"),
        KeySpec::EccNistP521 => ("P-521", "ES512"),
        KeySpec::EccSecgP256k1 => ("secp256k1", "ES256K"),
        _ => return None,
    })
}

/// The JOSE algorithm a key signs with by default: its curve's for EC,
/// RS256 for RSA.
pub fn default_jose_alg(spec: KeySpec) -> &'static str {
    curve_names(spec).map_or("RS256", |(_, alg)| alg)
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
        PublicParts::Ec { point, .. } => {
            let n = field_len(key.spec);
            // An uncompressed point: 0x04 || X || Y.
            let (x, y) = point
                .get(1..)
                .filter(|xy| xy.len() == 2 * n)
                .map_or((&[][..], &[][..]), |xy| xy.split_at(n));
            let crv = curve_names(key.spec).map_or("", |(c, _)| c);
            vec![
                ("crv", crv.into()),
                ("kty", "EC".into()),
                ("x", BASE64URL_NOPAD.encode(x)),
                ("y", BASE64URL_NOPAD.encode(y)),
            ]
        }
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
    let mut blob = Vec::new();
    let kind = match &key.parts {
        PublicParts::Rsa { modulus, exponent } => {
            ssh_string(&mut blob, b"ssh-rsa");
            ssh_mpint(&mut blob, exponent);
            ssh_mpint(&mut blob, modulus);
            "ssh-rsa".to_string()
        }
        PublicParts::Ec { point, .. } => {
            let curve = match key.spec {
                KeySpec::EccNistP256 => "nistp256",
                KeySpec::EccNistP384 => "nistp384",
                KeySpec::EccNistP521 => "nistp521",
                _ => {
                    return Err(format!(
                        "OpenSSH has no key type for {} keys; use --format pem or jwk",
                        key.spec.as_kms()
                    ))
                }
            };
            let kind = format!("ecdsa-sha2-{curve}");
            ssh_string(&mut blob, kind.as_bytes());
            ssh_string(&mut blob, curve.as_bytes());
            ssh_string(&mut blob, point);
            kind
        }
    };
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
