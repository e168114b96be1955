//! Functions of the list that kms11 does not offer: they exist (a NULL in a
//! function list crashes callers) and say CKR_FUNCTION_NOT_SUPPORTED.

use cryptoki_sys::*;

macro_rules! unsupported {
    ($rv:expr => $($name:ident($($ty:ty),*);)*) => {
        $(
            #[allow(non_snake_case)]
            pub(crate) extern "C" fn $name($(_: $ty),*) -> CK_RV {
                $rv
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
    C_InitToken(CK_SLOT_ID, B, U, B);
    C_InitPIN(S, B, U);
    C_SetPIN(S, B, U, B, U);
    C_GetOperationState(S, B, L);
    C_SetOperationState(S, B, U, O, O);
    C_CreateObject(S, A, U, P);
    C_CopyObject(S, O, A, U, P);
    C_EncryptInit(S, M, O);
    C_Encrypt(S, B, U, B, L);
    C_EncryptUpdate(S, B, U, B, L);
    C_EncryptFinal(S, B, L);
    C_DecryptInit(S, M, O);
    C_Decrypt(S, B, U, B, L);
    C_DecryptUpdate(S, B, U, B, L);
    C_DecryptFinal(S, B, L);
    C_DigestInit(S, M);
    C_Digest(S, B, U, B, L);
    C_DigestUpdate(S, B, U);
    C_DigestKey(S, O);
    C_DigestFinal(S, B, L);
    C_SignRecoverInit(S, M, O);
    C_SignRecover(S, B, U, B, L);
    C_VerifyRecoverInit(S, M, O);
    C_VerifyRecover(S, B, U, B, L);
    C_DigestEncryptUpdate(S, B, U, B, L);
    C_DecryptDigestUpdate(S, B, U, B, L);
    C_SignEncryptUpdate(S, B, U, B, L);
    C_DecryptVerifyUpdate(S, B, U, B, L);
    C_GenerateKey(S, M, A, U, P);
    C_GenerateKeyPair(S, M, A, U, A, U, P, P);
    C_WrapKey(S, M, O, O, B, L);
    C_UnwrapKey(S, M, O, B, U, A, U, P);
    C_DeriveKey(S, M, O, A, U, P);
    C_SeedRandom(S, B, U);
    C_GenerateRandom(S, B, U);
    C_WaitForSlotEvent(CK_FLAGS, *mut CK_SLOT_ID, V);
    C_MessageEncryptInit(S, M, O);
    C_EncryptMessage(S, V, U, B, U, B, U, B, L);
    C_EncryptMessageBegin(S, V, U, B, U);
    C_EncryptMessageNext(S, V, U, B, U, B, L, CK_FLAGS);
    C_MessageEncryptFinal(S);
    C_MessageDecryptInit(S, M, O);
    C_DecryptMessage(S, V, U, B, U, B, U, B, L);
    C_DecryptMessageBegin(S, V, U, B, U);
    C_DecryptMessageNext(S, V, U, B, U, B, L, CK_FLAGS);
    C_MessageDecryptFinal(S);
    C_MessageSignInit(S, M, O);
    C_SignMessage(S, V, U, B, U, B, L);
    C_SignMessageBegin(S, V, U);
    C_SignMessageNext(S, V, U, B, U, B, L);
    C_MessageSignFinal(S);
    C_MessageVerifyInit(S, M, O);
    C_VerifyMessage(S, V, U, B, U, B, U);
    C_VerifyMessageBegin(S, V, U);
    C_VerifyMessageNext(S, V, U, B, U, B, U);
    C_MessageVerifyFinal(S);
}

// Legacy parallel-function calls answer as the spec prescribes.
unsupported! { CKR_FUNCTION_NOT_PARALLEL =>
    C_GetFunctionStatus(S);
    C_CancelFunction(S);
}
