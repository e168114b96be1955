//! Functions of the list that kms11 does not offer: they exist (a NULL in a
//! function list crashes callers) and refuse as the spec orders the checks:
//! CKR_CRYPTOKI_NOT_INITIALIZED before C_Initialize (and in a forked child),
//! then a bad session handle (or slot ID), then CKR_FUNCTION_NOT_SUPPORTED.
//! Their other arguments are never read.

use super::{guard, module};
use crate::error::Result;
use crate::token::Module;
use cryptoki_sys::*;

/// What a stub checks of its first argument before refusing.
fn session(m: &Module, h: CK_SESSION_HANDLE) -> Result<()> {
    m.check_session(h)
}

fn slot(m: &Module, id: CK_SLOT_ID) -> Result<()> {
    m.slot(id).map(|_| ())
}

/// C_WaitForSlotEvent's flags: nothing to check.
fn nothing(_: &Module, _: CK_FLAGS) -> Result<()> {
    Ok(())
}

macro_rules! unsupported {
    ($rv:expr => $($name:ident($check:ident: $first:ty $(, $ty:ty)*);)*) => {
        $(
            #[allow(non_snake_case)]
            pub(crate) extern "C" fn $name(first: $first $(, _: $ty)*) -> CK_RV {
                guard(stringify!($name), || {
                    let m = module()?;
                    $check(&m, first)?;
                    Err($rv.into())
                })
            }
        )*
    };
}

type S = CK_SESSION_HANDLE;
type O = CK_OBJECT_HANDLE;
type U = CK_ULONG;
type B = *mut CK_BYTE;
type L = *mut CK_ULONG;
type M = *mut CK_MECHANISM;
type A = *mut CK_ATTRIBUTE;
type P = *mut CK_OBJECT_HANDLE;
type V = *mut std::ffi::c_void;

unsupported! { CKR_FUNCTION_NOT_SUPPORTED =>
    C_InitToken(slot: CK_SLOT_ID, B, U, B);
    C_InitPIN(session: S, B, U);
    C_SetPIN(session: S, B, U, B, U);
    C_GetOperationState(session: S, B, L);
    C_SetOperationState(session: S, B, U, O, O);
    C_CopyObject(session: S, O, A, U, P);
    C_EncryptUpdate(session: S, B, U, B, L);
    C_EncryptFinal(session: S, B, L);
    C_DecryptUpdate(session: S, B, U, B, L);
    C_DecryptFinal(session: S, B, L);
    C_DigestInit(session: S, M);
    C_Digest(session: S, B, U, B, L);
    C_DigestUpdate(session: S, B, U);
    C_DigestKey(session: S, O);
    C_DigestFinal(session: S, B, L);
    C_SignRecoverInit(session: S, M, O);
    C_SignRecover(session: S, B, U, B, L);
    C_VerifyRecoverInit(session: S, M, O);
    C_VerifyRecover(session: S, B, U, B, L);
    C_DigestEncryptUpdate(session: S, B, U, B, L);
    C_DecryptDigestUpdate(session: S, B, U, B, L);
    C_SignEncryptUpdate(session: S, B, U, B, L);
    C_DecryptVerifyUpdate(session: S, B, U, B, L);
    C_WrapKey(session: S, M, O, O, B, L);
    C_UnwrapKey(session: S, M, O, B, U, A, U, P);
    C_WaitForSlotEvent(nothing: CK_FLAGS, *mut CK_SLOT_ID, V);
    C_MessageEncryptInit(session: S, M, O);
    C_EncryptMessage(session: S, V, U, B, U, B, U, B, L);
    C_EncryptMessageBegin(session: S, V, U, B, U);
    C_EncryptMessageNext(session: S, V, U, B, U, B, L, CK_FLAGS);
    C_MessageEncryptFinal(session: S);
    C_MessageDecryptInit(session: S, M, O);
    C_DecryptMessage(session: S, V, U, B, U, B, U, B, L);
    C_DecryptMessageBegin(session: S, V, U, B, U);
    C_DecryptMessageNext(session: S, V, U, B, U, B, L, CK_FLAGS);
    C_MessageDecryptFinal(session: S);
    C_MessageSignInit(session: S, M, O);
    C_SignMessage(session: S, V, U, B, U, B, L);
    C_SignMessageBegin(session: S, V, U);
    C_SignMessageNext(session: S, V, U, B, U, B, L);
    C_MessageSignFinal(session: S);
    C_MessageVerifyInit(session: S, M, O);
    C_VerifyMessage(session: S, V, U, B, U, B, U);
    C_VerifyMessageBegin(session: S, V, U);
    C_VerifyMessageNext(session: S, V, U, B, U, B, U);
    C_MessageVerifyFinal(session: S);
}

// Legacy parallel-function calls answer as the spec prescribes.
unsupported! { CKR_FUNCTION_NOT_PARALLEL =>
    C_GetFunctionStatus(session: S);
    C_CancelFunction(session: S);
}
