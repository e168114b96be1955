//! The pre-hashes of HashML-DSA (FIPS 204 section 5.4): each hash, its OID
//! (which μ covers) and its output, computed here.

use cryptoki_sys::*;
use sha2::Digest;
use sha3::digest::{ExtendableOutput, Update};

/// A HashML-DSA pre-hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PreHash {
    Sha224,
    Sha256,
    Sha384,
    Sha512,
    Sha3_224,
    Sha3_256,
    Sha3_384,
    Sha3_512,
    /// SHAKE128 with 256 bits of output, SHAKE256 with 512 (FIPS 204).
    Shake128,
    Shake256,
}

impl PreHash {
    /// The last arc of its OID under 2.16.840.1.101.3.4.2 (NIST's hash
    /// algorithms), and its output length in bytes.
    const fn row(self) -> (u8, usize) {
        match self {
            PreHash::Sha256 => (1, 32),
            PreHash::Sha384 => (2, 48),
            PreHash::Sha512 => (3, 64),
            PreHash::Sha224 => (4, 28),
            PreHash::Sha3_224 => (7, 28),
            PreHash::Sha3_256 => (8, 32),
            PreHash::Sha3_384 => (9, 48),
            PreHash::Sha3_512 => (10, 64),
            PreHash::Shake128 => (11, 32),
            PreHash::Shake256 => (12, 64),
        }
    }

    pub const fn output_len(self) -> usize {
        self.row().1
    }

    /// The DER of its OID (06 09 60 86 48 01 65 03 04 02 nn), as M' holds it.
    pub fn oid_der(self) -> [u8; 11] {
        [
            0x06,
            0x09,
            0x60,
            0x86,
            0x48,
            0x01,
            0x65,
            0x03,
            0x04,
            0x02,
            self.row().0,
        ]
    }

    /// The hash CK_HASH_SIGN_ADDITIONAL_CONTEXT names (PKCS#11 has no
    /// digest mechanism for the SHAKEs).
    pub fn from_ckm(ckm: CK_MECHANISM_TYPE) -> Option<PreHash> {
        Some(match ckm {
            CKM_SHA224 => PreHash::Sha224,
            CKM_SHA256 => PreHash::Sha256,
            CKM_SHA384 => PreHash::Sha384,
            CKM_SHA512 => PreHash::Sha512,
            CKM_SHA3_224 => PreHash::Sha3_224,
            CKM_SHA3_256 => PreHash::Sha3_256,
            CKM_SHA3_384 => PreHash::Sha3_384,
            CKM_SHA3_512 => PreHash::Sha3_512,
            _ => return None,
        })
    }
}

/// A running pre-hash.
#[derive(Clone)]
pub enum PreHasher {
    Sha224(sha2::Sha224),
    Sha256(sha2::Sha256),
    Sha384(sha2::Sha384),
    Sha512(sha2::Sha512),
    Sha3_224(sha3::Sha3_224),
    Sha3_256(sha3::Sha3_256),
    Sha3_384(sha3::Sha3_384),
    Sha3_512(sha3::Sha3_512),
    Shake128(sha3::Shake128),
    Shake256(sha3::Shake256),
}

impl PreHasher {
    pub fn new(h: PreHash) -> PreHasher {
        match h {
            PreHash::Sha224 => PreHasher::Sha224(Default::default()),
            PreHash::Sha256 => PreHasher::Sha256(Default::default()),
            PreHash::Sha384 => PreHasher::Sha384(Default::default()),
            PreHash::Sha512 => PreHasher::Sha512(Default::default()),
            PreHash::Sha3_224 => PreHasher::Sha3_224(Default::default()),
            PreHash::Sha3_256 => PreHasher::Sha3_256(Default::default()),
            PreHash::Sha3_384 => PreHasher::Sha3_384(Default::default()),
            PreHash::Sha3_512 => PreHasher::Sha3_512(Default::default()),
            PreHash::Shake128 => PreHasher::Shake128(Default::default()),
            PreHash::Shake256 => PreHasher::Shake256(Default::default()),
        }
    }

    pub fn update(&mut self, data: &[u8]) {
        match self {
            PreHasher::Sha224(h) => Digest::update(h, data),
            PreHasher::Sha256(h) => Digest::update(h, data),
            PreHasher::Sha384(h) => Digest::update(h, data),
            PreHasher::Sha512(h) => Digest::update(h, data),
            PreHasher::Sha3_224(h) => Digest::update(h, data),
            PreHasher::Sha3_256(h) => Digest::update(h, data),
            PreHasher::Sha3_384(h) => Digest::update(h, data),
            PreHasher::Sha3_512(h) => Digest::update(h, data),
            PreHasher::Shake128(h) => Update::update(h, data),
            PreHasher::Shake256(h) => Update::update(h, data),
        }
    }

    pub fn finish(self) -> Vec<u8> {
        match self {
            PreHasher::Sha224(h) => h.finalize().to_vec(),
            PreHasher::Sha256(h) => h.finalize().to_vec(),
            PreHasher::Sha384(h) => h.finalize().to_vec(),
            PreHasher::Sha512(h) => h.finalize().to_vec(),
            PreHasher::Sha3_224(h) => h.finalize().to_vec(),
            PreHasher::Sha3_256(h) => h.finalize().to_vec(),
            PreHasher::Sha3_384(h) => h.finalize().to_vec(),
            PreHasher::Sha3_512(h) => h.finalize().to_vec(),
            PreHasher::Shake128(h) => {
                let mut out = vec![0; 32];
                h.finalize_xof_into(&mut out);
                out
            }
            PreHasher::Shake256(h) => {
                let mut out = vec![0; 64];
                h.finalize_xof_into(&mut out);
                out
            }
        }
    }
}
