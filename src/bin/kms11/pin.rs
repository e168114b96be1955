//! `kms11 pin-hash`, and the PIN of a token that needs one.

use std::io::{IsTerminal, Read};

/// The PIN for a token with `pin_hash`: `KMS11_PIN`, else asked on the
/// terminal.
pub fn for_token(label: &str) -> Result<String, String> {
    if let Ok(pin) = std::env::var("KMS11_PIN") {
        return Ok(pin);
    }
    // Asked on /dev/tty, so that standard input can carry the data.
    rpassword::prompt_password(format!("PIN for token '{label}': ")).map_err(|e| {
        format!("token '{label}' needs a PIN: set KMS11_PIN or run kms11 in a terminal ({e})")
    })
}

/// Reads a new PIN (twice on a terminal; else standard input, without its
/// final newline) and prints its argon2id PHC string.
pub fn hash() -> Result<String, String> {
    let pin = if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("New PIN: ")
            .map_err(|e| format!("cannot read the PIN: {e}"))?;
        let again = rpassword::prompt_password("Again: ")
            .map_err(|e| format!("cannot read the PIN: {e}"))?;
        if first != again {
            return Err("the two PINs differ; nothing was written".into());
        }
        first
    } else {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .map_err(|e| format!("cannot read the PIN from standard input: {e}"))?;
        let s = s.strip_suffix('\n').unwrap_or(&s);
        s.strip_suffix('\r').unwrap_or(s).to_string()
    };
    let min = kms11::pin::MIN_PIN_CHARS;
    if pin.chars().count() < min {
        return Err(format!(
            "the PIN is {} characters long; use at least {min}, so that it cannot be guessed from its hash in minutes",
            pin.chars().count()
        ));
    }
    kms11::pin::hash(pin.as_bytes())
}
