//! The DER DigestInfo that CKM_RSA_PKCS signs (RFC 8017 §9.2), parsed
//! strictly: the hash is named by its OID, never guessed from a length.

use crate::error::{Error, Result};
use crate::vocabulary::HashAlg;
use cryptoki_sys::CKR_DATA_INVALID;
use der::asn1::{AnyRef, ObjectIdentifier, OctetStringRef};
use der::{Decode, Encode, Sequence};

#[derive(Sequence)]
struct AlgorithmIdentifier<'a> {
    algorithm: ObjectIdentifier,
    parameters: Option<AnyRef<'a>>,
}

#[derive(Sequence)]
struct DigestInfo<'a> {
    algorithm: AlgorithmIdentifier<'a>,
    digest: &'a OctetStringRef,
}

fn invalid(why: &str) -> Error {
    Error::new(CKR_DATA_INVALID, why.to_string())
}

/// The hash and digest of a DigestInfo for SHA-256, SHA-384 or SHA-512,
/// with the parameters absent or NULL.
pub fn parse(input: &[u8]) -> Result<(HashAlg, &[u8])> {
    let info = DigestInfo::from_der(input)
        .map_err(|_| invalid("CKM_RSA_PKCS input is not a DER DigestInfo; KMS signs only SHA-256, SHA-384 and SHA-512 DigestInfos"))?;
    let hash = HashAlg::from_oid(&info.algorithm.algorithm).ok_or_else(|| {
        invalid("DigestInfo names a hash KMS cannot sign (only SHA-256, SHA-384, SHA-512)")
    })?;
    if let Some(p) = info.algorithm.parameters {
        if p.to_der().ok().as_deref() != Some(&[0x05, 0x00][..]) {
            return Err(invalid("DigestInfo parameters must be absent or NULL"));
        }
    }
    let digest = info.digest.as_bytes();
    if digest.len() != hash.output_len() {
        return Err(invalid("DigestInfo digest length does not match its hash"));
    }
    Ok((hash, digest))
}

/// The DER DigestInfo prefix (with NULL parameters) for a hash, as the
/// verifier rebuilds it.
pub fn prefix(hash: HashAlg) -> &'static [u8] {
    match hash {
        HashAlg::Sha256 => &[
            0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
            0x01, 0x05, 0x00, 0x04, 0x20,
        ],
        HashAlg::Sha384 => &[
            0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
            0x02, 0x05, 0x00, 0x04, 0x30,
        ],
        HashAlg::Sha512 => &[
            0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
            0x03, 0x05, 0x00, 0x04, 0x40,
        ],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_with_and_without_null() {
        let digest = [7u8; 32];
        let with_null = [prefix(HashAlg::Sha256), &digest].concat();
        assert_eq!(parse(&with_null).unwrap(), (HashAlg::Sha256, &digest[..]));
        let without: Vec<u8> = [
            &[
                0x30, 0x2f, 0x30, 0x0b, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                0x01, 0x04, 0x20,
            ][..],
            &digest,
        ]
        .concat();
        assert_eq!(parse(&without).unwrap(), (HashAlg::Sha256, &digest[..]));
    }

    #[test]
    fn refuses_sha1_raw_and_trailing_bytes() {
        let sha1 = [
            &[
                0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a, 0x05, 0x00, 0x04,
                0x14,
            ][..],
            &[1u8; 20],
        ]
        .concat();
        assert_eq!(parse(&sha1).unwrap_err().rv, CKR_DATA_INVALID);
        assert_eq!(parse(&[9u8; 32]).unwrap_err().rv, CKR_DATA_INVALID);
        let mut trailing = [prefix(HashAlg::Sha256), &[7u8; 32]].concat();
        trailing.push(0);
        assert_eq!(parse(&trailing).unwrap_err().rv, CKR_DATA_INVALID);
        // A SHA-256 OID over 48 bytes is a lie about the hash.
        let mut wrong_len = prefix(HashAlg::Sha256).to_vec();
        wrong_len[1] = 0x41;
        wrong_len[18] = 0x30;
        wrong_len.extend_from_slice(&[1u8; 48]);
        assert_eq!(parse(&wrong_len).unwrap_err().rv, CKR_DATA_INVALID);
    }
}
