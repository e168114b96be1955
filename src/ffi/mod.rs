//! The C ABI and nothing else. Every entry point goes through `guard`:
//! the body is a `Result<()>` whose error carries its CK_RV, panics are
//! caught (a panic crossing `extern "C"` would abort the host), and the
//! outcome is traced here; failures are logged once where they happen.
//!
//! The module state lives in an `ArcSwapOption`, not behind a lock: a
//! `fork()` while another thread holds a lock would leave it held forever in
//! the child. A child sees the parent's state (another pid) as "not
//! initialised" and `C_Initialize` swaps in a fresh one, leaking the
//! parent's rather than dropping its runtime in the child.

mod cipher;
mod cstring;
mod derive;
mod general;
mod keygen;
mod lists;
mod object;
mod process;
mod random;
mod session;
mod sign;
mod slot;
mod unsupported;
mod verify;

pub use process::secure_execution;

use crate::error::{rv_name, Error, Result};
use crate::log_at;
use crate::token::session::{OpKind, Output};
use crate::token::Module;
use arc_swap::ArcSwapOption;
use cryptoki_sys::*;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

static STATE: ArcSwapOption<Module> = ArcSwapOption::const_empty();

/// The initialised module of this process.
fn module() -> Result<Arc<Module>> {
    match STATE.load_full() {
        Some(m) if m.pid == std::process::id() => Ok(m),
        _ => Err(CKR_CRYPTOKI_NOT_INITIALIZED.into()),
    }
}

/// Runs an entry point's body: catches panics, maps errors to CK_RV, logs.
fn guard(name: &'static str, body: impl FnOnce() -> Result<()>) -> CK_RV {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => CKR_OK,
        Ok(Err(e)) => {
            // Failures that need the user's attention (KMS refused or could
            // not be reached, a bad configuration) were logged where they
            // happened, with their context; here they are only traced.
            log_at!(Debug, "{name}: {e}");
            e.rv
        }
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            log_at!(
                Error,
                "{name}: internal error (panic: {what}); returning {}",
                rv_name(CKR_GENERAL_ERROR)
            );
            CKR_GENERAL_ERROR
        }
    }
}

