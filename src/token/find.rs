//! C_FindObjectsInit, C_FindObjects, C_FindObjectsFinal, and the objects a
//! session may read.

use super::object::Object;
use super::session::Find;
use super::Module;
use crate::error::{Error, Result};
use cryptoki_sys::*;

impl Module {
    pub fn find_init(
        &self,
        h: CK_SESSION_HANDLE,
        template: &[(CK_ATTRIBUTE_TYPE, Vec<u8>)],
    ) -> Result<()> {
        let session = self.session(h)?;
        if session.state.lock().find.is_some() {
            return Err(CKR_OPERATION_ACTIVE.into());
        }
        let slot = &self.slots[session.slot];
        self.resolve(slot)?;
        let handles = slot.find(template);
        let mut s = session.state.lock();
        if s.find.is_some() {
            return Err(CKR_OPERATION_ACTIVE.into());
        }
        s.find = Some(Find { handles, next: 0 });
        Ok(())
    }

    pub fn find(&self, h: CK_SESSION_HANDLE, max: usize) -> Result<Vec<CK_OBJECT_HANDLE>> {
        let session = self.session(h)?;
        let mut s = session.state.lock();
        let find = s
            .find
            .as_mut()
            .ok_or(Error::from(CKR_OPERATION_NOT_INITIALIZED))?;
        let end = find.next.saturating_add(max).min(find.handles.len());
        let out = find.handles[find.next..end].to_vec();
        find.next = end;
        Ok(out)
    }

    pub fn find_final(&self, h: CK_SESSION_HANDLE) -> Result<()> {
        let session = self.session(h)?;
        let mut s = session.state.lock();
        s.find
            .take()
            .map(|_| ())
            .ok_or_else(|| CKR_OPERATION_NOT_INITIALIZED.into())
    }

    /// Runs `f` on an object visible to the session.
    pub fn with_object<R>(
        &self,
        h: CK_SESSION_HANDLE,
        object: CK_OBJECT_HANDLE,
        f: impl FnOnce(&Object) -> R,
    ) -> Result<R> {
        let slot = self.session(h)?.slot;
        let o = self.slots[slot]
            .object(object)
            .ok_or(Error::from(CKR_OBJECT_HANDLE_INVALID))?;
        Ok(f(&o))
    }
}
