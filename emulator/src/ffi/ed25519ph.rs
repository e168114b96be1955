//! Ed25519ph (RFC 8032 HashEdDSA: phflag 1, PH = SHA-512), which KMS signs
//! with for ED25519_PH_SHA_512 and aws-lc-rs does not offer: the two AWS-LC
//! functions behind safe functions on slices.

use aws_lc_sys::{ED25519ph_sign, ED25519ph_verify};

pub const SIGNATURE_LEN: usize = 64;
pub const PUBLIC_KEY_LEN: usize = 32;
/// AWS-LC's Ed25519 private key: the 32-byte seed, then the public key.
pub const PRIVATE_KEY_LEN: usize = 64;

/// The empty context of plain Ed25519ph (Ed25519ph with a context is not
/// something KMS does).
const NO_CONTEXT: &[u8] = &[];

/// Signs `message`, which AWS-LC hashes with SHA-512 first, as RFC 8032's
/// Ed25519ph does with its input. None if AWS-LC reports a failure.
pub fn ed25519ph_sign(
    private_key: &[u8; PRIVATE_KEY_LEN],
    message: &[u8],
) -> Option<[u8; SIGNATURE_LEN]> {
    let mut signature = [0u8; SIGNATURE_LEN];
    // SAFETY: `signature` is writable for the SIGNATURE_LEN bytes AWS-LC
    // writes; `message` is readable for `message.len()` bytes;
    // `private_key` is the PRIVATE_KEY_LEN bytes ED25519ph_sign reads; the
    // context pointer is valid for its length 0. AWS-LC keeps none of them.
    let ok = unsafe {
        ED25519ph_sign(
            signature.as_mut_ptr(),
            message.as_ptr(),
            message.len(),
            private_key.as_ptr(),
            NO_CONTEXT.as_ptr(),
            NO_CONTEXT.len(),
        )
    };
    (ok == 1).then_some(signature)
}

/// True if `signature` is a valid Ed25519ph signature of `message` (hashed
/// with SHA-512 by AWS-LC) under `public_key`. A signature that is not
/// SIGNATURE_LEN bytes is not.
pub fn ed25519ph_verify(
    public_key: &[u8; PUBLIC_KEY_LEN],
    message: &[u8],
    signature: &[u8],
) -> bool {
    let Ok(signature) = <&[u8; SIGNATURE_LEN]>::try_from(signature) else {
        return false;
    };
    // SAFETY: `message` is readable for `message.len()` bytes, `signature`
    // for the SIGNATURE_LEN bytes and `public_key` for the PUBLIC_KEY_LEN
    // bytes ED25519ph_verify reads; the context pointer is valid for its
    // length 0. AWS-LC only reads them and keeps none.
    let ok = unsafe {
        ED25519ph_verify(
            message.as_ptr(),
            message.len(),
            signature.as_ptr(),
            public_key.as_ptr(),
            NO_CONTEXT.as_ptr(),
            NO_CONTEXT.len(),
        )
    };
    ok == 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex<const N: usize>(s: &str) -> [u8; N] {
        let bytes: Vec<u8> = (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect();
        bytes.try_into().unwrap()
    }

    // RFC 8032 section 7.3, "TEST abc".
    const SECRET: &str = "833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42";
    const PUBLIC: &str = "ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf";
    const MESSAGE: &[u8] = b"abc";
    const SIGNATURE: &str = "98a70222f0b8121aa9d30f813d683f809e462b469c7ff87639499bb94e6dae41\
                             31f85042463c2a355a2003d062adf5aaa10b8c61e636062aaad11c2a26083406";

    fn private_key() -> [u8; PRIVATE_KEY_LEN] {
        let mut key = [0u8; PRIVATE_KEY_LEN];
        key[..32].copy_from_slice(&hex::<32>(SECRET));
        key[32..].copy_from_slice(&hex::<32>(PUBLIC));
        key
    }

    #[test]
    fn signs_the_rfc_8032_ed25519ph_vector_byte_for_byte() {
        let signature = ed25519ph_sign(&private_key(), MESSAGE).expect("signs");
        assert_eq!(signature, hex::<64>(SIGNATURE));
    }

    #[test]
    fn verifies_the_rfc_8032_ed25519ph_vector() {
        assert!(ed25519ph_verify(
            &hex(PUBLIC),
            MESSAGE,
            &hex::<64>(SIGNATURE)
        ));
    }

    #[test]
    fn refuses_a_changed_signature_message_or_length() {
        let public = hex(PUBLIC);
        let good = hex::<64>(SIGNATURE);
        for i in [0, 31, 32, 63] {
            let mut bad = good;
            bad[i] ^= 0x01;
            assert!(!ed25519ph_verify(&public, MESSAGE, &bad), "byte {i}");
        }
        assert!(!ed25519ph_verify(&public, b"abd", &good));
        assert!(!ed25519ph_verify(&public, MESSAGE, &good[..63]));
        assert!(!ed25519ph_verify(
            &public,
            MESSAGE,
            &[good.as_slice(), &[0]].concat()
        ));
    }

    #[test]
    fn is_not_pure_ed25519() {
        // The same key and message under pure Ed25519 (no dom2 prefix, no
        // prehash) must give another signature.
        use aws_lc_rs::signature::Ed25519KeyPair;
        let pair = Ed25519KeyPair::from_seed_and_public_key(&hex::<32>(SECRET), &hex::<32>(PUBLIC))
            .unwrap();
        assert_ne!(pair.sign(MESSAGE).as_ref(), hex::<64>(SIGNATURE).as_slice());
    }
}
