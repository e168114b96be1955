//! C_CreateObject of certificates (issue 16): a session certificate lives
//! as long as its session; a token certificate is stored in the token's
//! `certificate_dir` (0700 directory, 0600 file), seen by another process
//! (pkcs11-tool), and removed with its file by C_DestroyObject. A
//! certificate holding a token key's public key takes that key's CKA_ID and
//! label unless the template gives them; a CA certificate is stored without
//! a key. What a certificate object cannot be is refused, and nothing is
//! written then.

mod common;

use common::build::python;
use common::util::unhex;
use common::*;
use std::os::unix::fs::PermissionsExt;
use std::process::Command;

const KEY: &str = "alias/cs-key";
const STORING: &str = "storing";

static SETUP: Setup = Setup {
    keys: &[key(KEY, "ECC_NIST_P256")],
    config: Config::Tokens(tokens),
    aws_extra: "",
    emulator_args: &[],
};

fn cert_dir() -> std::path::PathBuf {
    tmp_dir().join("certs")
}

/// DEFAULT_TOKEN keeps no certificates; STORING keeps them in cert_dir().
fn tokens(_: &Keys) -> String {
    format!(
        "[[token]]\nlabel = {}\n[[token.key]]\nkey = {}\n\n\
         [[token]]\nlabel = {}\ncertificate_dir = {}\n[[token.key]]\nkey = {}\n",
        quote(DEFAULT_TOKEN),
        quote(KEY),
        quote(STORING),
        quote(&cert_dir().to_string_lossy()),
        quote(KEY)
    )
}

