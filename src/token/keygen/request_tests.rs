use super::*;
use crate::attribute::{boolean, ulong};
use der::Encode;

type Attrs = Vec<(CK_ATTRIBUTE_TYPE, Vec<u8>)>;

fn oid(s: &str) -> Vec<u8> {
    der::asn1::ObjectIdentifier::new_unwrap(s).to_der().unwrap()
}

fn name(s: &str) -> Vec<u8> {
    der::asn1::PrintableStringRef::new(s)
        .unwrap()
        .to_der()
        .unwrap()
}

fn pair(
    ckm: CK_MECHANISM_TYPE,
    public: &[(CK_ATTRIBUTE_TYPE, Vec<u8>)],
    private: &[(CK_ATTRIBUTE_TYPE, Vec<u8>)],
) -> Result<KeyRequest> {
    key_request(ckm, Templates::Pair { public, private })
}

fn rv(r: Result<KeyRequest>) -> CK_RV {
    r.unwrap_err().rv
}

/// What `pkcs11-tool --keypairgen --usage-sign --label L --id 01` sends
/// besides the key's parameters.
fn tool_templates(params: Attrs) -> (Attrs, Attrs) {
    let mut public = vec![
        (CKA_TOKEN, boolean(true)),
        (CKA_VERIFY, boolean(true)),
        (CKA_LABEL, b"release".to_vec()),
        (CKA_ID, vec![1]),
    ];
    public.extend(params);
    let private = vec![
        (CKA_TOKEN, boolean(true)),
        (CKA_PRIVATE, boolean(true)),
        (CKA_SENSITIVE, boolean(true)),
        (CKA_SIGN, boolean(true)),
        (CKA_LABEL, b"release".to_vec()),
        (CKA_ID, vec![1]),
    ];
    (public, private)
}

#[test]
fn each_key_pair_mechanism_makes_its_key_specs() {
    let cases: Vec<(CK_MECHANISM_TYPE, Attrs, KeySpec)> = vec![
        (
            CKM_RSA_PKCS_KEY_PAIR_GEN,
            vec![(CKA_MODULUS_BITS, ulong(2048))],
            KeySpec::Rsa2048,
        ),
        (
            CKM_RSA_PKCS_KEY_PAIR_GEN,
            vec![
                (CKA_MODULUS_BITS, ulong(4096)),
                (CKA_PUBLIC_EXPONENT, vec![1, 0, 1]),
            ],
            KeySpec::Rsa4096,
        ),
        (
            CKM_RSA_PKCS_KEY_PAIR_GEN,
            vec![
                (CKA_MODULUS_BITS, ulong(3072)),
                (CKA_PUBLIC_EXPONENT, vec![0, 1, 0, 1]),
            ],
            KeySpec::Rsa3072,
        ),
        (
            CKM_EC_KEY_PAIR_GEN,
            vec![(CKA_EC_PARAMS, oid("1.2.840.10045.3.1.7"))],
            KeySpec::EccNistP256,
        ),
        (
            CKM_EC_KEY_PAIR_GEN,
            vec![(CKA_EC_PARAMS, name("prime256v1"))],
            KeySpec::EccNistP256,
        ),
        (
            CKM_EC_KEY_PAIR_GEN,
            vec![(CKA_EC_PARAMS, name("secp384r1"))],
            KeySpec::EccNistP384,
        ),
        (
            CKM_EC_KEY_PAIR_GEN,
            vec![(CKA_EC_PARAMS, oid("1.3.132.0.35"))],
            KeySpec::EccNistP521,
        ),
        (
            CKM_EC_KEY_PAIR_GEN,
            vec![(CKA_EC_PARAMS, oid("1.3.132.0.10"))],
            KeySpec::EccSecgP256k1,
        ),
        (
            CKM_EC_EDWARDS_KEY_PAIR_GEN,
            vec![(CKA_EC_PARAMS, oid("1.3.101.112"))],
            KeySpec::EccNistEdwards25519,
        ),
        (
            CKM_EC_EDWARDS_KEY_PAIR_GEN,
            vec![(CKA_EC_PARAMS, name("edwards25519"))],
            KeySpec::EccNistEdwards25519,
        ),
        (
            CKM_ML_DSA_KEY_PAIR_GEN,
            vec![(CKA_PARAMETER_SET, ulong(CKP_ML_DSA_65 as CK_ULONG))],
            KeySpec::MlDsa65,
        ),
    ];
    for (ckm, params, spec) in cases {
        let (public, private) = tool_templates(params);
        let r = pair(ckm, &public, &private).unwrap_or_else(|e| panic!("{spec:?}: {e}"));
        assert_eq!((r.spec, r.usage), (spec, KeyUsage::SignVerify));
        assert_eq!(r.label.as_deref(), Some("release"));
        assert_eq!(r.id.as_deref(), Some(&[1u8][..]));
        assert!(!r.multi_region && r.policy.is_none() && r.tags.is_empty());
    }
}

