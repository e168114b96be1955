//! Token objects: a private and a public key object per KMS key, their
//! attributes checked against the SubjectPublicKeyInfo KMS returns, the exact
//! C_GetAttributeValue semantics of the spec, and C_FindObjects templates.

mod common;

use common::der;
use common::*;
use std::ptr;

static SETUP: Setup = Setup {
    keys: &[
        key("alias/obj-rsa2048", "RSA_2048"),
        key("alias/obj-rsa4096", "RSA_4096"),
        key("alias/obj-p256", "ECC_NIST_P256"),
        key("alias/obj-p384", "ECC_NIST_P384"),
        key("alias/obj-p521", "ECC_NIST_P521"),
        key("alias/obj-k256", "ECC_SECG_P256K1"),
        // Configured by key ID (it has no alias): labelled with its key ID.
        key("obj-byid", "ECC_NIST_P256"),
        // Configured by key ARN: labelled with its key ID.
        key("alias/obj-bykeyarn", "ECC_NIST_P256"),
        // Configured by alias ARN: labelled with the alias name.
        key("alias/obj-byaliasarn", "ECC_NIST_P256"),
        // Configured with an explicit label and CKA_ID.
        key("alias/obj-custom", "RSA_2048"),
    ],
    config: Config::Tokens(tokens),
    aws_extra: "",
    emulator_args: &[],
};

const CUSTOM_LABEL: &str = "custom label";
const CUSTOM_ID: &[u8] = &[0xc0, 0xff, 0xee, 0x01];

fn alias_arn(k: &Key) -> String {
    let (prefix, _) = k.arn.split_once(":key/").expect("key ARN");
    format!("{prefix}:{}", k.name)
}

fn tokens(keys: &Keys) -> String {
    let mut t = format!("[[token]]\nlabel = \"{DEFAULT_TOKEN}\"\n");
    for k in &keys.0 {
        let entry = match k.name.as_str() {
            "obj-byid" => format!("key = \"{}\"", k.id),
            "alias/obj-bykeyarn" => format!("key = \"{}\"", k.arn),
            "alias/obj-byaliasarn" => format!("key = \"{}\"", alias_arn(k)),
            "alias/obj-custom" => format!(
                "key = \"{}\"\nlabel = \"{CUSTOM_LABEL}\"\nid = \"{}\"",
                k.name,
                util::hex(CUSTOM_ID)
            ),
            _ => format!("key = \"{}\"", k.name),
        };
        t.push_str(&format!("\n[[token.key]]\n{entry}\n"));
    }
    t
}

fn fx() -> &'static Fixture {
    fixture(&SETUP)
}

/// The CKA_LABEL and CKA_ID each key must have.
fn expected(k: &Key) -> (String, Vec<u8>) {
    match k.name.as_str() {
        "alias/obj-custom" => (CUSTOM_LABEL.into(), CUSTOM_ID.to_vec()),
        "alias/obj-bykeyarn" => (k.id.clone(), k.cka_id()),
        _ => (k.label(), k.cka_id()),
    }
}

fn keys() -> &'static [Key] {
    &fx().keys.0
}

/// The (private, public) handles of a key, found by its expected CKA_ID.
fn pair(s: &Session, k: &Key) -> (CK_OBJECT_HANDLE, CK_OBJECT_HANDLE) {
    let (_, id) = expected(k);
    let one = |class| {
        let f = ok(
            s.find(&Template::new().class(class).id(&id)),
            "C_FindObjects",
        );
        assert_eq!(
            f.len(),
            1,
            "{} objects of class {class} with CKA_ID {}: {f:?}",
            k.name,
            util::hex(&id)
        );
        f[0]
    };
    (one(CKO_PRIVATE_KEY), one(CKO_PUBLIC_KEY))
}

