//! Issue a Docker registry bearer token (a JWT, RS256 or ES256) signed by a
//! key behind a PKCS#11 module: with libkms11.so the key stays in AWS KMS and
//! each token is one kms:Sign call. No PIN: kms11 tokens need no login.
//!
//!     registry_token --module /usr/lib/libkms11.so --token registry \
//!         --key registry-token --alg ES256 --subject alice \
//!         --scope repository:library/app:pull,push
//!
//! The header's kid is computed here from the public key object's attributes
//! (CKA_MODULUS and CKA_PUBLIC_EXPONENT, or CKA_EC_PARAMS and CKA_EC_POINT):
//! the libtrust key ID (--kid libtrust, what registry 2.x matches) or the RFC
//! 7638 JWK thumbprint (--kid thumbprint, registry 3.x); see docs/jwt.md.
//! Prints the token on stdout; an error is one line on stderr, exit status 1.

use clap::{Parser, ValueEnum};
use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::Session;
use data_encoding::{BASE32_NOPAD, BASE64URL_NOPAD, HEXLOWER, HEXLOWER_PERMISSIVE};
use serde_json::json;
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

#[derive(Parser)]
#[command(about = "Issue a Docker registry token signed through PKCS#11")]
struct Args {
    /// The PKCS#11 module, e.g. /usr/lib/libkms11.so
    #[arg(long)]
    module: PathBuf,
    /// The token's label
    #[arg(long)]
    token: String,
    /// The private key's CKA_LABEL
    #[arg(long, required_unless_present = "id", conflicts_with = "id")]
    key: Option<String>,
    /// The private key's CKA_ID, in hex
    #[arg(long)]
    id: Option<String>,
    #[arg(long, value_enum, default_value_t = Alg::Es256)]
    alg: Alg,
    /// How the header's kid is computed
    #[arg(long, value_enum, default_value_t = Kid::Libtrust)]
    kid: Kid,
    #[arg(long, default_value = "kms11-token-issuer")]
    issuer: String,
    /// The registry's service name (its auth.token.service)
    #[arg(long, default_value = "registry.example.com")]
    audience: String,
    #[arg(long, default_value = "alice")]
    subject: String,
    /// TYPE:NAME:ACTIONS, e.g. repository:library/app:pull,push (repeatable)
    #[arg(long)]
    scope: Vec<String>,
    /// Lifetime in seconds
    #[arg(long, default_value_t = 300)]
    ttl: u64,
}

#[derive(Clone, Copy, PartialEq, ValueEnum)]
enum Alg {
    #[value(name = "ES256")]
    Es256,
    #[value(name = "RS256")]
    Rs256,
}

#[derive(Clone, Copy, ValueEnum)]
enum Kid {
    Libtrust,
    Thumbprint,
}

enum PublicKey {
    Rsa { n: Vec<u8>, e: Vec<u8> },
    P256 { point: Vec<u8> }, // uncompressed: 0x04 || x || y
}

