//! Who may have written a file: the checks the module makes before it
//! trusts a file it reads (the public-key cache; the configuration).

use std::os::unix::fs::MetadataExt;

/// The effective uid of this process.
pub fn current_uid() -> u32 {
    rustix::process::geteuid().as_raw()
}

/// Ok when the file or directory belongs to this process's user and no
/// other user can write it.
pub fn private_to_us(meta: &std::fs::Metadata) -> Result<(), String> {
    let me = current_uid();
    if meta.uid() != me {
        return Err(format!("belongs to uid {}, not to uid {me}", meta.uid()));
    }
    if meta.mode() & 0o022 != 0 {
        return Err(format!(
            "can be written by other users (mode {:o})",
            meta.mode() & 0o777
        ));
    }
    Ok(())
}