#[test]
fn a_private_and_a_public_object_per_key() {
    let fx = fx();
    let s = fx.session();
    let mut all = Vec::new();
    for k in keys() {
        let (label, id) = expected(k);
        let by_id = ok(s.find(&Template::new().id(&id)), "C_FindObjects by CKA_ID");
        assert_eq!(
            by_id.len(),
            2,
            "objects with the CKA_ID of {} ({}): {by_id:?}",
            k.name,
            util::hex(&id)
        );
        let mut classes: Vec<CK_ULONG> = by_id
            .iter()
            .map(|&o| ok(s.attr_ulong(o, CKA_CLASS), "CKA_CLASS"))
            .collect();
        classes.sort();
        assert_eq!(
            classes,
            vec![CKO_PUBLIC_KEY, CKO_PRIVATE_KEY],
            "classes of the objects of {}",
            k.name
        );
        for &o in &by_id {
            assert_eq!(
                String::from_utf8(ok(s.attr(o, CKA_LABEL), "CKA_LABEL")).unwrap(),
                label,
                "CKA_LABEL of {}",
                k.name
            );
            assert_eq!(ok(s.attr(o, CKA_ID), "CKA_ID"), id, "CKA_ID of {}", k.name);
        }
        let mut by_label = ok(
            s.find(&Template::new().label(&label)),
            "C_FindObjects by CKA_LABEL",
        );
        by_label.sort();
        let mut sorted = by_id.clone();
        sorted.sort();
        assert_eq!(
            by_label, sorted,
            "the objects labelled {label:?} are not those with the CKA_ID of {}",
            k.name
        );
        all.extend(by_id);
    }
    let n = all.len();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), n, "two objects share a handle");
    assert!(
        !all.contains(&CK_INVALID_HANDLE),
        "an object has handle CK_INVALID_HANDLE"
    );

    // Token objects' handles are valid in every session of the application.
    let other = fx.session();
    for &o in &all {
        ok(
            other.attr_ulong(o, CKA_CLASS),
            "CKA_CLASS through another session",
        );
    }
}

/// Absent (CKR_ATTRIBUTE_TYPE_INVALID) or CK_FALSE.
#[track_caller]
fn absent_or_false(s: &Session, o: CK_OBJECT_HANDLE, a: CK_ATTRIBUTE_TYPE, what: &str) {
    match s.attr_bool(o, a) {
        Ok(false) | Err(CKR_ATTRIBUTE_TYPE_INVALID) => {}
        Ok(true) => panic!("{what}: {} is CK_TRUE", attr_name(a)),
        Err(rv) => panic!("{what}: {}: {}", attr_name(a), rv_name(rv)),
    }
}

#[track_caller]
fn is_true(s: &Session, o: CK_OBJECT_HANDLE, a: CK_ATTRIBUTE_TYPE, want: bool, what: &str) {
    assert_eq!(
        ok(s.attr_bool(o, a), &format!("{what}: {}", attr_name(a))),
        want,
        "{what}: {}",
        attr_name(a)
    );
}

/// Attributes both objects of any key share.
fn common_attributes(
    s: &Session,
    k: &Key,
    private: CK_OBJECT_HANDLE,
    public: CK_OBJECT_HANDLE,
    key_type: CK_KEY_TYPE,
) {
    for (o, class, what) in [
        (private, CKO_PRIVATE_KEY, "private"),
        (public, CKO_PUBLIC_KEY, "public"),
    ] {
        let what = format!("{} {what} key", k.name);
        assert_eq!(
            ok(s.attr_ulong(o, CKA_CLASS), "CKA_CLASS"),
            class,
            "{what}: CKA_CLASS"
        );
        assert_eq!(
            ok(s.attr_ulong(o, CKA_KEY_TYPE), "CKA_KEY_TYPE"),
            key_type,
            "{what}: CKA_KEY_TYPE"
        );
        is_true(s, o, CKA_TOKEN, true, &what);
        is_true(s, o, CKA_PRIVATE, false, &what);
        assert_eq!(
            ok(s.attr(o, CKA_PUBLIC_KEY_INFO), "CKA_PUBLIC_KEY_INFO"),
            k.spki,
            "{what}: CKA_PUBLIC_KEY_INFO is not the SPKI from GetPublicKey"
        );
        absent_or_false(s, o, CKA_DERIVE, &what);
    }
    let what = format!("{} private key", k.name);
    is_true(s, private, CKA_SIGN, true, &what);
    is_true(s, private, CKA_SENSITIVE, true, &what);
    is_true(s, private, CKA_EXTRACTABLE, false, &what);
    is_true(s, private, CKA_ALWAYS_SENSITIVE, true, &what);
    is_true(s, private, CKA_NEVER_EXTRACTABLE, true, &what);
    absent_or_false(s, private, CKA_DECRYPT, &what);
    absent_or_false(s, private, CKA_UNWRAP, &what);
    absent_or_false(s, private, CKA_ALWAYS_AUTHENTICATE, &what);
    let what = format!("{} public key", k.name);
    is_true(s, public, CKA_VERIFY, true, &what);
    absent_or_false(s, public, CKA_ENCRYPT, &what);
    absent_or_false(s, public, CKA_WRAP, &what);
}

