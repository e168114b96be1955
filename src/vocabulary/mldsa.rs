//! The ML-DSA parameter sets of FIPS 204 that KMS's ML_DSA_* key specs use.

use cryptoki_sys::{CKP_ML_DSA_44, CKP_ML_DSA_65, CKP_ML_DSA_87, CK_ULONG};
use der::asn1::ObjectIdentifier;

/// An ML-DSA parameter set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MlDsaSet {
    MlDsa44,
    MlDsa65,
    MlDsa87,
}

/// What is known about a parameter set: one row per `MlDsaSet`.
#[derive(Debug)]
pub struct MlDsaRow {
    /// FIPS 204 table 2: bytes of pk and of a signature.
    pub public_key_len: usize,
    pub signature_len: usize,
    /// CKA_PARAMETER_SET (PKCS#11 3.2).
    pub ckp: CK_ULONG,
    /// The SubjectPublicKeyInfo algorithm (NIST CSOR; RFC 9881).
    pub oid: ObjectIdentifier,
    /// Its name in FIPS 204 and RFC 9881.
    pub name: &'static str,
}

const ML_DSA_44: MlDsaRow = MlDsaRow {
    public_key_len: 1312,
    signature_len: 2420,
    ckp: CKP_ML_DSA_44 as CK_ULONG,
    oid: ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.3.17"),
    name: "ML-DSA-44",
};

const ML_DSA_65: MlDsaRow = MlDsaRow {
    public_key_len: 1952,
    signature_len: 3309,
    ckp: CKP_ML_DSA_65 as CK_ULONG,
    oid: ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.3.18"),
    name: "ML-DSA-65",
};

const ML_DSA_87: MlDsaRow = MlDsaRow {
    public_key_len: 2592,
    signature_len: 4627,
    ckp: CKP_ML_DSA_87 as CK_ULONG,
    oid: ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.3.19"),
    name: "ML-DSA-87",
};

impl MlDsaSet {
    pub const ALL: [MlDsaSet; 3] = [MlDsaSet::MlDsa44, MlDsaSet::MlDsa65, MlDsaSet::MlDsa87];

    pub const fn row(self) -> &'static MlDsaRow {
        match self {
            MlDsaSet::MlDsa44 => &ML_DSA_44,
            MlDsaSet::MlDsa65 => &ML_DSA_65,
            MlDsaSet::MlDsa87 => &ML_DSA_87,
        }
    }
}
