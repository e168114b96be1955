//! What the shared library exports, its PKCS #11 interfaces, and the
//! C_Initialize / C_Finalize life cycle. No emulator: nothing here needs KMS.

mod common;

use common::*;
use std::ptr;

/// Every function name of PKCS #11 2.40, 3.0 and 3.2.
const PKCS11_FUNCTIONS: &[&str] = &[
    "C_Initialize",
    "C_Finalize",
    "C_GetInfo",
    "C_GetFunctionList",
    "C_GetSlotList",
    "C_GetSlotInfo",
    "C_GetTokenInfo",
    "C_GetMechanismList",
    "C_GetMechanismInfo",
    "C_InitToken",
    "C_InitPIN",
    "C_SetPIN",
    "C_OpenSession",
    "C_CloseSession",
    "C_CloseAllSessions",
    "C_GetSessionInfo",
    "C_GetOperationState",
    "C_SetOperationState",
    "C_Login",
    "C_Logout",
    "C_CreateObject",
    "C_CopyObject",
    "C_DestroyObject",
    "C_GetObjectSize",
    "C_GetAttributeValue",
    "C_SetAttributeValue",
    "C_FindObjectsInit",
    "C_FindObjects",
    "C_FindObjectsFinal",
    "C_EncryptInit",
    "C_Encrypt",
    "C_EncryptUpdate",
    "C_EncryptFinal",
    "C_DecryptInit",
    "C_Decrypt",
    "C_DecryptUpdate",
    "C_DecryptFinal",
    "C_DigestInit",
    "C_Digest",
    "C_DigestUpdate",
    "C_DigestKey",
    "C_DigestFinal",
    "C_SignInit",
    "C_Sign",
    "C_SignUpdate",
    "C_SignFinal",
    "C_SignRecoverInit",
    "C_SignRecover",
    "C_VerifyInit",
    "C_Verify",
    "C_VerifyUpdate",
    "C_VerifyFinal",
    "C_VerifyRecoverInit",
    "C_VerifyRecover",
    "C_DigestEncryptUpdate",
    "C_DecryptDigestUpdate",
    "C_SignEncryptUpdate",
    "C_DecryptVerifyUpdate",
    "C_GenerateKey",
    "C_GenerateKeyPair",
    "C_WrapKey",
    "C_UnwrapKey",
    "C_DeriveKey",
    "C_SeedRandom",
    "C_GenerateRandom",
    "C_GetFunctionStatus",
    "C_CancelFunction",
    "C_WaitForSlotEvent",
    // 3.0
    "C_GetInterfaceList",
    "C_GetInterface",
    "C_LoginUser",
    "C_SessionCancel",
    "C_MessageEncryptInit",
    "C_EncryptMessage",
    "C_EncryptMessageBegin",
    "C_EncryptMessageNext",
    "C_MessageEncryptFinal",
    "C_MessageDecryptInit",
    "C_DecryptMessage",
    "C_DecryptMessageBegin",
    "C_DecryptMessageNext",
    "C_MessageDecryptFinal",
    "C_MessageSignInit",
    "C_SignMessage",
    "C_SignMessageBegin",
    "C_SignMessageNext",
    "C_MessageSignFinal",
    "C_MessageVerifyInit",
    "C_VerifyMessage",
    "C_VerifyMessageBegin",
    "C_VerifyMessageNext",
    "C_MessageVerifyFinal",
    // 3.2
    "C_EncapsulateKey",
    "C_DecapsulateKey",
    "C_VerifySignatureInit",
    "C_VerifySignature",
    "C_VerifySignatureUpdate",
    "C_VerifySignatureFinal",
    "C_GetSessionValidationFlags",
    "C_AsyncComplete",
    "C_AsyncGetID",
    "C_AsyncJoin",
    "C_WrapKeyAuthenticated",
    "C_UnwrapKeyAuthenticated",
];

/// `nm -D --defined-only` lists PKCS #11 entry points and nothing else: an
/// exported helper could be bound by another library loaded in the same
/// process (and the module must export its own C_GetInterface so a caller
/// never reaches another module's).
#[test]
fn exports_only_pkcs11_functions() {
    let so = build::module_path();
    let text = command::stdout(
        std::process::Command::new("nm")
            .args(["-D", "--defined-only"])
            .arg(&so),
    );
    let symbols: Vec<(String, String)> = text
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            match f.as_slice() {
                [_, t, name] => Some((t.to_string(), name.to_string())),
                [t, name] => Some((t.to_string(), name.to_string())),
                _ => None,
            }
        })
        .collect();
    assert!(!symbols.is_empty(), "nm listed no symbols:\n{text}");
    let foreign: Vec<&(String, String)> = symbols
        .iter()
        .filter(|(_, n)| !PKCS11_FUNCTIONS.contains(&n.split('@').next().unwrap_or(n)))
        .collect();
    assert!(
        foreign.is_empty(),
        "exported symbols that are not PKCS #11 functions: {foreign:?}"
    );
    for (t, n) in &symbols {
        assert!(
            t == "T" || t == "t" || t == "W",
            "{n} is exported as {t}, not as a function"
        );
    }
    let names: Vec<&str> = symbols.iter().map(|(_, n)| n.as_str()).collect();
    for required in ["C_GetFunctionList", "C_GetInterfaceList", "C_GetInterface"] {
        assert!(
            names.contains(&required),
            "{required} is not exported; exports: {names:?}"
        );
    }
}