#[test]
fn rsa_attributes() {
    let fx = fx();
    let s = fx.session();
    let mut checked = 0;
    for k in keys().iter().filter(|k| k.is_rsa()) {
        let (private, public) = pair(&s, k);
        common_attributes(&s, k, private, public, CKK_RSA);
        let (n, e) = der::rsa_numbers(&der::parse_spki(&k.spki));
        assert_eq!(n.len() * 8, k.rsa_bits(), "{}: modulus from KMS", k.name);
        for (o, what) in [(private, "private"), (public, "public")] {
            assert_eq!(
                ok(s.attr(o, CKA_MODULUS), "CKA_MODULUS"),
                n,
                "{} {what}: CKA_MODULUS",
                k.name
            );
            assert_eq!(
                ok(s.attr(o, CKA_PUBLIC_EXPONENT), "CKA_PUBLIC_EXPONENT"),
                e,
                "{} {what}: CKA_PUBLIC_EXPONENT",
                k.name
            );
            assert_eq!(
                ok(s.attr_ulong(o, CKA_MODULUS_BITS), "CKA_MODULUS_BITS") as usize,
                k.rsa_bits(),
                "{} {what}: CKA_MODULUS_BITS",
                k.name
            );
        }
        checked += 1;
    }
    assert_eq!(checked, 3);
}

#[test]
fn ec_attributes() {
    let fx = fx();
    let s = fx.session();
    let mut checked = 0;
    for k in keys().iter().filter(|k| !k.is_rsa()) {
        let (private, public) = pair(&s, k);
        common_attributes(&s, k, private, public, CKK_EC);
        let spki = der::parse_spki(&k.spki);
        assert_eq!(
            spki.parameters,
            k.curve_oid(),
            "{}: curve in the SPKI from KMS",
            k.name
        );
        assert_eq!(spki.key.len(), 1 + 2 * k.ec_size());
        assert_eq!(
            spki.key[0], 0x04,
            "{}: KMS point is not uncompressed",
            k.name
        );
        let point = der::octet_string(&spki.key);
        for (o, what) in [(private, "private"), (public, "public")] {
            assert_eq!(
                ok(s.attr(o, CKA_EC_PARAMS), "CKA_EC_PARAMS"),
                k.curve_oid(),
                "{} {what}: CKA_EC_PARAMS is not the curve's DER OID",
                k.name
            );
            assert_eq!(
                ok(s.attr(o, CKA_EC_POINT), "CKA_EC_POINT"),
                point,
                "{} {what}: CKA_EC_POINT is not the DER OCTET STRING of the point",
                k.name
            );
        }
        checked += 1;
    }
    assert_eq!(checked, 7);
}

fn attribute(ty: CK_ATTRIBUTE_TYPE, buf: Option<&mut Vec<u8>>) -> CK_ATTRIBUTE {
    match buf {
        Some(b) => CK_ATTRIBUTE {
            type_: ty,
            pValue: b.as_mut_ptr() as *mut _,
            ulValueLen: b.len() as CK_ULONG,
        },
        None => CK_ATTRIBUTE {
            type_: ty,
            pValue: ptr::null_mut(),
            ulValueLen: 0,
        },
    }
}

