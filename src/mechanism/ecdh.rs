//! CKM_ECDH1_DERIVE on KMS's KEY_AGREEMENT keys (docs/ecdh.md): the peer's
//! point, checked before KMS is asked, as the SubjectPublicKeyInfo KMS's
//! DeriveSharedSecret takes, and the KDF run here on the raw secret KMS
//! returns.
//!
//! - The peer point is uncompressed (04 || x || y), given raw or wrapped in
//!   a DER OCTET STRING (both are seen in practice); a point not on the
//!   key's curve, or compressed, is CKR_MECHANISM_PARAM_INVALID.
//! - CKD_NULL: the raw secret (no shared data allowed); CKD_SHA224_KDF to
//!   CKD_SHA512_KDF: ANSI X9.63's KDF over the secret and the shared data.
//!   Other KDFs (SHA-1, SHA-3, NIST SP 800-56) are refused.

use crate::error::{Error, Result};
use crate::vocabulary::Curve;
use cryptoki_sys::*;
use der::asn1::{BitString, OctetStringRef};
use der::{Decode, Encode};
use sha2::Digest;
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
use zeroize::Zeroizing;

/// CK_ECDH1_DERIVE_PARAMS, copied out of C memory.
#[derive(Debug, Clone)]
pub struct EcdhParams {
    pub kdf: CK_EC_KDF_TYPE,
    pub shared_data: Vec<u8>,
    pub public_data: Vec<u8>,
}

/// The most bytes of shared data and of peer key the module copies.
pub const PARAM_DATA_MAX: usize = 4096;

/// The key derivation function run on the raw secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kdf {
    /// The secret itself (its first CKA_VALUE_LEN bytes).
    Null,
    /// ANSI X9.63 with this SHA-2 hash (by output bytes: 28, 32, 48, 64).
    X963(usize),
}

impl Kdf {
    fn from_ckd(kdf: CK_EC_KDF_TYPE) -> Result<Kdf> {
        Ok(match kdf {
            CKD_NULL => Kdf::Null,
            CKD_SHA224_KDF => Kdf::X963(28),
            CKD_SHA256_KDF => Kdf::X963(32),
            CKD_SHA384_KDF => Kdf::X963(48),
            CKD_SHA512_KDF => Kdf::X963(64),
            _ => {
                return Err(Error::new(
                    CKR_MECHANISM_PARAM_INVALID,
                    format!(
                        "KDF {kdf:#x} is not supported: use CKD_NULL or CKD_SHA224_KDF to \
                         CKD_SHA512_KDF (ANSI X9.63)"
                    ),
                ))
            }
        })
    }

    /// The bytes a derived key has when the template does not say.
    pub fn default_len(self, curve: Curve) -> usize {
        match self {
            Kdf::Null => curve.row().field_len,
            Kdf::X963(n) => n,
        }
    }

    /// The most bytes it can give.
    pub fn max_len(self, curve: Curve) -> usize {
        match self {
            Kdf::Null => curve.row().field_len,
            // X9.63 allows far more; a key longer than this is no use.
            Kdf::X963(_) => 1024,
        }
    }

    /// `len` bytes of key from the shared secret `z`.
    pub fn derive(self, z: &[u8], shared: &[u8], len: usize) -> Zeroizing<Vec<u8>> {
        match self {
            Kdf::Null => Zeroizing::new(z[..len.min(z.len())].to_vec()),
            Kdf::X963(n) => x963(n, z, shared, len),
        }
    }
}

/// ANSI X9.63 (SEC 1 3.6.1): Hash(Z || counter || SharedInfo), counter a
/// 32-bit big-endian integer from 1, concatenated to `len` bytes.
fn x963(hash_len: usize, z: &[u8], shared: &[u8], len: usize) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(Vec::with_capacity(len + 64));
    let mut counter: u32 = 1;
    fn block<D: Digest>(z: &[u8], counter: u32, shared: &[u8], out: &mut Vec<u8>) {
        let mut h = D::new();
        h.update(z);
        h.update(counter.to_be_bytes());
        h.update(shared);
        out.extend_from_slice(&h.finalize());
    }
    while out.len() < len {
        match hash_len {
            28 => block::<sha2::Sha224>(z, counter, shared, &mut out),
            32 => block::<sha2::Sha256>(z, counter, shared, &mut out),
            48 => block::<sha2::Sha384>(z, counter, shared, &mut out),
            _ => block::<sha2::Sha512>(z, counter, shared, &mut out),
        }
        counter = counter.wrapping_add(1);
    }
    out.truncate(len);
    out
}

fn invalid(why: String) -> Error {
    Error::new(CKR_MECHANISM_PARAM_INVALID, why)
}

