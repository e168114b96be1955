//! `kms11 sign`: signs a file through the same code path as C_Sign.

use crate::tokens::Tokens;
use clap::ValueEnum;
use cryptoki_sys::*;
use kms11::backend::KeySpec;
use kms11::mechanism::{Param, PssParams};
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
}

impl Alg {
    fn name(self) -> String {
        self.to_possible_value()
            .map(|v| v.get_name().to_string())
            .unwrap_or_default()
    }

    /// The mechanism, and the key specs it needs.
    fn mechanism(self) -> (CK_MECHANISM_TYPE, Param, &'static [KeySpec]) {
        use KeySpec::*;
        const RSA: &[KeySpec] = &[Rsa2048, Rsa3072, Rsa4096];
        let pss = |hash_alg, mgf, salt_len| {
            Param::Pss(PssParams {
                hash_alg,
                mgf,
                salt_len,
            })
        };
        match self {
            Alg::RS256 => (CKM_SHA256_RSA_PKCS, Param::None, RSA),
            Alg::RS384 => (CKM_SHA384_RSA_PKCS, Param::None, RSA),
            Alg::RS512 => (CKM_SHA512_RSA_PKCS, Param::None, RSA),
            Alg::PS256 => (
                CKM_SHA256_RSA_PKCS_PSS,
                pss(CKM_SHA256, CKG_MGF1_SHA256, 32),
                RSA,
            ),
            Alg::PS384 => (
                CKM_SHA384_RSA_PKCS_PSS,
                pss(CKM_SHA384, CKG_MGF1_SHA384, 48),
                RSA,
            ),
            Alg::PS512 => (
                CKM_SHA512_RSA_PKCS_PSS,
                pss(CKM_SHA512, CKG_MGF1_SHA512, 64),
                RSA,
            ),
            Alg::ES256 => (CKM_ECDSA_SHA256, Param::None, &[EccNistP256]),
            Alg::ES384 => (CKM_ECDSA_SHA384, Param::None, &[EccNistP384]),
            Alg::ES512 => (CKM_ECDSA_SHA512, Param::None, &[EccNistP521]),
            Alg::ES256K => (CKM_ECDSA_SHA256, Param::None, &[EccSecgP256k1]),
        }
    }
}

fn default_alg(spec: KeySpec) -> Alg {
    match spec {
        KeySpec::EccNistP256 => Alg::ES256,
        KeySpec::EccNistP384 => Alg::ES384,
        KeySpec::EccNistP521 => Alg::ES512,
        KeySpec::EccSecgP256k1 => Alg::ES256K,
        _ => Alg::RS256,
    }
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
    if spec.is_rsa() || raw_ecdsa {
        Ok(signature)
    } else {
        kms11::mechanism::ecdsa::fixed_to_der(&signature).map_err(|e| e.to_string())
    }
}