#[test]
fn the_usage_comes_from_the_template_and_there_is_one() {
    let p256 = vec![(CKA_EC_PARAMS, name("prime256v1"))];
    let derive = pair(CKM_EC_KEY_PAIR_GEN, &p256, &[(CKA_DERIVE, boolean(true))]).unwrap();
    assert_eq!(derive.usage, KeyUsage::KeyAgreement);
    let rsa = vec![
        (CKA_MODULUS_BITS, ulong(2048)),
        (CKA_ENCRYPT, boolean(true)),
    ];
    let decrypt = pair(
        CKM_RSA_PKCS_KEY_PAIR_GEN,
        &rsa,
        &[(CKA_DECRYPT, boolean(true))],
    )
    .unwrap();
    assert_eq!(decrypt.usage, KeyUsage::EncryptDecrypt);
    // Nothing asked: signing.
    let plain = pair(CKM_EC_KEY_PAIR_GEN, &p256, &[]).unwrap();
    assert_eq!(plain.usage, KeyUsage::SignVerify);
    // pkcs11-tool's default RSA template asks for signing and decryption.
    let both = pair(
        CKM_RSA_PKCS_KEY_PAIR_GEN,
        &[
            (CKA_MODULUS_BITS, ulong(2048)),
            (CKA_VERIFY, boolean(true)),
            (CKA_ENCRYPT, boolean(true)),
        ],
        &[(CKA_SIGN, boolean(true)), (CKA_DECRYPT, boolean(true))],
    );
    let e = both.unwrap_err();
    assert_eq!(e.rv, CKR_TEMPLATE_INCONSISTENT);
    assert!(e.reason.unwrap_or_default().contains("--usage-sign"));
    // GnuTLS asks an RSA public key for encryption and verification, and
    // its private key (p11tool --mark-sign) for signing: the private key's
    // template decides.
    let gnutls = pair(
        CKM_RSA_PKCS_KEY_PAIR_GEN,
        &[
            (CKA_MODULUS_BITS, ulong(2048)),
            (CKA_VERIFY, boolean(true)),
            (CKA_ENCRYPT, boolean(true)),
        ],
        &[(CKA_SIGN, boolean(true))],
    );
    assert_eq!(gnutls.unwrap().usage, KeyUsage::SignVerify);
    // With nothing in the private key's, the public key's must be one.
    let public_only = pair(
        CKM_RSA_PKCS_KEY_PAIR_GEN,
        &[
            (CKA_MODULUS_BITS, ulong(2048)),
            (CKA_VERIFY, boolean(true)),
            (CKA_ENCRYPT, boolean(true)),
        ],
        &[],
    );
    assert_eq!(rv(public_only), CKR_TEMPLATE_INCONSISTENT);
    // A usage the key spec does not have.
    let ed_derive = pair(
        CKM_EC_EDWARDS_KEY_PAIR_GEN,
        &[],
        &[(CKA_DERIVE, boolean(true))],
    );
    assert_eq!(rv(ed_derive), CKR_TEMPLATE_INCONSISTENT);
    let ec_decrypt = pair(CKM_EC_KEY_PAIR_GEN, &p256, &[(CKA_DECRYPT, boolean(true))]);
    assert_eq!(rv(ec_decrypt), CKR_TEMPLATE_INCONSISTENT);
    // Asked false is not asked.
    let f = pair(
        CKM_EC_KEY_PAIR_GEN,
        &p256,
        &[(CKA_DERIVE, boolean(false)), (CKA_SIGN, boolean(true))],
    );
    assert_eq!(f.unwrap().usage, KeyUsage::SignVerify);
}

