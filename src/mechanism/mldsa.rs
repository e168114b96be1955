//! CKM_ML_DSA on KMS's ML-DSA keys (docs/mldsa.md): the module computes
//! FIPS 204's μ (algorithm 7 line 6: tr = SHAKE256(pk, 64), μ =
//! SHAKE256(tr || M', 64) with M' = 0 || |ctx| || ctx || M), streaming, so a
//! message of any length and a context KMS's RAW mode lacks both work; KMS
//! signs μ (MessageType=EXTERNAL_MU), one request per signature.
//!
//! HashML-DSA (FIPS 204 section 5.4) the same way: M' = 1 || |ctx| || ctx
//! || OID(PH) || PH(M), the pre-hash computed here (CKM_HASH_ML_DSA_<hash>)
//! or given (CKM_HASH_ML_DSA, single-part).
//!
//! Parameters: none, or CK_SIGN_ADDITIONAL_CONTEXT (CKM_HASH_ML_DSA:
//! CK_HASH_SIGN_ADDITIONAL_CONTEXT, which names the hash) with a context of
//! up to 255 bytes and CKH_HEDGE_PREFERRED. KMS chooses hedged or
//! deterministic signing itself and promises neither, so
//! CKH_HEDGE_REQUIRED and CKH_DETERMINISTIC_REQUIRED are
//! CKR_MECHANISM_PARAM_INVALID.

use super::prehash::{PreHash, PreHasher};
use super::{Input, Param};
use crate::error::{Error, Result};
use cryptoki_sys::*;
use sha3::digest::{ExtendableOutput, Update};
use sha3::Shake256;

/// Bytes of μ, and of tr.
pub const MU_LEN: usize = 64;

/// The longest context FIPS 204 allows.
pub const CONTEXT_MAX: usize = 255;

/// A context string (CK_SIGN_ADDITIONAL_CONTEXT's), copied: at most 255
/// bytes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Context {
    bytes: [u8; CONTEXT_MAX],
    len: u8,
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Context({} bytes)", self.len)
    }
}

impl Context {
    pub const EMPTY: Context = Context {
        bytes: [0; CONTEXT_MAX],
        len: 0,
    };

    /// `None` for more than 255 bytes.
    pub fn new(context: &[u8]) -> Option<Context> {
        let len = u8::try_from(context.len()).ok()?;
        let mut bytes = [0; CONTEXT_MAX];
        bytes[..context.len()].copy_from_slice(context);
        Some(Context { bytes, len })
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

/// What μ covers besides the context: the message (pure ML-DSA), or a
/// pre-hash of it, computed here or given by the caller (HashML-DSA).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prehash {
    None,
    Here(PreHash),
    Given(PreHash),
}

fn hedging(hedge: CK_ULONG) -> Result<()> {
    if hedge == CKH_HEDGE_PREFERRED {
        return Ok(());
    }
    Err(Error::new(
        CKR_MECHANISM_PARAM_INVALID,
        "KMS chooses hedged or deterministic ML-DSA signing itself: only \
         CKH_HEDGE_PREFERRED can be honoured",
    ))
}

/// The input of an ML-DSA mechanism (`pre`: as its row says; `Given` for
/// CKM_HASH_ML_DSA, whose parameter names the hash) with this parameter.
pub fn check(pre: Option<Option<PreHash>>, param: Param) -> Result<Input> {
    match (pre, param) {
        (Some(pre), Param::None) => Ok(Input::Mu {
            context: Context::EMPTY,
            pre: pre.map_or(Prehash::None, Prehash::Here),
        }),
        (Some(pre), Param::SignContext { hedge, context }) => {
            hedging(hedge)?;
            let pre = pre.map_or(Prehash::None, Prehash::Here);
            Ok(Input::Mu { context, pre })
        }
        (
            None,
            Param::HashSignContext {
                hedge,
                context,
                hash,
            },
        ) => {
            hedging(hedge)?;
            let hash = PreHash::from_ckm(hash).ok_or_else(|| {
                Error::new(
                    CKR_MECHANISM_PARAM_INVALID,
                    "CKM_HASH_ML_DSA's hash must be SHA-2 or SHA-3 (CKM_SHA256, ...)",
                )
            })?;
            let pre = Prehash::Given(hash);
            Ok(Input::Mu { context, pre })
        }
        (None, _) => Err(Error::new(
            CKR_MECHANISM_PARAM_INVALID,
            "CKM_HASH_ML_DSA takes a CK_HASH_SIGN_ADDITIONAL_CONTEXT",
        )),
        (Some(_), _) => Err(Error::new(
            CKR_MECHANISM_PARAM_INVALID,
            "ML-DSA takes no parameter or a CK_SIGN_ADDITIONAL_CONTEXT",
        )),
    }
}

/// What the message goes into.
#[derive(Clone)]
enum Message {
    /// μ itself (pure ML-DSA).
    Mu,
    /// The pre-hash, computed here (boxed: a SHA-3 state is large).
    Hash(PreHash, Box<PreHasher>),
    /// The pre-hash, as the caller gives it (at most 64 bytes).
    Given(PreHash, Vec<u8>),
}

/// μ, as the message comes in.
#[derive(Clone)]
pub struct MuHasher {
    mu: Shake256,
    message: Message,
}

/// tr = SHAKE256(pk, 64): the part of μ that depends on the key alone,
/// computed once per key (`KeyInfo::mldsa_tr`).
pub fn tr(pk: &[u8]) -> [u8; MU_LEN] {
    let mut tr = [0u8; MU_LEN];
    Shake256::default().chain(pk).finalize_xof_into(&mut tr);
    tr
}

impl MuHasher {
    /// Starts μ for the key whose `tr` this is, `context` and `pre`.
    pub fn new(tr: &[u8], context: &Context, pre: Prehash) -> MuHasher {
        let ctx = context.as_bytes();
        let domain = u8::from(pre != Prehash::None);
        let mu = Shake256::default()
            .chain(tr)
            .chain([domain, ctx.len() as u8])
            .chain(ctx);
        let message = match pre {
            Prehash::None => Message::Mu,
            Prehash::Here(h) => Message::Hash(h, Box::new(PreHasher::new(h))),
            Prehash::Given(h) => Message::Given(h, Vec::new()),
        };
        MuHasher { mu, message }
    }

