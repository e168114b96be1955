//! Session management and login.

use super::{entry, input, module, CallerCell};
use cryptoki_sys::*;

entry! {
    fn C_OpenSession(slot: CK_SLOT_ID, flags: CK_FLAGS, _application: CK_VOID_PTR, _notify: CK_NOTIFY, session: CK_SESSION_HANDLE_PTR) {
        let m = module()?;
        // A bad slot ID comes before bad arguments, as a bad session handle does.
        m.slot(slot)?;
        // SAFETY: session is the caller's out-parameter.
        let session = unsafe { CallerCell::new(session) }?;
        session.set(m.open_session(slot, flags)?);
        Ok(())
    }

    fn C_CloseSession(session: CK_SESSION_HANDLE) {
        module()?.close_session(session)
    }

    fn C_CloseAllSessions(slot: CK_SLOT_ID) {
        module()?.close_all_sessions(slot)
    }

    fn C_GetSessionInfo(session: CK_SESSION_HANDLE, info: CK_SESSION_INFO_PTR) {
        let m = module()?;
        // The session before the arguments (PKCS#11's order of checks).
        let value = m.session_info(session)?;
        // SAFETY: info is the caller's out-parameter.
        unsafe { CallerCell::new(info) }?.set(value);
        Ok(())
    }

    fn C_Login(session: CK_SESSION_HANDLE, user: CK_USER_TYPE, pin: CK_UTF8CHAR_PTR, pin_len: CK_ULONG) {
        let m = module()?;
        m.check_session(session)?;
        // SAFETY: a non-NULL pin points to pin_len bytes (PKCS#11 §5.6).
        let pin = unsafe { input(pin, pin_len) }?;
        m.login(session, user, pin)
    }

    fn C_LoginUser(session: CK_SESSION_HANDLE, user: CK_USER_TYPE, pin: CK_UTF8CHAR_PTR, pin_len: CK_ULONG, username: CK_UTF8CHAR_PTR, username_len: CK_ULONG) {
        let m = module()?;
        m.check_session(session)?;
        // SAFETY: a non-NULL pin points to pin_len bytes (PKCS#11 §5.6).
        let pin = unsafe { input(pin, pin_len) }?;
        // Tokens have no user names, but a NULL name with a length is a bad
        // argument all the same (it is never read).
        // SAFETY: a non-NULL username points to username_len bytes.
        unsafe { input(username, username_len) }?;
        m.login(session, user, pin)
    }

    fn C_Logout(session: CK_SESSION_HANDLE) {
        module()?.logout(session)
    }

    fn C_SessionCancel(session: CK_SESSION_HANDLE, flags: CK_FLAGS) {
        module()?.session_cancel(session, flags)
    }
}
