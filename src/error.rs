//! The module's error: a CK_RV and, for the log, what went wrong. `?` works
//! everywhere below `ffi`, which turns the CK_RV into the return value.

use cryptoki_sys::CK_RV;
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub rv: CK_RV,
    pub reason: Option<String>,
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub fn new(rv: CK_RV, reason: impl Into<String>) -> Self {
        Error {
            rv,
            reason: Some(reason.into()),
        }
    }
}

impl From<CK_RV> for Error {
    fn from(rv: CK_RV) -> Self {
        Error { rv, reason: None }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", rv_name(self.rv))?;
        if let Some(r) = &self.reason {
            write!(f, ": {r}")?;
        }
        Ok(())
    }
}

/// Declares the CK_RV name table from the constants themselves, so that a
/// name is always its constant's own (`stringify!`), never a copy that can
/// drift. The lookup is a `match`: two constants with one value would be an
/// unreachable arm, which does not compile.
macro_rules! ck_rv_names {
    ($($rv:ident),* $(,)?) => {
        /// The name of a CK_RV that PKCS#11 defines; `None` for any other.
        #[deny(unreachable_patterns)]
        pub fn rv_known_name(rv: CK_RV) -> Option<&'static str> {
            use cryptoki_sys::*;
            match rv {
                $($rv => Some(stringify!($rv)),)*
                _ => None,
            }
        }

        /// Every row of the table, for the tests.
        #[cfg(test)]
        const RV_NAMES: &[(CK_RV, &str)] = {
            use cryptoki_sys::*;
            &[$(($rv, stringify!($rv))),*]
        };
    };
}

// Every CKR_* constant of cryptoki-sys 0.5 (PKCS#11 3.x) in its order, except
// CKR_VENDOR_DEFINED: that is where the vendors' range starts, not a value
// of its own, and a vendor's codes (it included) print in hex.
ck_rv_names! {
    CKR_OK,
    CKR_CANCEL,
    CKR_HOST_MEMORY,
    CKR_SLOT_ID_INVALID,
    CKR_GENERAL_ERROR,
    CKR_FUNCTION_FAILED,
    CKR_ARGUMENTS_BAD,
    CKR_NO_EVENT,
    CKR_NEED_TO_CREATE_THREADS,
    CKR_CANT_LOCK,
    CKR_ATTRIBUTE_READ_ONLY,
    CKR_ATTRIBUTE_SENSITIVE,
    CKR_ATTRIBUTE_TYPE_INVALID,
    CKR_ATTRIBUTE_VALUE_INVALID,
    CKR_ACTION_PROHIBITED,
    CKR_DATA_INVALID,
    CKR_DATA_LEN_RANGE,
    CKR_DEVICE_ERROR,
    CKR_DEVICE_MEMORY,
    CKR_DEVICE_REMOVED,
    CKR_ENCRYPTED_DATA_INVALID,
    CKR_ENCRYPTED_DATA_LEN_RANGE,
    CKR_AEAD_DECRYPT_FAILED,
    CKR_FUNCTION_CANCELED,
    CKR_FUNCTION_NOT_PARALLEL,
    CKR_FUNCTION_NOT_SUPPORTED,
    CKR_KEY_HANDLE_INVALID,
    CKR_KEY_SIZE_RANGE,
    CKR_KEY_TYPE_INCONSISTENT,
    CKR_KEY_NOT_NEEDED,
    CKR_KEY_CHANGED,
    CKR_KEY_NEEDED,
    CKR_KEY_INDIGESTIBLE,
    CKR_KEY_FUNCTION_NOT_PERMITTED,
    CKR_KEY_NOT_WRAPPABLE,
    CKR_KEY_UNEXTRACTABLE,
    CKR_MECHANISM_INVALID,
    CKR_MECHANISM_PARAM_INVALID,
    CKR_OBJECT_HANDLE_INVALID,
    CKR_OPERATION_ACTIVE,
    CKR_OPERATION_NOT_INITIALIZED,
    CKR_PIN_INCORRECT,
    CKR_PIN_INVALID,
    CKR_PIN_LEN_RANGE,
    CKR_PIN_EXPIRED,
    CKR_PIN_LOCKED,
    CKR_SESSION_CLOSED,
    CKR_SESSION_COUNT,
    CKR_SESSION_HANDLE_INVALID,
    CKR_SESSION_PARALLEL_NOT_SUPPORTED,
    CKR_SESSION_READ_ONLY,
    CKR_SESSION_EXISTS,
    CKR_SESSION_READ_ONLY_EXISTS,
    CKR_SESSION_READ_WRITE_SO_EXISTS,
    CKR_SIGNATURE_INVALID,
    CKR_SIGNATURE_LEN_RANGE,
    CKR_TEMPLATE_INCOMPLETE,
    CKR_TEMPLATE_INCONSISTENT,
    CKR_TOKEN_NOT_PRESENT,
    CKR_TOKEN_NOT_RECOGNIZED,
    CKR_TOKEN_WRITE_PROTECTED,
    CKR_UNWRAPPING_KEY_HANDLE_INVALID,
    CKR_UNWRAPPING_KEY_SIZE_RANGE,
    CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT,
    CKR_USER_ALREADY_LOGGED_IN,
    CKR_USER_NOT_LOGGED_IN,
    CKR_USER_PIN_NOT_INITIALIZED,
    CKR_USER_TYPE_INVALID,
    CKR_USER_ANOTHER_ALREADY_LOGGED_IN,
    CKR_USER_TOO_MANY_TYPES,
    CKR_WRAPPED_KEY_INVALID,
    CKR_WRAPPED_KEY_LEN_RANGE,
    CKR_WRAPPING_KEY_HANDLE_INVALID,
    CKR_WRAPPING_KEY_SIZE_RANGE,
    CKR_WRAPPING_KEY_TYPE_INCONSISTENT,
    CKR_RANDOM_SEED_NOT_SUPPORTED,
    CKR_RANDOM_NO_RNG,
    CKR_DOMAIN_PARAMS_INVALID,
    CKR_CURVE_NOT_SUPPORTED,
    CKR_BUFFER_TOO_SMALL,
    CKR_SAVED_STATE_INVALID,
    CKR_INFORMATION_SENSITIVE,
    CKR_STATE_UNSAVEABLE,
    CKR_CRYPTOKI_NOT_INITIALIZED,
    CKR_CRYPTOKI_ALREADY_INITIALIZED,
    CKR_MUTEX_BAD,
    CKR_MUTEX_NOT_LOCKED,
    CKR_NEW_PIN_MODE,
    CKR_NEXT_OTP,
    CKR_EXCEEDED_MAX_ITERATIONS,
    CKR_FIPS_SELF_TEST_FAILED,
    CKR_LIBRARY_LOAD_FAILED,
    CKR_PIN_TOO_WEAK,
    CKR_PUBLIC_KEY_INVALID,
    CKR_FUNCTION_REJECTED,
    CKR_TOKEN_RESOURCE_EXCEEDED,
    CKR_OPERATION_CANCEL_FAILED,
    CKR_KEY_EXHAUSTED,
    CKR_PENDING,
    CKR_SESSION_ASYNC_NOT_SUPPORTED,
    CKR_SEED_RANDOM_REQUIRED,
    CKR_OPERATION_NOT_VALIDATED,
    CKR_TOKEN_NOT_INITIALIZED,
    CKR_PARAMETER_SET_NOT_SUPPORTED,
}

