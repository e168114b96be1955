//! ML-DSA (FIPS 204) through AWS-LC's EVP interface, for KMS's
//! ML_DSA_SHAKE_256: a private key parsed from PKCS#8; pure ML-DSA over a
//! message with the empty context (what KMS signs for MessageType RAW,
//! through EVP_DigestSign with no digest); and ML-DSA over a 64-byte μ the
//! caller computed (EXTERNAL_MU: FIPS 204 section 6.2's external μ, which
//! AWS-LC's EVP_PKEY_sign and EVP_PKEY_verify take on an ML-DSA key).

use aws_lc_sys::{
    ERR_clear_error, EVP_DigestSign, EVP_DigestSignInit, EVP_DigestVerify, EVP_DigestVerifyInit,
    EVP_MD_CTX_free, EVP_MD_CTX_new, EVP_PKEY_CTX_free, EVP_PKEY_CTX_new, EVP_PKEY_free,
    EVP_PKEY_get_raw_public_key, EVP_PKEY_pqdsa_get_type, EVP_PKEY_sign, EVP_PKEY_sign_init,
    EVP_PKEY_verify, EVP_PKEY_verify_init, EVP_parse_private_key, CBS, ENGINE, EVP_MD, EVP_MD_CTX,
    EVP_PKEY, EVP_PKEY_CTX, NID_MLDSA44, NID_MLDSA65, NID_MLDSA87,
};
use std::ffi::c_int;
use std::ptr::{self, NonNull};

/// The length of μ, the message representative.
pub const MU_LEN: usize = 64;

/// The three parameter sets of FIPS 204 (its table 2 gives the lengths).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    MlDsa44,
    MlDsa65,
    MlDsa87,
}

impl Level {
    fn nid(self) -> c_int {
        match self {
            Level::MlDsa44 => NID_MLDSA44,
            Level::MlDsa65 => NID_MLDSA65,
            Level::MlDsa87 => NID_MLDSA87,
        }
    }

    pub fn public_key_len(self) -> usize {
        match self {
            Level::MlDsa44 => 1312,
            Level::MlDsa65 => 1952,
            Level::MlDsa87 => 2592,
        }
    }

    pub fn signature_len(self) -> usize {
        match self {
            Level::MlDsa44 => 2420,
            Level::MlDsa65 => 3309,
            Level::MlDsa87 => 4627,
        }
    }
}

/// An ML-DSA private key (and so its public key) owned by AWS-LC.
pub struct MlDsaKey {
    pkey: NonNull<EVP_PKEY>,
    level: Level,
}

// SAFETY: the EVP_PKEY is owned by this value alone and never changed after
// parsing; AWS-LC's signing and verification only read it (each call makes
// its own context, taking a reference with an atomic count), so it may move
// to and be shared between threads.
unsafe impl Send for MlDsaKey {}
// SAFETY: as for Send: every use through `&self` only reads the key.
unsafe impl Sync for MlDsaKey {}

impl Drop for MlDsaKey {
    fn drop(&mut self) {
        // SAFETY: `pkey` came from EVP_parse_private_key and this value's
        // reference to it is dropped only here (a context holds its own).
        unsafe { EVP_PKEY_free(self.pkey.as_ptr()) }
    }
}

/// An EVP_PKEY_CTX freed when dropped.
struct PkeyCtx(NonNull<EVP_PKEY_CTX>);

impl Drop for PkeyCtx {
    fn drop(&mut self) {
        // SAFETY: the context came from EVP_PKEY_CTX_new and is freed once.
        unsafe { EVP_PKEY_CTX_free(self.0.as_ptr()) }
    }
}

/// EVP_DigestSignInit or EVP_DigestVerifyInit.
type MessageInit = unsafe extern "C" fn(
    *mut EVP_MD_CTX,
    *mut *mut EVP_PKEY_CTX,
    *const EVP_MD,
    *mut ENGINE,
    *mut EVP_PKEY,
) -> c_int;

/// An EVP_MD_CTX freed when dropped (with the key context it made).
struct MdCtx(NonNull<EVP_MD_CTX>);

impl MdCtx {
    fn new() -> Option<Self> {
        // SAFETY: no arguments; the result is a new context or null.
        NonNull::new(unsafe { EVP_MD_CTX_new() }).map(MdCtx)
    }
}

impl Drop for MdCtx {
    fn drop(&mut self) {
        // SAFETY: the context came from EVP_MD_CTX_new and is freed once.
        unsafe { EVP_MD_CTX_free(self.0.as_ptr()) }
    }
}

/// Empties this thread's AWS-LC error queue after a refused operation, so
/// that what failed here is not reported by a later, unrelated call.
fn clear_errors() {
    // SAFETY: takes nothing, touches only the thread's error queue.
    unsafe { ERR_clear_error() }
}

/// `buf`, if the call that filled it succeeded and wrote all of it (`len`
/// is what AWS-LC says it wrote).
fn written(ok: bool, buf: Vec<u8>, len: usize) -> Option<Vec<u8>> {
    if ok && len == buf.len() {
        Some(buf)
    } else {
        clear_errors();
        None
    }
}

impl MlDsaKey {
    /// Parses a PKCS#8 ML-DSA private key of `level`, in any of the forms
    /// of RFC 9881 (seed, expanded key, or both). None if the bytes are not
    /// one, are of another parameter set, or run on after it.
    pub fn from_pkcs8(level: Level, der: &[u8]) -> Option<Self> {
        let mut cbs = CBS {
            data: der.as_ptr(),
            len: der.len(),
        };
        // SAFETY: `cbs` points at `der`, readable for `der.len()` bytes;
        // AWS-LC reads it and advances `cbs`, keeping no pointer into it,
        // and returns a new EVP_PKEY that we own, or null.
        let Some(pkey) = NonNull::new(unsafe { EVP_parse_private_key(&mut cbs) }) else {
            clear_errors();
            return None;
        };
        let key = MlDsaKey { pkey, level };
        // SAFETY: `key.pkey` is a valid EVP_PKEY; the call only reads it
        // (and answers 0 for a key that is not ML-DSA).
        let nid = unsafe { EVP_PKEY_pqdsa_get_type(key.pkey.as_ptr()) };
        if cbs.len == 0 && nid == level.nid() {
            Some(key)
        } else {
            clear_errors();
            None
        }
    }

