//! What the bench measures with: the keys, the message, the thread counts,
//! and the settings read from the environment (how many samples).

use cryptoki::mechanism::Mechanism;
use std::time::Duration;

/// The message every signature is over (a JWT-sized input): the module
/// hashes it (CKM_ECDSA_SHA256, CKM_SHA256_RSA_PKCS), the direct caller
/// hashes it with sha2 and sends the digest, as the module does.
pub const MESSAGE: &[u8] = b"eyJhbGciOiJFUzI1NiIsInR5cCI6IkpXVCIsImtpZCI6ImJlbmNoIn0.eyJpc3MiOiJiZW5jaCIsInN1YiI6ImttczExIiwiYXVkIjoicmVnaXN0cnkiLCJleHAiOjE3MDAwMDAwMDB9";

pub const THREADS: [usize; 4] = [1, 4, 16, 64];
pub const HUNDRED: usize = 100;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    P256,
    Rsa2048,
    Rsa4096,
    /// Pure Ed25519: KMS gets the message (RAW) from both sides.
    Ed25519,
    /// ML-DSA-65: the module sends FIPS 204's μ (EXTERNAL_MU); the SDK
    /// baseline sends the message (RAW), as a caller of KMS would.
    MlDsa65,
}

pub struct BenchKey {
    pub kind: Kind,
    pub name: &'static str,
    pub label: &'static str,
    pub spec: &'static str,
}

pub const KEYS: [BenchKey; 5] = [
    BenchKey {
        kind: Kind::P256,
        name: "P-256",
        label: "bench-p256",
        spec: "ECC_NIST_P256",
    },
    BenchKey {
        kind: Kind::Rsa2048,
        name: "RSA-2048",
        label: "bench-rsa2048",
        spec: "RSA_2048",
    },
    BenchKey {
        kind: Kind::Rsa4096,
        name: "RSA-4096",
        label: "bench-rsa4096",
        spec: "RSA_4096",
    },
    BenchKey {
        kind: Kind::Ed25519,
        name: "Ed25519",
        label: "bench-ed25519",
        spec: "ECC_NIST_EDWARDS25519",
    },
    BenchKey {
        kind: Kind::MlDsa65,
        name: "ML-DSA-65",
        label: "bench-mldsa65",
        spec: "ML_DSA_65",
    },
];

impl Kind {
    pub fn mechanism(self) -> Mechanism<'static> {
        use cryptoki::mechanism::dsa::{HedgeType, SignAdditionalContext};
        use cryptoki::mechanism::eddsa::{EddsaParams, EddsaSignatureScheme};
        match self {
            Kind::P256 => Mechanism::EcdsaSha256,
            Kind::Rsa2048 | Kind::Rsa4096 => Mechanism::Sha256RsaPkcs,
            Kind::Ed25519 => Mechanism::Eddsa(EddsaParams::new(EddsaSignatureScheme::Pure)),
            Kind::MlDsa65 => {
                Mechanism::MlDsa(SignAdditionalContext::new(HedgeType::Preferred, None))
            }
        }
    }
}

impl BenchKey {
    pub fn mechanism(&self) -> Mechanism<'static> {
        self.kind.mechanism()
    }

    pub fn algorithm(&self) -> aws_sdk_kms::types::SigningAlgorithmSpec {
        use aws_sdk_kms::types::SigningAlgorithmSpec as A;
        match self.kind {
            Kind::P256 => A::EcdsaSha256,
            Kind::Rsa2048 | Kind::Rsa4096 => A::RsassaPkcs1V15Sha256,
            Kind::Ed25519 => A::Ed25519Sha512,
            Kind::MlDsa65 => A::MlDsaShake256,
        }
    }

    /// Whether the SDK baseline sends KMS the message itself (RAW) rather
    /// than its SHA-256.
    pub fn raw(&self) -> bool {
        matches!(self.kind, Kind::Ed25519 | Kind::MlDsa65)
    }

    pub fn alias(&self) -> String {
        format!("alias/{}", self.label)
    }
}

pub fn hundred_label(i: usize) -> String {
    format!("bench-k{i:03}")
}

pub struct Settings {
    pub quick: bool,
    pub strict: bool,
    pub latencies: Vec<u64>,
    pub hash_mib: usize,
    pub tls: bool,
}

impl Settings {
    pub fn from_env() -> Settings {
        let flag = |k: &str| std::env::var(k).is_ok_and(|v| !v.is_empty() && v != "0");
        let quick = flag("KMS11_BENCH_QUICK");
        let latencies = std::env::var("KMS11_BENCH_LATENCIES")
            .ok()
            .map(|v| v.split(',').filter_map(|s| s.trim().parse().ok()).collect())
            .unwrap_or_else(|| vec![0, 20]);
        let hash_mib = std::env::var("KMS11_BENCH_HASH_MIB")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(if quick { 128 } else { 1024 });
        Settings {
            quick,
            strict: flag("KMS11_BENCH_STRICT"),
            latencies,
            hash_mib,
            tls: std::env::var("KMS11_BENCH_TLS").map_or(true, |v| v != "0"),
        }
    }

    /// Interleaved rounds of single-thread C_Sign for a key at a latency.
    pub fn rounds(&self, kind: Kind, latency_ms: u64) -> usize {
        let full = match (latency_ms, kind) {
            (0, Kind::P256) => 1500,
            (0, Kind::Rsa2048) => 1000,
            (0, Kind::Rsa4096) => 300,
            (0, Kind::Ed25519 | Kind::MlDsa65) => 1000,
            _ => 200,
        };
        if self.quick {
            (full / 10).max(20)
        } else {
            full
        }
    }

    /// Measured slices per throughput point, each side in turn.
    pub fn slices(&self) -> usize {
        if self.quick {
            1
        } else {
            3
        }
    }

    pub fn slice_time(&self, latency_ms: u64) -> Duration {
        match (self.quick, latency_ms) {
            (true, _) => Duration::from_millis(700),
            (false, 0) => Duration::from_secs(1),
            (false, _) => Duration::from_millis(1500),
        }
    }

    pub fn process_runs(&self) -> usize {
        if self.quick {
            2
        } else {
            5
        }
    }

    pub fn hundred_runs(&self) -> usize {
        if self.quick {
            1
        } else {
            5
        }
    }
}

pub fn say(s: impl AsRef<str>) {
    eprintln!("kms11 bench: {}", s.as_ref());
}
