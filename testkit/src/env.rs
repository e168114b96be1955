//! The environment a test or bench process runs in, and its children with
//! it: nothing of the developer's shell that the AWS SDK or the module would
//! read. Static test credentials, no profile files, no instance metadata, no
//! kms11 configuration but the one the test names.

use std::path::Path;

/// The module's own variables, cleared with every `AWS_*` one.
/// (KMS11_MODULE, KMS11_EMULATOR and KMS11_TEST_* are the kit's and stay.)
pub const MODULE_VARS: [&str; 3] = ["KMS11_CONFIG", "KMS11_KEYS", "KMS11_LOG"];

/// Clears every `AWS_*` variable and [`MODULE_VARS`], then sets static test
/// credentials, turns the EC2 metadata service off and points the shared
/// config and credentials files at names under `dir` that do not exist.
pub fn isolate(dir: &Path) {
    let inherited: Vec<_> = std::env::vars_os()
        .map(|(k, _)| k)
        .filter(|k| {
            let k = k.to_string_lossy();
            k.starts_with("AWS_") || MODULE_VARS.contains(&k.as_ref())
        })
        .collect();
    for k in inherited {
        std::env::remove_var(k);
    }
    std::env::set_var("AWS_ACCESS_KEY_ID", "test");
    std::env::set_var("AWS_SECRET_ACCESS_KEY", "test");
    std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
    std::env::set_var("AWS_CONFIG_FILE", dir.join("no-aws-config"));
    std::env::set_var(
        "AWS_SHARED_CREDENTIALS_FILE",
        dir.join("no-aws-credentials"),
    );
}

/// [`isolate`], plus a region and `url` as the KMS endpoint, for a module
/// whose configuration names neither.
pub fn aws(dir: &Path, url: &str) {
    isolate(dir);
    std::env::set_var("AWS_REGION", "us-east-1");
    std::env::set_var("AWS_DEFAULT_REGION", "us-east-1");
    std::env::set_var("AWS_ENDPOINT_URL_KMS", url);
}
