//! What the kernel says about the host process.

/// Whether the host runs with privileges its caller does not have: a
/// setuid or setgid program, or one given file capabilities. The kernel
/// sets AT_SECURE for exactly these (the dynamic loader and glibc's
/// `secure_getenv` use the same flag), whereas comparing uids would miss
/// capabilities.
pub fn secure_execution() -> bool {
    // SAFETY: getauxval only reads the auxiliary vector the kernel gave the
    // process; it takes no pointer and cannot fail (0 when absent).
    unsafe { libc::getauxval(libc::AT_SECURE) != 0 }
}
