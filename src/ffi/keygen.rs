//! C_GenerateKeyPair and C_GenerateKey: KMS CreateKey (src/token/keygen).

use super::object::read_template;
use super::{entry, module, CallerCell};
use crate::error::{Error, Result};
use cryptoki_sys::*;

/// The mechanism of a key generation, which takes no parameter.
///
/// # Safety
/// A non-NULL `mechanism` must point to a CK_MECHANISM.
unsafe fn read_mechanism(mechanism: CK_MECHANISM_PTR) -> Result<CK_MECHANISM_TYPE> {
    if mechanism.is_null() {
        return Err(CKR_ARGUMENTS_BAD.into());
    }
    // SAFETY: a non-NULL mechanism points to a CK_MECHANISM; copied out
    // unaligned, no reference to caller memory kept.
    let m = unsafe { std::ptr::read_unaligned(mechanism as *const CK_MECHANISM) };
    if !m.pParameter.is_null() || m.ulParameterLen != 0 {
        return Err(Error::new(
            CKR_MECHANISM_PARAM_INVALID,
            "key generation mechanisms take no parameter",
        ));
    }
    Ok(m.mechanism)
}

entry! {
    fn C_GenerateKeyPair(session: CK_SESSION_HANDLE, mechanism: CK_MECHANISM_PTR, public_template: CK_ATTRIBUTE_PTR, public_count: CK_ULONG, private_template: CK_ATTRIBUTE_PTR, private_count: CK_ULONG, public_key: CK_OBJECT_HANDLE_PTR, private_key: CK_OBJECT_HANDLE_PTR) {
        let m = module()?;
        m.check_session(session)?;
        // SAFETY: public_key and private_key are the caller's out-parameters.
        let (public_out, private_out) = unsafe { (CallerCell::new(public_key)?, CallerCell::new(private_key)?) };
        // SAFETY: mechanism is the caller's CK_MECHANISM.
        let ckm = unsafe { read_mechanism(mechanism) }?;
        // SAFETY: each template holds its count of attributes (the caller's contract).
        let public = unsafe { read_template(public_template, public_count) }?;
        // SAFETY: as above.
        let private = unsafe { read_template(private_template, private_count) }?;
        let (public, private) = m.generate_key_pair(session, ckm, &public, &private)?;
        public_out.set(public);
        private_out.set(private);
        Ok(())
    }

    fn C_GenerateKey(session: CK_SESSION_HANDLE, mechanism: CK_MECHANISM_PTR, template: CK_ATTRIBUTE_PTR, count: CK_ULONG, key: CK_OBJECT_HANDLE_PTR) {
        let m = module()?;
        m.check_session(session)?;
        // SAFETY: key is the caller's out-parameter.
        let out = unsafe { CallerCell::new(key) }?;
        // SAFETY: mechanism is the caller's CK_MECHANISM.
        let ckm = unsafe { read_mechanism(mechanism) }?;
        // SAFETY: template holds count attributes (the caller's contract).
        let template = unsafe { read_template(template, count) }?;
        out.set(m.generate_key(session, ckm, &template)?);
        Ok(())
    }
}