#[test]
fn hmac_keys_by_length_or_by_hash() {
    for (len, spec) in [
        (28, KeySpec::Hmac224),
        (32, KeySpec::Hmac256),
        (48, KeySpec::Hmac384),
        (64, KeySpec::Hmac512),
    ] {
        let t = [
            (CKA_VALUE_LEN, ulong(len)),
            (CKA_SIGN, boolean(true)),
            (CKA_VERIFY, boolean(true)),
        ];
        let r = key_request(CKM_GENERIC_SECRET_KEY_GEN, Templates::Secret(&t)).unwrap();
        assert_eq!((r.spec, r.usage), (spec, KeyUsage::GenerateVerifyMac));
    }
    let r = key_request(CKM_SHA384_KEY_GEN, Templates::Secret(&[])).unwrap();
    assert_eq!(r.spec, KeySpec::Hmac384);
    let secret =
        |ckm, t: &[(CK_ATTRIBUTE_TYPE, Vec<u8>)]| rv(key_request(ckm, Templates::Secret(t)));
    assert_eq!(
        secret(CKM_GENERIC_SECRET_KEY_GEN, &[]),
        CKR_TEMPLATE_INCOMPLETE
    );
    assert_eq!(
        secret(CKM_GENERIC_SECRET_KEY_GEN, &[(CKA_VALUE_LEN, ulong(16))]),
        CKR_ATTRIBUTE_VALUE_INVALID
    );
    assert_eq!(
        secret(CKM_SHA256_KEY_GEN, &[(CKA_VALUE_LEN, ulong(64))]),
        CKR_TEMPLATE_INCONSISTENT
    );
    assert_eq!(
        secret(
            CKM_GENERIC_SECRET_KEY_GEN,
            &[(CKA_VALUE_LEN, ulong(32)), (CKA_DECRYPT, boolean(true))]
        ),
        CKR_TEMPLATE_INCONSISTENT
    );
    // The wrong function for the mechanism.
    assert_eq!(secret(CKM_EC_KEY_PAIR_GEN, &[]), CKR_MECHANISM_INVALID);
    assert_eq!(
        rv(pair(CKM_GENERIC_SECRET_KEY_GEN, &[], &[])),
        CKR_MECHANISM_INVALID
    );
    assert_eq!(
        rv(pair(CKM_DSA_KEY_PAIR_GEN, &[], &[])),
        CKR_MECHANISM_INVALID
    );
}

#[test]
fn what_kms11_cannot_honour_is_refused() {
    let p256 = (CKA_EC_PARAMS, name("prime256v1"));
    let ec = |private: &[(CK_ATTRIBUTE_TYPE, Vec<u8>)]| {
        rv(pair(
            CKM_EC_KEY_PAIR_GEN,
            std::slice::from_ref(&p256),
            private,
        ))
    };
    assert_eq!(
        ec(&[(CKA_TOKEN, boolean(false))]),
        CKR_ATTRIBUTE_VALUE_INVALID
    );
    assert_eq!(
        ec(&[(CKA_SENSITIVE, boolean(false))]),
        CKR_ATTRIBUTE_VALUE_INVALID
    );
    assert_eq!(
        ec(&[(CKA_EXTRACTABLE, boolean(true))]),
        CKR_ATTRIBUTE_VALUE_INVALID
    );
    assert_eq!(
        ec(&[(CKA_UNWRAP, boolean(true))]),
        CKR_ATTRIBUTE_VALUE_INVALID
    );
    assert_eq!(
        ec(&[(CKA_START_DATE, b"20260101".to_vec())]),
        CKR_ATTRIBUTE_VALUE_INVALID
    );
    assert_eq!(
        ec(&[(CKA_CLASS, ulong(CKO_PUBLIC_KEY))]),
        CKR_TEMPLATE_INCONSISTENT
    );
    assert_eq!(
        ec(&[(CKA_KEY_TYPE, ulong(CKK_RSA))]),
        CKR_TEMPLATE_INCONSISTENT
    );
    assert_eq!(ec(&[(CKA_VALUE, vec![1; 32])]), CKR_TEMPLATE_INCONSISTENT);
    assert_eq!(ec(&[(CKA_LABEL, vec![0xff])]), CKR_ATTRIBUTE_VALUE_INVALID);
    assert_eq!(ec(&[(CKA_SIGN, vec![1, 1])]), CKR_ATTRIBUTE_VALUE_INVALID);
    assert_eq!(ec(&[(0x8000_1234, vec![1])]), CKR_ATTRIBUTE_TYPE_INVALID);
    assert_eq!(
        ec(&[(CKA_KMS11_KEY_ARN, b"arn".to_vec())]),
        CKR_ATTRIBUTE_READ_ONLY
    );
    assert_eq!(
        ec(&[(CKA_ALLOWED_MECHANISMS, ulong(CKM_RSA_PKCS))]),
        CKR_ATTRIBUTE_VALUE_INVALID
    );
    ec_ok(&[(CKA_ALLOWED_MECHANISMS, ulong(CKM_ECDSA))]);
    ec_ok(&[
        (CKA_TOKEN, boolean(true)),
        (CKA_PRIVATE, boolean(false)),
        (CKA_MODIFIABLE, boolean(true)),
        (CKA_SUBJECT, vec![0x30, 0]),
    ]);
    // The two templates must agree.
    let r = pair(
        CKM_EC_KEY_PAIR_GEN,
        &[p256.clone(), (CKA_LABEL, b"a".to_vec())],
        &[(CKA_LABEL, b"b".to_vec())],
    );
    assert_eq!(rv(r), CKR_TEMPLATE_INCONSISTENT);
    // Parameters.
    let rsa = |t: &[(CK_ATTRIBUTE_TYPE, Vec<u8>)]| rv(pair(CKM_RSA_PKCS_KEY_PAIR_GEN, t, &[]));
    assert_eq!(rsa(&[]), CKR_TEMPLATE_INCOMPLETE);
    assert_eq!(
        rsa(&[(CKA_MODULUS_BITS, ulong(1024))]),
        CKR_ATTRIBUTE_VALUE_INVALID
    );
    assert_eq!(
        rsa(&[
            (CKA_MODULUS_BITS, ulong(2048)),
            (CKA_PUBLIC_EXPONENT, vec![3])
        ]),
        CKR_ATTRIBUTE_VALUE_INVALID
    );
    let curve = |p: Vec<u8>| rv(pair(CKM_EC_KEY_PAIR_GEN, &[(CKA_EC_PARAMS, p)], &[]));
    assert_eq!(
        rv(pair(CKM_EC_KEY_PAIR_GEN, &[], &[])),
        CKR_TEMPLATE_INCOMPLETE
    );
    assert_eq!(curve(oid("1.3.36.3.3.2.8.1.1.7")), CKR_CURVE_NOT_SUPPORTED);
    assert_eq!(curve(name("brainpoolP256r1")), CKR_CURVE_NOT_SUPPORTED);
    assert_eq!(curve(vec![0x06, 0x05, 1]), CKR_ATTRIBUTE_VALUE_INVALID);
    let ed448 = pair(
        CKM_EC_EDWARDS_KEY_PAIR_GEN,
        &[(CKA_EC_PARAMS, oid("1.3.101.113"))],
        &[],
    );
    assert_eq!(rv(ed448), CKR_CURVE_NOT_SUPPORTED);
    let mldsa = |t: &[(CK_ATTRIBUTE_TYPE, Vec<u8>)]| rv(pair(CKM_ML_DSA_KEY_PAIR_GEN, t, &[]));
    assert_eq!(mldsa(&[]), CKR_TEMPLATE_INCOMPLETE);
    assert_eq!(
        mldsa(&[(CKA_PARAMETER_SET, ulong(9))]),
        CKR_ATTRIBUTE_VALUE_INVALID
    );
}

