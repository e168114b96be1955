//! C_DeriveKey (CKM_ECDH1_DERIVE).

use super::object::read_template;
use super::{entry, input, module, CallerCell};
use crate::error::{Error, Result};
use crate::mechanism::ecdh::{EcdhParams, PARAM_DATA_MAX};
use cryptoki_sys::*;

/// Bytes the caller's pointer holds, copied, at most PARAM_DATA_MAX.
///
/// # Safety
/// A non-NULL `p` must point to `len` readable bytes.
unsafe fn bounded(p: *const CK_BYTE, len: CK_ULONG, what: &str) -> Result<Vec<u8>> {
    if len as usize > PARAM_DATA_MAX {
        return Err(Error::new(
            CKR_MECHANISM_PARAM_INVALID,
            format!("{what} is longer than {PARAM_DATA_MAX} bytes"),
        ));
    }
    // SAFETY: p holds len bytes (the caller's contract), or is NULL with 0.
    let bytes = unsafe { input(p, len) }.map_err(|_| {
        Error::new(
            CKR_MECHANISM_PARAM_INVALID,
            format!("{what}: NULL with a length"),
        )
    })?;
    Ok(bytes.to_vec())
}

/// The mechanism and its CK_ECDH1_DERIVE_PARAMS (`None` if it has a
/// parameter of another size, or none), copied out of C memory.
///
/// # Safety
/// A non-NULL `mechanism` must point to a CK_MECHANISM whose pParameter
/// holds ulParameterLen readable bytes, and a CK_ECDH1_DERIVE_PARAMS'
/// pointers their lengths.
unsafe fn read_ecdh(
    mechanism: CK_MECHANISM_PTR,
) -> Result<(CK_MECHANISM_TYPE, Option<EcdhParams>)> {
    if mechanism.is_null() {
        return Err(CKR_ARGUMENTS_BAD.into());
    }
    // SAFETY: a non-NULL mechanism points to a CK_MECHANISM; copied out
    // unaligned, no reference to caller memory kept.
    let m = unsafe { std::ptr::read_unaligned(mechanism as *const CK_MECHANISM) };
    if m.pParameter.is_null()
        || m.ulParameterLen as usize != std::mem::size_of::<CK_ECDH1_DERIVE_PARAMS>()
    {
        return Ok((m.mechanism, None));
    }
    // SAFETY: pParameter holds a CK_ECDH1_DERIVE_PARAMS (its length says so).
    let p = unsafe { std::ptr::read_unaligned(m.pParameter as *const CK_ECDH1_DERIVE_PARAMS) };
    // SAFETY: each pointer holds its length's bytes (the caller's contract).
    let shared_data = unsafe { bounded(p.pSharedData, p.ulSharedDataLen, "the shared data") }?;
    // SAFETY: as above.
    let public_data =
        unsafe { bounded(p.pPublicData, p.ulPublicDataLen, "the peer's public key") }?;
    Ok((
        m.mechanism,
        Some(EcdhParams {
            kdf: p.kdf,
            shared_data,
            public_data,
        }),
    ))
}

entry! {
    fn C_DeriveKey(session: CK_SESSION_HANDLE, mechanism: CK_MECHANISM_PTR, base: CK_OBJECT_HANDLE, template: CK_ATTRIBUTE_PTR, count: CK_ULONG, key: CK_OBJECT_HANDLE_PTR) {
        let m = module()?;
        m.check_session(session)?;
        // SAFETY: key is the caller's out-parameter.
        let out = unsafe { CallerCell::new(key) }?;
        // SAFETY: mechanism is the caller's CK_MECHANISM.
        let (ckm, params) = unsafe { read_ecdh(mechanism) }?;
        // SAFETY: template holds count attributes (the caller's contract).
        let template = unsafe { read_template(template, count) }?;
        out.set(m.derive_key(session, ckm, params, base, &template)?);
        Ok(())
    }
}
