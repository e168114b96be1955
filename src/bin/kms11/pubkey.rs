//! `kms11 pubkey`: the public key in the format a verifier wants.

use crate::tokens::Tokens;
use clap::ValueEnum;
use kms11::public_key as pk;
use kms11::token::key::KeyInfo;
use std::path::Path;

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Format {
    /// SubjectPublicKeyInfo, PEM ("BEGIN PUBLIC KEY")
    Pem,
    /// SubjectPublicKeyInfo, DER
    Der,
    /// One JSON Web Key
    Jwk,
    /// A JWK Set ({"keys": [...]}) of every key named
    Jwks,
    /// An OpenSSH authorized_keys line (RSA, P-256, P-384, P-521)
    Openssh,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Kid {
    /// RFC 7638 JWK thumbprint (SHA-256, base64url)
    Thumbprint,
    /// libtrust key ID (Docker registry token auth)
    Libtrust,
}

pub fn kid(key: &KeyInfo, kind: Kid) -> String {
    match kind {
        Kid::Thumbprint => pk::jwk_thumbprint(key),
        Kid::Libtrust => pk::libtrust_kid(&key.spki),
    }
}

/// The bytes to write for the keys named.
pub fn run(
    config: Option<&Path>,
    names: &[String],
    format: Format,
    kid_kind: Kid,
    alg: Option<&str>,
) -> Result<Vec<u8>, String> {
    if names.len() > 1 && !matches!(format, Format::Jwks | Format::Pem) {
        return Err(format!(
            "{} keys named: only --format jwks or pem takes more than one",
            names.len()
        ));
    }
    // What is published here is trusted by others: it comes from KMS.
    crate::tokens::bypass_cache();
    let mut keys = Vec::new();
    for name in names {
        let (_tokens, found) = Tokens::find(config, name)?;
        keys.push(found);
    }
    if matches!(format, Format::Jwk | Format::Jwks) {
        if let Some(f) = keys
            .iter()
            .find(|f| matches!(f.key.spec.family(), kms11::vocabulary::Family::MlDsa(_)))
        {
            return Err(format!(
                "{} is an {} key, which has no JWK form yet (the JOSE drafts for ML-DSA \
                 are not final): use --format pem or der",
                f.key.arn,
                f.key.spec.as_kms()
            ));
        }
    }
    let jwk = |k: &KeyInfo| pk::jwk(k, &kid(k, kid_kind), alg);
    Ok(match format {
        Format::Der => keys[0].key.spki.clone(),
        Format::Pem => keys
            .iter()
            .map(|f| pk::pem(&f.key.spki))
            .collect::<String>()
            .into_bytes(),
        Format::Jwk => json_bytes(&jwk(&keys[0].key)),
        Format::Jwks => json_bytes(&serde_json::json!({
            "keys": keys.iter().map(|f| jwk(&f.key)).collect::<Vec<_>>()
        })),
        Format::Openssh => {
            let f = &keys[0];
            let line = pk::openssh(&f.key, &f.key.label)?;
            format!("{line}\n").into_bytes()
        }
    })
}

fn json_bytes(v: &serde_json::Value) -> Vec<u8> {
    let mut s = serde_json::to_string_pretty(v).unwrap_or_default();
    s.push('\n');
    s.into_bytes()
}
