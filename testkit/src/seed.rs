//! The emulator's seed file (`kms11-emulator --seed FILE`): the keys it
//! starts with, `{"Keys": [...]}`.

use serde::Serialize;
use std::path::Path;

/// One key of a seed file; fields left `None` are chosen by the emulator.
#[derive(Serialize, Clone, Debug)]
#[serde(rename_all = "PascalCase")]
pub struct SeedKey {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
    pub key_spec: String,
    pub key_usage: String,
    pub aliases: Vec<String>,
    /// Base64 PKCS #8 private key material.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub material: Option<String>,
    /// Seconds since the epoch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub creation_date: Option<u64>,
    /// The key's region (the emulator's --region when absent).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub multi_region: bool,
    /// A multi-Region replica's primary region.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub primary_region: Option<String>,
}

impl SeedKey {
    /// A SIGN_VERIFY key of `spec` with no alias.
    pub fn new(spec: &str) -> SeedKey {
        SeedKey {
            key_id: None,
            key_spec: spec.into(),
            key_usage: "SIGN_VERIFY".into(),
            aliases: Vec::new(),
            material: None,
            creation_date: None,
            region: None,
            multi_region: false,
            primary_region: None,
        }
    }

    /// A multi-Region key (its ID must start `mrk-`) in `region`; a replica
    /// when `primary` names another region.
    pub fn multi_region(mut self, region: &str, primary: &str) -> SeedKey {
        self.region = Some(region.into());
        self.multi_region = true;
        self.primary_region = (region != primary).then(|| primary.into());
        self
    }

    pub fn id(mut self, id: &str) -> SeedKey {
        self.key_id = Some(id.into());
        self
    }

    pub fn usage(mut self, usage: &str) -> SeedKey {
        self.key_usage = usage.into();
        self
    }

    pub fn alias(mut self, alias: &str) -> SeedKey {
        self.aliases.push(alias.into());
        self
    }

    pub fn material(mut self, pkcs8: Option<&str>) -> SeedKey {
        self.material = pkcs8.map(str::to_string);
        self
    }

    pub fn created(mut self, epoch_s: u64) -> SeedKey {
        self.creation_date = Some(epoch_s);
        self
    }
}

/// Writes the seed file of `keys` to `path`.
pub fn write(path: &Path, keys: &[SeedKey]) {
    let text =
        serde_json::to_string_pretty(&serde_json::json!({ "Keys": keys })).expect("seed JSON");
    std::fs::write(path, text).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
}
