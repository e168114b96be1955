//! `kms11 cert` and `kms11 csr`: a certificate or a PKCS#10 request whose
//! signature is one KMS Sign call through the module.

use crate::progress::waiting;
use crate::tokens::{reason, Tokens};
use kms11::mechanism::Param;
use kms11::public_key::pem_block;
use kms11::x509;
use std::path::Path;
use std::str::FromStr;
use x509_cert::name::Name;

fn subject(s: &str) -> Result<Name, String> {
    let name = Name::from_str(s).map_err(|_| {
        format!("--subject '{s}' is not a distinguished name: write it as 'CN=name,O=org,C=US' (RFC 4514)")
    })?;
    if name.is_empty() {
        return Err("--subject is empty: write it as 'CN=name,O=org,C=US'".into());
    }
    Ok(name)
}

/// A PEM self-signed certificate.
pub fn cert(
    config: Option<&Path>,
    name: &str,
    subject_text: &str,
    not_after: Option<&str>,
) -> Result<String, String> {
    let subject = subject(subject_text)?;
    let not_after = x509::parse_date(not_after.unwrap_or(x509::NO_EXPIRY))?;
    let (tokens, found) = Tokens::find(config, name)?;
    let meta = waiting(format!("describing {}", found.key.arn), || {
        tokens
            .module
            .describe_key(&found.key.arn, &found.key.grant_tokens)
    })
    .map_err(|e| format!("{name}: DescribeKey: {}", reason(&e)))?;
    if not_after <= meta.creation_date {
        return Err(format!(
            "--not-after must be after the key's creation date, {}",
            x509::iso_date(meta.creation_date)
        ));
    }
    let options = x509::CertificateOptions {
        subject,
        not_before: meta.creation_date,
        not_after,
    };
    let tbs = x509::tbs_certificate(&found.key, &options)?;
    let (mechanism, _) = x509::signature_algorithm(found.key.spec)?;
    let signature = tokens.sign(&found, mechanism, Param::None, &tbs[..])?;
    let der = x509::assemble_certificate(&found.key, &tbs, &signature)?;
    Ok(pem_block("CERTIFICATE", &der))
}

/// A PEM PKCS#10 certification request.
pub fn csr(config: Option<&Path>, name: &str, subject_text: &str) -> Result<String, String> {
    let subject = subject(subject_text)?;
    let (tokens, found) = Tokens::find(config, name)?;
    let info = x509::certification_request_info(&found.key, &subject)?;
    let (mechanism, _) = x509::signature_algorithm(found.key.spec)?;
    let signature = tokens.sign(&found, mechanism, Param::None, &info[..])?;
    let der = x509::assemble_request(&found.key, &info, &signature)?;
    Ok(pem_block("CERTIFICATE REQUEST", &der))
}
