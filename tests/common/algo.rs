//! A key and mechanism that a test signs with, and how pyca/cryptography
//! checks the signature (tests/verify/verify.py).

use super::p11::*;
use super::verify::Kind;

pub struct Algo {
    pub key: &'static str,
    pub ckm: CK_MECHANISM_TYPE,
    pub kind: Kind,
    pub hash: Option<&'static str>,
    /// Sign with C_SignUpdate/C_SignFinal.
    pub multipart: bool,
}

impl Algo {
    pub fn mech(&self) -> Mech {
        match self.ckm {
            CKM_SHA384_RSA_PKCS_PSS => Mech::pss(self.ckm, CKM_SHA384, CKG_MGF1_SHA384, 48),
            m => Mech::new(m),
        }
    }

    /// The object label: the alias name without `alias/`.
    pub fn label(&self) -> &'static str {
        self.key.trim_start_matches("alias/")
    }
}