/// The name of a CK_RV for logs; a value PKCS#11 does not define (a
/// vendor's, say) as `CKR_0x%08X`.
pub fn rv_name(rv: CK_RV) -> String {
    match rv_known_name(rv) {
        Some(name) => name.to_string(),
        None => format!("CKR_0x{rv:08X}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cryptoki_sys::*;
    use std::collections::HashSet;

    #[test]
    fn every_name_maps_to_its_constant_and_back() {
        for &(rv, name) in RV_NAMES {
            assert_eq!(rv_name(rv), name);
            assert_eq!(rv_known_name(rv), Some(name));
            let back: Vec<CK_RV> = RV_NAMES
                .iter()
                .filter(|(_, n)| *n == name)
                .map(|(v, _)| *v)
                .collect();
            assert_eq!(back, [rv], "{name}");
            assert!(name.starts_with("CKR_"), "{name}");
        }
    }

    #[test]
    fn the_table_is_complete_and_has_no_duplicates() {
        // cryptoki-sys 0.5 defines 105 CKR_* constants; CKR_VENDOR_DEFINED
        // is left out on purpose.
        assert_eq!(RV_NAMES.len(), 104);
        let values: HashSet<CK_RV> = RV_NAMES.iter().map(|(v, _)| *v).collect();
        let names: HashSet<&str> = RV_NAMES.iter().map(|(_, n)| *n).collect();
        assert_eq!(values.len(), RV_NAMES.len(), "a value twice");
        assert_eq!(names.len(), RV_NAMES.len(), "a name twice");
        assert!(RV_NAMES.iter().all(|(v, _)| *v < CKR_VENDOR_DEFINED));
    }

    #[test]
    fn the_codes_the_old_match_missed_are_named() {
        for (rv, name) in [
            (CKR_PIN_INCORRECT, "CKR_PIN_INCORRECT"),
            (CKR_ACTION_PROHIBITED, "CKR_ACTION_PROHIBITED"),
            (CKR_SESSION_READ_ONLY_EXISTS, "CKR_SESSION_READ_ONLY_EXISTS"),
            (
                CKR_SESSION_READ_WRITE_SO_EXISTS,
                "CKR_SESSION_READ_WRITE_SO_EXISTS",
            ),
            (
                CKR_USER_ANOTHER_ALREADY_LOGGED_IN,
                "CKR_USER_ANOTHER_ALREADY_LOGGED_IN",
            ),
            (CKR_FUNCTION_NOT_PARALLEL, "CKR_FUNCTION_NOT_PARALLEL"),
            (CKR_OK, "CKR_OK"),
            (
                CKR_PARAMETER_SET_NOT_SUPPORTED,
                "CKR_PARAMETER_SET_NOT_SUPPORTED",
            ),
        ] {
            assert_eq!(rv_name(rv), name);
        }
    }

    #[test]
    fn unknown_and_vendor_values_print_in_hex() {
        assert_eq!(rv_name(4), "CKR_0x00000004");
        assert_eq!(rv_name(0x1ff), "CKR_0x000001FF");
        assert_eq!(rv_name(CKR_VENDOR_DEFINED), "CKR_0x80000000");
        assert_eq!(rv_name(CKR_VENDOR_DEFINED + 0x2a), "CKR_0x8000002A");
        assert_eq!(rv_known_name(CKR_VENDOR_DEFINED + 1), None);
    }

    #[test]
    fn an_error_displays_its_name_and_reason() {
        let e = Error::new(CKR_PIN_INCORRECT, "wrong PIN");
        assert_eq!(e.to_string(), "CKR_PIN_INCORRECT: wrong PIN");
        assert_eq!(Error::from(0x8000_0001).to_string(), "CKR_0x80000001");
    }
}
