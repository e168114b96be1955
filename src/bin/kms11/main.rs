//! `kms11`: see the tokens, export public keys, mint certificates through
//! KMS and diagnose a setup, with the module's own configuration and code.

#![forbid(unsafe_code)]

/// println! that ignores a closed standard output (`kms11 list | head`)
/// instead of panicking.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

mod doctor;
mod list;
mod mint;
mod pin;
mod progress;
mod pubkey;
mod sign;
mod tokens;

use clap::{Parser, Subcommand};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

const ABOUT: &str = "Work with the AWS KMS keys that libkms11.so exposes as PKCS#11 objects.";

const LONG_ABOUT: &str = "\
Work with the AWS KMS keys that libkms11.so exposes as PKCS#11 objects.

kms11 reads the module's configuration (--config, else KMS11_CONFIG, else
KMS11_KEYS, else ~/.config/kms11/pkcs11.conf, else /etc/kms11/pkcs11.conf)
and the usual AWS settings (AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL_KMS,
credentials), and talks to KMS through the same code as the module.

KEY names a key: a PKCS#11 URI from `kms11 list` (pkcs11:token=...;object=...),
an object label, the key as configured (alias/..., an ARN or a key ID), or
any KMS key reference outside the configuration.

Start with `kms11 doctor` if signing fails, and `kms11 list` to see the URIs.";

const EXAMPLES: &str = "\
Examples:
  kms11 doctor
  kms11 list --json
  kms11 pubkey alias/registry-token --format jwks --kid libtrust > jwks.json
  kms11 cert alias/registry-token --subject 'CN=registry token issuer' --out token.crt
  kms11 csr alias/web --subject 'CN=www.example.com,O=Example' --out web.csr
  kms11 sign alias/release --alg PS256 SHA256SUMS --out SHA256SUMS.sig";

#[derive(Parser)]
#[command(name = "kms11", version, about = ABOUT, long_about = LONG_ABOUT, after_help = EXAMPLES)]
struct Cli {
    /// The configuration file (default: as the module finds it).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,

    /// Log what the module does, to stderr (as KMS11_LOG=info does).
    #[arg(short, long, global = true)]
    verbose: bool,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Every token and key: the KMS key ARN, KeySpec, CKA_ID, certificate
    /// and the PKCS#11 URI of each object.
    List {
        /// Print JSON for scripts.
        #[arg(long)]
        json: bool,
    },
    /// The public key as PEM, DER, JWK, JWKS or an OpenSSH line.
    Pubkey {
        /// The key(s); jwks and pem take several.
        #[arg(required = true, value_name = "KEY")]
        keys: Vec<String>,
        #[arg(long, value_enum, default_value = "pem")]
        format: pubkey::Format,
        /// The JWK `kid`: RFC 7638 thumbprint, or the libtrust key ID that
        /// Docker registries match a token's `kid` against.
        #[arg(long, value_enum, default_value = "thumbprint")]
        kid: pubkey::Kid,
        /// The JWK `alg` (default: RS256 for RSA, the curve's for EC, EdDSA for Ed25519).
        #[arg(long, value_name = "ALG")]
        alg: Option<String>,
        /// Write to FILE instead of standard output.
        #[arg(long, short, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// A self-signed X.509 certificate, signed by the KMS key itself.
    ///
    /// Reproducible: notBefore is the key's CreationDate and notAfter
    /// 9999-12-31T23:59:59Z (no expiry) unless --not-after is given; the
    /// serial is derived from the key ARN and the other fields. RSA
    /// certificates come out byte-identical on every host; ECDSA ones differ
    /// only in the signature.
    Cert {
        key: String,
        /// The subject (and issuer), RFC 4514: 'CN=name,O=org,C=US'.
        #[arg(long)]
        subject: String,
        /// YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ (UTC).
        #[arg(long, value_name = "DATE")]
        not_after: Option<String>,
        #[arg(long, short, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// A PKCS#10 certification request for a CA, signed by the KMS key.
    Csr {
        key: String,
        /// The subject, RFC 4514: 'CN=name,O=org,C=US'.
        #[arg(long)]
        subject: String,
        #[arg(long, short, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Hash a token PIN for the configuration's `pin_hash` (argon2id).
    ///
    /// Asks twice on a terminal; otherwise reads the PIN from standard
    /// input (a final newline is not part of it). Prints the PHC string;
    /// put it in the token's section as pin_hash = "...". The PIN itself is
    /// stored nowhere.
    PinHash,
    /// Sign a file (or - for standard input) through the module's C_Sign path.
    ///
    /// RSA signatures are written as they are; ECDSA as DER, which
    /// `openssl dgst -verify` reads (--raw-ecdsa for r||s, as JOSE uses).
    Sign {
        key: String,
        /// Default: RS256 for RSA keys, the curve's algorithm for EC keys, EdDSA for Ed25519.
        #[arg(long, value_enum)]
        alg: Option<sign::Alg>,
        file: PathBuf,
        #[arg(long)]
        raw_ecdsa: bool,
        #[arg(long, short, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Check the configuration, credentials, endpoint and every key, and
    /// say how to fix what fails. Exits non-zero if a check fails.
    Doctor,
}

fn write_out(out: Option<&Path>, bytes: &[u8]) -> Result<(), String> {
    match out {
        Some(path) => {
            std::fs::write(path, bytes).map_err(|e| format!("cannot write {}: {e}", path.display()))
        }
        None => {
            let mut stdout = std::io::stdout().lock();
            stdout
                .write_all(bytes)
                .and_then(|_| stdout.flush())
                .map_err(|e| format!("cannot write to standard output: {e}"))
        }
    }
}

fn run(cli: Cli) -> Result<bool, String> {
    let config = cli.config.as_deref();
    match cli.command {
        Command::List { json } => list::run(config, json),
        Command::Pubkey {
            keys,
            format,
            kid,
            alg,
            out,
        } => {
            let bytes = pubkey::run(config, &keys, format, kid, alg.as_deref())?;
            write_out(out.as_deref(), &bytes).map(|_| true)
        }
        Command::Cert {
            key,
            subject,
            not_after,
            out,
        } => {
            let pem = mint::cert(config, &key, &subject, not_after.as_deref())?;
            write_out(out.as_deref(), pem.as_bytes()).map(|_| true)
        }
        Command::Csr { key, subject, out } => {
            let pem = mint::csr(config, &key, &subject)?;
            write_out(out.as_deref(), pem.as_bytes()).map(|_| true)
        }
        Command::Sign {
            key,
            alg,
            file,
            raw_ecdsa,
            out,
        } => {
            let sig = sign::run(config, &key, alg, &file, raw_ecdsa)?;
            write_out(out.as_deref(), &sig).map(|_| true)
        }
        Command::Doctor => Ok(doctor::run(config)),
        Command::PinHash => {
            let phc = pin::hash()?;
            out!("{phc}");
            eprintln!("add to the token's [[token]] section: pin_hash = \"{phc}\"");
            Ok(true)
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The module's own log lines would repeat what the command reports.
    let level = if cli.verbose { "info" } else { "off" };
    kms11::log::configure(Some(level), None);
    match run(cli) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("kms11: {e}");
            ExitCode::from(1)
        }
    }
}