#[test]
fn private_values_are_sensitive() {
    let fx = fx();
    let s = fx.session();
    for k in keys() {
        let (private, _) = pair(&s, k);
        let secret = if k.is_rsa() {
            CKA_PRIVATE_EXPONENT
        } else {
            CKA_VALUE
        };
        for with_buffer in [false, true] {
            let mut buf = vec![0u8; 1024];
            let mut t = [attribute(secret, with_buffer.then_some(&mut buf))];
            let rv = s.get_attribute_value(private, &mut t);
            assert_eq!(
                rv,
                CKR_ATTRIBUTE_SENSITIVE,
                "{}: {} of the private key: {}",
                k.name,
                attr_name(secret),
                rv_name(rv)
            );
            assert_eq!(
                t[0].ulValueLen,
                CK_UNAVAILABLE_INFORMATION,
                "{}: length of {}",
                k.name,
                attr_name(secret)
            );
        }
        if k.is_rsa() {
            // The CRT values are sensitive too, if the object has them at all.
            for a in [
                CKA_PRIME_1,
                CKA_PRIME_2,
                CKA_EXPONENT_1,
                CKA_EXPONENT_2,
                CKA_COEFFICIENT,
            ] {
                let mut buf = vec![0u8; 1024];
                let mut t = [attribute(a, Some(&mut buf))];
                let rv = s.get_attribute_value(private, &mut t);
                assert!(
                    rv == CKR_ATTRIBUTE_SENSITIVE || rv == CKR_ATTRIBUTE_TYPE_INVALID,
                    "{}: {}: {}",
                    k.name,
                    attr_name(a),
                    rv_name(rv)
                );
                assert_eq!(
                    t[0].ulValueLen,
                    CK_UNAVAILABLE_INFORMATION,
                    "{}: length of {}",
                    k.name,
                    attr_name(a)
                );
            }
        }
    }
}

