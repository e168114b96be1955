//! A token's `certificate_dir`: the certificates C_CreateObject stored as
//! token objects (what keytool, gnupg-pkcs11-scd's tools and
//! `pkcs11-tool --write-object` do after making a key), one file each —
//! named by the key ID of the token key whose public key the certificate
//! holds, else by the certificate's SHA-256 — loaded by later processes.
//! Like the configuration, the directory and its files must belong to this
//! user or root, and no one else may write them; the module makes the
//! directory 0700 and its files 0600.

use super::certificate::Certificate;
use crate::files;
use crate::log_at;
use data_encoding::BASE64;
use serde::{Deserialize, Serialize};
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};

/// What a stored certificate's objects say besides the certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    pub label: String,
    pub id: Vec<u8>,
    /// The token key whose public key the certificate holds, if any.
    pub key_arn: Option<String>,
    /// CKA_PRIVATE.
    pub private: bool,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    label: String,
    /// CKA_ID in hex.
    id: String,
    key_arn: Option<String>,
    private: bool,
    /// The DER certificate in base64.
    certificate: String,
}

/// The most bytes a stored certificate's file holds.
const FILE_MAX: u64 = 256 * 1024;

#[derive(Debug, Clone)]
pub struct CertStore {
    dir: PathBuf,
}

/// This user's or root's (root's alone in a process that runs with
/// privileges its caller lacks, as for the configuration), and no one
/// else's to write: a stored certificate brings its key into the token.
fn trusted(meta: &std::fs::Metadata) -> Result<(), String> {
    let uid = meta.uid();
    if !files::trusted_owner(uid) {
        return Err(format!("belongs to uid {uid}"));
    }
    if meta.mode() & 0o022 != 0 {
        return Err(format!(
            "can be written by other users (mode {:o})",
            meta.mode() & 0o777
        ));
    }
    Ok(())
}

impl CertStore {
    pub fn new(dir: PathBuf) -> CertStore {
        CertStore { dir }
    }

    /// The file of a certificate: the key ID of the key it is for, else
    /// the certificate's SHA-256.
    pub fn path_for(&self, key_id: Option<&str>, der: &[u8]) -> PathBuf {
        let name = match key_id {
            Some(id) => format!("key-{id}.json"),
            None => {
                let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, der);
                format!(
                    "cert-{}.json",
                    data_encoding::HEXLOWER.encode(digest.as_ref())
                )
            }
        };
        self.dir.join(name)
    }

    /// Every stored certificate that can be read; each one that cannot is
    /// logged and left out.
    pub fn load_all(&self, token: &str) -> Vec<(PathBuf, Certificate, Stored)> {
        let Ok(meta) = std::fs::metadata(&self.dir) else {
            return Vec::new();
        };
        if let Err(e) = trusted(&meta) {
            log_at!(
                Error,
                "token '{token}': certificate_dir {} {e}; its certificates are left out \
                 (chmod go-w, or chown it to you)",
                self.dir.display()
            );
            return Vec::new();
        }
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        let mut paths: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        paths.sort();
        paths
            .into_iter()
            .filter_map(|p| match read(&p) {
                Ok((cert, stored)) => Some((p, cert, stored)),
                Err(e) => {
                    log_at!(
                        Error,
                        "token '{token}': certificate {} left out: {e}",
                        p.display()
                    );
                    None
                }
            })
            .collect()
    }

    /// Writes a certificate's file (aside, then renamed: a reader sees the
    /// old file or the new one).
    pub fn save(&self, path: &Path, der: &[u8], stored: &Stored) -> std::io::Result<()> {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.dir)?;
        let meta = std::fs::metadata(&self.dir)?;
        trusted(&meta).map_err(|e| {
            std::io::Error::other(format!("certificate_dir {} {e}", self.dir.display()))
        })?;
        let text = serde_json::to_string_pretty(&File {
            label: stored.label.clone(),
            id: data_encoding::HEXLOWER.encode(&stored.id),
            key_arn: stored.key_arn.clone(),
            private: stored.private,
            certificate: BASE64.encode(der),
        })?;
        files::replace_file(path, text.as_bytes())
    }
}

/// A stored certificate's file, checked like the directory.
fn read(path: &Path) -> Result<(Certificate, Stored), String> {
    let meta = std::fs::symlink_metadata(path).map_err(|e| e.to_string())?;
    if !meta.is_file() {
        return Err("not a regular file".into());
    }
    trusted(&meta)?;
    let bytes = files::read_regular(path, FILE_MAX)?;
    let f: File = serde_json::from_slice(&bytes).map_err(|e| e.to_string())?;
    let der = BASE64
        .decode(f.certificate.as_bytes())
        .map_err(|e| format!("certificate: {e}"))?;
    let id = if f.id.is_empty() {
        Vec::new()
    } else {
        crate::config::parse_hex(&f.id).ok_or("id is not hex")?
    };
    let cert = Certificate::from_der(der)?;
    Ok((
        cert,
        Stored {
            label: f.label,
            id,
            key_arn: f.key_arn,
            private: f.private,
        },
    ))
}
