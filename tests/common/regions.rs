//! Two emulator processes as two KMS regions (us-east-1, the keys' own,
//! and us-west-2, the fallback), seeded from one file, and the module
//! configured to fail over between them: what the failover and hedging
//! tests share.

use super::*;
use kms11_testkit::emulator::Emulator;
use kms11_testkit::seed::{self, SeedKey};
use std::path::PathBuf;

pub struct TwoRegions {
    pub east: Emulator,
    pub west: Emulator,
    pub m: Library,
    _ctx: cryptoki::context::Pkcs11,
    pub seed: PathBuf,
    pub dir: PathBuf,
}

/// One P-256 key seeded in both regions (a multi-Region key `id` with its
/// replica, under `alias`), from `material` (PKCS #8) and, for the replica,
/// `replica_material` when it should differ.
pub fn mrk(id: &str, alias: &str, material: &str, replica_material: Option<&str>) -> [SeedKey; 2] {
    [
        SeedKey::new("ECC_NIST_P256")
            .id(id)
            .material(Some(material))
            .alias(alias)
            .multi_region("us-east-1", "us-east-1"),
        SeedKey::new("ECC_NIST_P256")
            .id(id)
            .material(replica_material)
            .alias(alias)
            .multi_region("us-west-2", "us-east-1"),
    ]
}

impl TwoRegions {
    /// Starts both regions from `keys`, writes the configuration
    /// (`settings`: more of [aws] and the sections after it, then `tokens`)
    /// and loads the module (once per process).
    pub fn start(keys: &[SeedKey], settings: &str, tokens: &str) -> TwoRegions {
        let dir = tmp_dir();
        let seed_path = dir.join("two-regions.json");
        seed::write(&seed_path, keys);
        let args = vec!["--seed".to_string(), seed_path.to_string_lossy().into()];
        let east = Emulator::start(&args, &dir.join("east.log"));
        let west = Emulator::start(&args, &dir.join("west.log"));
        set_aws_env(&east.url);
        let config = format!(
            "[aws]\nregion = \"us-east-1\"\nfallback_regions = [\"us-west-2\"]\n{settings}\n\
             [aws.endpoints]\n\"us-east-1\" = {}\n\"us-west-2\" = {}\n\n{tokens}",
            quote(&east.url),
            quote(&west.url),
        );
        let path = dir.join("kms11.toml");
        write(&path, &config);
        std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600))
            .expect("chmod");
        std::env::remove_var("KMS11_KEYS");
        std::env::set_var("KMS11_CONFIG", &path);
        let (ctx, m) = load_module();
        TwoRegions {
            east,
            west,
            m,
            _ctx: ctx,
            seed: seed_path,
            dir,
        }
    }

    /// A session on the token labelled DEFAULT_TOKEN.
    pub fn session(&self) -> Session<'_> {
        ok(
            self.m.open_rw(find_slot(&self.m, DEFAULT_TOKEN)),
            "C_OpenSession",
        )
    }

    /// One CKM_ECDSA_SHA256 signature of `data` with the private key
    /// labelled `label`, in a session of its own.
    pub fn sign(&self, label: &str, data: &[u8]) -> Result<Vec<u8>, Rv> {
        let s = self.session();
        let found = ok(
            s.find(&Template::new().class(CKO_PRIVATE_KEY).label(label)),
            "C_FindObjects",
        );
        assert_eq!(found.len(), 1, "the private key labelled {label}");
        s.sign_init(&Mech::new(CKM_ECDSA_SHA256), found[0])?;
        s.sign(data)
    }
}
