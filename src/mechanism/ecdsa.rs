//! ECDSA between PKCS#11 and KMS: fitting a hash of any length to the
//! curve's one algorithm, and DER signatures to fixed-width r||s.

use crate::error::{Error, Result};
use crate::vocabulary::Curve;
use cryptoki_sys::{CKR_DATA_LEN_RANGE, CKR_DEVICE_ERROR};
use der::asn1::UintRef;
use der::{Decode, Encode, Sequence};

/// How many bytes of a `len`-byte CKM_ECDSA input `fit_hash` uses: the
/// leading bytes of a longer hash are all it needs. A curve whose order
/// has more bits than its hash (P-521 with SHA-512) cannot cut one.
pub fn raw_input_len(curve: Curve, len: usize) -> Result<usize> {
    let want = curve.row().hash.output_len();
    if len > want && curve.row().bits > 8 * want {
        return Err(Error::new(
            CKR_DATA_LEN_RANGE,
            format!(
                "CKM_ECDSA input over {want} bytes cannot be signed on a {}-bit curve",
                curve.row().bits
            ),
        ));
    }
    Ok(len.min(want))
}

/// ECDSA reads a hash as an integer and keeps its leftmost bits up to the
/// order's size. KMS takes exactly the curve algorithm's hash length, so a
/// longer hash is cut to it (what ECDSA itself does for P-256 and P-384) and
/// a shorter one is left-padded with zeros (the same integer). Both give a
/// valid ECDSA signature over the caller's hash. P-521 keeps up to 521 bits,
/// so a hash over 64 bytes cannot be represented.
pub fn fit_hash(curve: Curve, hash: &[u8]) -> Result<Vec<u8>> {
    let want = curve.row().hash.output_len();
    if hash.is_empty() {
        return Err(Error::new(CKR_DATA_LEN_RANGE, "CKM_ECDSA input is empty"));
    }
    let used = raw_input_len(curve, hash.len())?;
    let mut out = vec![0u8; want - used];
    out.extend_from_slice(&hash[..used]);
    Ok(out)
}

#[derive(Sequence)]
struct EcdsaSig<'a> {
    r: UintRef<'a>,
    s: UintRef<'a>,
}

/// KMS's DER `ECDSA-Sig-Value` as PKCS#11's r||s, each half left-padded to
/// the field size.
pub fn der_to_fixed(curve: Curve, der: &[u8]) -> Result<Vec<u8>> {
    let n = curve.row().field_len;
    let bad = || Error::new(CKR_DEVICE_ERROR, "KMS returned a malformed ECDSA signature");
    let sig = EcdsaSig::from_der(der).map_err(|_| bad())?;
    let mut out = vec![0u8; 2 * n];
    for (i, part) in [sig.r.as_bytes(), sig.s.as_bytes()].into_iter().enumerate() {
        if part.len() > n {
            return Err(bad());
        }
        out[i * n + n - part.len()..(i + 1) * n].copy_from_slice(part);
    }
    Ok(out)
}

/// PKCS#11's r||s as the DER `ECDSA-Sig-Value` of X.509 and OpenSSL.
pub fn fixed_to_der(fixed: &[u8]) -> Result<Vec<u8>> {
    let bad = || Error::new(CKR_DATA_LEN_RANGE, "an r||s signature has an even length");
    if fixed.is_empty() || !fixed.len().is_multiple_of(2) {
        return Err(bad());
    }
    let (r, s) = fixed.split_at(fixed.len() / 2);
    let strip = |x: &[u8]| -> Vec<u8> {
        let start = x.iter().position(|b| *b != 0).unwrap_or(x.len() - 1);
        x[start..].to_vec()
    };
    let (r, s) = (strip(r), strip(s));
    let sig = EcdsaSig {
        r: UintRef::new(&r).map_err(|_| bad())?,
        s: UintRef::new(&s).map_err(|_| bad())?,
    };
    sig.to_der().map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_and_der_round_trip() {
        let mut fixed = vec![0u8; 64];
        fixed[31] = 1;
        fixed[32..].fill(0xff);
        let der = fixed_to_der(&fixed).unwrap();
        assert_eq!(der_to_fixed(Curve::P256, &der).unwrap(), fixed);
        assert!(fixed_to_der(&[1, 2, 3]).is_err());
    }

    #[test]
    fn short_r_is_left_padded() {
        // r = 0x01 (one byte), s = 0x00ff.. (needs a leading zero in DER).
        let mut der = vec![0x30, 0x00, 0x02, 0x01, 0x01, 0x02, 0x21, 0x00];
        der.extend_from_slice(&[0xff; 32]);
        der[1] = (der.len() - 2) as u8;
        let fixed = der_to_fixed(Curve::P256, &der).unwrap();
        assert_eq!(fixed.len(), 64);
        assert_eq!(&fixed[..31], &[0u8; 31]);
        assert_eq!(fixed[31], 1);
        assert_eq!(&fixed[32..], &[0xff; 32]);
    }

    #[test]
    fn hash_fitting() {
        assert_eq!(fit_hash(Curve::P256, &[1; 48]).unwrap(), vec![1; 32]);
        let padded = fit_hash(Curve::P384, &[1; 32]).unwrap();
        assert_eq!(padded.len(), 48);
        assert_eq!(&padded[..16], &[0; 16]);
        assert!(fit_hash(Curve::P521, &[1; 65]).is_err());
        assert!(fit_hash(Curve::P256, &[]).is_err());
    }
}
