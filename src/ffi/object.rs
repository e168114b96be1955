//! Object search and attributes.

use super::{copy_to_caller, entry, input, module, valid_count, CallerCell};
use crate::attribute;
use crate::error::{Error, Result};
use crate::token::object::AttributeValue;
use cryptoki_sys::*;

/// The caller's template, copied attribute by attribute with unaligned raw
/// reads: nothing later depends on the caller's array staying as it was
/// (C_GetAttributeValue writes values that may land on the template itself).
///
/// # Safety
/// A non-NULL `template` must hold `count` readable attributes.
unsafe fn template_entries(
    template: CK_ATTRIBUTE_PTR,
    count: CK_ULONG,
) -> Result<Vec<CK_ATTRIBUTE>> {
    if template.is_null() {
        return if count == 0 {
            Ok(Vec::new())
        } else {
            Err(CKR_ARGUMENTS_BAD.into())
        };
    }
    let count = valid_count::<CK_ATTRIBUTE>(count)?;
    Ok((0..count)
        // SAFETY: template holds count attributes (the caller's contract), so
        // the i-th (i < count) is in bounds and readable.
        .map(|i| unsafe { std::ptr::read_unaligned(template.add(i)) })
        .collect())
}

/// The caller's template as (type, value) pairs.
///
/// # Safety
/// A non-NULL `template` must hold `count` attributes whose pValue point to
/// ulValueLen readable bytes.
pub(super) unsafe fn read_template(
    template: CK_ATTRIBUTE_PTR,
    count: CK_ULONG,
) -> Result<Vec<(CK_ATTRIBUTE_TYPE, Vec<u8>)>> {
    // SAFETY: template holds count attributes (the caller's contract).
    let attrs = unsafe { template_entries(template, count) }?;
    attrs
        .iter()
        .map(|a| {
            // SAFETY: pValue points to ulValueLen bytes, or is NULL with 0.
            let value = unsafe { input(a.pValue as *const CK_BYTE, a.ulValueLen) }?;
            Ok((a.type_, value.to_vec()))
        })
        .collect()
}

/// A search value of the wrong size for its attribute's C type (a CK_ULONG
/// of 4 bytes, a CK_BBOOL of 8) is CKR_ATTRIBUTE_VALUE_INVALID: PKCS#11
/// also allows a search that matches nothing, but that hides the caller's
/// mistake behind "no such key".
fn check_search_template(template: &[(CK_ATTRIBUTE_TYPE, Vec<u8>)]) -> Result<()> {
    for (t, v) in template {
        let Some(size) = attribute::find(*t).and_then(|a| a.encoding.scalar_size()) else {
            continue;
        };
        if v.len() != size {
            return Err(Error::new(
                CKR_ATTRIBUTE_VALUE_INVALID,
                format!(
                    "search attribute {} has a {}-byte value; its type has {size}",
                    attribute::name(*t),
                    v.len()
                ),
            ));
        }
    }
    Ok(())
}