/// C_GetInterfaceList / C_GetInterface (callable before C_Initialize): a
/// "PKCS 11" interface, a usable function list, and no claim of fork safety
/// (an async runtime does not survive fork).
#[test]
fn interfaces() {
    let so = build::module_path();
    let lib = unsafe { cryptoki_sys::Pkcs11::new(&so) }.expect("dlopen");
    unsafe {
        let mut n: CK_ULONG = 0;
        let rv = lib.C_GetInterfaceList(ptr::null_mut(), &mut n);
        assert_eq!(rv, CKR_OK, "C_GetInterfaceList(NULL): {}", rv_name(rv));
        assert!(n >= 1, "C_GetInterfaceList counts {n} interfaces");
        if n > 1 {
            let mut small: Vec<CK_INTERFACE> = (0..1)
                .map(|_| CK_INTERFACE {
                    pInterfaceName: ptr::null_mut(),
                    pFunctionList: ptr::null_mut(),
                    flags: 0,
                })
                .collect();
            let mut one: CK_ULONG = 1;
            let rv = lib.C_GetInterfaceList(small.as_mut_ptr(), &mut one);
            assert_eq!(
                rv,
                CKR_BUFFER_TOO_SMALL,
                "C_GetInterfaceList with room for 1 of {n}: {}",
                rv_name(rv)
            );
            assert_eq!(
                one, n,
                "C_GetInterfaceList with a short buffer must give the count"
            );
        }
        let mut list: Vec<CK_INTERFACE> = (0..n)
            .map(|_| CK_INTERFACE {
                pInterfaceName: ptr::null_mut(),
                pFunctionList: ptr::null_mut(),
                flags: 0,
            })
            .collect();
        let rv = lib.C_GetInterfaceList(list.as_mut_ptr(), &mut n);
        assert_eq!(rv, CKR_OK, "C_GetInterfaceList: {}", rv_name(rv));
        let mut names = Vec::new();
        for i in &list[..n as usize] {
            assert!(
                !i.pInterfaceName.is_null() && !i.pFunctionList.is_null(),
                "an interface with NULL name or list"
            );
            let name = std::ffi::CStr::from_ptr(i.pInterfaceName as *const std::os::raw::c_char)
                .to_string_lossy()
                .to_string();
            assert_eq!(
                i.flags & CKF_INTERFACE_FORK_SAFE,
                0,
                "interface {name} claims CKF_INTERFACE_FORK_SAFE"
            );
            let version = *(i.pFunctionList as *const CK_VERSION);
            assert!(
                version.major >= 2,
                "interface {name} has function list version {}.{}",
                version.major,
                version.minor
            );
            names.push(name);
        }
        assert!(
            names.iter().any(|n| n == "PKCS 11"),
            "no \"PKCS 11\" interface: {names:?}"
        );

        let mut iface: *mut CK_INTERFACE = ptr::null_mut();
        let rv = lib.C_GetInterface(ptr::null_mut(), ptr::null_mut(), &mut iface, 0);
        assert_eq!(rv, CKR_OK, "C_GetInterface(NULL, NULL): {}", rv_name(rv));
        assert!(!iface.is_null(), "C_GetInterface gave no interface");
        let default_list = &*((*iface).pFunctionList as *const CK_FUNCTION_LIST);
        assert!(
            default_list.C_Initialize.is_some()
                && default_list.C_Sign.is_some()
                && default_list.C_GetAttributeValue.is_some()
        );

        let mut name = *b"PKCS 11\0";
        let rv = lib.C_GetInterface(name.as_mut_ptr(), ptr::null_mut(), &mut iface, 0);
        assert_eq!(
            rv,
            CKR_OK,
            "C_GetInterface(\"PKCS 11\", NULL): {}",
            rv_name(rv)
        );
        let mut other = *b"Vendor kms11 nonexistent\0";
        let rv = lib.C_GetInterface(other.as_mut_ptr(), ptr::null_mut(), &mut iface, 0);
        assert_ne!(
            rv, CKR_OK,
            "C_GetInterface of an unknown interface name must fail"
        );

        let mut fl: *mut CK_FUNCTION_LIST = ptr::null_mut();
        let rv = lib.C_GetFunctionList(&mut fl);
        assert_eq!(rv, CKR_OK);
        let fl = &*fl;
        // The CK_FUNCTION_LIST layout is the 2.x one; a 3.x version there
        // makes callers read past its end.
        assert_eq!(
            fl.version.major, 2,
            "C_GetFunctionList gives version {}.{}",
            fl.version.major, fl.version.minor
        );
        let rv = lib.C_GetFunctionList(ptr::null_mut());
        assert_eq!(
            rv,
            CKR_ARGUMENTS_BAD,
            "C_GetFunctionList(NULL): {}",
            rv_name(rv)
        );
    }
}