/// Declares a PKCS#11 entry point whose body goes through `guard`.
macro_rules! entry {
    ($($(#[$attr:meta])* fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $body:block)*) => {
        $(
            $(#[$attr])*
            #[allow(non_snake_case)]
            pub extern "C" fn $name($($arg: $ty),*) -> CK_RV {
                $crate::ffi::guard(stringify!($name), || $body)
            }
        )*
    };
}
pub(crate) use entry;

/// Bytes the caller passed in; NULL is allowed only with length 0.
///
/// # Safety
/// A non-NULL `p` must point to `len` readable bytes for the call's duration.
unsafe fn input<'a>(p: *const CK_BYTE, len: CK_ULONG) -> Result<&'a [u8]> {
    if p.is_null() {
        return if len == 0 {
            Ok(&[])
        } else {
            Err(CKR_ARGUMENTS_BAD.into())
        };
    }
    // SAFETY: the caller guarantees p points to len readable bytes.
    unsafe { caller_slice(p, len) }
}

/// `count` elements of the caller's at `p` (not NULL). A count no buffer can
/// have (over isize::MAX bytes) is CKR_ARGUMENTS_BAD: making a slice of it
/// would be undefined behaviour, and debug builds abort the host on it.
///
/// # Safety
/// `p` must point to `count` readable elements for the call's duration.
unsafe fn caller_slice<'a, T>(p: *const T, count: CK_ULONG) -> Result<&'a [T]> {
    let count = valid_count::<T>(count)?;
    // SAFETY: p is non-NULL and holds count elements (the caller's contract),
    // and count * size_of::<T>() <= isize::MAX (checked above).
    Ok(unsafe { std::slice::from_raw_parts(p, count) })
}

/// `count` as a length of `T`s, if such an array can exist in memory.
fn valid_count<T>(count: CK_ULONG) -> Result<usize> {
    usize::try_from(count)
        .ok()
        .filter(|&n| n <= isize::MAX as usize / std::mem::size_of::<T>().max(1))
        .ok_or_else(|| CKR_ARGUMENTS_BAD.into())
}

/// For the calls that PKCS#11 says end the active operation on any error
/// (C_Sign, C_SignUpdate, C_SignFinal and their C_Verify peers): an
/// argument error found here, before the token layer is reached, ends it
/// too. An invalid session is reported as such.
fn end_operation(m: &Module, session: CK_SESSION_HANDLE, kind: OpKind, e: Error) -> Error {
    match m.cancel_operation(session, kind) {
        Ok(()) => e,
        Err(session_error) => session_error,
    }
}

/// A caller's CK_ULONG or struct, in or out (pulSignatureLen, pulCount,
/// phSession, pInfo, ...). No Rust reference to it is ever made: callers may
/// pass cells that overlap each other or the buffers written in the same
/// call (pulSignatureLen inside pSignature, pulCount inside pSlotList), and
/// a `&mut` alive across such a write would be undefined behaviour. Each
/// access is one unaligned raw read or write (C callers owe us no
/// alignment; unaligned access costs nothing on the targets we build for).
#[derive(Clone, Copy)]
pub(super) struct CallerCell<T>(*mut T);

impl<T: Copy> CallerCell<T> {
    /// A required pointer: NULL is CKR_ARGUMENTS_BAD.
    ///
    /// # Safety
    /// A non-NULL `p` must be valid for reads and writes of `T` (unaligned
    /// allowed) for the rest of the call, however it overlaps other
    /// arguments.
    pub(super) unsafe fn new(p: *mut T) -> Result<Self> {
        if p.is_null() {
            Err(CKR_ARGUMENTS_BAD.into())
        } else {
            Ok(CallerCell(p))
        }
    }

    pub(super) fn get(self) -> T {
        // SAFETY: `new`'s contract: p is valid for reads for the call.
        unsafe { std::ptr::read_unaligned(self.0) }
    }

    pub(super) fn set(self, v: T) {
        // SAFETY: `new`'s contract: p is valid for writes for the call.
        unsafe { std::ptr::write_unaligned(self.0, v) }
    }
}

/// The capacity of an output buffer: `None` for a size query (NULL buffer).
fn capacity(buffer: *mut CK_BYTE, len: CallerCell<CK_ULONG>) -> Option<usize> {
    (!buffer.is_null()).then(|| usize::try_from(len.get()).unwrap_or(usize::MAX))
}

/// Writes a signature (or its length) as PKCS#11's size convention says.
/// The length is written last: if the caller's length cell lies inside its
/// buffer, the length it reads back is the true one (the signature bytes
/// under the cell are lost, which no order avoids).
///
/// # Safety
/// A non-NULL `buffer` must hold at least `len.get()` writable bytes, and
/// that length must be at least the signature's (as `capacity` told the
/// token layer, which answers `TooSmall` otherwise).
unsafe fn write_output(
    output: Output,
    buffer: *mut CK_BYTE,
    len: CallerCell<CK_ULONG>,
) -> Result<()> {
    match output {
        Output::Length(n) => {
            len.set(n as CK_ULONG);
            Ok(())
        }
        Output::TooSmall(n) => {
            len.set(n as CK_ULONG);
            Err(CKR_BUFFER_TOO_SMALL.into())
        }
        Output::Done(bytes) => {
            // SAFETY: `capacity` gave *len (>= bytes.len()) before signing,
            // so buffer holds bytes.len() writable bytes; `bytes` was
            // allocated by us during this call, so it cannot overlap memory
            // the caller owns.
            unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), buffer, bytes.len()) };
            len.set(bytes.len() as CK_ULONG);
            Ok(())
        }
    }
}

/// Fills a caller's array with the PKCS#11 two-call convention. The count
/// is read once, before anything is written, and written last (see
/// `write_output`): a count cell inside the array ends up holding the count.
///
/// # Safety
/// A non-NULL `list` must hold `count.get()` writable elements, and `items`
/// must be the module's own memory (never the caller's).
unsafe fn write_list<T: Copy>(
    items: &[T],
    list: *mut T,
    count: CallerCell<CK_ULONG>,
) -> Result<()> {
    let available = usize::try_from(count.get()).unwrap_or(usize::MAX);
    if !list.is_null() {
        if available < items.len() {
            count.set(items.len() as CK_ULONG);
            return Err(CKR_BUFFER_TOO_SMALL.into());
        }
        // SAFETY: list holds at least items.len() elements (checked above);
        // items are the module's, so the two do not overlap.
        unsafe { copy_to_caller(items, list) };
    }
    count.set(items.len() as CK_ULONG);
    Ok(())
}

/// Copies the module's `items` to the caller's array, byte by byte as far as
/// alignment goes: C callers owe us no alignment, and `copy_nonoverlapping`
/// of `T` would require it.
///
/// # Safety
/// `to` must hold `items.len()` writable elements, and `items` must be the
/// module's own memory (so the two cannot overlap).
unsafe fn copy_to_caller<T: Copy>(items: &[T], to: *mut T) {
    // SAFETY: the caller's contract; size_of_val(items) is the byte length
    // of items.len() elements of T.
    unsafe {
        std::ptr::copy_nonoverlapping(
            items.as_ptr() as *const u8,
            to as *mut u8,
            std::mem::size_of_val(items),
        )
    };
}