    /// The raw public key (FIPS 204's pk encoding).
    pub fn public_key(&self) -> Option<Vec<u8>> {
        let mut out = vec![0u8; self.level.public_key_len()];
        let mut len = out.len();
        // SAFETY: `out` is writable for `len` bytes, which AWS-LC checks
        // before writing the key and then sets to what it wrote; the key
        // is only read.
        let ok =
            unsafe { EVP_PKEY_get_raw_public_key(self.pkey.as_ptr(), out.as_mut_ptr(), &mut len) }
                == 1;
        written(ok, out, len)
    }

    fn pkey_ctx(&self) -> Option<PkeyCtx> {
        // SAFETY: `pkey` is a valid EVP_PKEY; the context takes its own
        // reference to it, and no engine is given.
        NonNull::new(unsafe { EVP_PKEY_CTX_new(self.pkey.as_ptr(), ptr::null_mut()) }).map(PkeyCtx)
    }

    /// A context set up by `init` (EVP_DigestSignInit or
    /// EVP_DigestVerifyInit) for this key with no digest: ML-DSA hashes with
    /// SHAKE-256 itself, and EVP_DigestSign/EVP_DigestVerify then do pure
    /// ML-DSA of the whole message.
    fn message_ctx(&self, init: MessageInit) -> Option<MdCtx> {
        let md = MdCtx::new()?;
        // SAFETY: `md` is a live context; `init` is one of the two AWS-LC
        // functions of this signature, given no key-context out-pointer, no
        // digest and no engine; it takes its own reference to the key.
        let ok = unsafe {
            init(
                md.0.as_ptr(),
                ptr::null_mut(),
                ptr::null(),
                ptr::null_mut(),
                self.pkey.as_ptr(),
            )
        } == 1;
        if ok {
            Some(md)
        } else {
            clear_errors();
            None
        }
    }

    /// Pure ML-DSA (FIPS 204 algorithm 2) of `message` with the empty
    /// context. None if AWS-LC reports a failure.
    pub fn sign_message(&self, message: &[u8]) -> Option<Vec<u8>> {
        let md = self.message_ctx(EVP_DigestSignInit)?;
        let mut sig = vec![0u8; self.level.signature_len()];
        let mut len = sig.len();
        // SAFETY: `md` is a live context set up to sign with this key;
        // `sig` is writable for `len` bytes, which AWS-LC checks before
        // writing and then sets; `message` is readable for its length.
        // Nothing is kept.
        let ok = unsafe {
            EVP_DigestSign(
                md.0.as_ptr(),
                sig.as_mut_ptr(),
                &mut len,
                message.as_ptr(),
                message.len(),
            )
        } == 1;
        written(ok, sig, len)
    }

    /// ML-DSA of a μ computed by the caller (FIPS 204 algorithm 7 from its
    /// step 7 on). None if AWS-LC reports a failure.
    pub fn sign_mu(&self, mu: &[u8; MU_LEN]) -> Option<Vec<u8>> {
        let ctx = self.pkey_ctx()?;
        let mut sig = vec![0u8; self.level.signature_len()];
        let mut len = sig.len();
        // SAFETY: `ctx` is a live context of this key; `sig` is writable
        // for `len` bytes, which AWS-LC checks before writing and then
        // sets; `mu` is readable for MU_LEN bytes. Nothing is kept.
        let ok = unsafe {
            EVP_PKEY_sign_init(ctx.0.as_ptr()) == 1
                && EVP_PKEY_sign(
                    ctx.0.as_ptr(),
                    sig.as_mut_ptr(),
                    &mut len,
                    mu.as_ptr(),
                    mu.len(),
                ) == 1
        };
        written(ok, sig, len)
    }

    /// True if `signature` is pure ML-DSA of `message` with the empty
    /// context under this key.
    pub fn verify_message(&self, message: &[u8], signature: &[u8]) -> bool {
        let Some(md) = self.message_ctx(EVP_DigestVerifyInit) else {
            return false;
        };
        // SAFETY: `md` is a live context set up to verify with this key;
        // `signature` and `message` are readable for their lengths and only
        // read.
        let ok = unsafe {
            EVP_DigestVerify(
                md.0.as_ptr(),
                signature.as_ptr(),
                signature.len(),
                message.as_ptr(),
                message.len(),
            )
        } == 1;
        if !ok {
            clear_errors();
        }
        ok
    }

    /// True if `signature` is ML-DSA of the μ `mu` under this key.
    pub fn verify_mu(&self, mu: &[u8; MU_LEN], signature: &[u8]) -> bool {
        let Some(ctx) = self.pkey_ctx() else {
            return false;
        };
        // SAFETY: `ctx` is a live context of this key; `signature` and `mu`
        // are readable for their lengths and only read.
        let ok = unsafe {
            EVP_PKEY_verify_init(ctx.0.as_ptr()) == 1
                && EVP_PKEY_verify(
                    ctx.0.as_ptr(),
                    signature.as_ptr(),
                    signature.len(),
                    mu.as_ptr(),
                    mu.len(),
                ) == 1
        };
        if !ok {
            clear_errors();
        }
        ok
    }
}
