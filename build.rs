//! Link flags of libkms11.so.

fn main() {
    // Once loaded, the module stays loaded: a host may dlclose it without
    // C_Finalize while the module's runtime threads still run (the spec
    // leaves that undefined); unloading their code under them would crash
    // the host. ld's -z nodelete marks the library so that dlclose keeps it.
    println!("cargo:rustc-cdylib-link-arg=-Wl,-z,nodelete");
    println!("cargo:rerun-if-changed=build.rs");
}
