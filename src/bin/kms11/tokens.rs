//! The configuration's tokens as the module sees them: the same `Module`
//! the C entry points use, resolved on demand, and the key a user names on
//! the command line (a PKCS#11 URI, a label, a configured key reference, a
//! key ARN or ID, or any KMS key reference outside the configuration).

use crate::progress::waiting;
use cryptoki_sys::*;
use kms11::config::Config;
use kms11::error::Error;
use kms11::keyref::KeyRef;
use kms11::mechanism::Param;
use kms11::token::key::KeyInfo;
use kms11::token::session::Output;
use kms11::token::slot::{KeyView, ResolvedKey};
use kms11::token::Module;
use kms11::uri::Pkcs11Uri;
use std::io::Read;
use std::path::Path;
use std::sync::Arc;

pub struct Tokens {
    pub module: Module,
    pub source: String,
    /// Per slot: not tried yet, or how resolving went.
    resolved: Vec<Option<Result<(), String>>>,
}

/// A key the user named on the command line, and where it is.
pub struct NamedKey {
    pub slot: CK_SLOT_ID,
    pub token: String,
    pub reference: String,
    pub key: Arc<KeyInfo>,
    pub objects: Vec<(CK_OBJECT_CLASS, CK_OBJECT_HANDLE)>,
}

impl NamedKey {
    pub fn handle(&self, class: CK_OBJECT_CLASS) -> Option<CK_OBJECT_HANDLE> {
        self.objects
            .iter()
            .find(|(c, _)| *c == class)
            .map(|(_, h)| *h)
    }
}

/// The module's reason, without the CK_RV name a user has no use for.
pub fn reason(e: &Error) -> String {
    e.reason
        .clone()
        .unwrap_or_else(|| kms11::error::rv_name(e.rv))
}

/// Set by commands that publish a public key (`kms11 pubkey`): their keys
/// come from KMS, never from the disk cache, whose writer could otherwise
/// choose the key that gets published as the trust anchor (a signature
/// would expose a wrong cached key; an export makes none).
static BYPASS_CACHE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

pub fn bypass_cache() {
    BYPASS_CACHE.store(true, std::sync::atomic::Ordering::Relaxed);
}

pub fn load_config(path: Option<&Path>) -> Result<Config, String> {
    let mut config = match path {
        Some(p) => Config::from_file(p),
        None => Config::load(None),
    }?;
    if BYPASS_CACHE.load(std::sync::atomic::Ordering::Relaxed) {
        config.cache.enabled = false;
    }
    Ok(config)
}

impl Tokens {
    pub fn new(config: Config) -> Result<Tokens, String> {
        let source = config.source.clone();
        let module = Module::new(config).map_err(|e| reason(&e))?;
        let resolved = vec![None; module.slots.len()];
        Ok(Tokens {
            module,
            source,
            resolved,
        })
    }

    pub fn load(path: Option<&Path>) -> Result<Tokens, String> {
        Tokens::new(load_config(path)?)
    }

    /// One token holding only `key`, with the configuration's [aws].
    pub fn ad_hoc(path: Option<&Path>, key: &str) -> Result<Tokens, String> {
        let base = load_config(path)?;
        let mut config = Config::from_key_list(key)?;
        config.aws = base.aws;
        config.cache = base.cache;
        config.source = format!("{} (key {key} named on the command line)", base.source);
        Tokens::new(config)
    }

    pub fn slot_ids(&self) -> std::ops::Range<CK_SLOT_ID> {
        0..self.module.slots.len() as CK_SLOT_ID
    }

    pub fn label(&self, slot: CK_SLOT_ID) -> &str {
        &self.module.slots[slot as usize].label
    }

    /// Resolves a token's keys (once), with a progress line.
    pub fn resolve(&mut self, slot: CK_SLOT_ID) -> Result<(), String> {
        let i = slot as usize;
        if self.resolved[i].is_none() {
            let label = self.label(slot).to_string();
            let module = &self.module;
            let r = waiting(format!("resolving the keys of token '{label}'"), || {
                module.resolve_token(slot)
            });
            self.resolved[i] = Some(r.map_err(|e| reason(&e)));
        }
        self.resolved[i].clone().unwrap_or(Ok(()))
    }

    pub fn views(&self, slot: CK_SLOT_ID) -> Vec<KeyView> {
        self.module.slots[slot as usize].key_views()
    }

    fn named(&self, slot: CK_SLOT_ID, view: &KeyView, key: &ResolvedKey) -> NamedKey {
        NamedKey {
            slot,
            token: self.label(slot).to_string(),
            reference: view.reference.clone(),
            key: key.key.clone(),
            objects: key.objects.clone(),
        }
    }

