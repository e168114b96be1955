//! C_SignInit, C_Sign, C_SignUpdate, C_SignFinal.

use super::{capacity, end_operation, entry, input, module, write_output, CallerCell};
use crate::mechanism::oaep::OaepParams;
use crate::mechanism::{Param, PssParams};
use crate::token::session::OpKind;
use cryptoki_sys::*;

/// The mechanism and its parameter, copied out of C memory.
///
/// # Safety
/// A non-NULL `mechanism` must point to a CK_MECHANISM whose pParameter
/// holds ulParameterLen readable bytes.
pub(super) unsafe fn read_mechanism(
    mechanism: CK_MECHANISM_PTR,
) -> crate::error::Result<(CK_MECHANISM_TYPE, Param)> {
    if mechanism.is_null() {
        return Err(CKR_ARGUMENTS_BAD.into());
    }
    // SAFETY: a non-NULL mechanism points to a CK_MECHANISM (the caller's
    // contract); copied out with read_unaligned, as C callers owe us no
    // alignment, and no reference to caller memory is kept.
    let m = unsafe { std::ptr::read_unaligned(mechanism as *const CK_MECHANISM) };
    let param = if m.ulParameterLen == 0 {
        // No bytes of parameter is no parameter, whatever pParameter is.
        Param::None
    } else if m.pParameter.is_null() {
        Param::Malformed
    } else if m.mechanism == CKM_EDDSA {
        // CK_EDDSA_PARAMS is as long as CK_RSA_PKCS_PSS_PARAMS: told apart by
        // the mechanism, not the length.
        if m.ulParameterLen as usize != std::mem::size_of::<CK_EDDSA_PARAMS>() {
            return Ok((m.mechanism, Param::Malformed));
        }
        // SAFETY: pParameter holds a CK_EDDSA_PARAMS (its length says so);
        // read_unaligned because C callers owe us no alignment. The context
        // bytes are not read: KMS takes none, so only their count matters.
        let p = unsafe { std::ptr::read_unaligned(m.pParameter as *const CK_EDDSA_PARAMS) };
        Param::EdDsa {
            prehash: p.phFlag != CK_FALSE,
            context_len: p.ulContextDataLen as usize,
        }
    } else if crate::mechanism::row(m.mechanism)
        .is_some_and(|r| r.scheme == crate::mechanism::Scheme::MlDsa)
    {
        // SAFETY: pParameter holds ulParameterLen bytes (the caller's contract).
        unsafe { read_sign_context(&m) }
    } else if m.mechanism == CKM_RSA_PKCS_OAEP {
        if m.ulParameterLen as usize != std::mem::size_of::<CK_RSA_PKCS_OAEP_PARAMS>() {
            return Ok((m.mechanism, Param::Malformed));
        }
        // SAFETY: pParameter holds a CK_RSA_PKCS_OAEP_PARAMS (its length
        // says so); read_unaligned because C callers owe us no alignment.
        // The label is not read: KMS takes none, so only its length matters.
        let p = unsafe { std::ptr::read_unaligned(m.pParameter as *const CK_RSA_PKCS_OAEP_PARAMS) };
        Param::Oaep(OaepParams {
            hash_alg: p.hashAlg,
            mgf: p.mgf,
            source: p.source,
            source_len: p.ulSourceDataLen as usize,
        })
    } else if m.ulParameterLen as usize == std::mem::size_of::<CK_MAC_GENERAL_PARAMS>() {
        // SAFETY: pParameter holds a CK_MAC_GENERAL_PARAMS, a CK_ULONG (its
        // length says so); read_unaligned because C callers owe us no
        // alignment.
        let len = unsafe { std::ptr::read_unaligned(m.pParameter as *const CK_MAC_GENERAL_PARAMS) };
        Param::MacLength(usize::try_from(len).unwrap_or(usize::MAX))
    } else if m.ulParameterLen as usize == std::mem::size_of::<CK_RSA_PKCS_PSS_PARAMS>() {
        // SAFETY: pParameter holds a CK_RSA_PKCS_PSS_PARAMS (its length says so);
        // read_unaligned because C callers owe us no alignment.
        let p = unsafe { std::ptr::read_unaligned(m.pParameter as *const CK_RSA_PKCS_PSS_PARAMS) };
        Param::Pss(PssParams {
            hash_alg: p.hashAlg,
            mgf: p.mgf,
            salt_len: p.sLen,
        })
    } else {
        Param::Malformed
    };
    Ok((m.mechanism, param))
}

