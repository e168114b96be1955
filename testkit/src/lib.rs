//! What kms11's integration tests (tests/module_*.rs) and its benchmark
//! (benches/kms11) share, so that both start, read and stop the emulator the
//! same way and run in the same environment:
//!
//! - [`artefact`]: where libkms11.so and kms11-emulator are, built on demand;
//! - [`emulator`]: the kms11-emulator process (127.0.0.1, a free port, under
//!   `timeout`, stopped by its owner or at exit);
//! - [`admin`]: the emulator's KMS JSON protocol and `/_emulator/` admin API,
//!   on serde_json;
//! - [`env`]: the environment a test or bench process (and its children)
//!   runs in;
//! - [`seed`]: the emulator's seed files;
//! - [`exit`]: what is stopped and removed when the process exits;
//! - [`command`]: a command run to its end, its output checked.

pub mod admin;
pub mod artefact;
pub mod command;
pub mod emulator;
pub mod env;
pub mod exit;
pub mod seed;

pub use admin::Stats;
pub use emulator::Emulator;
