//! Slot and token management: slot list and info, token info, mechanisms.

use super::{entry, module, write_list, CallerCell};
use cryptoki_sys::*;

entry! {
    fn C_GetSlotList(_token_present: CK_BBOOL, list: CK_SLOT_ID_PTR, count: CK_ULONG_PTR) {
        let m = module()?;
        // SAFETY: count is the caller's in/out length.
        let count = unsafe { CallerCell::new(count) }?;
        let ids: Vec<CK_SLOT_ID> = m.slots.iter().map(|s| s.id).collect();
        // SAFETY: a non-NULL list holds *count slot IDs.
        unsafe { write_list(&ids, list, count) }
    }

    fn C_GetSlotInfo(slot: CK_SLOT_ID, info: CK_SLOT_INFO_PTR) {
        let m = module()?;
        // The slot before the arguments, as for session handles.
        m.slot(slot)?;
        // SAFETY: info is the caller's out-parameter.
        let info = unsafe { CallerCell::new(info) }?;
        info.set(m.slot_info(slot)?);
        Ok(())
    }

    fn C_GetTokenInfo(slot: CK_SLOT_ID, info: CK_TOKEN_INFO_PTR) {
        let m = module()?;
        // The slot before the arguments, as for session handles.
        m.slot(slot)?;
        // SAFETY: info is the caller's out-parameter.
        let info = unsafe { CallerCell::new(info) }?;
        info.set(m.token_info(slot)?);
        Ok(())
    }

    fn C_GetMechanismList(slot: CK_SLOT_ID, list: CK_MECHANISM_TYPE_PTR, count: CK_ULONG_PTR) {
        let m = module()?;
        m.slot(slot)?;
        // SAFETY: count is the caller's in/out length.
        let count = unsafe { CallerCell::new(count) }?;
        let mechanisms = m.mechanism_list(slot)?;
        // SAFETY: a non-NULL list holds *count mechanism types.
        unsafe { write_list(&mechanisms, list, count) }
    }

    fn C_GetMechanismInfo(slot: CK_SLOT_ID, mechanism: CK_MECHANISM_TYPE, info_out: CK_MECHANISM_INFO_PTR) {
        let m = module()?;
        m.slot(slot)?;
        // SAFETY: info_out is the caller's out-parameter.
        let info_out = unsafe { CallerCell::new(info_out) }?;
        info_out.set(m.mechanism_info(slot, mechanism)?);
        Ok(())
    }
}