    pub fn update(&mut self, part: &[u8]) -> Result<()> {
        match &mut self.message {
            Message::Mu => self.mu.update(part),
            Message::Hash(_, h) => h.update(part),
            Message::Given(h, given) => {
                if given.len() + part.len() > h.output_len() {
                    return Err(not_prehash(*h, given.len() + part.len()));
                }
                given.extend_from_slice(part);
            }
        }
        Ok(())
    }

    pub fn finish(self) -> Result<Vec<u8>> {
        let mut mu = self.mu;
        match self.message {
            Message::Mu => {}
            Message::Hash(h, hasher) => {
                mu.update(&h.oid_der());
                mu.update(&hasher.finish());
            }
            Message::Given(h, given) if given.len() == h.output_len() => {
                mu.update(&h.oid_der());
                mu.update(&given);
            }
            Message::Given(h, given) => return Err(not_prehash(h, given.len())),
        }
        let mut out = vec![0u8; MU_LEN];
        mu.finalize_xof_into(&mut out);
        Ok(out)
    }
}

fn not_prehash(h: PreHash, len: usize) -> Error {
    Error::new(
        CKR_DATA_LEN_RANGE,
        format!(
            "CKM_HASH_ML_DSA takes the {}-byte hash its parameter names; this is {len} bytes",
            h.output_len()
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mu_is_fips_204s_over_its_parts() {
        // The same μ whichever way the message is cut, and another one for
        // another context or key.
        let pk = [7u8; 1312];
        let ctx = Context::new(b"kms11").unwrap();
        let mut whole = MuHasher::new(&tr(&pk), &ctx, Prehash::None);
        whole.update(b"hello world").unwrap();
        let mut parts = MuHasher::new(&tr(&pk), &ctx, Prehash::None);
        parts.update(b"hello ").unwrap();
        parts.update(b"world").unwrap();
        let mu = whole.finish().unwrap();
        assert_eq!(mu, parts.finish().unwrap());
        let mut other = MuHasher::new(&tr(&pk), &Context::EMPTY, Prehash::None);
        other.update(b"hello world").unwrap();
        assert_ne!(mu, other.finish().unwrap());
        // By hand: SHAKE256(SHAKE256(pk, 64) || 00 05 "kms11" || M, 64).
        let mut by_hand = [0u8; 64];
        Shake256::default()
            .chain(pk)
            .finalize_xof_into(&mut by_hand);
        assert_eq!(by_hand, tr(&pk));
        let mut want = [0u8; 64];
        Shake256::default()
            .chain(by_hand)
            .chain(b"\x00\x05kms11hello world")
            .finalize_xof_into(&mut want);
        assert_eq!(mu, want);
        // HashML-DSA: 1 || |ctx| || ctx || OID || PH(M), PH computed here
        // or given; SHA-256's OID is 2.16.840.1.101.3.4.2.1.
        let ph = <sha2::Sha256 as sha2::Digest>::digest(b"hello world");
        let mut want = [0u8; 64];
        Shake256::default()
            .chain(by_hand)
            .chain(b"\x01\x05kms11\x06\x09\x60\x86\x48\x01\x65\x03\x04\x02\x01")
            .chain(ph)
            .finalize_xof_into(&mut want);
        let mut here = MuHasher::new(&tr(&pk), &ctx, Prehash::Here(PreHash::Sha256));
        here.update(b"hello world").unwrap();
        assert_eq!(here.finish().unwrap(), want);
        let mut given = MuHasher::new(&tr(&pk), &ctx, Prehash::Given(PreHash::Sha256));
        given.update(&ph).unwrap();
        assert_eq!(given.finish().unwrap(), want);
        let mut short = MuHasher::new(&tr(&pk), &ctx, Prehash::Given(PreHash::Sha256));
        short.update(&ph[..31]).unwrap();
        assert_eq!(short.finish().unwrap_err().rv, CKR_DATA_LEN_RANGE);
        assert!(Context::new(&[0; 256]).is_none());
        assert_eq!(Context::new(&[1; 255]).unwrap().as_bytes().len(), 255);
    }
}
