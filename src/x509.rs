//! Certificates and certification requests for a key whose private half
//! stays in KMS: the to-be-signed part is built here, reproducibly, and
//! signed by one KMS Sign call through the module.
//!
//! Reproducible means the same key, subject and options give the same
//! to-be-signed bytes on every host: notBefore is the key's CreationDate,
//! notAfter RFC 5280's "no expiry" (9999-12-31T23:59:59Z) unless given, and
//! the serial is a hash of the key ARN and every other field, so two
//! different certificates of one key never share a serial.

use crate::mechanism::{hash_and_sign, Scheme};
use crate::token::key::KeyInfo;
use crate::vocabulary::{Family, HashAlg, KeySpec, ED25519_OID};
use cryptoki_sys::*;
use der::asn1::{BitString, GeneralizedTime, ObjectIdentifier, OctetString, UtcTime};
use der::oid::AssociatedOid;
use der::{DateTime, Decode, Encode, Sequence};
use sha2::{Digest, Sha256};
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
use std::time::Duration;
use x509_cert::certificate::Version;
use x509_cert::ext::pkix::{
    AuthorityKeyIdentifier, BasicConstraints, KeyUsage, KeyUsages, SubjectKeyIdentifier,
};
use x509_cert::ext::Extension;
use x509_cert::name::Name;
use x509_cert::request::{CertReq, CertReqInfo};
use x509_cert::serial_number::SerialNumber;
use x509_cert::time::{Time, Validity};

const SHA256_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.11");
const ECDSA_WITH_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
const ECDSA_WITH_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.3");
const ECDSA_WITH_SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.4");

/// RFC 5280 4.1.2.5: the notAfter of a certificate with no expiry.
pub const NO_EXPIRY: &str = "9999-12-31T23:59:59Z";

/// RFC 5280's TBSCertificate, with the fields this module sets.
#[derive(Sequence)]
struct TbsCertificate {
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT")]
    version: Version,
    serial_number: SerialNumber,
    signature: AlgorithmIdentifierOwned,
    issuer: Name,
    validity: Validity,
    subject: Name,
    subject_public_key_info: SubjectPublicKeyInfoOwned,
    #[asn1(context_specific = "3", tag_mode = "EXPLICIT", optional = "true")]
    extensions: Option<Vec<Extension>>,
}

#[derive(Sequence)]
struct SignedCertificate {
    tbs_certificate: TbsCertificate,
    signature_algorithm: AlgorithmIdentifierOwned,
    signature: BitString,
}

/// How a key signs its certificate: the PKCS#11 mechanism the module is
/// asked for, and the X.509 algorithm identifier that names it.
/// RSA uses PKCS#1 v1.5 with SHA-256 (deterministic, so an RSA certificate
/// is the same bytes everywhere); EC keys their curve's one KMS algorithm;
/// Ed25519 keys pure Ed25519 (RFC 8410: the key's OID, no parameters), over
/// the to-be-signed bytes, which KMS takes up to 4,096 bytes of.
pub fn signature_algorithm(
    spec: KeySpec,
) -> Result<(CK_MECHANISM_TYPE, AlgorithmIdentifierOwned), String> {
    let (scheme, hash) = match spec.family() {
        Family::Rsa { .. } => (Scheme::RsaPkcs1, HashAlg::Sha256),
        Family::Ec(curve) => (Scheme::Ecdsa, curve.row().hash),
        Family::Ed25519 => {
            let oid = ED25519_OID;
            return Ok((
                CKM_EDDSA,
                AlgorithmIdentifierOwned {
                    oid,
                    parameters: None,
                },
            ));
        }
        // RFC 9881: the parameter set's OID, no parameters, pure ML-DSA
        // with the empty context over the to-be-signed bytes.
        Family::MlDsa(set) => {
            return Ok((
                CKM_ML_DSA,
                AlgorithmIdentifierOwned {
                    oid: set.row().oid,
                    parameters: None,
                },
            ))
        }
        Family::Hmac(_) => {
            return Err(format!(
                "a {} key makes MACs, not signatures: it has no certificate",
                spec.as_kms()
            ))
        }
    };
    let (oid, null_params) = match (scheme, hash) {
        (Scheme::RsaPkcs1, _) => (SHA256_WITH_RSA, true),
        (_, HashAlg::Sha256) => (ECDSA_WITH_SHA256, false),
        (_, HashAlg::Sha384) => (ECDSA_WITH_SHA384, false),
        (_, HashAlg::Sha512) => (ECDSA_WITH_SHA512, false),
    };
    let mechanism = hash_and_sign(scheme, hash);
    let parameters = null_params.then(|| der::asn1::Null.into());
    Ok((mechanism, AlgorithmIdentifierOwned { oid, parameters }))
}

