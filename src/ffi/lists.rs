//! The function lists (3.0 and 2.40), the interfaces, and the three
//! exported symbols through which a host finds them. Nothing else is
//! exported: hosts reach every other function through these lists.

use super::cipher::*;
use super::derive::*;
use super::general::*;
use super::keygen::*;
use super::object::*;
use super::random::*;
use super::session::*;
use super::sign::*;
use super::slot::*;
use super::unsupported::*;
use super::verify::*;
use super::{entry, write_list, CallerCell};
use cryptoki_sys::*;
use std::ffi::c_void;

macro_rules! function_list {
    ($ty:ident, $major:expr, $minor:expr $(, $extra:ident)*) => {
        $ty {
            version: CK_VERSION { major: $major, minor: $minor },
            C_Initialize: Some(C_Initialize),
            C_Finalize: Some(C_Finalize),
            C_GetInfo: Some(C_GetInfo),
            C_GetFunctionList: Some(C_GetFunctionList),
            C_GetSlotList: Some(C_GetSlotList),
            C_GetSlotInfo: Some(C_GetSlotInfo),
            C_GetTokenInfo: Some(C_GetTokenInfo),
            C_GetMechanismList: Some(C_GetMechanismList),
            C_GetMechanismInfo: Some(C_GetMechanismInfo),
            C_InitToken: Some(C_InitToken),
            C_InitPIN: Some(C_InitPIN),
            C_SetPIN: Some(C_SetPIN),
            C_OpenSession: Some(C_OpenSession),
            C_CloseSession: Some(C_CloseSession),
            C_CloseAllSessions: Some(C_CloseAllSessions),
            C_GetSessionInfo: Some(C_GetSessionInfo),
            C_GetOperationState: Some(C_GetOperationState),
            C_SetOperationState: Some(C_SetOperationState),
            C_Login: Some(C_Login),
            C_Logout: Some(C_Logout),
            C_CreateObject: Some(C_CreateObject),
            C_CopyObject: Some(C_CopyObject),
            C_DestroyObject: Some(C_DestroyObject),
            C_GetObjectSize: Some(C_GetObjectSize),
            C_GetAttributeValue: Some(C_GetAttributeValue),
            C_SetAttributeValue: Some(C_SetAttributeValue),
            C_FindObjectsInit: Some(C_FindObjectsInit),
            C_FindObjects: Some(C_FindObjects),
            C_FindObjectsFinal: Some(C_FindObjectsFinal),
            C_EncryptInit: Some(C_EncryptInit),
            C_Encrypt: Some(C_Encrypt),
            C_EncryptUpdate: Some(C_EncryptUpdate),
            C_EncryptFinal: Some(C_EncryptFinal),
            C_DecryptInit: Some(C_DecryptInit),
            C_Decrypt: Some(C_Decrypt),
            C_DecryptUpdate: Some(C_DecryptUpdate),
            C_DecryptFinal: Some(C_DecryptFinal),
            C_DigestInit: Some(C_DigestInit),
            C_Digest: Some(C_Digest),
            C_DigestUpdate: Some(C_DigestUpdate),
            C_DigestKey: Some(C_DigestKey),
            C_DigestFinal: Some(C_DigestFinal),
            C_SignInit: Some(C_SignInit),
            C_Sign: Some(C_Sign),
            C_SignUpdate: Some(C_SignUpdate),
            C_SignFinal: Some(C_SignFinal),
            C_SignRecoverInit: Some(C_SignRecoverInit),
            C_SignRecover: Some(C_SignRecover),
            C_VerifyInit: Some(C_VerifyInit),
            C_Verify: Some(C_Verify),
            C_VerifyUpdate: Some(C_VerifyUpdate),
            C_VerifyFinal: Some(C_VerifyFinal),
            C_VerifyRecoverInit: Some(C_VerifyRecoverInit),
            C_VerifyRecover: Some(C_VerifyRecover),
            C_DigestEncryptUpdate: Some(C_DigestEncryptUpdate),
            C_DecryptDigestUpdate: Some(C_DecryptDigestUpdate),
            C_SignEncryptUpdate: Some(C_SignEncryptUpdate),
            C_DecryptVerifyUpdate: Some(C_DecryptVerifyUpdate),
            C_GenerateKey: Some(C_GenerateKey),
            C_GenerateKeyPair: Some(C_GenerateKeyPair),
            C_WrapKey: Some(C_WrapKey),
            C_UnwrapKey: Some(C_UnwrapKey),
            C_DeriveKey: Some(C_DeriveKey),
            C_SeedRandom: Some(C_SeedRandom),
            C_GenerateRandom: Some(C_GenerateRandom),
            C_GetFunctionStatus: Some(C_GetFunctionStatus),
            C_CancelFunction: Some(C_CancelFunction),
            C_WaitForSlotEvent: Some(C_WaitForSlotEvent),
            $($extra: Some($extra),)*
        }
    };
}