entry! {
    fn C_FindObjectsInit(session: CK_SESSION_HANDLE, template: CK_ATTRIBUTE_PTR, count: CK_ULONG) {
        let m = module()?;
        // The session before the arguments (PKCS#11's order of checks).
        m.check_session(session)?;
        // SAFETY: template and count are the caller's template.
        let template = unsafe { read_template(template, count) }?;
        check_search_template(&template)?;
        m.find_init(session, &template)
    }

    fn C_FindObjects(session: CK_SESSION_HANDLE, objects: CK_OBJECT_HANDLE_PTR, max: CK_ULONG, found: CK_ULONG_PTR) {
        let m = module()?;
        m.check_session(session)?;
        // SAFETY: found is the caller's out-parameter.
        let found = unsafe { CallerCell::new(found) }?;
        if objects.is_null() && max > 0 {
            return Err(CKR_ARGUMENTS_BAD.into());
        }
        let handles = m.find(session, usize::try_from(max).unwrap_or(usize::MAX))?;
        if !handles.is_empty() {
            // SAFETY: objects holds max handles and 0 < handles.len() <= max,
            // so it is not NULL; handles are ours. (C_FindObjects(s, NULL, 0,
            // &n) is legal C; nothing is copied then, not even through NULL.)
            unsafe { copy_to_caller(&handles, objects) };
        }
        // Last, so that a count cell inside the array holds the count.
        found.set(handles.len() as CK_ULONG);
        Ok(())
    }

    fn C_FindObjectsFinal(session: CK_SESSION_HANDLE) {
        module()?.find_final(session)
    }

    fn C_GetAttributeValue(session: CK_SESSION_HANDLE, object: CK_OBJECT_HANDLE, template: CK_ATTRIBUTE_PTR, count: CK_ULONG) {
        let m = module()?;
        m.check_session(session)?;
        // The template is read once, whole, before anything is written: a
        // value may land on the template itself (pValue pointing at its own
        // or another attribute's fields), and what is written next must not
        // depend on that. No reference to the caller's memory is kept
        // across a write.
        // SAFETY: template holds count attributes (the caller's contract).
        let attrs = unsafe { template_entries(template, count) }?;
        let (rv, lengths) = m.with_object(session, object, |o| {
            // Every attribute is processed; the first problem is the result.
            let mut rv = CKR_OK;
            let mut lengths = Vec::with_capacity(attrs.len());
            for a in &attrs {
                let (problem, len) = match o.attribute(a.type_) {
                    AttributeValue::Value(v) if a.pValue.is_null() => (CKR_OK, v.len() as CK_ULONG),
                    AttributeValue::Value(v) if a.ulValueLen as usize >= v.len() => {
                        // SAFETY: pValue holds ulValueLen >= v.len() writable
                        // bytes; v is the object's (ours), so they do not
                        // overlap; byte-wise, so alignment does not matter.
                        unsafe { copy_to_caller(v, a.pValue as *mut u8) };
                        (CKR_OK, v.len() as CK_ULONG)
                    }
                    AttributeValue::Value(_) => (CKR_BUFFER_TOO_SMALL, CK_UNAVAILABLE_INFORMATION),
                    AttributeValue::Sensitive => (CKR_ATTRIBUTE_SENSITIVE, CK_UNAVAILABLE_INFORMATION),
                    AttributeValue::Invalid => (CKR_ATTRIBUTE_TYPE_INVALID, CK_UNAVAILABLE_INFORMATION),
                };
                if rv == CKR_OK {
                    rv = problem;
                }
                lengths.push(len);
            }
            (rv, lengths)
        })?;
        // The lengths after every value, so that a value overlapping some
        // ulValueLen cannot leave a wrong length behind (a caller trusting
        // one would read past its buffer).
        for (i, len) in lengths.into_iter().enumerate() {
            // SAFETY: i < count attributes (template_entries read them all, so
            // template is not NULL here); the field is written unaligned,
            // through a raw pointer made without a reference.
            unsafe {
                let field = std::ptr::addr_of_mut!((*template.add(i)).ulValueLen);
                std::ptr::write_unaligned(field, len);
            }
        }
        if rv == CKR_OK { Ok(()) } else { Err(Error::from(rv)) }
    }

    fn C_GetObjectSize(session: CK_SESSION_HANDLE, object: CK_OBJECT_HANDLE, size: CK_ULONG_PTR) {
        let m = module()?;
        m.check_session(session)?;
        // SAFETY: size is the caller's out-parameter.
        let size = unsafe { CallerCell::new(size) }?;
        size.set(m.with_object(session, object, |o| o.size() as CK_ULONG)?);
        Ok(())
    }

    fn C_SetAttributeValue(session: CK_SESSION_HANDLE, object: CK_OBJECT_HANDLE, template: CK_ATTRIBUTE_PTR, count: CK_ULONG) {
        let m = module()?;
        // The session and the object before the template.
        m.with_object(session, object, |_| ())?;
        // SAFETY: template holds count attributes (the caller's contract).
        let template = unsafe { read_template(template, count) }?;
        m.set_attribute_value(session, object, &template)
    }

    fn C_CreateObject(session: CK_SESSION_HANDLE, template: CK_ATTRIBUTE_PTR, count: CK_ULONG, object: CK_OBJECT_HANDLE_PTR) {
        let m = module()?;
        m.check_session(session)?;
        // SAFETY: object is the caller's out-parameter.
        let out = unsafe { CallerCell::new(object) }?;
        // SAFETY: template holds count attributes (the caller's contract).
        let template = unsafe { read_template(template, count) }?;
        out.set(m.create_object(session, &template)?);
        Ok(())
    }

    fn C_DestroyObject(session: CK_SESSION_HANDLE, object: CK_OBJECT_HANDLE) {
        module()?.destroy_object(session, object)
    }
}
