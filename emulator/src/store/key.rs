//! A KMS key: what it is, its state, and its material, which a key of
//! Origin EXTERNAL gets only from ImportKeyMaterial and loses when that
//! material expires.

use super::now;
use crate::error::KmsError;
use crate::material::KeyMaterial;
use crate::spec::{KeySpec, KeyUsage, Origin};
use parking_lot::{Mutex, RwLock};
use std::sync::Arc;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum KeyStatus {
    Enabled,
    Disabled,
    PendingDeletion {
        deletion_date: f64,
        window_days: u32,
    },
    /// Origin EXTERNAL, and no key material yet (or it expired).
    PendingImport,
}

impl KeyStatus {
    pub fn name(self) -> &'static str {
        match self {
            KeyStatus::Enabled => "Enabled",
            KeyStatus::Disabled => "Disabled",
            KeyStatus::PendingDeletion { .. } => "PendingDeletion",
            KeyStatus::PendingImport => "PendingImport",
        }
    }
}

pub struct Key {
    pub id: String,
    pub arn: String,
    pub region: String,
    pub account: String,
    pub spec: KeySpec,
    pub usage: KeyUsage,
    pub origin: Origin,
    pub description: String,
    pub creation_date: f64,
    pub multi_region: bool,
    /// A multi-Region key's primary Region: its own for the primary, the
    /// primary's for a replica (which shares the primary's key ID and
    /// material). A single-Region key's own Region.
    pub primary_region: String,
    pub tags: Mutex<Vec<(String, String)>>,
    /// The key policy; None is the default policy KMS gives a key created
    /// without one.
    pub policy: Mutex<Option<String>>,
    pub status: Mutex<KeyStatus>,
    /// None only for a key of Origin EXTERNAL that was never imported into.
    /// Expired imported material stays here, unusable (the key is then
    /// PendingImport), so that a reimport can be checked against it.
    pub material: RwLock<Option<Arc<KeyMaterial>>>,
    /// When imported key material expires (KEY_MATERIAL_EXPIRES).
    pub valid_to: Mutex<Option<f64>>,
}

impl Key {
    /// Refuses keys that cannot be used for cryptography, as KMS does:
    /// DisabledException for a disabled key, KMSInvalidStateException for one
    /// pending deletion or import.
    pub fn check_usable(&self) -> Result<(), KmsError> {
        self.expire_material();
        match *self.status.lock() {
            KeyStatus::Enabled => Ok(()),
            KeyStatus::Disabled => Err(KmsError::new(
                "DisabledException",
                format!("{} is disabled.", self.arn),
            )),
            KeyStatus::PendingDeletion { .. } => Err(KmsError::invalid_state(format!(
                "{} is pending deletion.",
                self.arn
            ))),
            KeyStatus::PendingImport => Err(self.pending_import()),
        }
    }

    pub fn pending_import(&self) -> KmsError {
        KmsError::invalid_state(format!("{} is pending import.", self.arn))
    }

    /// The key's material, for a key that `check_usable` accepted.
    pub fn material(&self) -> Result<Arc<KeyMaterial>, KmsError> {
        self.material
            .read()
            .clone()
            .ok_or_else(|| self.pending_import())
    }

    /// Imported material whose ValidTo has passed is deleted, as KMS does:
    /// an enabled or disabled key becomes PendingImport.
    pub fn expire_material(&self) {
        let expired = self.valid_to.lock().is_some_and(|t| t <= now());
        if expired {
            let mut status = self.status.lock();
            if matches!(*status, KeyStatus::Enabled | KeyStatus::Disabled) {
                *status = KeyStatus::PendingImport;
            }
        }
    }

    /// True when the key has material it can use now (not expired).
    pub fn has_live_material(&self) -> bool {
        self.material.read().is_some() && !self.valid_to.lock().is_some_and(|t| t <= now())
    }
}
