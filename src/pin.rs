//! Token PINs, stored only as argon2id PHC strings (`kms11 pin-hash` makes
//! one). The PIN is a local gate against other programs on the same host;
//! IAM and the key policy remain the boundary (docs/security.md).

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::Argon2;

/// A new PHC string for `pin`: argon2id with the crate's default
/// parameters (19 MiB, 2 passes) and a random salt.
pub fn hash(pin: &[u8]) -> Result<String, String> {
    Argon2::default()
        .hash_password(pin)
        .map(|h| h.to_string())
        .map_err(|e| format!("cannot hash the PIN: {e}"))
}

/// The least work a PIN hash may cost a guesser: OWASP's minimum for
/// argon2id (19 MiB of memory, 2 passes). A PIN is short; what stands
/// between a copy of the hash and the PIN is this cost per guess.
pub const MIN_MEMORY_KIB: u32 = 19_456;
pub const MIN_PASSES: u32 = 2;

/// The shortest PIN `kms11 pin-hash` accepts, in characters.
pub const MIN_PIN_CHARS: usize = 6;

/// Checks that a configured hash is an argon2id PHC string whose
/// parameters cost at least OWASP's minimum per guess.
pub fn check(phc: &str) -> Result<(), String> {
    let parsed = PasswordHash::new(phc).map_err(|e| format!("not a PHC string ({e})"))?;
    if parsed.algorithm.as_str() != "argon2id" {
        return Err(format!(
            "the hash is {}, not argon2id",
            parsed.algorithm.as_str()
        ));
    }
    if parsed.salt.is_none() || parsed.hash.is_none() {
        return Err("the PHC string has no salt or no hash".into());
    }
    let params = argon2::Params::try_from(&parsed)
        .map_err(|e| format!("its argon2 parameters are not valid ({e})"))?;
    if params.m_cost() < MIN_MEMORY_KIB || params.t_cost() < MIN_PASSES {
        return Err(format!(
            "its argon2 parameters (m={}, t={}) are below m={MIN_MEMORY_KIB}, t={MIN_PASSES}, \
             which makes guessing the PIN from the hash cheap",
            params.m_cost(),
            params.t_cost()
        ));
    }
    Ok(())
}

/// Whether `pin` matches the PHC string (the comparison is the argon2
/// crate's, in constant time).
pub fn verify(phc: &str, pin: &[u8]) -> bool {
    PasswordHash::new(phc)
        .ok()
        .is_some_and(|h| Argon2::default().verify_password(pin, &h).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_then_verify() {
        let h = hash(b"1234").unwrap();
        assert!(h.starts_with("$argon2id$v=19$"), "{h}");
        check(&h).unwrap();
        assert!(verify(&h, b"1234"));
        assert!(!verify(&h, b"12345"));
        assert!(!verify(&h, b""));
        // A new salt every time.
        assert_ne!(hash(b"1234").unwrap(), h);
    }

    #[test]
    fn check_refuses_what_is_not_argon2id() {
        assert!(check("1234").is_err());
        assert!(check("").is_err());
        let h = hash(b"x").unwrap();
        assert!(check(&h.replace("argon2id", "argon2i")).is_err());
        assert!(check(&h.replace("argon2id", "argon2d")).is_err());
        assert!(!verify("not a hash", b"x"));
    }

    fn hash_with(m: u32, t: u32) -> String {
        let params = argon2::Params::new(m, t, 1, None).unwrap();
        Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
            .hash_password(b"123456")
            .unwrap()
            .to_string()
    }

    #[test]
    fn check_refuses_parameters_below_the_minimum() {
        check(&hash_with(MIN_MEMORY_KIB, MIN_PASSES)).unwrap();
        for (m, t) in [(1024, 1), (MIN_MEMORY_KIB - 1, 3), (65536, 1)] {
            let e = check(&hash_with(m, t)).unwrap_err();
            assert!(e.contains(&format!("m={m}, t={t}")), "{e}");
        }
    }
}