/// C_GetAttributeValue as the spec's five rules say: every entry is
/// processed; unavailable entries get CK_UNAVAILABLE_INFORMATION; the return
/// value reports the problem.
#[test]
fn get_attribute_value_rules() {
    let fx = fx();
    let s = fx.session();
    let rsa = fx.key("alias/obj-rsa2048");
    let (rsa_priv, rsa_pub) = pair(&s, rsa);
    let (ec_priv, _) = pair(&s, fx.key("alias/obj-p256"));
    let (n, _) = der::rsa_numbers(&der::parse_spki(&rsa.spki));
    let (label, id) = expected(rsa);
    const UNKNOWN: CK_ATTRIBUTE_TYPE = 0x0fff_1234;

    // An attribute type no object has, between two good ones.
    let (mut b0, mut b1, mut b2, mut b3) =
        (vec![0u8; 64], vec![0u8; 16], vec![0u8; 64], vec![0u8; 8]);
    let mut t = [
        attribute(CKA_LABEL, Some(&mut b0)),
        attribute(UNKNOWN, Some(&mut b1)),
        attribute(CKA_ID, Some(&mut b2)),
        attribute(CKA_CLASS, Some(&mut b3)),
    ];
    let rv = s.get_attribute_value(rsa_pub, &mut t);
    assert_eq!(
        rv,
        CKR_ATTRIBUTE_TYPE_INVALID,
        "template with an unknown attribute type: {}",
        rv_name(rv)
    );
    assert_eq!(
        t[1].ulValueLen, CK_UNAVAILABLE_INFORMATION,
        "length of the unknown attribute"
    );
    assert_eq!(
        t[0].ulValueLen as usize,
        label.len(),
        "CKA_LABEL length next to an unknown attribute"
    );
    assert_eq!(
        t[2].ulValueLen as usize,
        id.len(),
        "CKA_ID length next to an unknown attribute"
    );
    assert_eq!(t[3].ulValueLen as usize, std::mem::size_of::<CK_ULONG>());
    assert_eq!(
        &b0[..label.len()],
        label.as_bytes(),
        "CKA_LABEL next to an unknown attribute"
    );
    assert_eq!(
        &b2[..id.len()],
        &id[..],
        "CKA_ID next to an unknown attribute"
    );
    assert_eq!(
        CK_ULONG::from_ne_bytes(b3[..8].try_into().unwrap()),
        CKO_PUBLIC_KEY
    );

    // An attribute the object does not have (CKA_MODULUS of an EC key).
    let (mut b0, mut b1) = (vec![0u8; 512], vec![0u8; 64]);
    let mut t = [
        attribute(CKA_MODULUS, Some(&mut b0)),
        attribute(CKA_EC_PARAMS, Some(&mut b1)),
    ];
    let rv = s.get_attribute_value(ec_priv, &mut t);
    assert_eq!(
        rv,
        CKR_ATTRIBUTE_TYPE_INVALID,
        "CKA_MODULUS of an EC key: {}",
        rv_name(rv)
    );
    assert_eq!(t[0].ulValueLen, CK_UNAVAILABLE_INFORMATION);
    assert_eq!(
        &b1[..t[1].ulValueLen as usize],
        der::OID_P256,
        "CKA_EC_PARAMS next to an invalid attribute"
    );

    // A buffer too small, between two good ones.
    let (mut b0, mut b1, mut b2) = (vec![0u8; 64], vec![0u8; 10], vec![0u8; 64]);
    let mut t = [
        attribute(CKA_LABEL, Some(&mut b0)),
        attribute(CKA_MODULUS, Some(&mut b1)),
        attribute(CKA_ID, Some(&mut b2)),
    ];
    let rv = s.get_attribute_value(rsa_pub, &mut t);
    assert_eq!(
        rv,
        CKR_BUFFER_TOO_SMALL,
        "CKA_MODULUS into 10 bytes: {}",
        rv_name(rv)
    );
    assert_eq!(
        t[1].ulValueLen, CK_UNAVAILABLE_INFORMATION,
        "length of an attribute whose buffer is too small (rule 5)"
    );
    assert_eq!(t[0].ulValueLen as usize, label.len());
    assert_eq!(
        &b0[..label.len()],
        label.as_bytes(),
        "CKA_LABEL next to a short buffer"
    );
    assert_eq!(&b2[..id.len()], &id[..], "CKA_ID next to a short buffer");

    // A CK_ULONG attribute into a buffer smaller than a CK_ULONG.
    let mut b0 = vec![0u8; 4];
    let mut t = [attribute(CKA_MODULUS_BITS, Some(&mut b0))];
    let rv = s.get_attribute_value(rsa_pub, &mut t);
    assert_eq!(
        rv,
        CKR_BUFFER_TOO_SMALL,
        "CKA_MODULUS_BITS into 4 bytes: {}",
        rv_name(rv)
    );

    // NULL buffers: lengths only, exact.
    let mut t = [
        attribute(CKA_MODULUS, None),
        attribute(CKA_PUBLIC_KEY_INFO, None),
        attribute(CKA_ID, None),
        attribute(CKA_LABEL, None),
    ];
    let rv = s.get_attribute_value(rsa_priv, &mut t);
    assert_eq!(rv, CKR_OK, "NULL buffers: {}", rv_name(rv));
    assert_eq!(t[0].ulValueLen as usize, n.len(), "length of CKA_MODULUS");
    assert_eq!(
        t[1].ulValueLen as usize,
        rsa.spki.len(),
        "length of CKA_PUBLIC_KEY_INFO"
    );
    assert_eq!(t[2].ulValueLen as usize, id.len(), "length of CKA_ID");
    assert_eq!(t[3].ulValueLen as usize, label.len(), "length of CKA_LABEL");

    // A buffer of exactly the right size, and a bigger one.
    for extra in [0, 100] {
        let mut b0 = vec![0u8; n.len() + extra];
        let mut t = [attribute(CKA_MODULUS, Some(&mut b0))];
        let rv = s.get_attribute_value(rsa_priv, &mut t);
        assert_eq!(
            rv,
            CKR_OK,
            "CKA_MODULUS into {} bytes: {}",
            n.len() + extra,
            rv_name(rv)
        );
        assert_eq!(t[0].ulValueLen as usize, n.len());
        assert_eq!(&b0[..n.len()], &n[..]);
    }

    // A sensitive attribute next to a public one.
    let (mut b0, mut b1) = (vec![0u8; 512], vec![0u8; 512]);
    let mut t = [
        attribute(CKA_PRIVATE_EXPONENT, Some(&mut b0)),
        attribute(CKA_MODULUS, Some(&mut b1)),
    ];
    let rv = s.get_attribute_value(rsa_priv, &mut t);
    assert_eq!(
        rv,
        CKR_ATTRIBUTE_SENSITIVE,
        "CKA_PRIVATE_EXPONENT and CKA_MODULUS: {}",
        rv_name(rv)
    );
    assert_eq!(t[0].ulValueLen, CK_UNAVAILABLE_INFORMATION);
    assert_eq!(
        t[1].ulValueLen as usize,
        n.len(),
        "CKA_MODULUS next to a sensitive attribute"
    );
    assert_eq!(&b1[..n.len()], &n[..]);

    // A handle that is no object.
    let mut b0 = vec![0u8; 8];
    let mut t = [attribute(CKA_CLASS, Some(&mut b0))];
    for bad in [CK_INVALID_HANDLE, 0x7fff_fff0] {
        let rv = s.get_attribute_value(bad, &mut t);
        assert_eq!(
            rv,
            CKR_OBJECT_HANDLE_INVALID,
            "C_GetAttributeValue of object {bad:#x}: {}",
            rv_name(rv)
        );
    }
}