/// DER: the OID prime256v1 (CKA_EC_PARAMS of a P-256 key); the OID
/// id-ecPublicKey; the OID rsaEncryption and a NULL.
const P256: [u8; 10] = [0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
const EC_PUBLIC_KEY: &[u8] = &[0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
const RSA_ENCRYPTION: &[u8] = &[
    0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00,
];

fn main() -> ExitCode {
    match run(&Args::parse()) {
        Ok(token) => {
            println!("{token}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("registry_token: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &Args) -> Result<String, String> {
    let p11 = Pkcs11::new(&args.module).map_err(|e| format!("{}: {e}", args.module.display()))?;
    p11.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))
        .map_err(ck("C_Initialize"))?;
    let slot = (p11.get_slots_with_token().map_err(ck("C_GetSlotList"))?)
        .into_iter()
        .find(|s| {
            p11.get_token_info(*s)
                .is_ok_and(|t| t.label() == args.token)
        })
        .ok_or_else(|| format!("no token labelled '{}'", args.token))?;
    let session = p11.open_ro_session(slot).map_err(ck("C_OpenSession"))?;

    let (by, named) = match (&args.key, &args.id) {
        (Some(label), _) => (
            Attribute::Label(label.as_bytes().into()),
            format!("--key {label}"),
        ),
        (None, Some(id)) => match HEXLOWER_PERMISSIVE.decode(id.as_bytes()) {
            Ok(bytes) => (Attribute::Id(bytes), format!("--id {id}")),
            Err(e) => return Err(format!("--id {id}: {e}")),
        },
        (None, None) => unreachable!("clap requires --key or --id"),
    };
    let private = find_one(&session, ObjectClass::PRIVATE_KEY, by, &named)?;
    // The public key object is the one with the private key's CKA_ID.
    let id = get(&session, private, AttributeType::Id)?;
    let public = find_one(
        &session,
        ObjectClass::PUBLIC_KEY,
        Attribute::Id(id),
        "with its CKA_ID",
    )?;
    let key_type = session.get_attributes(public, &[AttributeType::KeyType]);
    let key = match key_type.map_err(ck("C_GetAttributeValue"))?[..] {
        [Attribute::KeyType(KeyType::RSA)] => PublicKey::Rsa {
            n: get(&session, public, AttributeType::Modulus)?,
            e: get(&session, public, AttributeType::PublicExponent)?,
        },
        [Attribute::KeyType(KeyType::EC)] => {
            if get(&session, public, AttributeType::EcParams)? != P256 {
                return Err("the EC key is not on P-256, the only curve of ES256".into());
            }
            // CKA_EC_POINT: a DER OCTET STRING holding the 65-byte point.
            match get(&session, public, AttributeType::EcPoint)?[..] {
                [0x04, 65, ref point @ ..] if point.len() == 65 => PublicKey::P256 {
                    point: point.to_vec(),
                },
                _ => return Err("CKA_EC_POINT is not a DER OCTET STRING of a P-256 point".into()),
            }
        }
        _ => return Err("the key is neither RSA nor EC".into()),
    };
    let (alg, mechanism) = match (args.alg, &key) {
        (Alg::Rs256, PublicKey::Rsa { .. }) => ("RS256", Mechanism::Sha256RsaPkcs),
        (Alg::Es256, PublicKey::P256 { .. }) => ("ES256", Mechanism::EcdsaSha256),
        (Alg::Rs256, _) => return Err("RS256 needs an RSA key".into()),
        (Alg::Es256, _) => return Err("ES256 needs a P-256 key".into()),
    };

    let kid = match args.kid {
        Kid::Libtrust => libtrust_kid(&spki(&key)),
        Kid::Thumbprint => jwk_thumbprint(&key),
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let access: Result<Vec<_>, _> = args.scope.iter().map(|s| parse_scope(s)).collect();
    let header = json!({"typ": "JWT", "alg": alg, "kid": kid});
    let claims = json!({
        "iss": args.issuer, "sub": args.subject, "aud": args.audience,
        "exp": now + args.ttl, "nbf": now - 5, "iat": now, "jti": jti()?, "access": access?,
    });
    let b64json = |v: &serde_json::Value| BASE64URL_NOPAD.encode(v.to_string().as_bytes());
    let signing_input = format!("{}.{}", b64json(&header), b64json(&claims));
    // CKM_ECDSA_SHA256 returns r || s, 32 bytes each: exactly JWS's ES256 form.
    let signature = session.sign(&mechanism, private, signing_input.as_bytes());
    let signature = BASE64URL_NOPAD.encode(&signature.map_err(ck("C_Sign"))?);
    Ok(format!("{signing_input}.{signature}"))
}

/// The error message of a failed PKCS#11 call (it names the CKR_ value).
fn ck(call: &'static str) -> impl Fn(cryptoki::error::Error) -> String {
    move |e| format!("{call}: {e}")
}

fn find_one(
    s: &Session,
    class: ObjectClass,
    by: Attribute,
    named: &str,
) -> Result<ObjectHandle, String> {
    let found = s
        .find_objects(&[Attribute::Class(class), by])
        .map_err(ck("C_FindObjects"))?;
    match found[..] {
        [one] => Ok(one),
        [] => Err(format!("no {class} object ({named}) on the token")),
        _ => Err(format!(
            "{} {class} objects ({named}): use --id",
            found.len()
        )),
    }
}

/// A byte-string attribute of an object.
fn get(session: &Session, object: ObjectHandle, kind: AttributeType) -> Result<Vec<u8>, String> {
    let mut found = session
        .get_attributes(object, &[kind])
        .map_err(ck("C_GetAttributeValue"))?;
    match found.pop() {
        Some(
            Attribute::Id(v)
            | Attribute::Modulus(v)
            | Attribute::PublicExponent(v)
            | Attribute::EcParams(v)
            | Attribute::EcPoint(v),
        ) => Ok(v),
        _ => Err(format!("the key has no {kind}")),
    }
}

/// "repository:library/app:pull,push" -> {"type", "name", "actions"}. The
/// name may itself hold ':' (a registry host with a port).
fn parse_scope(scope: &str) -> Result<serde_json::Value, String> {
    let (kind, rest) = scope.split_once(':').unwrap_or_default();
    let (name, actions) = rest.rsplit_once(':').unwrap_or_default();
    if kind.is_empty() || name.is_empty() {
        return Err(format!(
            "scope '{scope}' is not TYPE:NAME:ACTIONS (e.g. repository:library/app:pull,push)"
        ));
    }
    let actions: Vec<&str> = actions.split(',').filter(|a| !a.is_empty()).collect();
    Ok(json!({"type": kind, "name": name, "actions": actions}))
}

/// 128 random bits, hex (any unique ID will do: a UUID, a counter...).
fn jti() -> Result<String, String> {
    let mut bytes = [0u8; 16];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(|e| format!("/dev/urandom: {e}"))?;
    Ok(HEXLOWER.encode(&bytes))
}

/// The libtrust key ID: SHA-256 of the DER SubjectPublicKeyInfo, first 30
/// bytes, base32 without padding, in 12 groups of 4 joined by ':'.
fn libtrust_kid(spki: &[u8]) -> String {
    let b32 = BASE32_NOPAD.encode(&Sha256::digest(spki)[..30]);
    let groups: Vec<&str> = (0..b32.len()).step_by(4).map(|i| &b32[i..i + 4]).collect();
    groups.join(":")
}

/// RFC 7638: SHA-256 over the required JWK members, sorted, no whitespace.
fn jwk_thumbprint(key: &PublicKey) -> String {
    let b64 = |b: &[u8]| BASE64URL_NOPAD.encode(b);
    let canonical = match key {
        PublicKey::Rsa { n, e } => {
            let (e, n) = (b64(unsigned(e)), b64(unsigned(n)));
            format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#)
        }
        PublicKey::P256 { point } => {
            let (x, y) = (b64(&point[1..33]), b64(&point[33..]));
            format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#)
        }
    };
    BASE64URL_NOPAD.encode(&Sha256::digest(canonical.as_bytes()))
}

/// The DER SubjectPublicKeyInfo (RFC 5280, RFC 3279, RFC 5480).
fn spki(key: &PublicKey) -> Vec<u8> {
    let (algorithm, public_key) = match key {
        PublicKey::Rsa { n, e } => {
            let rsa_public_key = der(0x30, &[der_integer(n), der_integer(e)].concat());
            (RSA_ENCRYPTION.to_vec(), rsa_public_key)
        }
        PublicKey::P256 { point } => ([EC_PUBLIC_KEY, &P256].concat(), point.clone()),
    };
    let bit_string = der(0x03, &[&[0u8][..], &public_key].concat());
    der(0x30, &[der(0x30, &algorithm), bit_string].concat())
}

/// A DER TLV; the lengths here are under 64 KiB.
fn der(tag: u8, body: &[u8]) -> Vec<u8> {
    let n = body.len();
    let len = match n {
        0..0x80 => vec![n as u8],
        0x80..0x100 => vec![0x81, n as u8],
        _ => vec![0x82, (n >> 8) as u8, n as u8],
    };
    [&[tag][..], &len, body].concat()
}

fn der_integer(magnitude: &[u8]) -> Vec<u8> {
    let m = unsigned(magnitude);
    let sign_bit = m.first().is_none_or(|b| b & 0x80 != 0);
    der(0x02, &[&[0u8][..usize::from(sign_bit)], m].concat()) // a leading 0 keeps it positive
}

/// A big-endian unsigned integer without leading zero bytes.
fn unsigned(b: &[u8]) -> &[u8] {
    &b[b.iter().position(|x| *x != 0).unwrap_or(b.len())..]
}