/// The KDF and the peer's uncompressed point, checked: on the key's curve,
/// shared data only with a KDF.
pub fn check(params: &EcdhParams, curve: Curve) -> Result<(Kdf, Vec<u8>)> {
    let kdf = Kdf::from_ckd(params.kdf)?;
    if kdf == Kdf::Null && !params.shared_data.is_empty() {
        return Err(invalid("CKD_NULL takes no shared data".into()));
    }
    let n = curve.row().field_len;
    let raw = &params.public_data;
    let point = if raw.len() == 1 + 2 * n && raw[0] == 0x04 {
        raw.clone()
    } else {
        match <&OctetStringRef>::from_der(raw) {
            Ok(o) if o.as_bytes().len() == 1 + 2 * n && o.as_bytes()[0] == 0x04 => {
                o.as_bytes().to_vec()
            }
            _ => {
                return Err(invalid(format!(
                    "the peer's public key must be an uncompressed point of {} \
                     (04 || x || y, {} bytes), raw or as a DER OCTET STRING",
                    curve.row().jwk,
                    1 + 2 * n
                )))
            }
        }
    };
    let alg = match curve {
        Curve::P256 => &aws_lc_rs::agreement::ECDH_P256,
        Curve::P384 => &aws_lc_rs::agreement::ECDH_P384,
        Curve::P521 => &aws_lc_rs::agreement::ECDH_P521,
        Curve::Secp256k1 => return Err(invalid("KMS has no ECDH on secp256k1".into())),
    };
    let unparsed = aws_lc_rs::agreement::UnparsedPublicKey::new(alg, &point);
    if aws_lc_rs::agreement::ParsedPublicKey::try_from(&unparsed).is_err() {
        return Err(invalid(format!(
            "the peer's public key is not a point of {}",
            curve.row().jwk
        )));
    }
    Ok((kdf, point))
}

/// The SubjectPublicKeyInfo of a point on `curve` (RFC 5480), as
/// DeriveSharedSecret takes the peer's key.
pub fn peer_spki(curve: Curve, point: &[u8]) -> Result<Vec<u8>> {
    let der_error = |e: der::Error| Error::new(CKR_GENERAL_ERROR, e.to_string());
    let spki = SubjectPublicKeyInfoOwned {
        algorithm: AlgorithmIdentifierOwned {
            oid: crate::token::key::EC_PUBLIC_KEY,
            parameters: Some(der::Any::encode_from(&curve.row().oid).map_err(der_error)?),
        },
        subject_public_key: BitString::from_bytes(point).map_err(der_error)?,
    };
    spki.to_der().map_err(der_error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn x963_matches_sec1s_definition() {
        // Two blocks of SHA-256: H(Z || 00000001 || S) || H(Z || 00000002 || S).
        let (z, s) = (b"shared secret Z", b"info");
        let mut want = Vec::new();
        for counter in [1u32, 2] {
            let mut h = sha2::Sha256::new();
            h.update(z);
            h.update(counter.to_be_bytes());
            h.update(s);
            want.extend_from_slice(&h.finalize());
        }
        assert_eq!(&x963(32, z, s, 40)[..], &want[..40]);
        assert_eq!(Kdf::X963(64).derive(z, s, 64).len(), 64);
        assert_eq!(&Kdf::Null.derive(z, b"", 4)[..], b"shar");
    }

    #[test]
    fn only_points_of_the_curve_are_taken() {
        let params = |kdf, public_data: Vec<u8>| EcdhParams {
            kdf,
            shared_data: Vec::new(),
            public_data,
        };
        // The P-256 generator.
        let g = data_encoding::HEXLOWER.decode(
            b"046b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296\
              4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5",
        );
        let g = g.unwrap();
        let (kdf, point) = check(&params(CKD_NULL, g.clone()), Curve::P256).unwrap();
        assert_eq!((kdf, &point), (Kdf::Null, &g));
        let wrapped = der::asn1::OctetString::new(g.clone())
            .unwrap()
            .to_der()
            .unwrap();
        assert_eq!(
            check(&params(CKD_SHA256_KDF, wrapped), Curve::P256)
                .unwrap()
                .1,
            g
        );
        let mut off = g.clone();
        off[64] ^= 1;
        let refused = |p: EcdhParams, c| check(&p, c).unwrap_err().rv;
        assert_eq!(
            refused(params(CKD_NULL, off), Curve::P256),
            CKR_MECHANISM_PARAM_INVALID
        );
        assert_eq!(
            refused(params(CKD_NULL, g.clone()), Curve::P384),
            CKR_MECHANISM_PARAM_INVALID
        );
        assert_eq!(
            refused(params(CKD_SHA1_KDF, g.clone()), Curve::P256),
            CKR_MECHANISM_PARAM_INVALID
        );
        let compressed = [&[0x03], &g[1..33]].concat();
        assert_eq!(
            refused(params(CKD_NULL, compressed), Curve::P256),
            CKR_MECHANISM_PARAM_INVALID
        );
        let mut shared = params(CKD_NULL, g);
        shared.shared_data = b"x".to_vec();
        assert_eq!(refused(shared, Curve::P256), CKR_MECHANISM_PARAM_INVALID);
        let spki = peer_spki(Curve::P256, &point).unwrap();
        assert_eq!(spki.len(), 91, "the usual P-256 SubjectPublicKeyInfo");
    }
}
