//! A certificate configured for a key becomes a CKO_CERTIFICATE object with
//! the key's CKA_ID and label (gnupg-pkcs11-scd pairs them that way), and
//! its attributes are those of the certificate as pyca/cryptography reads
//! it; a certificate for another key is left out.

mod common;

use common::build::python;
use common::*;
use std::process::Command;

static SETUP: Setup = Setup {
    keys: &[
        key_with_material("alias/cert-key", "ECC_NIST_P256"),
        key_with_material("alias/other-key", "ECC_NIST_P256"),
    ],
    config: Config::Tokens(tokens),
    aws_extra: "",
    emulator_args: &[],
};

/// A self-signed certificate for `pkcs8`, made by pyca/cryptography: the PEM
/// path, and the hex of its DER, its subject's DER and its SHA-1 check value.
fn make_certificate(name: &str, pkcs8: &str) -> (std::path::PathBuf, Vec<String>) {
    let dir = tmp_dir();
    let pem = dir.join(format!("{name}.pem"));
    let script = r#"
import base64, datetime, hashlib, sys
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID
key = serialization.load_der_private_key(base64.b64decode(sys.argv[1]), None)
name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, sys.argv[3])])
cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(0x1234567890)
        .not_valid_before(datetime.datetime(2024, 1, 2, tzinfo=datetime.timezone.utc))
        .not_valid_after(datetime.datetime(2034, 5, 6, tzinfo=datetime.timezone.utc))
        .sign(key, hashes.SHA256()))
open(sys.argv[2], "wb").write(cert.public_bytes(serialization.Encoding.PEM))
der = cert.public_bytes(serialization.Encoding.DER)
print(der.hex())
print(cert.subject.public_bytes().hex())
print(hashlib.sha1(der).hexdigest()[:6])
"#;
    let lines = command::stdout(Command::new(python()).args([
        "-c",
        script,
        pkcs8,
        pem.to_str().unwrap(),
        name,
    ]))
    .lines()
    .map(str::to_string)
    .collect();
    (pem, lines)
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

static EXPECTED: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();

fn tokens(keys: &Keys) -> String {
    let (good, fields) = make_certificate(
        "cert-key",
        keys.get("alias/cert-key").pkcs8.as_ref().unwrap(),
    );
    EXPECTED.set(fields).unwrap();
    // A certificate of the first key, configured for the second by mistake:
    // its public key does not match, so it must be left out.
    let (wrong, _) = make_certificate("wrong", keys.get("alias/cert-key").pkcs8.as_ref().unwrap());
    format!(
        "[[token]]\nlabel = \"{DEFAULT_TOKEN}\"\n\
         [[token.key]]\nkey = \"alias/cert-key\"\ncertificate = \"{}\"\n\
         [[token.key]]\nkey = \"alias/other-key\"\ncertificate = \"{}\"\n",
        good.display(),
        wrong.display()
    )
}

#[test]
fn the_certificate_object_carries_the_certificate() {
    let fx = fixture(&SETUP);
    let k = fx.key("alias/cert-key");
    let [der, subject, check] = EXPECTED.get().unwrap().as_slice() else {
        panic!("expected three lines from python")
    };
    let s = fx.session();
    let certs = ok(
        s.find(&Template::new().class(CKO_CERTIFICATE)),
        "C_FindObjects(certificates)",
    );
    assert_eq!(
        certs.len(),
        1,
        "one certificate: the mismatched one is left out"
    );
    let c = certs[0];
    assert_eq!(ok(s.attr(c, CKA_ID), "CKA_ID"), k.cka_id());
    assert_eq!(ok(s.attr(c, CKA_LABEL), "CKA_LABEL"), b"cert-key");
    assert_eq!(
        ok(
            s.attr_ulong(c, CKA_CERTIFICATE_TYPE),
            "CKA_CERTIFICATE_TYPE"
        ),
        CKC_X_509
    );
    assert_eq!(hex(&ok(s.attr(c, CKA_VALUE), "CKA_VALUE")), *der);
    assert_eq!(hex(&ok(s.attr(c, CKA_SUBJECT), "CKA_SUBJECT")), *subject);
    assert_eq!(hex(&ok(s.attr(c, CKA_ISSUER), "CKA_ISSUER")), *subject);
    assert_eq!(
        hex(&ok(s.attr(c, CKA_CHECK_VALUE), "CKA_CHECK_VALUE")),
        *check
    );
    // DER INTEGER 0x1234567890.
    assert_eq!(
        hex(&ok(s.attr(c, CKA_SERIAL_NUMBER), "CKA_SERIAL_NUMBER")),
        "02051234567890"
    );
    assert_eq!(ok(s.attr(c, CKA_START_DATE), "CKA_START_DATE"), b"20240102");
    assert_eq!(ok(s.attr(c, CKA_END_DATE), "CKA_END_DATE"), b"20340506");
    let private = fx.private(&s, "alias/cert-key");
    assert_eq!(
        hex(&ok(s.attr(private, CKA_SUBJECT), "private key CKA_SUBJECT")),
        *subject,
        "the private key's CKA_SUBJECT is its certificate's subject"
    );
    let found = ok(
        s.find(&Template::new().class(CKO_PRIVATE_KEY).id(&k.cka_id())),
        "C_FindObjects(private key by the certificate's CKA_ID)",
    );
    assert_eq!(
        found,
        vec![private],
        "the certificate pairs with its private key by CKA_ID"
    );
}
