//! C_GenerateRandom and C_SeedRandom.

use super::{copy_to_caller, entry, module, valid_count};
use cryptoki_sys::*;

entry! {
    fn C_GenerateRandom(session: CK_SESSION_HANDLE, out: CK_BYTE_PTR, len: CK_ULONG) {
        let m = module()?;
        m.check_session(session)?;
        let len = valid_count::<u8>(len)?;
        if len == 0 {
            // Nothing asked, nothing written, KMS not asked.
            return Ok(());
        }
        if out.is_null() {
            return Err(CKR_ARGUMENTS_BAD.into());
        }
        let bytes = m.generate_random(session, len)?;
        // SAFETY: a non-NULL out holds len writable bytes (the caller's
        // contract), and bytes is len bytes of the module's own memory.
        unsafe { copy_to_caller(&bytes, out) };
        Ok(())
    }

    fn C_SeedRandom(session: CK_SESSION_HANDLE, _seed: CK_BYTE_PTR, _len: CK_ULONG) {
        let m = module()?;
        m.check_session(session)?;
        // KMS's generator takes no seed.
        Err(CKR_RANDOM_SEED_NOT_SUPPORTED.into())
    }
}
