//! A certificate file configured for a key, exposed as a CKO_CERTIFICATE
//! object that shares the key's CKA_ID and label.

use der::{Decode, Encode};
use x509_cert::Certificate as X509;

#[derive(Debug, Clone)]
pub struct Certificate {
    pub der: Vec<u8>,
    pub subject: Vec<u8>,
    pub issuer: Vec<u8>,
    /// DER INTEGER, as CKA_SERIAL_NUMBER holds it.
    pub serial: Vec<u8>,
    pub spki: Vec<u8>,
    pub check_value: Vec<u8>,
    pub start_date: Vec<u8>,
    pub end_date: Vec<u8>,
}

/// A CK_DATE ("YYYYMMDD") from a certificate time.
fn ck_date(t: &x509_cert::time::Time) -> Vec<u8> {
    let dt = t.to_date_time();
    format!("{:04}{:02}{:02}", dt.year(), dt.month(), dt.day()).into_bytes()
}

/// The first CERTIFICATE block of a PEM file; text around it (as
/// `openssl x509 -text` writes) is allowed.
fn pem_to_der(text: &[u8]) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(text).ok()?;
    let begin = text.find("-----BEGIN CERTIFICATE-----")?;
    let end_marker = "-----END CERTIFICATE-----";
    let end = text[begin..].find(end_marker)? + begin + end_marker.len();
    let (label, der) = der::pem::decode_vec(&text.as_bytes()[begin..end]).ok()?;
    (label == "CERTIFICATE").then_some(der)
}

impl Certificate {
    /// Reads a PEM or DER certificate file.
    pub fn load(path: &std::path::Path) -> Result<Certificate, String> {
        let bytes = crate::files::read_regular(path, 1 << 20)?;
        let der = if bytes.starts_with(b"-----") || bytes.iter().take(64).all(|b| b.is_ascii()) {
            pem_to_der(&bytes)
                .ok_or_else(|| format!("{}: no PEM CERTIFICATE block", path.display()))?
        } else {
            bytes
        };
        Certificate::from_der(der).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// A DER X.509 certificate, and what its objects say of it.
    pub fn from_der(der: Vec<u8>) -> Result<Certificate, String> {
        let cert = X509::from_der(&der).map_err(|e| format!("not an X.509 certificate: {e}"))?;
        let tbs = cert.tbs_certificate();
        let enc = |r: der::Result<Vec<u8>>| r.map_err(|e| e.to_string());
        let sha1 = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, &der);
        Ok(Certificate {
            subject: enc(tbs.subject().to_der())?,
            issuer: enc(tbs.issuer().to_der())?,
            serial: enc(tbs.serial_number().to_der())?,
            spki: enc(tbs.subject_public_key_info().to_der())?,
            check_value: sha1.as_ref()[..3].to_vec(),
            start_date: ck_date(&tbs.validity().not_before),
            end_date: ck_date(&tbs.validity().not_after),
            der,
        })
    }
}