static FUNCTION_LIST: CK_FUNCTION_LIST = function_list!(CK_FUNCTION_LIST, 2, 40);

static FUNCTION_LIST_3_0: CK_FUNCTION_LIST_3_0 = function_list!(
    CK_FUNCTION_LIST_3_0,
    3,
    0,
    C_GetInterfaceList,
    C_GetInterface,
    C_LoginUser,
    C_SessionCancel,
    C_MessageEncryptInit,
    C_EncryptMessage,
    C_EncryptMessageBegin,
    C_EncryptMessageNext,
    C_MessageEncryptFinal,
    C_MessageDecryptInit,
    C_DecryptMessage,
    C_DecryptMessageBegin,
    C_DecryptMessageNext,
    C_MessageDecryptFinal,
    C_MessageSignInit,
    C_SignMessage,
    C_SignMessageBegin,
    C_SignMessageNext,
    C_MessageSignFinal,
    C_MessageVerifyInit,
    C_VerifyMessage,
    C_VerifyMessageBegin,
    C_VerifyMessageNext,
    C_MessageVerifyFinal
);

static INTERFACE_NAME: &[u8] = b"PKCS 11\0";

struct Interfaces([CK_INTERFACE; 2]);

// SAFETY: the pointers in the interfaces refer to immutable statics that
// live as long as the library; nobody writes through them.
unsafe impl Sync for Interfaces {}

static INTERFACES: Interfaces = Interfaces([
    CK_INTERFACE {
        pInterfaceName: INTERFACE_NAME.as_ptr() as *mut CK_UTF8CHAR,
        pFunctionList: &FUNCTION_LIST_3_0 as *const CK_FUNCTION_LIST_3_0 as *mut c_void,
        flags: 0,
    },
    CK_INTERFACE {
        pInterfaceName: INTERFACE_NAME.as_ptr() as *mut CK_UTF8CHAR,
        pFunctionList: &FUNCTION_LIST as *const CK_FUNCTION_LIST as *mut c_void,
        flags: 0,
    },
]);

fn version_of(i: &CK_INTERFACE) -> CK_VERSION {
    // SAFETY: every pFunctionList of INTERFACES starts with a CK_VERSION.
    unsafe { *(i.pFunctionList as *const CK_VERSION) }
}

// Only these three are exported (`#[no_mangle]`): hosts reach every other
// function through the lists, and exporting the rest would let another
// module's C_* names interpose ours when both are loaded RTLD_GLOBAL.
entry! {
    #[no_mangle]
    fn C_GetFunctionList(list: CK_FUNCTION_LIST_PTR_PTR) {
        // SAFETY: list is the caller's out-parameter.
        let list = unsafe { CallerCell::new(list) }?;
        list.set(&FUNCTION_LIST as *const CK_FUNCTION_LIST as *mut CK_FUNCTION_LIST);
        Ok(())
    }

    #[no_mangle]
    fn C_GetInterfaceList(list: CK_INTERFACE_PTR, count: CK_ULONG_PTR) {
        // SAFETY: count is the caller's in/out length.
        let count = unsafe { CallerCell::new(count) }?;
        // SAFETY: a non-NULL list holds *count interfaces.
        unsafe { write_list(&INTERFACES.0, list, count) }
    }

    #[no_mangle]
    fn C_GetInterface(name: CK_UTF8CHAR_PTR, version: CK_VERSION_PTR, interface: CK_INTERFACE_PTR_PTR, flags: CK_FLAGS) {
        // SAFETY: interface is the caller's out-parameter.
        let interface = unsafe { CallerCell::new(interface) }?;
        let wanted_name = if name.is_null() {
            None
        } else {
            // SAFETY: a non-NULL name is a NUL-terminated string.
            Some(unsafe { std::ffi::CStr::from_ptr(name as *const std::ffi::c_char) }.to_bytes().to_vec())
        };
        // SAFETY: a non-NULL version points to a CK_VERSION.
        let wanted_version = (!version.is_null()).then(|| unsafe { std::ptr::read_unaligned(version) });
        let found = INTERFACES.0.iter().find(|i| {
            let v = version_of(i);
            wanted_name.as_deref().is_none_or(|n| n == b"PKCS 11")
                && wanted_version.is_none_or(|w| w.major == v.major && w.minor == v.minor)
                && i.flags & flags == flags
        });
        let found = found.ok_or(CKR_ARGUMENTS_BAD)?;
        interface.set(found as *const CK_INTERFACE as *mut CK_INTERFACE);
        Ok(())
    }
}
