//! `kms11 sign`: signs a file through the same code path as C_Sign.

use crate::tokens::Tokens;
use clap::ValueEnum;
use cryptoki_sys::*;
use kms11::mechanism::{hash_and_sign, Param, PssParams, Scheme};
use kms11::vocabulary::{Family, HashAlg, KeySpec};
use std::path::Path;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
#[allow(clippy::upper_case_acronyms)]
pub enum Alg {
    /// RSASSA-PKCS1-v1_5 with SHA-256 (CKM_SHA256_RSA_PKCS)
    #[value(name = "RS256")]
    RS256,
    #[value(name = "RS384")]
    RS384,
    #[value(name = "RS512")]
    RS512,
    /// RSASSA-PSS with SHA-256, MGF1-SHA-256, salt 32 (CKM_SHA256_RSA_PKCS_PSS)
    #[value(name = "PS256")]
    PS256,
    #[value(name = "PS384")]
    PS384,
    #[value(name = "PS512")]
    PS512,
    /// ECDSA P-256 with SHA-256 (CKM_ECDSA_SHA256)
    #[value(name = "ES256")]
    ES256,
    /// ECDSA P-384 with SHA-384
    #[value(name = "ES384")]
    ES384,
    /// ECDSA P-521 with SHA-512
    #[value(name = "ES512")]
    ES512,
    /// ECDSA secp256k1 with SHA-256
    #[value(name = "ES256K")]
    ES256K,
    /// Ed25519 (CKM_EDDSA), input of at most 4,096 bytes
    #[value(name = "EdDSA")]
    EdDSA,
    /// ML-DSA-44 (CKM_ML_DSA, pure, empty context), input of any length
    #[value(name = "ML-DSA-44")]
    MlDsa44,
    /// ML-DSA-65
    #[value(name = "ML-DSA-65")]
    MlDsa65,
    /// ML-DSA-87
    #[value(name = "ML-DSA-87")]
    MlDsa87,
}

impl Alg {
    fn name(self) -> String {
        self.to_possible_value()
            .map(|v| v.get_name().to_string())
            .unwrap_or_default()
    }

    /// The scheme and hash of the JOSE algorithm (EdDSA hashes nothing
    /// here: KMS gets the message).
    fn scheme(self) -> (Scheme, Option<HashAlg>) {
        use HashAlg::*;
        let (scheme, hash) = match self {
            Alg::RS256 => (Scheme::RsaPkcs1, Sha256),
            Alg::RS384 => (Scheme::RsaPkcs1, Sha384),
            Alg::RS512 => (Scheme::RsaPkcs1, Sha512),
            Alg::PS256 => (Scheme::RsaPss, Sha256),
            Alg::PS384 => (Scheme::RsaPss, Sha384),
            Alg::PS512 => (Scheme::RsaPss, Sha512),
            Alg::ES256 | Alg::ES256K => (Scheme::Ecdsa, Sha256),
            Alg::ES384 => (Scheme::Ecdsa, Sha384),
            Alg::ES512 => (Scheme::Ecdsa, Sha512),
            Alg::EdDSA => return (Scheme::EdDsa, None),
            Alg::MlDsa44 | Alg::MlDsa65 | Alg::MlDsa87 => return (Scheme::MlDsa, None),
        };
        (scheme, Some(hash))
    }

    /// The mechanism, its parameter, and the key specs it needs: any RSA
    /// key for RS*/PS*; for ES*, the curve JOSE names (ES256 is P-256 only);
    /// an Ed25519 key for EdDSA.
    fn mechanism(self) -> (CK_MECHANISM_TYPE, Param, Vec<KeySpec>) {
        let (scheme, hash) = self.scheme();
        let param = match (scheme, hash) {
            (Scheme::RsaPss, Some(hash)) => Param::Pss(PssParams {
                hash_alg: hash.row().ckm,
                mgf: hash.row().mgf,
                salt_len: hash.output_len() as CK_ULONG,
            }),
            _ => Param::None,
        };
        let specs = KeySpec::ALL
            .iter()
            .copied()
            .filter(|s| match s.family() {
                Family::Rsa { .. } => scheme.key_type() == CKK_RSA,
                Family::Ec(_) => scheme == Scheme::Ecdsa && s.row().jose == self.name(),
                Family::Ed25519 => scheme == Scheme::EdDsa,
                Family::Hmac(_) => false,
                Family::MlDsa(_) => scheme == Scheme::MlDsa && s.row().jose == self.name(),
            })
            .collect();
        let mechanism = match hash {
            Some(hash) => hash_and_sign(scheme, hash),
            None if scheme == Scheme::MlDsa => CKM_ML_DSA,
            None => CKM_EDDSA,
        };
        (mechanism, param, specs)
    }
}

/// The JOSE algorithm a key of this spec signs with by default.
fn default_alg(spec: KeySpec) -> Alg {
    Alg::from_str(spec.row().jose, false).unwrap_or(Alg::RS256)
}

/// The signature of `file` (`-` for standard input): RSA as is, ECDSA as
/// DER (what OpenSSL verifies) or, with `raw_ecdsa`, as r||s (JOSE).
pub fn run(
    config: Option<&Path>,
    name: &str,
    alg: Option<Alg>,
    file: &Path,
    raw_ecdsa: bool,
) -> Result<Vec<u8>, String> {
    let input: Box<dyn std::io::Read> = if file == Path::new("-") {
        Box::new(std::io::stdin().lock())
    } else {
        Box::new(
            std::fs::File::open(file)
                .map_err(|e| format!("cannot read {}: {e}", file.display()))?,
        )
    };
    let (tokens, found) = Tokens::find(config, name)?;
    let spec = found.key.spec;
    let alg = alg.unwrap_or(default_alg(spec));
    let (mechanism, param, specs) = alg.mechanism();
    if !specs.contains(&spec) {
        return Err(format!(
            "{name} is a {} key; {} needs {}: use --alg {}",
            spec.as_kms(),
            alg.name(),
            specs
                .iter()
                .map(|s| s.as_kms())
                .collect::<Vec<_>>()
                .join(" or "),
            default_alg(spec).name()
        ));
    }
    let signature = tokens.sign(&found, mechanism, param, input)?;
    match spec.family() {
        Family::Ec(_) if !raw_ecdsa => {
            kms11::mechanism::ecdsa::fixed_to_der(&signature).map_err(|e| e.to_string())
        }
        Family::Rsa { .. }
        | Family::Ec(_)
        | Family::Ed25519
        | Family::Hmac(_)
        | Family::MlDsa(_) => Ok(signature),
    }
}