fn ec_ok(private: &[(CK_ATTRIBUTE_TYPE, Vec<u8>)]) {
    let p256 = (CKA_EC_PARAMS, name("prime256v1"));
    pair(CKM_EC_KEY_PAIR_GEN, &[p256], private).unwrap();
}

#[test]
fn vendor_attributes_ask_kms_for_more() {
    let p256 = (CKA_EC_PARAMS, name("prime256v1"));
    let private = [
        (CKA_KMS11_MULTI_REGION, boolean(true)),
        (
            CKA_KMS11_KEY_POLICY,
            br#"{"Version":"2012-10-17","Statement":[]}"#.to_vec(),
        ),
        (CKA_KMS11_TAGS, br#"{"team":"release","env":"ci"}"#.to_vec()),
        (CKA_KMS11_DESCRIPTION, b"release signing".to_vec()),
    ];
    let r = pair(CKM_EC_KEY_PAIR_GEN, std::slice::from_ref(&p256), &private).unwrap();
    assert!(r.multi_region);
    assert!(r.policy.unwrap().contains("2012-10-17"));
    assert_eq!(
        r.tags,
        [
            ("env".into(), "ci".into()),
            ("team".into(), "release".into())
        ]
    );
    assert_eq!(r.description.as_deref(), Some("release signing"));
    let bad = |t: CK_ATTRIBUTE_TYPE, v: &[u8]| {
        rv(pair(
            CKM_EC_KEY_PAIR_GEN,
            std::slice::from_ref(&p256),
            &[(t, v.to_vec())],
        ))
    };
    assert_eq!(
        bad(CKA_KMS11_KEY_POLICY, b"[1]"),
        CKR_ATTRIBUTE_VALUE_INVALID
    );
    assert_eq!(bad(CKA_KMS11_KEY_POLICY, b"{"), CKR_ATTRIBUTE_VALUE_INVALID);
    assert_eq!(
        bad(CKA_KMS11_TAGS, br#"{"team":1}"#),
        CKR_ATTRIBUTE_VALUE_INVALID
    );
    assert_eq!(
        bad(CKA_KMS11_TAGS, br#"{"aws:x":"y"}"#),
        CKR_ATTRIBUTE_VALUE_INVALID
    );
    assert_eq!(
        bad(CKA_KMS11_TAGS, br#"{"created-by":"me"}"#),
        CKR_ATTRIBUTE_VALUE_INVALID
    );
    assert_eq!(
        bad(CKA_KMS11_MULTI_REGION, &[1, 0]),
        CKR_ATTRIBUTE_VALUE_INVALID
    );
}