/// Calls before C_Initialize fail with CKR_CRYPTOKI_NOT_INITIALIZED; a second
/// C_Initialize gives CKR_CRYPTOKI_ALREADY_INITIALIZED; C_Finalize ends it and
/// the module can be initialised again. Initialising needs no network: the
/// configured endpoint here is a closed port.
#[test]
fn initialize_and_finalize() {
    set_aws_env("http://127.0.0.1:9");
    std::env::remove_var("KMS11_CONFIG");
    std::env::set_var("KMS11_KEYS", "alias/lifecycle");
    let so = build::module_path();
    let m = Library::load(&so);
    let f = m.list();
    unsafe {
        let mut n: CK_ULONG = 0;
        let rv = f.C_GetSlotList.unwrap()(CK_FALSE, ptr::null_mut(), &mut n);
        assert_eq!(
            rv,
            CKR_CRYPTOKI_NOT_INITIALIZED,
            "C_GetSlotList before C_Initialize: {}",
            rv_name(rv)
        );
        let rv = f.C_Finalize.unwrap()(ptr::null_mut());
        assert_eq!(
            rv,
            CKR_CRYPTOKI_NOT_INITIALIZED,
            "C_Finalize before C_Initialize: {}",
            rv_name(rv)
        );

        for round in 0..2 {
            let t0 = std::time::Instant::now();
            let rv = f.C_Initialize.unwrap()(ptr::null_mut());
            assert_eq!(
                rv,
                CKR_OK,
                "C_Initialize(NULL) round {round}: {}",
                rv_name(rv)
            );
            assert!(
                t0.elapsed().as_secs() < 5,
                "C_Initialize took {:?} (it must not wait for the network)",
                t0.elapsed()
            );
            let rv = f.C_Initialize.unwrap()(ptr::null_mut());
            assert_eq!(
                rv,
                CKR_CRYPTOKI_ALREADY_INITIALIZED,
                "second C_Initialize: {}",
                rv_name(rv)
            );
            let info = ok(m.info(), "C_GetInfo");
            assert!(
                info.cryptokiVersion.major >= 2,
                "cryptokiVersion {}.{}",
                info.cryptokiVersion.major,
                info.cryptokiVersion.minor
            );
            assert_eq!(info.flags, 0, "CK_INFO flags are reserved and must be 0");
            assert!(
                !text(&info.manufacturerID).is_empty(),
                "CK_INFO manufacturerID is empty"
            );
            assert!(
                !text(&info.libraryDescription).is_empty(),
                "CK_INFO libraryDescription is empty"
            );
            let slots = ok(m.slots(false), "C_GetSlotList");
            assert_eq!(slots.len(), 1, "KMS11_KEYS gives one slot: {slots:?}");
            let mut bogus = 1u8;
            let rv = f.C_Finalize.unwrap()(&mut bogus as *mut u8 as *mut std::ffi::c_void);
            assert_eq!(
                rv,
                CKR_ARGUMENTS_BAD,
                "C_Finalize(non-NULL): {}",
                rv_name(rv)
            );
            let rv = f.C_Finalize.unwrap()(ptr::null_mut());
            assert_eq!(rv, CKR_OK, "C_Finalize: {}", rv_name(rv));
            let rv = f.C_GetSlotList.unwrap()(CK_FALSE, ptr::null_mut(), &mut n);
            assert_eq!(
                rv,
                CKR_CRYPTOKI_NOT_INITIALIZED,
                "C_GetSlotList after C_Finalize: {}",
                rv_name(rv)
            );
        }
    }
}

/// The module must not link the host's OpenSSL: loaded by OpenSSL itself
/// (pkcs11-provider), a second copy or a clash of versions breaks the host.
#[test]
fn does_not_link_openssl() {
    let so = build::module_path();
    let out = std::process::Command::new("ldd")
        .arg(&so)
        .output()
        .expect("ldd");
    assert!(out.status.success(), "ldd {}", so.display());
    let deps = String::from_utf8_lossy(&out.stdout);
    assert!(deps.contains("libc.so"), "ldd output without libc: {deps}");
    for lib in ["libssl", "libcrypto"] {
        assert!(!deps.contains(lib), "libkms11.so links {lib}:\n{deps}");
    }
}
