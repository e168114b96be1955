//! A session: its slot, flags, and the search and operations in progress.

use super::key::KeyInfo;
use crate::error::Result;
use crate::mechanism::hash::Hasher;
use crate::mechanism::Mechanism;
use cryptoki_sys::*;
use parking_lot::Mutex;
use std::sync::Arc;

/// A sign or verify operation between its Init and its end.
pub struct Operation {
    pub key: Arc<KeyInfo>,
    pub mechanism: Mechanism,
    /// For hash-and-sign mechanisms; `None` means single-part only.
    pub hasher: Option<Hasher>,
    /// C_SignUpdate/C_VerifyUpdate has been called.
    pub updated: bool,
}

impl Operation {
    pub fn new(key: Arc<KeyInfo>, mechanism: Mechanism) -> Operation {
        Operation {
            key,
            hasher: mechanism.hasher(),
            mechanism,
            updated: false,
        }
    }

    /// The mechanism's input once all data is in: the hash for
    /// hash-and-sign mechanisms, the data itself for the others. Of raw
    /// input, no more is read than the mechanism uses, and a length it
    /// refuses is refused before anything is read.
    pub fn finish(self, last: &[u8]) -> Result<Vec<u8>> {
        match self.hasher {
            Some(mut h) => {
                h.update(last);
                Ok(h.finish())
            }
            None => {
                let n = self.mechanism.raw_input_len(self.key.spec, last.len())?;
                Ok(last[..n].to_vec())
            }
        }
    }
}

pub struct Find {
    pub handles: Vec<CK_OBJECT_HANDLE>,
    pub next: usize,
}

/// A session. Its slot and flags never change, so they are read without a
/// lock: C_GetTokenInfo and C_GetSessionInfo never wait behind a signature.
pub struct Session {
    pub slot: usize,
    pub flags: CK_FLAGS,
    pub state: Mutex<Operations>,
}

/// What a session has in progress.
#[derive(Default)]
pub struct Operations {
    pub find: Option<Find>,
    pub sign: Option<Operation>,
    pub verify: Option<Operation>,
}

impl Session {
    pub fn is_rw(&self) -> bool {
        self.flags & CKF_RW_SESSION != 0
    }
}

/// The answer to a call that writes a signature into a caller's buffer.
#[derive(Debug, PartialEq, Eq)]
pub enum Output {
    /// The caller asked for the length only (NULL buffer).
    Length(usize),
    /// The caller's buffer is too small; this is the length needed.
    TooSmall(usize),
    Done(Vec<u8>),
}
