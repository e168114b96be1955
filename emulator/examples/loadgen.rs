//! Load generator: concurrent `Sign` calls through the stock aws-sdk-kms
//! client against a running emulator (or any KMS endpoint).
//!
//! ```text
//! cargo run --release -p kms11-emulator --example loadgen -- URL [CONCURRENCY] [SECONDS] [KEY_SPEC]
//! ```
//! It creates one key of KEY_SPEC (default ECC_NIST_P256), then keeps
//! CONCURRENCY (default 32) requests in flight for SECONDS (default 10) and
//! prints requests/s and latency percentiles.

use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{KeySpec, KeyUsageType, MessageType, SigningAlgorithmSpec};
use std::time::{Duration, Instant};

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(url) = args.first() else {
        eprintln!("usage: loadgen URL [CONCURRENCY] [SECONDS] [KEY_SPEC]");
        std::process::exit(2);
    };
    let concurrency: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(32);
    let seconds: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(10);
    let spec = KeySpec::from(args.get(3).map(String::as_str).unwrap_or("ECC_NIST_P256"));
    let algorithm = match spec {
        KeySpec::EccNistP384 => SigningAlgorithmSpec::EcdsaSha384,
        KeySpec::EccNistP521 => SigningAlgorithmSpec::EcdsaSha512,
        KeySpec::EccNistP256 | KeySpec::EccSecgP256K1 => SigningAlgorithmSpec::EcdsaSha256,
        _ => SigningAlgorithmSpec::RsassaPkcs1V15Sha256,
    };

    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_kms::config::Credentials::new(
            "test", "test", None, None, "loadgen",
        ))
        .endpoint_url(url)
        .load()
        .await;
    let client = aws_sdk_kms::Client::new(&config);
    let key = client
        .create_key()
        .key_spec(spec.clone())
        .key_usage(KeyUsageType::SignVerify)
        .send()
        .await
        .expect("CreateKey")
        .key_metadata
        .expect("KeyMetadata")
        .arn
        .expect("Arn");
    let digest = Blob::new(vec![7u8; algorithm_digest_len(&algorithm)]);

    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..concurrency {
        let client = client.clone();
        let key = key.clone();
        let digest = digest.clone();
        let algorithm = algorithm.clone();
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = 0u64;
            while Instant::now() < deadline {
                let t = Instant::now();
                let r = client
                    .sign()
                    .key_id(&key)
                    .message(digest.clone())
                    .message_type(MessageType::Digest)
                    .signing_algorithm(algorithm.clone())
                    .send()
                    .await;
                match r {
                    Ok(_) => latencies.push(t.elapsed()),
                    Err(_) => errors += 1,
                }
            }
            (latencies, errors)
        }));
    }
    let mut all = Vec::new();
    let mut errors = 0;
    for w in workers {
        let (l, e) = w.await.expect("worker");
        all.extend(l);
        errors += e;
    }
    let elapsed = started.elapsed().as_secs_f64();
    all.sort();
    let pct = |p: f64| {
        all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    println!(
        "{spec:?} Sign: {} ok, {errors} errors in {elapsed:.1} s with {concurrency} in flight: {:.0} requests/s, p50 {:?}, p99 {:?}",
        all.len(),
        all.len() as f64 / elapsed,
        pct(0.50),
        pct(0.99)
    );
}

fn algorithm_digest_len(a: &SigningAlgorithmSpec) -> usize {
    match a {
        SigningAlgorithmSpec::EcdsaSha384 => 48,
        SigningAlgorithmSpec::EcdsaSha512 => 64,
        _ => 32,
    }
}
