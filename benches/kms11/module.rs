//! libkms11.so through cryptoki, as an application loads it: dlopen,
//! C_Initialize with the configuration file's path in pReserved, sessions.

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, ObjectClass, ObjectHandle};
use cryptoki::session::Session;
use cryptoki::slot::Slot;
use std::ffi::CString;
use std::path::Path;
use std::ptr::NonNull;

pub struct Library {
    pub p11: Pkcs11,
}

impl Library {
    /// dlopen + C_GetInterface / C_GetFunctionList.
    pub fn load(path: &Path) -> Library {
        let p11 = Pkcs11::new(path).unwrap_or_else(|e| panic!("loading {}: {e}", path.display()));
        Library { p11 }
    }

    /// C_Initialize with `config`'s path in pReserved.
    pub fn initialize(&self, config: &Path) {
        let c = CString::new(config.to_str().expect("UTF-8 path")).unwrap();
        let ptr = NonNull::new(c.as_ptr() as *mut std::ffi::c_void).unwrap();
        // SAFETY: pReserved is the NUL-terminated path, alive for the call;
        // kms11 reads it as a C string (README, pkcs11.conf.sample).
        let args =
            unsafe { CInitializeArgs::new_with_reserved(CInitializeFlags::OS_LOCKING_OK, ptr) };
        self.p11.initialize(args).expect("C_Initialize");
    }

    pub fn finalize(&self) {
        self.p11.clone().finalize().expect("C_Finalize");
    }

    /// The slot whose token has this label.
    pub fn slot(&self, label: &str) -> Slot {
        self.p11
            .get_slots_with_token()
            .expect("C_GetSlotList")
            .into_iter()
            .find(|s| {
                self.p11
                    .get_token_info(*s)
                    .map(|t| t.label().trim() == label)
                    .unwrap_or(false)
            })
            .unwrap_or_else(|| panic!("no token labelled {label}"))
    }

    pub fn session(&self, slot: Slot) -> Session {
        self.p11.open_ro_session(slot).expect("C_OpenSession")
    }
}

/// The private key labelled `label`.
pub fn private_key(session: &Session, label: &str) -> ObjectHandle {
    let found = session
        .find_objects(&[
            Attribute::Class(ObjectClass::PRIVATE_KEY),
            Attribute::Label(label.as_bytes().to_vec()),
        ])
        .expect("C_FindObjects");
    *found
        .first()
        .unwrap_or_else(|| panic!("no private key labelled {label}"))
}

/// One C_SignInit + C_Sign (size query, then the signature).
pub fn sign(session: &Session, mechanism: &Mechanism, key: ObjectHandle, data: &[u8]) -> Vec<u8> {
    session.sign(mechanism, key, data).expect("C_Sign")
}
