//! RSAES-OAEP parameters: what KMS's RSAES_OAEP_SHA_1 and _SHA_256 can
//! honour of CK_RSA_PKCS_OAEP_PARAMS (MGF1 over the same hash, no label).

use super::Param;
use crate::error::{Error, Result};
use crate::vocabulary::OaepHash;
use cryptoki_sys::*;

/// CK_RSA_PKCS_OAEP_PARAMS as the caller gave them (the label's bytes are
/// never read: KMS takes none, so only their count matters).
#[derive(Debug, Clone, Copy)]
pub struct OaepParams {
    pub hash_alg: CK_MECHANISM_TYPE,
    pub mgf: CK_RSA_PKCS_MGF_TYPE,
    pub source: CK_RSA_PKCS_OAEP_SOURCE_TYPE,
    pub source_len: usize,
}

/// The OAEP hash KMS will use, or why the parameter cannot be honoured.
pub fn check(param: Param) -> Result<OaepHash> {
    let invalid = |why: &str| Error::new(CKR_MECHANISM_PARAM_INVALID, why.to_string());
    let Param::Oaep(p) = param else {
        return Err(invalid("CKM_RSA_PKCS_OAEP needs CK_RSA_PKCS_OAEP_PARAMS"));
    };
    let hash = OaepHash::ALL
        .into_iter()
        .find(|h| h.ckm() == p.hash_alg)
        .ok_or_else(|| invalid("KMS decrypts OAEP with SHA-1 or SHA-256 only (hashAlg)"))?;
    if p.mgf != hash.mgf() {
        return Err(invalid("KMS uses MGF1 over the same hash as hashAlg"));
    }
    // No label: source 0 (some callers) or CKZ_DATA_SPECIFIED with no data.
    if !(p.source == 0 || p.source == CKZ_DATA_SPECIFIED) || p.source_len != 0 {
        return Err(invalid("KMS decrypts OAEP without a label"));
    }
    Ok(hash)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(hash_alg: CK_MECHANISM_TYPE, mgf: CK_RSA_PKCS_MGF_TYPE, source_len: usize) -> Param {
        Param::Oaep(OaepParams {
            hash_alg,
            mgf,
            source: CKZ_DATA_SPECIFIED,
            source_len,
        })
    }

    #[test]
    fn only_what_kms_decrypts() {
        assert_eq!(
            check(p(CKM_SHA_1, CKG_MGF1_SHA1, 0)).unwrap(),
            OaepHash::Sha1
        );
        assert_eq!(
            check(p(CKM_SHA256, CKG_MGF1_SHA256, 0)).unwrap(),
            OaepHash::Sha256
        );
        for bad in [
            p(CKM_SHA384, CKG_MGF1_SHA384, 0),
            p(CKM_SHA256, CKG_MGF1_SHA1, 0),
            p(CKM_SHA256, CKG_MGF1_SHA256, 5),
            Param::None,
            Param::Malformed,
        ] {
            assert_eq!(check(bad).unwrap_err().rv, CKR_MECHANISM_PARAM_INVALID);
        }
    }
}
