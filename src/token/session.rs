//! A session, the table of sessions, and what a session has in progress:
//! its search and its sign and verify operations.

use super::key::KeyInfo;
use crate::error::{Error, Result};
use crate::mechanism::feed::Feed;
use crate::mechanism::Mechanism;
use cryptoki_sys::*;
use parking_lot::{Mutex, RwLock};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Which of a session's two operations a call is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpKind {
    Sign,
    Verify,
}

/// How a call ends an operation: C_Sign/C_Verify (single-part, the data
/// given whole) or C_SignFinal/C_VerifyFinal (after Update calls).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finish {
    Single,
    Final,
}

/// A sign or verify operation between its Init and its end.
pub struct Operation {
    pub key: Arc<KeyInfo>,
    pub mechanism: Mechanism,
    /// Where multi-part input goes; `None` means single-part only.
    pub feed: Option<Feed>,
    /// C_SignUpdate/C_VerifyUpdate has been called.
    pub updated: bool,
}

impl Operation {
    pub fn new(key: Arc<KeyInfo>, mechanism: Mechanism) -> Operation {
        Operation {
            feed: mechanism.feed(&key.mldsa_tr),
            key,
            mechanism,
            updated: false,
        }
    }

    /// Bytes of the operation's output: the key's signature, or the MAC
    /// the mechanism asks for.
    pub fn output_len(&self) -> usize {
        match self.mechanism.input {
            crate::mechanism::Input::Mac { len, .. } => len,
            _ => self.key.signature_len(),
        }
    }

    /// The mechanism's input once all data is in: the hash for
    /// hash-and-sign mechanisms, the data itself for the others. Of raw
    /// input, no more is read than the mechanism uses, and a length it
    /// refuses is refused before anything is read.
    pub fn finish(self, last: &[u8]) -> Result<Vec<u8>> {
        match self.feed {
            Some(f @ (Feed::Hash(_) | Feed::Mu(_))) => f.finish(last),
            Some(collect) => {
                let data = collect.finish(last)?;
                // A message KMS gets whole may also be too short (Ed25519ph).
                self.mechanism.raw_input_len(self.key.spec, data.len())?;
                Ok(data)
            }
            None => {
                let n = self.mechanism.raw_input_len(self.key.spec, last.len())?;
                Ok(last[..n].to_vec())
            }
        }
    }
}

fn single_part_only() -> Error {
    Error::new(
        CKR_FUNCTION_NOT_SUPPORTED,
        "this mechanism is single-part only",
    )
}

pub struct Find {
    pub handles: Vec<CK_OBJECT_HANDLE>,
    pub next: usize,
}

/// What a session has in progress.
#[derive(Default)]
pub struct State {
    pub find: Option<Find>,
    sign: Option<Operation>,
    verify: Option<Operation>,
    /// C_DecryptInit's and C_EncryptInit's operations (token/cipher.rs).
    pub decrypt: Option<super::cipher::CipherOp>,
    pub encrypt: Option<super::cipher::CipherOp>,
}

impl State {
    pub fn op(&mut self, kind: OpKind) -> &mut Option<Operation> {
        match kind {
            OpKind::Sign => &mut self.sign,
            OpKind::Verify => &mut self.verify,
        }
    }

    pub fn is_signing(&self) -> bool {
        self.sign.is_some()
    }

    /// C_SignUpdate/C_VerifyUpdate: feeds `data` into the operation. A
    /// single-part mechanism's operation ends, as any failure ends it.
    pub fn update(&mut self, kind: OpKind, data: &[u8]) -> Result<()> {
        let slot = self.op(kind);
        let op = slot
            .as_mut()
            .ok_or(Error::from(CKR_OPERATION_NOT_INITIALIZED))?;
        let fed = match op.feed.as_mut() {
            Some(feed) => feed.update(data),
            None => Err(single_part_only()),
        };
        match fed {
            Ok(()) => {
                op.updated = true;
                Ok(())
            }
            Err(e) => {
                *slot = None;
                Err(e)
            }
        }
    }

    /// What C_Sign/C_SignFinal and C_Verify/C_VerifyFinal check before
    /// doing anything: an operation is active, and the call can finish it.
    /// A call that cannot ends the operation, as any failure does.
    pub fn check_finish(&mut self, kind: OpKind, how: Finish) -> Result<&Operation> {
        let slot = self.op(kind);
        let active = slot
            .as_ref()
            .ok_or(Error::from(CKR_OPERATION_NOT_INITIALIZED))?;
        let problem = match how {
            // C_Sign/C_Verify cannot finish a multi-part operation.
            Finish::Single if active.updated => Some(Error::from(CKR_OPERATION_ACTIVE)),
            Finish::Final if active.feed.is_none() => Some(single_part_only()),
            Finish::Single | Finish::Final => None,
        };
        match problem {
            Some(e) => {
                *slot = None;
                Err(e)
            }
            None => Ok(slot.as_ref().expect("checked above")),
        }
    }
}

/// A session. Its slot and flags never change, so they are read without a
/// lock: C_GetTokenInfo and C_GetSessionInfo never wait behind a signature.
pub struct Session {
    pub slot: usize,
    pub flags: CK_FLAGS,
    pub state: Mutex<State>,
}

impl Session {
    pub fn is_rw(&self) -> bool {
        self.flags & CKF_RW_SESSION != 0
    }
}

/// The open sessions of every slot, by handle.
#[derive(Default)]
pub struct Sessions {
    map: RwLock<HashMap<CK_SESSION_HANDLE, Arc<Session>>>,
    last: AtomicU64,
}

impl Sessions {
    pub fn get(&self, h: CK_SESSION_HANDLE) -> Result<Arc<Session>> {
        self.map
            .read()
            .get(&h)
            .cloned()
            .ok_or_else(|| CKR_SESSION_HANDLE_INVALID.into())
    }

    pub fn open(&self, slot: usize, flags: CK_FLAGS) -> CK_SESSION_HANDLE {
        let h = self.last.fetch_add(1, Ordering::Relaxed) + 1;
        let session = Session {
            slot,
            flags,
            state: Mutex::new(State::default()),
        };
        self.map.write().insert(h, Arc::new(session));
        h
    }

    pub fn close(&self, h: CK_SESSION_HANDLE) -> Result<Arc<Session>> {
        self.map
            .write()
            .remove(&h)
            .ok_or(Error::from(CKR_SESSION_HANDLE_INVALID))
    }

    pub fn close_all(&self, slot: usize) {
        self.map.write().retain(|_, s| s.slot != slot);
    }

    /// The sessions of a slot: (all, read-write).
    pub fn count(&self, slot: usize) -> (usize, usize) {
        let sessions = self.map.read();
        let mine = sessions.values().filter(|s| s.slot == slot);
        mine.fold((0, 0), |(all, rw), s| {
            (all + 1, rw + usize::from(s.is_rw()))
        })
    }
}

/// The answer to a call that writes a signature into a caller's buffer.
#[derive(Debug, PartialEq, Eq)]
pub enum Output {
    /// The caller asked for the length only (NULL buffer).
    Length(usize),
    /// The caller's buffer is too small; this is the length needed.
    TooSmall(usize),
    /// The bytes, zeroed when dropped (a plaintext from Decrypt is one).
    Done(zeroize::Zeroizing<Vec<u8>>),
}