    /// The configured keys `name` selects.
    fn matches(&mut self, name: &str) -> Result<Vec<NamedKey>, String> {
        let uri = if name.starts_with("pkcs11:") {
            Some(Pkcs11Uri::parse(name)?)
        } else {
            None
        };
        let mut found = Vec::new();
        let mut failures = Vec::new();
        // A configured reference selects its token(s) with no network call
        // for the others.
        let configured = |t: &Tokens, slot| t.views(slot).iter().any(|v| v.reference == name);
        let referenced = uri.is_none() && self.slot_ids().any(|s| configured(self, s));
        for slot in self.slot_ids() {
            let label = self.label(slot).to_string();
            if let Some(u) = &uri {
                if !u.allows("token", label.as_bytes()) {
                    continue;
                }
            } else if referenced && !configured(self, slot) {
                continue;
            }
            if let Err(e) = self.resolve(slot) {
                failures.push(e);
                continue;
            }
            for view in self.views(slot) {
                let Ok(key) = &view.resolved else { continue };
                let k = &key.key;
                let hit = match &uri {
                    Some(u) => {
                        u.allows("object", k.label.as_bytes())
                            && u.allows("id", &k.id)
                            && u.allows("manufacturer", b"kms11")
                            && u.allows("model", b"AWS KMS")
                    }
                    None => {
                        view.reference == name
                            || k.arn == name
                            || KeyRef::key_id_in(&k.arn) == Some(name)
                            || k.label == name
                    }
                };
                if hit {
                    found.push(self.named(slot, &view, key));
                }
            }
        }
        if found.is_empty() && !failures.is_empty() {
            return Err(failures.join("; "));
        }
        Ok(found)
    }

    /// The one key `name` selects: from the configuration, else (for a KMS
    /// key reference) on its own.
    pub fn find(config: Option<&Path>, name: &str) -> Result<(Tokens, NamedKey), String> {
        let mut tokens = Tokens::load(config)?;
        let mut found = tokens.matches(name)?;
        match found.len() {
            1 => {
                let f = found.remove(0);
                return Ok((tokens, f));
            }
            0 => {}
            _ => {
                let list: Vec<String> = found
                    .iter()
                    .map(|f| {
                        format!(
                            "  {}",
                            kms11::uri::object_uri(&f.token, &f.key.label, &f.key.id, "private")
                        )
                    })
                    .collect();
                return Err(format!(
                    "'{name}' names {} keys; name one by its PKCS#11 URI:\n{}",
                    found.len(),
                    list.join("\n")
                ));
            }
        }
        if let Err(e) = KeyRef::parse(name) {
            return Err(format!(
                "no key '{name}' in {}: `kms11 list` shows the keys and their URIs; a KMS key \
                 outside the configuration can be named by alias, ARN or key ID ({})",
                tokens.source, e.why
            ));
        }
        let mut ad_hoc = Tokens::ad_hoc(config, name)?;
        ad_hoc.resolve(0)?;
        let view = ad_hoc.views(0).remove(0);
        let key = match &view.resolved {
            Ok(key) => ad_hoc.named(0, &view, key),
            Err(e) => return Err(format!("{name}: {e}")),
        };
        // A key that a token with a PIN holds needs that PIN however it is
        // named (an alias ARN, another alias, the key ID): sign through
        // that token, never through a token of our own without one.
        if let Some(guarded) = tokens.pin_guarded(&key.key.arn)? {
            return Ok((tokens, guarded));
        }
        Ok((ad_hoc, key))
    }

    /// The configured key with this ARN in a token that has a PIN, if any
    /// (resolving those tokens to find out).
    fn pin_guarded(&mut self, arn: &str) -> Result<Option<NamedKey>, String> {
        for slot in self.slot_ids() {
            if !self.module.slots[slot as usize].login.has_pin() {
                continue;
            }
            if let Err(e) = self.resolve(slot) {
                let label = self.label(slot);
                return Err(format!(
                    "token '{label}' has a PIN and may hold this key, but its keys cannot be resolved: {e}"
                ));
            }
            for view in self.views(slot) {
                if let Ok(key) = &view.resolved {
                    if key.key.arn == arn {
                        return Ok(Some(self.named(slot, &view, key)));
                    }
                }
            }
        }
        Ok(None)
    }

    /// Signs `input` with the key through the module, as C_SignInit,
    /// C_SignUpdate in 1 MiB pieces and C_SignFinal would.
    pub fn sign(
        &self,
        found: &NamedKey,
        mechanism: CK_MECHANISM_TYPE,
        param: Param,
        mut input: impl Read,
    ) -> Result<Vec<u8>, String> {
        let m = &self.module;
        let private = found
            .handle(CKO_PRIVATE_KEY)
            .ok_or_else(|| format!("{} has no private key object", found.reference))?;
        let session = m
            .open_session(found.slot, CKF_SERIAL_SESSION)
            .map_err(|e| reason(&e))?;
        let result = (|| {
            if m.slots[found.slot as usize].login.has_pin() {
                let pin = crate::pin::for_token(self.label(found.slot))?;
                m.login(session, CKU_USER, pin.as_bytes()).map_err(|e| {
                    if e.rv == CKR_PIN_INCORRECT {
                        format!("wrong PIN for token '{}'", self.label(found.slot))
                    } else {
                        reason(&e)
                    }
                })?;
            }
            m.init_operation(
                session,
                kms11::token::session::OpKind::Sign,
                mechanism,
                param,
                private,
            )
            .map_err(|e| reason(&e))?;
            let mut buf = vec![0u8; 1 << 20];
            loop {
                let n = input
                    .read(&mut buf)
                    .map_err(|e| format!("cannot read the input: {e}"))?;
                if n == 0 {
                    break;
                }
                m.sign_update(session, &buf[..n]).map_err(|e| reason(&e))?;
            }
            let out = waiting(format!("signing with {}", found.key.arn), || {
                m.sign_final(session, Some(usize::MAX))
            })
            .map_err(|e| format!("{}: {}", found.reference, reason(&e)))?;
            match out {
                Output::Done(sig) => Ok(sig.to_vec()),
                _ => Err("the module returned no signature".to_string()),
            }
        })();
        let _ = m.close_session(session);
        result
    }
}
