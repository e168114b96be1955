//! C_GetSlotInfo, C_GetTokenInfo, C_GetSessionInfo, and sessions opened
//! and closed.

use super::Module;
use crate::error::Result;
use cryptoki_sys::*;

/// Blank-padded fixed-width text for the info structures.
pub fn pad<const N: usize>(s: &str) -> [u8; N] {
    let mut out = [b' '; N];
    let mut end = s.len().min(N);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    out[..end].copy_from_slice(&s.as_bytes()[..end]);
    out
}

const NO_VERSION: CK_VERSION = CK_VERSION { major: 0, minor: 0 };

impl Module {
    pub fn slot_info(&self, id: CK_SLOT_ID) -> Result<CK_SLOT_INFO> {
        let slot = self.slot(id)?;
        Ok(CK_SLOT_INFO {
            slotDescription: pad(&format!("kms11 token {}", slot.label)),
            manufacturerID: pad("kms11"),
            flags: CKF_TOKEN_PRESENT,
            hardwareVersion: NO_VERSION,
            firmwareVersion: NO_VERSION,
        })
    }

    pub fn token_info(&self, id: CK_SLOT_ID) -> Result<CK_TOKEN_INFO> {
        let slot = self.slot(id)?;
        let (sessions, rw) = self.sessions.count(id as usize);
        // The serial depends only on the label, so it is the same on every host.
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, slot.label.as_bytes());
        let serial = data_encoding::HEXLOWER.encode(&digest.as_ref()[..8]);
        let (major, minor) = crate::version();
        let login = if slot.login.has_pin() {
            CKF_LOGIN_REQUIRED
        } else {
            0
        };
        Ok(CK_TOKEN_INFO {
            label: pad(&slot.label),
            manufacturerID: pad("kms11"),
            model: pad("AWS KMS"),
            serialNumber: pad(&serial),
            flags: CKF_RNG | CKF_TOKEN_INITIALIZED | CKF_USER_PIN_INITIALIZED | login,
            ulMaxSessionCount: CK_EFFECTIVELY_INFINITE,
            ulSessionCount: sessions as CK_ULONG,
            ulMaxRwSessionCount: CK_EFFECTIVELY_INFINITE,
            ulRwSessionCount: rw as CK_ULONG,
            ulMaxPinLen: 255,
            ulMinPinLen: 0,
            ulTotalPublicMemory: CK_UNAVAILABLE_INFORMATION,
            ulFreePublicMemory: CK_UNAVAILABLE_INFORMATION,
            ulTotalPrivateMemory: CK_UNAVAILABLE_INFORMATION,
            ulFreePrivateMemory: CK_UNAVAILABLE_INFORMATION,
            hardwareVersion: NO_VERSION,
            firmwareVersion: CK_VERSION { major, minor },
            utcTime: [b' '; 16],
        })
    }

    /// C_GetMechanismList: what the token's keys can do (its keys resolved
    /// as C_OpenSession resolves them), in the mechanism table's order. A
    /// token of ECDSA keys lists no RSA mechanism, one without decryption
    /// keys no CKM_RSA_PKCS_OAEP; a token that makes or discovers keys lists
    /// every mechanism, and the key-generation ones when it makes keys.
    pub fn mechanism_list(&self, slot_id: CK_SLOT_ID) -> Result<Vec<CK_MECHANISM_TYPE>> {
        let slot = self.slot(slot_id)?;
        self.resolve(slot)?;
        let kinds: Vec<_> = slot
            .key_views()
            .into_iter()
            .filter_map(|v| v.resolved.ok())
            .map(|r| (r.key.spec.family(), r.key.usage))
            .collect();
        // A token whose keys can change while it runs (keys made here, or
        // found by discovery) lists what any key could do: clients such as
        // Java's SunPKCS11 read the list once, before the first key exists.
        let open_ended = slot.management.allowed || slot.management.discover_aliases.is_some();
        let mut list: Vec<CK_MECHANISM_TYPE> = crate::mechanism::MECHANISMS
            .into_iter()
            .filter(|m| {
                open_ended
                    || kinds.iter().any(|(family, usage)| {
                        crate::mechanism::for_key(*family, *usage).any(|k| k == *m)
                    })
            })
            .collect();
        // Key generation, where the token allows it.
        if slot.management.allowed {
            list.extend(crate::mechanism::key_gen_mechanisms());
        }
        Ok(list)
    }

    /// C_GetMechanismInfo: a mechanism of the token's list, with the key
    /// sizes and flags of its kind of key.
    pub fn mechanism_info(
        &self,
        slot_id: CK_SLOT_ID,
        ckm: CK_MECHANISM_TYPE,
    ) -> Result<CK_MECHANISM_INFO> {
        if !self.mechanism_list(slot_id)?.contains(&ckm) {
            return Err(CKR_MECHANISM_INVALID.into());
        }
        crate::mechanism::info(ckm)
            .or_else(|| crate::mechanism::key_gen_info(ckm))
            .ok_or_else(|| CKR_MECHANISM_INVALID.into())
    }

    pub fn open_session(&self, slot_id: CK_SLOT_ID, flags: CK_FLAGS) -> Result<CK_SESSION_HANDLE> {
        let slot = self.slot(slot_id)?;
        if flags & CKF_SERIAL_SESSION == 0 {
            return Err(CKR_SESSION_PARALLEL_NOT_SUPPORTED.into());
        }
        if flags & CKF_RW_SESSION == 0 && slot.login.user() == Some(CKU_SO) {
            return Err(CKR_SESSION_READ_WRITE_SO_EXISTS.into());
        }
        self.resolve(slot)?;
        Ok(self.sessions.open(slot_id as usize, flags))
    }

    /// The login of a token ends with its last session.
    fn forget_login_if_idle(&self, slot: usize) {
        if self.sessions.count(slot).0 == 0 {
            if let Some(s) = self.slots.get(slot) {
                s.login.forget();
            }
        }
    }

    pub fn close_session(&self, h: CK_SESSION_HANDLE) -> Result<()> {
        let session = self.sessions.close(h)?;
        self.slots[session.slot].drop_session_objects(Some(h));
        self.forget_login_if_idle(session.slot);
        Ok(())
    }

    pub fn close_all_sessions(&self, slot_id: CK_SLOT_ID) -> Result<()> {
        self.slot(slot_id)?;
        self.sessions.close_all(slot_id as usize);
        self.slots[slot_id as usize].drop_session_objects(None);
        self.forget_login_if_idle(slot_id as usize);
        Ok(())
    }

    pub fn session_info(&self, h: CK_SESSION_HANDLE) -> Result<CK_SESSION_INFO> {
        let s = self.session(h)?;
        let state = match (self.slots[s.slot].login.user(), s.is_rw()) {
            (Some(CKU_SO), _) => CKS_RW_SO_FUNCTIONS,
            (Some(_), true) => CKS_RW_USER_FUNCTIONS,
            (Some(_), false) => CKS_RO_USER_FUNCTIONS,
            (None, true) => CKS_RW_PUBLIC_SESSION,
            (None, false) => CKS_RO_PUBLIC_SESSION,
        };
        Ok(CK_SESSION_INFO {
            slotID: s.slot as CK_SLOT_ID,
            state,
            flags: s.flags,
            ulDeviceError: 0,
        })
    }
}
