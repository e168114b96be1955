//! include/kms11.h and examples/kms11_keys.c (issue 16): the header compiles
//! as C99 and as C++11 with -Wall -Wextra -Werror -pedantic, after a
//! PKCS#11 header and alone; the example, built with the system's C
//! compiler, loads libkms11.so with dlopen, lists each key with the ARN read
//! through CKA_KMS11_KEY_ARN, makes a key with a vendor template, signs with
//! it (the signature verified by pyca/cryptography with the public key from
//! the emulator's GetPublicKey) and destroys it (KMS: PendingDeletion).

mod common;

use common::verify::{Batch, Kind};
use common::*;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::Command;

const EXISTING: &str = "alias/c-existing";
const MANAGED: &str = "c-managed";

static SETUP: Setup = Setup {
    keys: &[key(EXISTING, "ECC_NIST_P256")],
    config: Config::Tokens(tokens),
    aws_extra: "",
    emulator_args: &[],
};

fn tokens(_: &Keys) -> String {
    format!(
        "[[token]]\nlabel = {}\n[[token.key]]\nkey = {}\n\n\
         [[token]]\nlabel = {}\nallow_key_management = true\n[[token.key]]\nkey = {}\n",
        quote(DEFAULT_TOKEN),
        quote(EXISTING),
        quote(MANAGED),
        quote(EXISTING),
    )
}

/// Where Debian's libp11-kit-dev puts its PKCS#11 header.
const P11_KIT_INCLUDE: &str = "/usr/include/p11-kit-1";

fn include() -> PathBuf {
    build::repo().join("include")
}

/// Runs a compiler; its diagnostics on failure.
fn compile(compiler: &str, args: &[&str]) {
    let out = Command::new(compiler)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{compiler}: {e} (scripts/setup installs gcc and g++)"));
    assert!(
        out.status.success(),
        "{compiler} {args:?}:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn source(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write a source file");
    path.to_string_lossy().into_owned()
}

#[test]
fn the_header_compiles_as_c_and_cpp_with_every_warning_an_error() {
    let dir = tmp_dir();
    let inc = format!("-I{}", include().display());
    let p11 = format!("-I{P11_KIT_INCLUDE}");
    let use_it = "unsigned long kms11_types[] = { CKA_KMS11_KEY_ARN, CKA_KMS11_KEY_SPEC, \
                  CKA_KMS11_KEY_USAGE, CKA_KMS11_ALIAS, CKA_KMS11_MULTI_REGION, \
                  CKA_KMS11_KEY_POLICY, CKA_KMS11_TAGS, CKA_KMS11_DESCRIPTION };\n";
    let after = source(
        &dir,
        "after.c",
        &format!("#include <p11-kit/pkcs11.h>\n#include <kms11.h>\n#include <kms11.h>\n{use_it}"),
    );
    let alone = source(&dir, "alone.c", &format!("#include <kms11.h>\n{use_it}"));
    let cpp = source(
        &dir,
        "after.cc",
        &format!("#include <p11-kit/pkcs11.h>\n#include <kms11.h>\n{use_it}"),
    );
    let strict = [
        "-Wall",
        "-Wextra",
        "-Werror",
        "-pedantic",
        "-c",
        "-o",
        "/dev/null",
    ];
    for file in [&after, &alone] {
        let mut args = vec!["-std=c99", inc.as_str(), p11.as_str(), file.as_str()];
        args.extend(strict);
        compile("cc", &args);
    }
    let mut args = vec!["-std=c++11", inc.as_str(), p11.as_str(), cpp.as_str()];
    args.extend(strict);
    compile("c++", &args);
}

#[test]
fn a_c_program_lists_makes_signs_with_and_destroys_a_key() {
    let fx = fixture(&SETUP);
    let dir = tmp_dir();
    let exe = dir.join("kms11_keys");
    let example = build::repo().join("examples/kms11_keys.c");
    compile(
        "cc",
        &[
            "-std=c99",
            "-Wall",
            "-Wextra",
            "-Werror",
            &format!("-I{}", include().display()),
            &format!("-I{P11_KIT_INCLUDE}"),
            &example.to_string_lossy(),
            "-ldl",
            "-o",
            &exe.to_string_lossy(),
        ],
    );
    let module = build::module_path();
    let out = Command::new(&exe)
        .args([module.to_str().unwrap(), MANAGED, "from-c"])
        .output()
        .expect("run the example");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let field = |name: &str| -> String {
        stdout
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name} ")))
            .unwrap_or_else(|| panic!("no '{name}' line in:\n{stdout}"))
            .to_string()
    };
    // The configured key, in both tokens, with its ARN.
    let existing = fx.key(EXISTING);
    for token in [DEFAULT_TOKEN, MANAGED] {
        let line = format!("key {token} c-existing {}", existing.arn);
        assert!(stdout.lines().any(|l| l == line), "{line} in:\n{stdout}");
    }
    let arn = field("generated");
    assert_eq!(field("destroyed"), arn);
    let meta = fx.emu.kms_ok("DescribeKey", &json!({ "KeyId": arn }))["KeyMetadata"].clone();
    assert_eq!(meta["KeyState"], "PendingDeletion");
    assert_eq!(
        meta["Description"],
        "a key made by a C program through kms11"
    );
    let tags = fx.emu.kms_ok("ListResourceTags", &json!({ "KeyId": arn }))["Tags"].to_string();
    assert!(tags.contains("examples/kms11_keys.c"), "{tags}");
    // The public key, from KMS (a key pending deletion gives none: bring it
    // back for a moment, then schedule it again).
    fx.emu.kms_ok("CancelKeyDeletion", &json!({ "KeyId": arn }));
    fx.emu.kms_ok("EnableKey", &json!({ "KeyId": arn }));
    let (spki, _) = fx.emu.public_key(&arn);
    fx.emu.kms_ok(
        "ScheduleKeyDeletion",
        &json!({ "KeyId": arn, "PendingWindowInDays": 7 }),
    );
    let message = common::util::unhex(&field("message"));
    let signature = common::util::unhex(&field("signature"));
    assert_eq!(signature.len(), 64, "r || s of P-256");
    let mut b = Batch::new();
    b.good(
        "the C program's signature",
        Kind::Ecdsa,
        Some("sha256"),
        &spki,
        &message,
        &signature,
    );
    let mut other = message.clone();
    other.push(b'!');
    b.bad(
        "another message",
        Kind::Ecdsa,
        Some("sha256"),
        &spki,
        &other,
        &signature,
    );
    assert_eq!(b.run(), 2);
}
