//! The elliptic curves of KMS's ECC key specs.

use super::{HashAlg, SigningAlgorithm};
use der::asn1::ObjectIdentifier;

/// The elliptic curves of KMS's ECC key specs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Curve {
    P256,
    P384,
    P521,
    Secp256k1,
}

/// What is known about a curve: one row per `Curve`.
#[derive(Debug)]
pub struct CurveRow {
    /// The named curve's OID (CKA_EC_PARAMS, SubjectPublicKeyInfo).
    pub oid: ObjectIdentifier,
    /// KMS allows one algorithm per curve: ECDSA with this hash.
    pub hash: HashAlg,
    /// Bits of the order (C_GetMechanismInfo's key sizes).
    pub bits: usize,
    /// Bytes of one coordinate, and of one of r and s.
    pub field_len: usize,
    /// The JWK `crv` (RFC 7518, RFC 8812).
    pub jwk: &'static str,
    /// The JOSE algorithm of the curve's one KMS algorithm.
    pub jose: &'static str,
    /// The names a CKA_EC_PARAMS PrintableString may give it (the ones
    /// OpenSC, OpenSSL and RFC 5480 use).
    pub names: &'static [&'static str],
}

const P256_ROW: CurveRow = CurveRow {
    oid: ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7"),
    hash: HashAlg::Sha256,
    bits: 256,
    field_len: 32,
    jwk: "P-256",
    jose: "ES256",
    names: &[
        "prime256v1",
        "secp256r1",
        "nistp256",
        "ansiX9p256r1",
        "P-256",
    ],
};
const P384_ROW: CurveRow = CurveRow {
    oid: ObjectIdentifier::new_unwrap("1.3.132.0.34"),
    hash: HashAlg::Sha384,
    bits: 384,
    field_len: 48,
    jwk: "P-384",
    jose: "ES384",
    names: &[
        "secp384r1",
        "prime384v1",
        "nistp384",
        "ansiX9p384r1",
        "P-384",
    ],
};
const P521_ROW: CurveRow = CurveRow {
    oid: ObjectIdentifier::new_unwrap("1.3.132.0.35"),
    hash: HashAlg::Sha512,
    bits: 521,
    field_len: 66,
    jwk: "P-521",
    jose: "ES512",
    names: &["secp521r1", "nistp521", "P-521"],
};
const SECP256K1_ROW: CurveRow = CurveRow {
    oid: ObjectIdentifier::new_unwrap("1.3.132.0.10"),
    hash: HashAlg::Sha256,
    bits: 256,
    field_len: 32,
    jwk: "secp256k1",
    jose: "ES256K",
    names: &["secp256k1"],
};

impl Curve {
    pub const fn row(self) -> &'static CurveRow {
        match self {
            Curve::P256 => &P256_ROW,
            Curve::P384 => &P384_ROW,
            Curve::P521 => &P521_ROW,
            Curve::Secp256k1 => &SECP256K1_ROW,
        }
    }

    /// The curve a CKA_EC_PARAMS names: its OID, or its name as a
    /// PrintableString (DER either way).
    pub fn from_ec_params(params: &[u8]) -> Option<Curve> {
        use der::Decode;
        let all = [Curve::P256, Curve::P384, Curve::P521, Curve::Secp256k1];
        if let Ok(oid) = ObjectIdentifier::from_der(params) {
            return all.into_iter().find(|c| c.row().oid == oid);
        }
        let name = der::asn1::PrintableStringRef::from_der(params).ok()?;
        all.into_iter()
            .find(|c| c.row().names.contains(&name.as_str()))
    }

    /// The curve's one KMS signing algorithm.
    pub const fn algorithm(self) -> SigningAlgorithm {
        SigningAlgorithm::Ecdsa(self.row().hash)
    }
}
