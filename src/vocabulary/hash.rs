//! The hashes: what KMS signs with, and what its RSAES-OAEP uses.

use cryptoki_sys::*;
use der::asn1::ObjectIdentifier;

/// A hash KMS signs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HashAlg {
    Sha256,
    Sha384,
    Sha512,
}

/// What is known about a hash: one row per `HashAlg`.
#[derive(Debug)]
pub struct HashRow {
    /// As people write it ("SHA-256").
    pub name: &'static str,
    /// Bytes of output.
    pub len: usize,
    /// The PKCS#11 digest mechanism (a PSS parameter's hashAlg).
    pub ckm: CK_MECHANISM_TYPE,
    /// MGF1 over this hash (the PSS parameter KMS uses with it).
    pub mgf: CK_RSA_PKCS_MGF_TYPE,
    /// Its OID (DigestInfo, X.509).
    pub oid: ObjectIdentifier,
}

const SHA256_ROW: HashRow = HashRow {
    name: "SHA-256",
    len: 32,
    ckm: CKM_SHA256,
    mgf: CKG_MGF1_SHA256,
    oid: ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1"),
};
const SHA384_ROW: HashRow = HashRow {
    name: "SHA-384",
    len: 48,
    ckm: CKM_SHA384,
    mgf: CKG_MGF1_SHA384,
    oid: ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.2"),
};
const SHA512_ROW: HashRow = HashRow {
    name: "SHA-512",
    len: 64,
    ckm: CKM_SHA512,
    mgf: CKG_MGF1_SHA512,
    oid: ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.3"),
};

impl HashAlg {
    pub const ALL: [HashAlg; 3] = [HashAlg::Sha256, HashAlg::Sha384, HashAlg::Sha512];

    pub const fn row(self) -> &'static HashRow {
        match self {
            HashAlg::Sha256 => &SHA256_ROW,
            HashAlg::Sha384 => &SHA384_ROW,
            HashAlg::Sha512 => &SHA512_ROW,
        }
    }

    pub const fn output_len(self) -> usize {
        self.row().len
    }

    /// The hash a PKCS#11 digest mechanism (CKM_SHA256, ...) names.
    pub fn from_ckm(ckm: CK_MECHANISM_TYPE) -> Option<HashAlg> {
        HashAlg::ALL.into_iter().find(|h| h.row().ckm == ckm)
    }

    /// The hash an OID names.
    pub fn from_oid(oid: &ObjectIdentifier) -> Option<HashAlg> {
        HashAlg::ALL.into_iter().find(|h| h.row().oid == *oid)
    }
}

/// The hashes of KMS's RSAES-OAEP (MGF1 over the same hash, no label).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OaepHash {
    Sha1,
    Sha256,
}

impl OaepHash {
    pub const ALL: [OaepHash; 2] = [OaepHash::Sha1, OaepHash::Sha256];

    /// The KMS EncryptionAlgorithm.
    pub const fn as_kms(self) -> &'static str {
        match self {
            OaepHash::Sha1 => "RSAES_OAEP_SHA_1",
            OaepHash::Sha256 => "RSAES_OAEP_SHA_256",
        }
    }

    /// The PKCS#11 hash mechanism (CK_RSA_PKCS_OAEP_PARAMS.hashAlg).
    pub const fn ckm(self) -> CK_MECHANISM_TYPE {
        match self {
            OaepHash::Sha1 => CKM_SHA_1,
            OaepHash::Sha256 => CKM_SHA256,
        }
    }

    /// MGF1 over the same hash (CK_RSA_PKCS_OAEP_PARAMS.mgf).
    pub const fn mgf(self) -> CK_RSA_PKCS_MGF_TYPE {
        match self {
            OaepHash::Sha1 => CKG_MGF1_SHA1,
            OaepHash::Sha256 => CKG_MGF1_SHA256,
        }
    }

    /// Bytes of the hash's output.
    pub const fn output_len(self) -> usize {
        match self {
            OaepHash::Sha1 => 20,
            OaepHash::Sha256 => 32,
        }
    }

    /// The longest message OAEP with this hash encrypts under a modulus of
    /// `modulus_len` bytes (RFC 8017 7.1.1: k - 2hLen - 2).
    pub const fn max_message(self, modulus_len: usize) -> usize {
        modulus_len.saturating_sub(2 * self.output_len() + 2)
    }
}

/// The HMAC algorithms of KMS's HMAC key specs, one per spec.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MacAlg {
    Sha224,
    Sha256,
    Sha384,
    Sha512,
}

/// What is known about an HMAC algorithm: one row per `MacAlg`.
#[derive(Debug)]
pub struct MacRow {
    /// GenerateMac's MacAlgorithm.
    pub kms: &'static str,
    /// Bytes of the MAC, and of the key material KMS generates for it.
    pub len: usize,
    /// The most bytes of key material KMS imports for it (at least `len`).
    pub key_max: usize,
    /// The full-length mechanism (CKM_SHA256_HMAC).
    pub ckm: CK_MECHANISM_TYPE,
    /// The truncated one (CKM_SHA256_HMAC_GENERAL).
    pub ckm_general: CK_MECHANISM_TYPE,
    /// The key-generation mechanism of its hash (CKM_SHA256_KEY_GEN), which
    /// C_GenerateKey takes beside CKM_GENERIC_SECRET_KEY_GEN.
    pub key_gen: CK_MECHANISM_TYPE,
}

impl MacAlg {
    pub const ALL: [MacAlg; 4] = [
        MacAlg::Sha224,
        MacAlg::Sha256,
        MacAlg::Sha384,
        MacAlg::Sha512,
    ];

    pub const fn row(self) -> &'static MacRow {
        match self {
            MacAlg::Sha224 => &MacRow {
                kms: "HMAC_SHA_224",
                len: 28,
                key_max: 64,
                ckm: CKM_SHA224_HMAC,
                ckm_general: CKM_SHA224_HMAC_GENERAL,
                key_gen: CKM_SHA224_KEY_GEN,
            },
            MacAlg::Sha256 => &MacRow {
                kms: "HMAC_SHA_256",
                len: 32,
                key_max: 64,
                ckm: CKM_SHA256_HMAC,
                ckm_general: CKM_SHA256_HMAC_GENERAL,
                key_gen: CKM_SHA256_KEY_GEN,
            },
            MacAlg::Sha384 => &MacRow {
                kms: "HMAC_SHA_384",
                len: 48,
                key_max: 128,
                ckm: CKM_SHA384_HMAC,
                ckm_general: CKM_SHA384_HMAC_GENERAL,
                key_gen: CKM_SHA384_KEY_GEN,
            },
            MacAlg::Sha512 => &MacRow {
                kms: "HMAC_SHA_512",
                len: 64,
                key_max: 128,
                ckm: CKM_SHA512_HMAC,
                ckm_general: CKM_SHA512_HMAC_GENERAL,
                key_gen: CKM_SHA512_KEY_GEN,
            },
        }
    }

    pub const fn as_kms(self) -> &'static str {
        self.row().kms
    }

    pub const fn output_len(self) -> usize {
        self.row().len
    }
}
