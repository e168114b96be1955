//! C_VerifyInit, C_Verify, C_VerifyUpdate, C_VerifyFinal: done locally.

use super::sign::read_mechanism;
use super::{end_operation, entry, input, module};
use crate::token::session::OpKind;
use cryptoki_sys::*;

entry! {
    fn C_VerifyInit(session: CK_SESSION_HANDLE, mechanism: CK_MECHANISM_PTR, key: CK_OBJECT_HANDLE) {
        let m = module()?;
        if mechanism.is_null() {
            return m.cancel_operation(session, OpKind::Verify);
        }
        // SAFETY: mechanism is the caller's CK_MECHANISM.
        let (mechanism, param) = unsafe { read_mechanism(mechanism) }?;
        m.init_operation(session, OpKind::Verify, mechanism, param, key)
    }

    fn C_Verify(session: CK_SESSION_HANDLE, data: CK_BYTE_PTR, data_len: CK_ULONG, signature: CK_BYTE_PTR, signature_len: CK_ULONG) {
        let m = module()?;
        // SAFETY: data holds data_len bytes and signature signature_len bytes.
        let (data, signature) = unsafe { input(data, data_len).and_then(|d| Ok((d, input(signature, signature_len)?))) }
            .map_err(|e| end_operation(&m, session, OpKind::Verify, e))?;
        m.verify(session, data, signature)
    }

    fn C_VerifyUpdate(session: CK_SESSION_HANDLE, part: CK_BYTE_PTR, part_len: CK_ULONG) {
        let m = module()?;
        // SAFETY: part holds part_len bytes.
        let part = unsafe { input(part, part_len) }.map_err(|e| end_operation(&m, session, OpKind::Verify, e))?;
        m.verify_update(session, part)
    }

    fn C_VerifyFinal(session: CK_SESSION_HANDLE, signature: CK_BYTE_PTR, signature_len: CK_ULONG) {
        let m = module()?;
        // SAFETY: signature holds signature_len bytes.
        let signature = unsafe { input(signature, signature_len) }.map_err(|e| end_operation(&m, session, OpKind::Verify, e))?;
        m.verify_final(session, signature)
    }
}
