//! Commands a test runs to completion (nm, curl, a Python script).

use std::process::Command;

/// Runs `cmd` to its end; its standard output. Panics, with what it wrote
/// on standard error, if it cannot be run or does not exit with status 0.
pub fn stdout(cmd: &mut Command) -> String {
    let what = format!("{:?}", cmd.get_program());
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("running {what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}
