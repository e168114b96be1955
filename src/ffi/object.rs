//! Object search and attributes.

use super::{entry, input, module, out};
use crate::error::{Error, Result};
use crate::token::object::AttributeValue;
use cryptoki_sys::*;

/// The caller's template as (type, value) pairs.
///
/// # Safety
/// A non-NULL `template` must hold `count` attributes whose pValue point to
/// ulValueLen readable bytes.
unsafe fn read_template(
    template: CK_ATTRIBUTE_PTR,
    count: CK_ULONG,
) -> Result<Vec<(CK_ATTRIBUTE_TYPE, Vec<u8>)>> {
    if template.is_null() {
        return if count == 0 {
            Ok(Vec::new())
        } else {
            Err(CKR_ARGUMENTS_BAD.into())
        };
    }
    // SAFETY: template holds count attributes (the caller's contract).
    let attrs = unsafe { std::slice::from_raw_parts(template, count as usize) };
    attrs
        .iter()
        .map(|a| {
            // SAFETY: pValue points to ulValueLen bytes, or is NULL with 0.
            let value = unsafe { input(a.pValue as *const CK_BYTE, a.ulValueLen) }?;
            Ok((a.type_, value.to_vec()))
        })
        .collect()
}

entry! {
    fn C_FindObjectsInit(session: CK_SESSION_HANDLE, template: CK_ATTRIBUTE_PTR, count: CK_ULONG) {
        let m = module()?;
        // SAFETY: template and count are the caller's template.
        let template = unsafe { read_template(template, count) }?;
        m.find_init(session, &template)
    }

    fn C_FindObjects(session: CK_SESSION_HANDLE, objects: CK_OBJECT_HANDLE_PTR, max: CK_ULONG, found: CK_ULONG_PTR) {
        let m = module()?;
        // SAFETY: found is the caller's out-parameter.
        let found = unsafe { out(found) }?;
        if objects.is_null() && max > 0 {
            return Err(CKR_ARGUMENTS_BAD.into());
        }
        let handles = m.find(session, max as usize)?;
        // SAFETY: objects holds max handles and handles.len() <= max.
        unsafe { std::ptr::copy_nonoverlapping(handles.as_ptr(), objects, handles.len()) };
        *found = handles.len() as CK_ULONG;
        Ok(())
    }

    fn C_FindObjectsFinal(session: CK_SESSION_HANDLE) {
        module()?.find_final(session)
    }

    fn C_GetAttributeValue(session: CK_SESSION_HANDLE, object: CK_OBJECT_HANDLE, template: CK_ATTRIBUTE_PTR, count: CK_ULONG) {
        let m = module()?;
        if template.is_null() && count > 0 {
            return Err(CKR_ARGUMENTS_BAD.into());
        }
        let rv = m.with_object(session, object, |o| {
            if count == 0 {
                return CKR_OK;
            }
            // SAFETY: template holds count attributes (the caller's contract).
            let attrs = unsafe { std::slice::from_raw_parts_mut(template, count as usize) };
            // Every attribute is processed; the first problem is the result.
            let mut rv = CKR_OK;
            for a in attrs {
                let problem = match o.attribute(a.type_) {
                    AttributeValue::Value(v) if a.pValue.is_null() => {
                        a.ulValueLen = v.len() as CK_ULONG;
                        CKR_OK
                    }
                    AttributeValue::Value(v) if a.ulValueLen as usize >= v.len() => {
                        // SAFETY: pValue holds ulValueLen >= v.len() writable bytes.
                        unsafe { std::ptr::copy_nonoverlapping(v.as_ptr(), a.pValue as *mut u8, v.len()) };
                        a.ulValueLen = v.len() as CK_ULONG;
                        CKR_OK
                    }
                    AttributeValue::Value(_) => CKR_BUFFER_TOO_SMALL,
                    AttributeValue::Sensitive => CKR_ATTRIBUTE_SENSITIVE,
                    AttributeValue::Invalid => CKR_ATTRIBUTE_TYPE_INVALID,
                };
                if problem != CKR_OK {
                    a.ulValueLen = CK_UNAVAILABLE_INFORMATION;
                    if rv == CKR_OK {
                        rv = problem;
                    }
                }
            }
            rv
        })?;
        if rv == CKR_OK { Ok(()) } else { Err(Error::from(rv)) }
    }

    fn C_GetObjectSize(session: CK_SESSION_HANDLE, object: CK_OBJECT_HANDLE, size: CK_ULONG_PTR) {
        let m = module()?;
        // SAFETY: size is the caller's out-parameter.
        let size = unsafe { out(size) }?;
        *size = m.with_object(session, object, |o| o.size() as CK_ULONG)?;
        Ok(())
    }

    fn C_SetAttributeValue(session: CK_SESSION_HANDLE, object: CK_OBJECT_HANDLE, _template: CK_ATTRIBUTE_PTR, _count: CK_ULONG) {
        let m = module()?;
        m.with_object(session, object, |_| ())?;
        Err(Error::new(CKR_ACTION_PROHIBITED, "objects mirror KMS keys and cannot be modified"))
    }

    fn C_DestroyObject(session: CK_SESSION_HANDLE, object: CK_OBJECT_HANDLE) {
        let m = module()?;
        m.with_object(session, object, |_| ())?;
        Err(Error::new(CKR_ACTION_PROHIBITED, "objects mirror KMS keys and cannot be destroyed"))
    }
}
