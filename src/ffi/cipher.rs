//! C_EncryptInit, C_Encrypt, C_DecryptInit, C_Decrypt (RSA-OAEP; the
//! multi-part forms are stubs: RSA encryption is single-part).

use super::sign::read_mechanism;
use super::{capacity, entry, input, module, write_output, CallerCell};
use crate::error::Error;
use crate::token::cipher::CipherKind;
use crate::token::Module;
use cryptoki_sys::*;

/// An argument error found here ends the operation, as in the token layer.
fn end(m: &Module, session: CK_SESSION_HANDLE, kind: CipherKind, e: Error) -> Error {
    match m.cipher_cancel(session, kind) {
        Ok(()) => e,
        Err(session_error) => session_error,
    }
}

entry! {
    fn C_EncryptInit(session: CK_SESSION_HANDLE, mechanism: CK_MECHANISM_PTR, key: CK_OBJECT_HANDLE) {
        let m = module()?;
        if mechanism.is_null() {
            return m.cipher_cancel(session, CipherKind::Encrypt);
        }
        // SAFETY: mechanism is the caller's CK_MECHANISM.
        let (mechanism, param) = unsafe { read_mechanism(mechanism) }?;
        m.cipher_init(session, CipherKind::Encrypt, mechanism, param, key)
    }

    fn C_Encrypt(session: CK_SESSION_HANDLE, data: CK_BYTE_PTR, data_len: CK_ULONG, out: CK_BYTE_PTR, out_len: CK_ULONG_PTR) {
        let m = module()?;
        // SAFETY: out_len is the caller's in/out length; data holds data_len bytes.
        let (len, data) = unsafe { CallerCell::new(out_len).and_then(|len| Ok((len, input(data, data_len)?))) }
            .map_err(|e| end(&m, session, CipherKind::Encrypt, e))?;
        let output = m.encrypt(session, data, capacity(out, len))?;
        // SAFETY: a non-NULL out holds *len bytes.
        unsafe { write_output(output, out, len) }
    }

    fn C_DecryptInit(session: CK_SESSION_HANDLE, mechanism: CK_MECHANISM_PTR, key: CK_OBJECT_HANDLE) {
        let m = module()?;
        if mechanism.is_null() {
            return m.cipher_cancel(session, CipherKind::Decrypt);
        }
        // SAFETY: mechanism is the caller's CK_MECHANISM.
        let (mechanism, param) = unsafe { read_mechanism(mechanism) }?;
        m.cipher_init(session, CipherKind::Decrypt, mechanism, param, key)
    }

    fn C_Decrypt(session: CK_SESSION_HANDLE, data: CK_BYTE_PTR, data_len: CK_ULONG, out: CK_BYTE_PTR, out_len: CK_ULONG_PTR) {
        let m = module()?;
        // SAFETY: out_len is the caller's in/out length; data holds data_len bytes.
        let (len, data) = unsafe { CallerCell::new(out_len).and_then(|len| Ok((len, input(data, data_len)?))) }
            .map_err(|e| end(&m, session, CipherKind::Decrypt, e))?;
        // `data` (caller memory, which may overlap the output) is not used
        // after this call, before which nothing is written.
        let output = m.decrypt(session, data, capacity(out, len))?;
        // SAFETY: a non-NULL out holds *len bytes.
        unsafe { write_output(output, out, len) }
    }
}
