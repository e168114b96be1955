//! `kms11-emulator`: serve a local AWS KMS on 127.0.0.1.

#![forbid(unsafe_code)]

use clap::Parser;
use kms11_emulator::{check_faults, start, Deny, Faults, Options};
use std::io::Write;
use std::path::PathBuf;

/// A local AWS KMS for tests: the KMS JSON 1.1 protocol, real cryptography,
/// and fault injection. Point a client at it with
/// AWS_ENDPOINT_URL_KMS=<the URL printed on the first line of output>.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1", env = "KMS11_EMULATOR_HOST")]
    host: String,
    /// Port to listen on; 0 picks a free one. The URL is printed alone on the first line.
    #[arg(long, default_value_t = 0, env = "KMS11_EMULATOR_PORT")]
    port: u16,
    /// Region of requests that carry no SigV4 scope, and of seeded keys.
    #[arg(long, default_value = "us-east-1", env = "KMS11_EMULATOR_REGION")]
    region: String,
    /// Account ID in key ARNs.
    #[arg(long, default_value = "111122223333", env = "KMS11_EMULATOR_ACCOUNT")]
    account: String,
    /// Keep keys and aliases in this JSON file across restarts (it holds private keys; mode 0600).
    #[arg(long, env = "KMS11_EMULATOR_STATE")]
    state: Option<PathBuf>,
    /// Load keys and aliases from this JSON file at start (same format as --state).
    #[arg(long, env = "KMS11_EMULATOR_SEED")]
    seed: Option<PathBuf>,
    /// Serve HTTPS with a new self-signed certificate for 127.0.0.1 and localhost, written (PEM) to this file.
    #[arg(long, env = "KMS11_EMULATOR_TLS_CERT")]
    tls_cert: Option<PathBuf>,
    /// Added latency per KMS request, in milliseconds.
    #[arg(long, default_value_t = 0, env = "KMS11_EMULATOR_LATENCY_MS")]
    latency_ms: u64,
    /// Fraction (0 to 1) of KMS requests delayed by a further --slow-ms.
    #[arg(long, default_value_t = 0.0, env = "KMS11_EMULATOR_SLOW_RATE")]
    slow_rate: f64,
    /// The further delay of the --slow-rate requests, in milliseconds.
    #[arg(long, default_value_t = 0, env = "KMS11_EMULATOR_SLOW_MS")]
    slow_ms: u64,
    /// Answer every Nth KMS request with ThrottlingException (0: off).
    #[arg(long, default_value_t = 0, env = "KMS11_EMULATOR_THROTTLE_EVERY")]
    throttle_every: u64,
    /// Throttle requests above this rate in requests/s (0: off).
    #[arg(long, default_value_t = 0.0, env = "KMS11_EMULATOR_THROTTLE_RPS")]
    throttle_rps: f64,
    /// Fraction (0 to 1) of requests answered with HTTP 500 KMSInternalException.
    #[arg(long, default_value_t = 0.0, env = "KMS11_EMULATOR_ERROR_RATE")]
    error_rate: f64,
    /// Fraction (0 to 1) of requests whose connection is closed without an answer.
    #[arg(long, default_value_t = 0.0, env = "KMS11_EMULATOR_DROP_RATE")]
    drop_rate: f64,
    /// Fraction (0 to 1) of Sign answers whose signature is well-formed but wrong.
    #[arg(
        long,
        default_value_t = 0.0,
        env = "KMS11_EMULATOR_WRONG_SIGNATURE_RATE"
    )]
    wrong_signature_rate: f64,
    /// AccessDeniedException for OPERATION on KEY (key ID, ARN, alias, or *), e.g. Sign:alias/release. Repeatable.
    #[arg(
        long = "deny",
        value_name = "OPERATION:KEY",
        env = "KMS11_EMULATOR_DENY",
        value_delimiter = ','
    )]
    deny: Vec<String>,
    /// Seconds an import token and wrapping key from GetParametersForImport stay valid (KMS: 24 hours).
    #[arg(long, default_value_t = 86400, env = "KMS11_EMULATOR_IMPORT_TOKEN_TTL", value_parser = clap::value_parser!(u64).range(1..))]
    import_token_ttl: u64,
}

fn main() {
    let args = Args::parse();
    if let Err(e) = run(args) {
        eprintln!("kms11-emulator: {e}");
        std::process::exit(1);
    }
}

fn run(args: Args) -> Result<(), String> {
    let faults = Faults {
        latency_ms: args.latency_ms,
        slow_rate: args.slow_rate,
        slow_ms: args.slow_ms,
        blackhole: false,
        throttle_every: args.throttle_every,
        throttle_rps: args.throttle_rps,
        error_rate: args.error_rate,
        drop_rate: args.drop_rate,
        wrong_signature_rate: args.wrong_signature_rate,
        deny: args
            .deny
            .iter()
            .map(|d| Deny::parse(d))
            .collect::<Result<_, _>>()?,
    };
    check_faults(&faults)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    runtime.block_on(async {
        let running = start(Options {
            host: args.host,
            port: args.port,
            region: args.region.clone(),
            account: args.account.clone(),
            state: args.state,
            seed: args.seed,
            tls_cert: args.tls_cert,
            faults,
            import_token_ttl: args.import_token_ttl as f64,
        })
        .await?;
        let mut out = std::io::stdout();
        writeln!(out, "{}", running.url).map_err(|e| e.to_string())?;
        out.flush().map_err(|e| e.to_string())?;
        eprintln!(
            "kms11-emulator: serving KMS (region {}, account {}) at {}",
            args.region, args.account, running.url
        );
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .map_err(|e| e.to_string())?;
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
            _ = running.task => {}
        }
        Ok(())
    })
}