/// An ML-DSA mechanism's CK_SIGN_ADDITIONAL_CONTEXT, or CKM_HASH_ML_DSA's
/// CK_HASH_SIGN_ADDITIONAL_CONTEXT (the first is as long as the PSS and
/// EdDSA parameters: told apart by the mechanism), its context copied.
///
/// # Safety
/// `m.pParameter` must be non-NULL and hold `m.ulParameterLen` readable
/// bytes, and the structure's pContext its ulContextLen.
unsafe fn read_sign_context(m: &CK_MECHANISM) -> Param {
    let len = m.ulParameterLen as usize;
    let (hedge, context, context_len, hash) = if m.mechanism == CKM_HASH_ML_DSA {
        if len != std::mem::size_of::<CK_HASH_SIGN_ADDITIONAL_CONTEXT>() {
            return Param::Malformed;
        }
        // SAFETY: pParameter holds a CK_HASH_SIGN_ADDITIONAL_CONTEXT (its
        // length says so); read_unaligned: C callers owe us no alignment.
        let p = unsafe {
            std::ptr::read_unaligned(m.pParameter as *const CK_HASH_SIGN_ADDITIONAL_CONTEXT)
        };
        (p.hedgeVariant, p.pContext, p.ulContextLen, Some(p.hash))
    } else {
        if len != std::mem::size_of::<CK_SIGN_ADDITIONAL_CONTEXT>() {
            return Param::Malformed;
        }
        // SAFETY: pParameter holds a CK_SIGN_ADDITIONAL_CONTEXT (its length
        // says so); read_unaligned: C callers owe us no alignment.
        let p =
            unsafe { std::ptr::read_unaligned(m.pParameter as *const CK_SIGN_ADDITIONAL_CONTEXT) };
        (p.hedgeVariant, p.pContext, p.ulContextLen, None)
    };
    if context_len as usize > crate::mechanism::mldsa::CONTEXT_MAX {
        return Param::Malformed;
    }
    // SAFETY: pContext holds ulContextLen bytes (the caller's contract), at
    // most 255 (checked above), or is NULL with 0.
    let Ok(bytes) = (unsafe { super::input(context, context_len) }) else {
        return Param::Malformed;
    };
    let Some(context) = crate::mechanism::mldsa::Context::new(bytes) else {
        return Param::Malformed;
    };
    match hash {
        Some(hash) => Param::HashSignContext {
            hedge,
            context,
            hash,
        },
        None => Param::SignContext { hedge, context },
    }
}

entry! {
    fn C_SignInit(session: CK_SESSION_HANDLE, mechanism: CK_MECHANISM_PTR, key: CK_OBJECT_HANDLE) {
        let m = module()?;
        if mechanism.is_null() {
            return m.cancel_operation(session, OpKind::Sign);
        }
        // SAFETY: mechanism is the caller's CK_MECHANISM.
        let (mechanism, param) = unsafe { read_mechanism(mechanism) }?;
        m.init_operation(session, OpKind::Sign, mechanism, param, key)
    }

    fn C_Sign(session: CK_SESSION_HANDLE, data: CK_BYTE_PTR, data_len: CK_ULONG, signature: CK_BYTE_PTR, signature_len: CK_ULONG_PTR) {
        let m = module()?;
        // SAFETY: signature_len is the caller's in/out length; data holds data_len bytes.
        let (len, data) = unsafe { CallerCell::new(signature_len).and_then(|len| Ok((len, input(data, data_len)?))) }
            .map_err(|e| end_operation(&m, session, OpKind::Sign, e))?;
        // `data` (caller memory, which may overlap the outputs) is not used
        // after this call, before which nothing is written.
        let output = m.sign(session, data, capacity(signature, len))?;
        // SAFETY: a non-NULL signature holds *len bytes.
        unsafe { write_output(output, signature, len) }
    }

    fn C_SignUpdate(session: CK_SESSION_HANDLE, part: CK_BYTE_PTR, part_len: CK_ULONG) {
        let m = module()?;
        // SAFETY: part holds part_len bytes.
        let part = unsafe { input(part, part_len) }.map_err(|e| end_operation(&m, session, OpKind::Sign, e))?;
        m.sign_update(session, part)
    }

    fn C_SignFinal(session: CK_SESSION_HANDLE, signature: CK_BYTE_PTR, signature_len: CK_ULONG_PTR) {
        let m = module()?;
        // SAFETY: signature_len is the caller's in/out length.
        let len = unsafe { CallerCell::new(signature_len) }.map_err(|e| end_operation(&m, session, OpKind::Sign, e))?;
        let output = m.sign_final(session, capacity(signature, len))?;
        // SAFETY: a non-NULL signature holds *len bytes.
        unsafe { write_output(output, signature, len) }
    }
}