/// An X.509 time: UTCTime through 2049, GeneralizedTime after (RFC 5280).
fn x509_time(unix_seconds: i64) -> Result<Time, String> {
    let secs = u64::try_from(unix_seconds).map_err(|_| "a date before 1970".to_string())?;
    let dt = DateTime::from_unix_duration(Duration::from_secs(secs)).map_err(|e| e.to_string())?;
    Ok(if dt.year() < 2050 {
        Time::UtcTime(UtcTime::from_date_time(dt).map_err(|e| e.to_string())?)
    } else {
        Time::GeneralTime(GeneralizedTime::from_date_time(dt))
    })
}

/// Parses `YYYY-MM-DD` or `YYYY-MM-DDTHH:MM:SSZ` to Unix seconds.
pub fn parse_date(s: &str) -> Result<i64, String> {
    let full = if s.len() == 10 {
        format!("{s}T00:00:00Z")
    } else {
        s.to_string()
    };
    let dt: DateTime = full.parse().map_err(|_| {
        format!("'{s}' is not a date: write YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ (UTC)")
    })?;
    i64::try_from(dt.unix_duration().as_secs()).map_err(|e| e.to_string())
}

/// Unix seconds as YYYY-MM-DDTHH:MM:SSZ.
pub fn iso_date(unix: i64) -> String {
    u64::try_from(unix)
        .ok()
        .and_then(|s| DateTime::from_unix_duration(Duration::from_secs(s)).ok())
        .map(|d| d.to_string())
        .unwrap_or_else(|| unix.to_string())
}

fn der_err(e: der::Error) -> String {
    format!("cannot encode the certificate: {e}")
}

fn extension<T: Encode + AssociatedOid>(value: &T, critical: bool) -> Result<Extension, String> {
    Ok(Extension {
        extn_id: T::OID,
        critical,
        extn_value: OctetString::new(value.to_der().map_err(der_err)?).map_err(der_err)?,
    })
}

/// RFC 7093 method 1: the leftmost 160 bits of the SHA-256 of the
/// subjectPublicKey bits.
fn key_identifier(key: &KeyInfo) -> Result<OctetString, String> {
    OctetString::new(Sha256::digest(&key.public_key)[..20].to_vec()).map_err(der_err)
}

pub struct CertificateOptions {
    pub subject: Name,
    /// The key's CreationDate, whole seconds.
    pub not_before: i64,
    pub not_after: i64,
}