/// The same attributes through cryptoki's high-level API, as an application would read them.
#[test]
fn attributes_through_cryptoki() {
    use cryptoki::object::{Attribute, AttributeType, ObjectClass};
    let fx = fx();
    let session = fx.cryptoki_session();
    let k = fx.key("alias/obj-p384");
    let found = session
        .find_objects(&[
            Attribute::Class(ObjectClass::PRIVATE_KEY),
            Attribute::Id(k.cka_id()),
        ])
        .expect("find_objects");
    assert_eq!(found.len(), 1);
    let attrs = session
        .get_attributes(
            found[0],
            &[
                AttributeType::Label,
                AttributeType::EcParams,
                AttributeType::Sensitive,
                AttributeType::PrivateExponent,
            ],
        )
        .expect("get_attributes");
    assert!(
        attrs.contains(&Attribute::Label(b"obj-p384".to_vec())),
        "{attrs:?}"
    );
    assert!(
        attrs.contains(&Attribute::EcParams(der::OID_P384.to_vec())),
        "{attrs:?}"
    );
    assert!(attrs.contains(&Attribute::Sensitive(true)), "{attrs:?}");
    assert_eq!(
        attrs.len(),
        3,
        "only the three readable attributes come back: {attrs:?}"
    );
}

#[test]
fn find_objects_templates() {
    let fx = fx();
    let s = fx.session();
    let n = keys().len();
    let rsa_n = keys().iter().filter(|k| k.is_rsa()).count();
    let count = |t: Template| ok(s.find(&t), "C_FindObjects").len();

    assert_eq!(
        count(Template::new()),
        2 * n,
        "empty template: every object"
    );
    assert_eq!(
        count(Template::new().class(CKO_PRIVATE_KEY)),
        n,
        "CKA_CLASS private key"
    );
    assert_eq!(
        count(Template::new().class(CKO_PUBLIC_KEY)),
        n,
        "CKA_CLASS public key"
    );
    assert_eq!(
        count(Template::new().class(CKO_CERTIFICATE)),
        0,
        "CKA_CLASS certificate (none configured)"
    );
    assert_eq!(
        count(Template::new().class(CKO_SECRET_KEY)),
        0,
        "CKA_CLASS secret key"
    );
    assert_eq!(
        count(Template::new().key_type(CKK_RSA)),
        2 * rsa_n,
        "CKA_KEY_TYPE RSA"
    );
    assert_eq!(
        count(Template::new().key_type(CKK_EC)),
        2 * (n - rsa_n),
        "CKA_KEY_TYPE EC"
    );
    assert_eq!(
        count(Template::new().class(CKO_PRIVATE_KEY).key_type(CKK_EC)),
        n - rsa_n
    );
    assert_eq!(
        count(Template::new().label("obj-p256")),
        2,
        "CKA_LABEL obj-p256"
    );
    assert_eq!(
        count(Template::new().label("obj-p25")),
        0,
        "a label prefix matches nothing"
    );
    assert_eq!(
        count(Template::new().label(CUSTOM_LABEL).class(CKO_PUBLIC_KEY)),
        1
    );
    assert_eq!(
        count(Template::new().id(CUSTOM_ID)),
        2,
        "CKA_ID from the configuration"
    );
    let id = fx.key("alias/obj-p521").cka_id();
    assert_eq!(count(Template::new().id(&id)), 2, "CKA_ID of obj-p521");
    assert_eq!(
        count(Template::new().id(&id[..15])),
        0,
        "a CKA_ID prefix matches nothing"
    );
    assert_eq!(
        count(
            Template::new()
                .id(&id)
                .class(CKO_PRIVATE_KEY)
                .key_type(CKK_EC)
                .label("obj-p521")
        ),
        1
    );
    assert_eq!(
        count(Template::new().id(&id).key_type(CKK_RSA)),
        0,
        "contradictory template"
    );
    assert_eq!(
        count(Template::new().bool(CKA_SIGN, true)),
        n,
        "CKA_SIGN true"
    );
    assert_eq!(
        count(Template::new().bool(CKA_VERIFY, true)),
        n,
        "CKA_VERIFY true"
    );
    assert_eq!(
        count(Template::new().bool(CKA_TOKEN, true)),
        2 * n,
        "CKA_TOKEN true"
    );
    assert_eq!(
        count(Template::new().bool(CKA_TOKEN, false)),
        0,
        "CKA_TOKEN false (no session objects)"
    );
    assert_eq!(
        count(Template::new().bool(CKA_PRIVATE, true)),
        0,
        "CKA_PRIVATE true"
    );
    assert_eq!(count(Template::new().label("no such key")), 0, "no match");
    assert_eq!(
        count(Template::new().bytes(CKA_EC_PARAMS, der::OID_P384)),
        2,
        "CKA_EC_PARAMS P-384"
    );
    let pki = &fx.key("alias/obj-k256").spki;
    assert_eq!(
        count(Template::new().bytes(CKA_PUBLIC_KEY_INFO, pki)),
        2,
        "CKA_PUBLIC_KEY_INFO"
    );
}

