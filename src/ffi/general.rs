//! C_Initialize, C_Finalize, C_GetInfo.

use super::cstring::{read_c_string, PATH_MAX};
use super::{entry, module, CallerCell, STATE};
use crate::config::Config;
use crate::error::Error;
use crate::log_at;
use crate::token::{pad, Module};
use cryptoki_sys::*;
use std::sync::Arc;

entry! {
    fn C_Initialize(init_args: CK_VOID_PTR) {
        // A setuid/setgid/capability host takes no orders from its caller's
        // environment (docs/security.md).
        refuse_caller_environment()?;
        // SAFETY: init_args is C_Initialize's argument: NULL or a
        // CK_C_INITIALIZE_ARGS (the caller's contract).
        let explicit_config = unsafe { read_init_args(init_args) }?;
        let current = STATE.load_full();
        if current.as_ref().is_some_and(|m| m.pid == std::process::id()) {
            return Err(CKR_CRYPTOKI_ALREADY_INITIALIZED.into());
        }
        let config = Config::load(explicit_config.as_deref()).map_err(|e| {
            log_at!(Error, "{e}");
            Error::new(CKR_GENERAL_ERROR, "bad configuration")
        })?;
        crate::log::configure(config.log.level.as_deref(), config.log.file.as_deref());
        // Info, not a warning: installed through p11-kit, the module is
        // loaded by every GnuTLS program, most of which never use it.
        if config.tokens.is_empty() {
            log_at!(Info, "no tokens configured ({}): set KMS11_CONFIG to a configuration file or KMS11_KEYS to a list of keys", config.source);
        }
        let fresh = Some(Arc::new(Module::new(config)?));
        let previous = STATE.compare_and_swap(&current, fresh);
        if !same(&previous, &current) {
            // Another thread initialised first; ours is dropped.
            return Err(CKR_CRYPTOKI_ALREADY_INITIALIZED.into());
        }
        if let Some(parent) = current {
            // The state of the process we were forked from: its runtime and
            // locks belong to threads that do not exist here. Never drop it.
            std::mem::forget(parent);
        }
        Ok(())
    }

    fn C_Finalize(reserved: CK_VOID_PTR) {
        if !reserved.is_null() {
            // Not initialised comes first, as for every function.
            module()?;
            return Err(CKR_ARGUMENTS_BAD.into());
        }
        match STATE.swap(None) {
            None => Err(CKR_CRYPTOKI_NOT_INITIALIZED.into()),
            Some(m) if m.pid != std::process::id() => {
                std::mem::forget(m);
                Err(CKR_CRYPTOKI_NOT_INITIALIZED.into())
            }
            Some(m) => {
                drop(m);
                Ok(())
            }
        }
    }

    fn C_GetInfo(info: CK_INFO_PTR) {
        module()?;
        // SAFETY: info is the caller's CK_INFO out-parameter.
        let info = unsafe { CallerCell::new(info) }?;
        let (major, minor) = crate::version();
        info.set(CK_INFO {
            cryptokiVersion: CK_VERSION { major: 3, minor: 0 },
            manufacturerID: pad("kms11"),
            flags: 0,
            libraryDescription: pad("kms11: keys in AWS KMS"),
            libraryVersion: CK_VERSION { major, minor },
        });
        Ok(())
    }
}

fn same<T>(a: &Option<Arc<T>>, b: &Option<Arc<T>>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => Arc::ptr_eq(a, b),
        _ => false,
    }
}

/// A setuid/setgid/capability host takes no orders from its caller's
/// environment (docs/security.md). Also reads KMS11_LOG, which applies
/// from here on (the configuration may add a file).
fn refuse_caller_environment() -> Result<(), Error> {
    let secure = super::secure_execution();
    crate::config::set_environment_ignored(secure);
    crate::log::level_from_env();
    if !secure {
        return Ok(());
    }
    // The AWS SDK reads this one itself, with no way to turn it off: a
    // partition file of the caller's would choose the DNS suffix of every
    // KMS endpoint. Refused rather than ignored.
    if let Some(var) = crate::config::SDK_OWN_ENVIRONMENT
        .iter()
        .find(|v| std::env::var_os(v).is_some())
    {
        log_at!(Error, "secure-execution process (setuid, setgid or capabilities) with {var} set: the AWS SDK would let the caller choose KMS endpoints through it; unset it");
        return Err(Error::new(
            CKR_GENERAL_ERROR,
            "caller's environment in a privileged host",
        ));
    }
    log_at!(Warn, "secure-execution process (setuid, setgid or capabilities): environment variables are ignored; the configuration comes only from C_Initialize's pReserved or {}, owned by root", crate::config::SYSTEM_CONFIG);
    Ok(())
}

/// C_Initialize's arguments checked, and the configuration path that
/// pReserved may carry.
///
/// # Safety
/// `init_args` is NULL or points to a readable CK_C_INITIALIZE_ARGS.
unsafe fn read_init_args(init_args: CK_VOID_PTR) -> Result<Option<std::path::PathBuf>, Error> {
    if init_args.is_null() {
        return Ok(None);
    }
    // SAFETY: a non-NULL argument is a CK_C_INITIALIZE_ARGS (PKCS#11 §5.4),
    // copied out (unaligned: C callers owe us no alignment).
    let args = unsafe { std::ptr::read_unaligned(init_args as *const CK_C_INITIALIZE_ARGS) };
    let given = [
        args.CreateMutex.is_some(),
        args.DestroyMutex.is_some(),
        args.LockMutex.is_some(),
        args.UnlockMutex.is_some(),
    ];
    if given.iter().any(|g| *g) && !given.iter().all(|g| *g) {
        return Err(CKR_ARGUMENTS_BAD.into());
    }
    log_at!(
        Debug,
        "C_Initialize: flags {:#x}, mutex functions {given:?}, pReserved {}",
        args.flags,
        !args.pReserved.is_null()
    );
    // CKF_LIBRARY_CANT_CREATE_OS_THREADS is accepted, not refused with
    // CKR_NEED_TO_CREATE_THREADS: GnuTLS always sets it, and kms11 cannot
    // reach KMS without threads of its own. They are started at the first
    // KMS call, never here.
    if given[0] && args.flags & CKF_OS_LOCKING_OK == 0 {
        return Err(Error::new(
            CKR_CANT_LOCK,
            "kms11 uses the OS's locks, not the application's",
        ));
    }
    if args.pReserved.is_null() {
        return Ok(None);
    }
    // As libkmsp11 and kryoptic do, pReserved may carry the path of the
    // configuration file. PKCS#11 says it must be NULL, so hosts and
    // conformance suites put anything there: what is not a readable path
    // (checked without touching it) is CKR_ARGUMENTS_BAD, never a fault.
    let path = read_c_string(args.pReserved, PATH_MAX).ok_or_else(|| {
        Error::new(
            CKR_ARGUMENTS_BAD,
            "pReserved is neither NULL nor a readable NUL-terminated path",
        )
    })?;
    // A path is bytes, not necessarily UTF-8.
    let path: std::ffi::OsString = std::os::unix::ffi::OsStringExt::from_vec(path);
    Ok(Some(std::path::PathBuf::from(path)))
}
