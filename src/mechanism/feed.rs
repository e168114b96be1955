//! Where a multi-part operation's input goes: into a hash, or (for the
//! mechanisms whose message KMS gets whole) into a buffer no longer than
//! KMS takes.

use super::hash::Hasher;
use crate::error::{Error, Result};
use crate::log_at;
use crate::vocabulary::HashAlg;
use cryptoki_sys::CKR_DATA_LEN_RANGE;

pub enum Feed {
    Hash(Hasher),
    /// ML-DSA's μ over the message (boxed: two SHAKE states).
    Mu(Box<super::mldsa::MuHasher>),
    Collect {
        data: Vec<u8>,
        limit: usize,
        /// The mechanism's name, what it does ("sign", "MAC") and its
        /// document, for the refusal.
        mechanism: &'static str,
        verb: &'static str,
        doc: &'static str,
    },
}

impl Feed {
    pub fn hash(h: HashAlg) -> Feed {
        Feed::Hash(Hasher::new(h))
    }

    pub fn collect(
        limit: usize,
        mechanism: &'static str,
        (verb, doc): (&'static str, &'static str),
    ) -> Feed {
        Feed::Collect {
            data: Vec::new(),
            limit,
            mechanism,
            verb,
            doc,
        }
    }

    /// Takes in one more part; input past the limit is refused before it
    /// is copied.
    pub fn update(&mut self, part: &[u8]) -> Result<()> {
        match self {
            Feed::Hash(h) => {
                h.update(part);
                Ok(())
            }
            Feed::Mu(h) => h.update(part),
            Feed::Collect {
                data,
                limit,
                mechanism,
                verb,
                doc,
            } => {
                let total = data.len().saturating_add(part.len());
                if total > *limit {
                    log_at!(
                        Error,
                        "{mechanism}: the message passed {limit} bytes, the most KMS takes \
                         with this mechanism; operation ended ({doc})"
                    );
                    return Err(Error::new(
                        CKR_DATA_LEN_RANGE,
                        format!(
                            "{mechanism} input is longer than the {limit} bytes KMS takes \
                             with it ({verb} a hash of the data instead, e.g. a checksum file)"
                        ),
                    ));
                }
                data.extend_from_slice(part);
                Ok(())
            }
        }
    }

    /// The hash, or the whole message, after the last part.
    pub fn finish(mut self, last: &[u8]) -> Result<Vec<u8>> {
        self.update(last)?;
        Ok(match self {
            Feed::Hash(h) => h.finish(),
            Feed::Mu(h) => h.finish()?,
            Feed::Collect { data, .. } => data,
        })
    }
}