/// The DER TBSCertificate of a self-signed certificate for `key`.
pub fn tbs_certificate(key: &KeyInfo, options: &CertificateOptions) -> Result<Vec<u8>, String> {
    let spki = SubjectPublicKeyInfoOwned::from_der(&key.spki).map_err(der_err)?;
    let kid = key_identifier(key)?;
    let extensions = vec![
        extension(
            &BasicConstraints {
                ca: true,
                path_len_constraint: None,
            },
            true,
        )?,
        extension(
            &KeyUsage(KeyUsages::DigitalSignature | KeyUsages::KeyCertSign),
            true,
        )?,
        extension(&SubjectKeyIdentifier(kid.clone()), false)?,
        extension(
            &AuthorityKeyIdentifier {
                key_identifier: Some(kid),
                authority_cert_issuer: None,
                authority_cert_serial_number: None,
            },
            false,
        )?,
    ];
    let mut tbs = TbsCertificate {
        version: Version::V3,
        serial_number: SerialNumber::new(&[1]).map_err(der_err)?,
        signature: signature_algorithm(key.spec)?.1,
        issuer: options.subject.clone(),
        validity: Validity::new(
            x509_time(options.not_before)?,
            x509_time(options.not_after)?,
        ),
        subject: options.subject.clone(),
        subject_public_key_info: spki,
        extensions: Some(extensions),
    };
    // The serial: 16 bytes of a hash of the key ARN and every other field,
    // positive and with no leading zero byte.
    let mut h = Sha256::new();
    h.update(b"kms11 certificate serial\0");
    h.update(key.arn.as_bytes());
    h.update([0]);
    h.update(tbs.to_der().map_err(der_err)?);
    let mut serial = h.finalize()[..16].to_vec();
    serial[0] = (serial[0] & 0x7f) | 0x40;
    tbs.serial_number = SerialNumber::new(&serial).map_err(der_err)?;
    tbs.to_der().map_err(der_err)
}

/// The X.509 signature: DER ECDSA-Sig-Value (from PKCS#11's r||s), or the
/// RSA or Ed25519 signature as it is.
fn x509_signature(spec: KeySpec, signature: &[u8]) -> Result<BitString, String> {
    let bytes = match spec.family() {
        Family::Rsa { .. } | Family::Ed25519 | Family::Hmac(_) | Family::MlDsa(_) => {
            signature.to_vec()
        }
        Family::Ec(_) => {
            crate::mechanism::ecdsa::fixed_to_der(signature).map_err(|e| e.to_string())?
        }
    };
    BitString::from_bytes(&bytes).map_err(der_err)
}

/// The DER certificate: `tbs` and its signature (as the module returns it).
pub fn assemble_certificate(
    key: &KeyInfo,
    tbs: &[u8],
    signature: &[u8],
) -> Result<Vec<u8>, String> {
    let cert = SignedCertificate {
        tbs_certificate: TbsCertificate::from_der(tbs).map_err(der_err)?,
        signature_algorithm: signature_algorithm(key.spec)?.1,
        signature: x509_signature(key.spec, signature)?,
    };
    let der = cert.to_der().map_err(der_err)?;
    // What we wrote must read back as an X.509 certificate.
    x509_cert::Certificate::from_der(&der).map_err(der_err)?;
    Ok(der)
}

/// The DER CertificationRequestInfo of a PKCS#10 request for `key`.
pub fn certification_request_info(key: &KeyInfo, subject: &Name) -> Result<Vec<u8>, String> {
    CertReqInfo {
        version: x509_cert::request::Version::V1,
        subject: subject.clone(),
        public_key: SubjectPublicKeyInfoOwned::from_der(&key.spki).map_err(der_err)?,
        attributes: Default::default(),
    }
    .to_der()
    .map_err(der_err)
}

/// The DER PKCS#10 request: `info` and its signature.
pub fn assemble_request(key: &KeyInfo, info: &[u8], signature: &[u8]) -> Result<Vec<u8>, String> {
    CertReq {
        info: CertReqInfo::from_der(info).map_err(der_err)?,
        algorithm: signature_algorithm(key.spec)?.1,
        signature: x509_signature(key.spec, signature)?,
    }
    .to_der()
    .map_err(der_err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(parse_date("1970-01-02").unwrap(), 86_400);
        assert_eq!(parse_date(NO_EXPIRY).unwrap(), 253_402_300_799);
        assert!(parse_date("2030-13-01").is_err());
        assert!(parse_date("tomorrow").is_err());
        assert!(matches!(x509_time(0).unwrap(), Time::UtcTime(_)));
        assert!(matches!(
            x509_time(parse_date("2050-01-01").unwrap()).unwrap(),
            Time::GeneralTime(_)
        ));
    }
}