/// A CA certificate (self-signed, pyca's key) and a certificate it issued
/// for the public key `spki`: their DER.
fn make_chain(spki: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let script = r#"
import datetime, sys
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
ca_key = ec.generate_private_key(ec.SECP256R1())
ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kms11 test CA")])
when = (datetime.datetime(2024, 1, 2, tzinfo=datetime.timezone.utc),
        datetime.datetime(2034, 5, 6, tzinfo=datetime.timezone.utc))
def build(subject, public_key, serial):
    return (x509.CertificateBuilder().subject_name(subject).issuer_name(ca_name)
            .public_key(public_key).serial_number(serial)
            .not_valid_before(when[0]).not_valid_after(when[1]).sign(ca_key, hashes.SHA256()))
ca = build(ca_name, ca_key.public_key(), 1)
kms = serialization.load_der_public_key(bytes.fromhex(sys.argv[1]))
leaf = build(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kms key")]), kms, 2)
print(ca.public_bytes(serialization.Encoding.DER).hex())
print(leaf.public_bytes(serialization.Encoding.DER).hex())
"#;
    let out = command::stdout(Command::new(python()).args([
        "-c",
        script,
        &spki.iter().map(|b| format!("{b:02x}")).collect::<String>(),
    ]));
    let mut lines = out.lines().map(unhex);
    (lines.next().unwrap(), lines.next().unwrap())
}

fn cert_template(der: &[u8], token: bool) -> Template {
    Template::new()
        .class(CKO_CERTIFICATE)
        .ulong(CKA_CERTIFICATE_TYPE, CKC_X_509)
        .bool(CKA_TOKEN, token)
        .bytes(CKA_VALUE, der)
}

fn create(s: &Session, t: &Template) -> Result<CK_OBJECT_HANDLE, Rv> {
    s.create_object(t)
}

fn stored_files() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(cert_dir())
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// What another process sees: pkcs11-tool's certificate list of STORING.
fn listed_by_another_process() -> String {
    let out = Command::new("pkcs11-tool")
        .args(["--module", build::module_path().to_str().unwrap()])
        .args(["--token-label", STORING, "--list-objects", "--type", "cert"])
        .output()
        .expect("run pkcs11-tool");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn certificates_are_kept_for_a_session_or_stored_for_the_token() {
    let (fx, _turn) = fixture_alone(&SETUP);
    let k = fx.key(KEY);
    let (ca, leaf) = make_chain(&k.spki);
    let slot = fx.slot(STORING);
    // A session certificate: the key's CKA_ID and label, gone with its session.
    {
        let s = ok(fx.m.open(slot, CKF_SERIAL_SESSION), "R/O session");
        let h = ok(
            create(&s, &cert_template(&leaf, false)),
            "session certificate",
        );
        assert_eq!(ok(s.attr(h, CKA_ID), "CKA_ID"), k.cka_id());
        assert_eq!(ok(s.attr(h, CKA_LABEL), "CKA_LABEL"), b"cs-key");
        assert_eq!(ok(s.attr(h, CKA_VALUE), "CKA_VALUE"), leaf);
        assert!(!ok(s.attr_bool(h, CKA_TOKEN), "CKA_TOKEN"));
        assert!(stored_files().is_empty(), "nothing written");
        let other = ok(fx.m.open(slot, CKF_SERIAL_SESSION), "another session");
        let seen = ok(other.find(&Template::new().class(CKO_CERTIFICATE)), "find");
        assert_eq!(seen, [h], "visible to the token's other sessions");
    }
    let s = ok(fx.m.open(slot, CKF_SERIAL_SESSION), "a later session");
    assert!(ok(s.find(&Template::new().class(CKO_CERTIFICATE)), "find").is_empty());
    // Token certificates: the key's, with the template's ID and label, and
    // the CA's, without a key.
    let rw = ok(fx.m.open_rw(slot), "R/W session");
    let leaf_h = ok(
        create(
            &rw,
            &cert_template(&leaf, true).label("release").id(&[0x42]),
        ),
        "token certificate",
    );
    let ca_h = ok(
        create(&rw, &cert_template(&ca, true).label("ca")),
        "CA certificate",
    );
    assert_eq!(ok(rw.attr(leaf_h, CKA_ID), "CKA_ID"), [0x42]);
    assert!(ok(rw.attr_bool(leaf_h, CKA_TOKEN), "CKA_TOKEN"));
    assert_eq!(
        ok(rw.attr(leaf_h, kms11::vendor::CKA_KMS11_KEY_ARN), "ARN"),
        k.arn.as_bytes()
    );
    let files = stored_files();
    assert_eq!(files.len(), 2, "{files:?}");
    assert!(files.contains(&format!("key-{}.json", k.id)), "{files:?}");
    let mode = |p: std::path::PathBuf| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(cert_dir()), 0o700);
    for f in &files {
        assert_eq!(mode(cert_dir().join(f)), 0o600, "{f}");
    }
    let listed = listed_by_another_process();
    assert!(listed.contains("label:      release"), "{listed}");
    assert!(listed.contains("ID:         42"), "{listed}");
    assert!(listed.contains("label:      ca"), "{listed}");
    // Destroyed with its file.
    ok(rw.destroy(ca_h), "C_DestroyObject of the CA certificate");
    assert_eq!(stored_files(), [format!("key-{}.json", k.id)]);
    assert!(!listed_by_another_process().contains("label:      ca"));
    ok(
        rw.destroy(leaf_h),
        "C_DestroyObject of the key's certificate",
    );
    assert!(stored_files().is_empty());
}

#[test]
fn what_a_certificate_object_cannot_be_is_refused_and_nothing_is_written() {
    let (fx, _turn) = fixture_alone(&SETUP);
    let (_, leaf) = make_chain(&fx.key(KEY).spki);
    let rw = ok(fx.m.open_rw(fx.slot(STORING)), "R/W session");
    let before = stored_files();
    let cases: Vec<(Template, CK_RV)> = vec![
        (
            Template::new()
                .class(CKO_PRIVATE_KEY)
                .bytes(CKA_VALUE, &[1; 32]),
            CKR_TEMPLATE_INCONSISTENT,
        ),
        (
            Template::new()
                .class(CKO_CERTIFICATE)
                .ulong(CKA_CERTIFICATE_TYPE, CKC_X_509),
            CKR_TEMPLATE_INCOMPLETE,
        ),
        (
            cert_template(b"not a certificate", true),
            CKR_ATTRIBUTE_VALUE_INVALID,
        ),
        (
            cert_template(&leaf, true).ulong(CKA_CERTIFICATE_TYPE, CKC_WTLS),
            CKR_ATTRIBUTE_VALUE_INVALID,
        ),
        (
            cert_template(&leaf, true).bool(CKA_TRUSTED, true),
            CKR_ATTRIBUTE_VALUE_INVALID,
        ),
        (
            cert_template(&leaf, true).bytes(CKA_MODULUS, &[1]),
            CKR_TEMPLATE_INCONSISTENT,
        ),
        (
            Template::new().ulong(CKA_CERTIFICATE_TYPE, CKC_X_509),
            CKR_TEMPLATE_INCOMPLETE,
        ),
    ];
    for (t, want) in cases {
        assert_rv(
            create(&rw, &t),
            want,
            &format!(
                "{:?}",
                t.0.iter().map(|(a, _)| attr_name(*a)).collect::<Vec<_>>()
            ),
        );
    }
    let ro = ok(
        fx.m.open(fx.slot(STORING), CKF_SERIAL_SESSION),
        "R/O session",
    );
    assert_rv(
        create(&ro, &cert_template(&leaf, true)),
        CKR_SESSION_READ_ONLY,
        "token object, R/O",
    );
    let plain = ok(fx.m.open_rw(fx.slot(DEFAULT_TOKEN)), "R/W session");
    assert_rv(
        create(&plain, &cert_template(&leaf, true)),
        CKR_TEMPLATE_INCONSISTENT,
        "token object on a token without certificate_dir",
    );
    assert_eq!(stored_files(), before, "nothing written");
}
