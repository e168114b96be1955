//! The baseline: the stock aws-sdk-kms client calling `Sign` directly, set
//! up as the module sets up its own (standard retry, 3 attempts, the same
//! timeouts, the emulator as endpoint, us-east-1, static test credentials),
//! on a two-worker tokio runtime as `#[tokio::main]` gives on this machine.

use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{MessageType, SigningAlgorithmSpec};
use aws_sdk_kms::Client;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub struct Direct {
    pub rt: tokio::runtime::Runtime,
    pub client: Client,
}

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// The SDK configuration of the module's backend (src/backend/kms.rs) with
/// the module's defaults, and static credentials.
pub async fn client(url: &str, ca: Option<&Path>) -> Client {
    let timeouts = aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(Duration::from_millis(3_000))
        .operation_attempt_timeout(Duration::from_millis(10_000))
        .operation_timeout(Duration::from_millis(42_000))
        .build();
    let retry = aws_config::retry::RetryConfig::standard().with_max_attempts(3);
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_kms::config::Credentials::new(
            "test", "test", None, None, "bench",
        ))
        .timeout_config(timeouts)
        .retry_config(retry);
    if let Some(ca) = ca {
        loader = loader.http_client(http_client_with_roots(ca));
    }
    let sdk = loader.load().await;
    let conf = aws_sdk_kms::config::Builder::from(&sdk).endpoint_url(url);
    Client::from_conf(conf.build())
}

/// An HTTPS client trusting only `bundle`, as the module builds for `ca_bundle`.
fn http_client_with_roots(bundle: &Path) -> aws_smithy_runtime_api::client::http::SharedHttpClient {
    use aws_smithy_http_client::tls::{self, TlsContext, TrustStore};
    let pem = std::fs::read(bundle).expect("CA bundle");
    let trust = TrustStore::empty()
        .with_native_roots(false)
        .with_pem_certificate(pem);
    let context = TlsContext::builder()
        .with_trust_store(trust)
        .build()
        .expect("TLS context");
    aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::AwsLc,
        ))
        .tls_context(context)
        .build_https()
}

/// A key as the direct caller signs with it: its ARN and algorithm.
#[derive(Clone)]
pub struct DirectKey {
    pub arn: String,
    pub algorithm: SigningAlgorithmSpec,
    /// Sign the message itself (RAW), not its SHA-256 (DIGEST).
    pub raw: bool,
}

pub async fn sign(client: &Client, key: &DirectKey, digest: &[u8]) -> Vec<u8> {
    let message_type = if key.raw {
        MessageType::Raw
    } else {
        MessageType::Digest
    };
    client
        .sign()
        .key_id(&key.arn)
        .message(Blob::new(digest))
        .message_type(message_type)
        .signing_algorithm(key.algorithm.clone())
        .send()
        .await
        .expect("Sign")
        .signature
        .expect("Signature")
        .into_inner()
}

impl Direct {
    pub fn new(url: &str, ca: Option<&Path>) -> Direct {
        let rt = runtime();
        let client = rt.block_on(client(url, ca));
        Direct { rt, client }
    }

    /// The ARN of a key, as the module signs by ARN.
    pub fn arn(&self, key: &str) -> String {
        self.rt.block_on(async {
            self.client
                .describe_key()
                .key_id(key)
                .send()
                .await
                .expect("DescribeKey")
                .key_metadata
                .expect("KeyMetadata")
                .arn
                .expect("Arn")
        })
    }

    /// One signature as a synchronous caller of the SDK makes it (what
    /// `#[tokio::main]` does with its body): SHA-256 of the message, then
    /// `Sign` with MessageType=DIGEST.
    pub fn sign_message(&self, key: &DirectKey, message: &[u8]) -> Vec<u8> {
        use sha2::Digest;
        if key.raw {
            return self.rt.block_on(sign(&self.client, key, message));
        }
        let digest = sha2::Sha256::digest(message);
        self.rt.block_on(sign(&self.client, key, &digest))
    }

    /// `n` concurrent requests (to open the connections a run of `n` needs).
    pub fn warm(&self, key: &DirectKey, n: usize, message: &[u8]) {
        self.rt.block_on(async {
            let mut set = tokio::task::JoinSet::new();
            for _ in 0..n {
                let (client, key, message) = (self.client.clone(), key.clone(), message.to_vec());
                set.spawn(async move {
                    use sha2::Digest;
                    let digest = sha2::Sha256::digest(&message);
                    sign(&client, &key, &digest).await
                });
            }
            while set.join_next().await.is_some() {}
        });
    }

    /// `n` tasks signing in a loop until `duration` has passed: signatures
    /// and the time until the last one came back.
    pub fn throughput(
        &self,
        key: &DirectKey,
        n: usize,
        duration: Duration,
        message: &[u8],
    ) -> (u64, Duration) {
        let message: Arc<[u8]> = message.into();
        self.rt.block_on(async {
            let started = Instant::now();
            let deadline = started + duration;
            let mut set = tokio::task::JoinSet::new();
            for _ in 0..n {
                let (client, key, message) = (self.client.clone(), key.clone(), message.clone());
                set.spawn(async move {
                    use sha2::Digest;
                    let mut count = 0u64;
                    while Instant::now() < deadline {
                        let digest = sha2::Sha256::digest(&message);
                        sign(&client, &key, &digest).await;
                        count += 1;
                    }
                    count
                });
            }
            let mut total = 0;
            while let Some(r) = set.join_next().await {
                total += r.expect("worker");
            }
            (total, started.elapsed())
        })
    }
}

/// What handing a call to a runtime costs on this machine: p50 of one
/// 64-byte request/response over loopback TCP, made with `block_on` on the
/// calling thread (a direct SDK caller; kms11's `runtime::run` for a lone
/// call) and with `spawn` + a std channel (`runtime::run` for overlapping
/// calls and for threads inside a tokio runtime), interleaved, on a
/// two-worker runtime.
pub fn handoff(rounds: usize) -> (Duration, Duration) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let server = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let listener = server
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind");
    let addr = listener.local_addr().expect("address");
    server.spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let _ = s.set_nodelay(true);
            tokio::spawn(async move {
                let mut b = [0u8; 64];
                while s.read_exact(&mut b).await.is_ok() {
                    if s.write_all(&b).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    let rt = runtime();
    let stream = rt.block_on(async {
        let s = tokio::net::TcpStream::connect(addr).await.expect("connect");
        s.set_nodelay(true).expect("nodelay");
        Arc::new(tokio::sync::Mutex::new(s))
    });
    let exchange = |s: Arc<tokio::sync::Mutex<tokio::net::TcpStream>>| async move {
        let mut s = s.lock().await;
        let mut b = [1u8; 64];
        s.write_all(&b).await.expect("write");
        s.read_exact(&mut b).await.expect("read");
    };
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for i in 0..rounds + rounds / 10 {
        let t = Instant::now();
        rt.block_on(exchange(stream.clone()));
        let da = t.elapsed();
        let t = Instant::now();
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let s = stream.clone();
        rt.spawn(async move {
            exchange(s).await;
            let _ = tx.send(());
        });
        rx.recv_timeout(Duration::from_secs(10)).expect("answer");
        let db = t.elapsed();
        if i >= rounds / 10 {
            a.push(da);
            b.push(db);
        }
    }
    (crate::report::Pct::of(a).p50, crate::report::Pct::of(b).p50)
}
