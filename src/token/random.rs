//! C_GenerateRandom: random bytes from KMS's GenerateRandom (an HSM's
//! generator), at most 1,024 bytes a request, so a longer request is split
//! into requests sent together (within `max_concurrent_requests`, which
//! the backend enforces).

use super::Module;
use crate::backend::{BackendError, Failure, RANDOM_MAX};
use crate::error::{Error, Result};
use crate::log_at;
use cryptoki_sys::*;

/// The most bytes one C_GenerateRandom gives: 1,024 KMS requests. A
/// bigger length is refused before anything is allocated or asked, so a
/// caller's length (up to isize::MAX) can neither exhaust memory nor send
/// millions of requests against the account's quota.
pub const CALL_MAX: usize = 1024 * RANDOM_MAX;

/// The KMS requests of a `len`-byte answer: their lengths, in order.
pub fn request_lengths(len: usize) -> Vec<usize> {
    (0..len.div_ceil(RANDOM_MAX))
        .map(|i| (len - i * RANDOM_MAX).min(RANDOM_MAX))
        .collect()
}

/// What the caller learns of a failed GenerateRandom. A role may lack
/// kms:GenerateRandom on purpose (a least-privilege signing role): the log
/// says which permission, and signing is not affected.
fn refused(e: BackendError) -> Error {
    if e.failure == Failure::AccessDenied {
        log_at!(
            Error,
            "C_GenerateRandom: KMS refused GenerateRandom ({}: {}); the caller's role needs \
             kms:GenerateRandom (signing does not)",
            e.code,
            e.message
        );
        return Error::new(CKR_FUNCTION_FAILED, "KMS refused GenerateRandom");
    }
    log_at!(Error, "C_GenerateRandom failed: {}: {}", e.code, e.message);
    e.into()
}

impl Module {
    pub fn generate_random(&self, h: CK_SESSION_HANDLE, len: usize) -> Result<Vec<u8>> {
        let session = self.session(h)?;
        if len == 0 {
            return Ok(Vec::new());
        }
        if len > CALL_MAX {
            log_at!(
                Error,
                "C_GenerateRandom of {len} bytes refused: at most {CALL_MAX} a call \
                 ({} KMS GenerateRandom requests)",
                CALL_MAX / RANDOM_MAX
            );
            return Err(Error::new(
                CKR_ARGUMENTS_BAD,
                format!("C_GenerateRandom gives at most {CALL_MAX} bytes a call"),
            ));
        }
        // The region of the token's first key (its ARN's, else the
        // configured one).
        let near = self.slots[session.slot]
            .first_reference()
            .unwrap_or_default();
        let backend = self.backend.clone();
        let answer = self.runtime()?.run(self.deadline, async move {
            let mut requests = tokio::task::JoinSet::new();
            for (i, n) in request_lengths(len).into_iter().enumerate() {
                let (backend, near) = (backend.clone(), near.clone());
                requests.spawn(async move { (i, backend.generate_random(&near, n).await) });
            }
            let mut parts = Vec::new();
            while let Some(done) = requests.join_next().await {
                let (i, part) = done.map_err(|_| BackendError {
                    failure: Failure::Unavailable,
                    code: "Cancelled".into(),
                    message: "a GenerateRandom request was cancelled".into(),
                    request_id: None,
                })?;
                parts.push((i, part?));
            }
            parts.sort_by_key(|(i, _)| *i);
            Ok(parts.into_iter().flat_map(|(_, p)| p).collect::<Vec<u8>>())
        })?;
        answer.map_err(refused)
    }
}

#[cfg(test)]
mod tests {
    use super::request_lengths;

    #[test]
    fn requests_are_at_most_1024_bytes_and_add_up() {
        assert!(request_lengths(0).is_empty());
        assert_eq!(request_lengths(1), [1]);
        assert_eq!(request_lengths(1024), [1024]);
        assert_eq!(request_lengths(1025), [1024, 1]);
        assert_eq!(request_lengths(5000), [1024, 1024, 1024, 1024, 904]);
    }
}
