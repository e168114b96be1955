//! Ed25519ph (RFC 8032 HashEdDSA) verification from aws-lc's C API, which
//! aws-lc-rs does not wrap. It sits under `ffi/` because it calls C: this
//! directory is the one place the crate allows `unsafe`. A leaf: it imports
//! nothing of the crate.

/// Whether `signature` is the Ed25519ph signature, with an empty context,
/// of `message` by the 32-byte `public_key`.
pub fn verify(public_key: &[u8], message: &[u8], signature: &[u8]) -> bool {
    let (Ok(public_key), Ok(signature)) = (
        <&[u8; 32]>::try_from(public_key),
        <&[u8; 64]>::try_from(signature),
    ) else {
        return false;
    };
    // SAFETY: every pointer comes from a live slice or array of the length
    // passed beside it (the key 32 bytes, the signature 64, as the C API
    // reads them); the context is empty (length 0, never read); aws-lc
    // only reads through them and keeps none after returning.
    let ok = unsafe {
        aws_lc_sys::ED25519ph_verify(
            message.as_ptr(),
            message.len(),
            signature.as_ptr(),
            public_key.as_ptr(),
            std::ptr::null(),
            0,
        )
    };
    ok == 1
}

#[cfg(test)]
mod tests {
    use super::verify;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// RFC 8032 section 7.3, "TEST abc".
    #[test]
    fn rfc_8032_ed25519ph_vector() {
        let public_key = hex("ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf");
        let signature = hex(concat!(
            "98a70222f0b8121aa9d30f813d683f809e462b469c7ff87639499bb94e6dae41",
            "31f85042463c2a355a2003d062adf5aaa10b8c61e636062aaad11c2a26083406"
        ));
        assert!(verify(&public_key, b"abc", &signature));
        assert!(!verify(&public_key, b"abd", &signature));
        let mut flipped = signature.clone();
        flipped[63] ^= 1;
        assert!(!verify(&public_key, b"abc", &flipped));
        assert!(!verify(&public_key[..31], b"abc", &signature));
        assert!(!verify(&public_key, b"abc", &signature[..63]));
    }
}
