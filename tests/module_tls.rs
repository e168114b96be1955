//! The module's TLS path and the `ca_bundle` setting: against the emulator
//! serving HTTPS with a self-signed certificate, a token whose configuration
//! trusts only the system's CAs cannot reach KMS (CKR_DEVICE_ERROR), and one
//! with `ca_bundle` set to that certificate signs, verified by
//! pyca/cryptography.

mod common;

use common::build::python;
use common::emulator::Emulator;
use common::seed::{self, SeedKey};
use common::verify::{keygen, Batch, Kind};
use common::*;
use std::ffi::CString;
use std::process::Command;

fn spki_of(pkcs8: &str) -> Vec<u8> {
    let script = "import base64, sys\n\
        from cryptography.hazmat.primitives import serialization as s\n\
        k = s.load_der_private_key(base64.b64decode(sys.argv[1]), None)\n\
        print(k.public_key().public_bytes(s.Encoding.DER, s.PublicFormat.SubjectPublicKeyInfo).hex())";
    let hex = command::stdout(Command::new(python()).args(["-c", script, pkcs8]));
    (0..hex.trim().len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn ca_bundle_is_what_makes_the_emulators_certificate_trusted() {
    let dir = tmp_dir();
    let pkcs8 = keygen(&["ECC_NIST_P256"]).remove(0);
    let seed = dir.join("seed.json");
    seed::write(
        &seed,
        &[SeedKey::new("ECC_NIST_P256")
            .alias("alias/tls")
            .material(Some(&pkcs8))],
    );
    let cert = dir.join("emulator.pem");
    let emu = Emulator::start(
        &[
            "--seed".into(),
            seed.to_string_lossy().into(),
            "--tls-cert".into(),
            cert.to_string_lossy().into(),
        ],
        &dir.join("emulator.log"),
    );
    assert!(emu.url.starts_with("https://"), "{}", emu.url);
    set_aws_env(&emu.url);
    let config = |name: &str, extra: &str| {
        let path = dir.join(name);
        write(
            &path,
            &format!(
                "[aws]\nregion = \"us-east-1\"\nendpoint_url = \"{}\"\nmax_attempts = 1\ncall_timeout_ms = 3000\n{extra}\n\
                 [[token]]\nlabel = \"tls\"\n[[token.key]]\nkey = \"alias/tls\"\n",
                emu.url
            ),
        );
        CString::new(path.to_str().unwrap()).unwrap()
    };
    let untrusted = config("untrusted.toml", "");
    let trusted = config(
        "trusted.toml",
        &format!("ca_bundle = \"{}\"", cert.display()),
    );

    let m = Library::load(&build::module_path());
    let init = |path: &CString| {
        let rv = m.initialize(Some(path));
        assert_eq!(rv, CKR_OK, "C_Initialize: {}", rv_name(rv));
    };
    let finalize = || assert_eq!(m.finalize(), CKR_OK);

    init(&untrusted);
    let slot = ok(m.slots(false), "C_GetSlotList")[0];
    match m.open(slot, CKF_SERIAL_SESSION) {
        Err(rv) => assert_eq!(
            rv,
            CKR_DEVICE_ERROR,
            "C_OpenSession without the CA: {}",
            rv_name(rv)
        ),
        Ok(_) => panic!("the emulator's self-signed certificate was trusted without ca_bundle"),
    }
    finalize();

    init(&trusted);
    let slot = ok(m.slots(false), "C_GetSlotList")[0];
    let s = ok(
        m.open(slot, CKF_SERIAL_SESSION),
        "C_OpenSession with ca_bundle",
    );
    let key = ok(
        s.find(&Template::new().class(CKO_PRIVATE_KEY)),
        "C_FindObjects",
    )[0];
    let sig = ok(
        s.sign_once(&Mech::new(CKM_ECDSA_SHA256), key, b"over TLS"),
        "C_Sign over TLS",
    );
    drop(s);
    finalize();
    let mut b = Batch::new();
    b.good(
        "signed over TLS",
        Kind::Ecdsa,
        Some("sha256"),
        &spki_of(&pkcs8),
        b"over TLS",
        &sig,
    );
    assert_eq!(b.run(), 1);
    emu.stop();
}