#[test]
fn find_objects_protocol() {
    let fx = fx();
    let s = fx.session();
    let n = keys().len();
    assert_rv(
        s.find_next(1),
        CKR_OPERATION_NOT_INITIALIZED,
        "C_FindObjects without C_FindObjectsInit",
    );
    assert_rv(
        s.find_final(),
        CKR_OPERATION_NOT_INITIALIZED,
        "C_FindObjectsFinal without C_FindObjectsInit",
    );
    ok(s.find_init(&Template::new()), "C_FindObjectsInit");
    assert_rv(
        s.find_init(&Template::new()),
        CKR_OPERATION_ACTIVE,
        "C_FindObjectsInit during a search",
    );
    // One at a time: every object once.
    let mut seen = Vec::new();
    for _ in 0..(2 * n + 5) {
        let got = ok(s.find_next(1), "C_FindObjects(max 1)");
        if got.is_empty() {
            break;
        }
        seen.extend(got);
    }
    assert_eq!(
        ok(s.find_next(1), "C_FindObjects after the end"),
        Vec::<CK_OBJECT_HANDLE>::new()
    );
    ok(s.find_final(), "C_FindObjectsFinal");
    let total = seen.len();
    seen.sort();
    seen.dedup();
    assert_eq!(
        (total, seen.len()),
        (2 * n, 2 * n),
        "objects returned one at a time"
    );
    // Searches are per session.
    let s2 = fx.session();
    ok(
        s.find_init(&Template::new().class(CKO_PRIVATE_KEY)),
        "C_FindObjectsInit in session 1",
    );
    ok(
        s2.find_init(&Template::new().class(CKO_PUBLIC_KEY)),
        "C_FindObjectsInit in session 2",
    );
    let a = ok(s.find_next(100), "C_FindObjects in session 1");
    let b = ok(s2.find_next(100), "C_FindObjects in session 2");
    assert_eq!((a.len(), b.len()), (n, n));
    assert!(a.iter().all(|h| !b.contains(h)));
    ok(s.find_final(), "C_FindObjectsFinal");
    ok(s2.find_final(), "C_FindObjectsFinal");
}
