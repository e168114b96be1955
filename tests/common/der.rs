//! A minimal DER reader and writer, written for the tests: it takes apart the
//! SubjectPublicKeyInfo that KMS returns (to know what CKA_MODULUS,
//! CKA_EC_POINT, ... must be) and builds DigestInfo blocks for CKM_RSA_PKCS.
//! It is deliberately independent of the module's own DER code.

/// One TLV: tag, content, and the whole encoding.
pub struct Tlv<'a> {
    pub tag: u8,
    pub content: &'a [u8],
    pub raw: &'a [u8],
}

/// Reads one TLV from the front of `input`, returning it and the rest.
pub fn read(input: &[u8]) -> (Tlv<'_>, &[u8]) {
    assert!(input.len() >= 2, "truncated DER");
    let tag = input[0];
    let (len, hdr) = match input[1] {
        n if n < 0x80 => (n as usize, 2),
        0x81 => (input[2] as usize, 3),
        0x82 => ((input[2] as usize) << 8 | input[3] as usize, 4),
        0x83 => (
            (input[2] as usize) << 16 | (input[3] as usize) << 8 | input[4] as usize,
            5,
        ),
        n => panic!("unsupported DER length byte {n:#x}"),
    };
    assert!(input.len() >= hdr + len, "truncated DER value");
    let tlv = Tlv {
        tag,
        content: &input[hdr..hdr + len],
        raw: &input[..hdr + len],
    };
    (tlv, &input[hdr + len..])
}

/// The DER length octets of `n`.
pub fn length(n: usize) -> Vec<u8> {
    match n {
        0..=0x7f => vec![n as u8],
        0x80..=0xff => vec![0x81, n as u8],
        0x100..=0xffff => vec![0x82, (n >> 8) as u8, n as u8],
        _ => vec![0x83, (n >> 16) as u8, (n >> 8) as u8, n as u8],
    }
}

pub fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut v = vec![tag];
    v.extend(length(content.len()));
    v.extend_from_slice(content);
    v
}

pub fn octet_string(content: &[u8]) -> Vec<u8> {
    tlv(0x04, content)
}

// Full OBJECT IDENTIFIER encodings (tag and length included): what
// CKA_EC_PARAMS holds for a named curve.
pub const OID_RSA_ENCRYPTION: &[u8] = &[
    0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01,
];
pub const OID_EC_PUBLIC_KEY: &[u8] = &[0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
pub const OID_P256: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
pub const OID_P384: &[u8] = &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22];
pub const OID_P521: &[u8] = &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x23];
pub const OID_SECP256K1: &[u8] = &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x0a];

pub const OID_SHA1: &[u8] = &[0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a];
pub const OID_SHA256: &[u8] = &[
    0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01,
];
pub const OID_SHA384: &[u8] = &[
    0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02,
];
pub const OID_SHA512: &[u8] = &[
    0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03,
];

/// A SubjectPublicKeyInfo taken apart.
pub struct Spki {
    /// The algorithm OID, full encoding.
    pub algorithm: Vec<u8>,
    /// The algorithm parameters, full encoding (NULL for RSA, the curve OID for EC).
    pub parameters: Vec<u8>,
    /// The subjectPublicKey BIT STRING's bits (the unused-bits octet removed).
    pub key: Vec<u8>,
}

pub fn parse_spki(der: &[u8]) -> Spki {
    let (outer, rest) = read(der);
    assert_eq!(outer.tag, 0x30, "SPKI is not a SEQUENCE");
    assert!(rest.is_empty(), "trailing bytes after SPKI");
    let (alg, after) = read(outer.content);
    assert_eq!(alg.tag, 0x30);
    let (oid, params) = read(alg.content);
    let (bits, _) = read(after);
    assert_eq!(bits.tag, 0x03, "subjectPublicKey is not a BIT STRING");
    assert_eq!(bits.content[0], 0, "subjectPublicKey has unused bits");
    Spki {
        algorithm: oid.raw.to_vec(),
        parameters: params.to_vec(),
        key: bits.content[1..].to_vec(),
    }
}

/// (modulus, public exponent) of an RSA SPKI as unsigned big-endian integers
/// without leading zero octets: the form of CKA_MODULUS / CKA_PUBLIC_EXPONENT.
pub fn rsa_numbers(spki: &Spki) -> (Vec<u8>, Vec<u8>) {
    assert_eq!(spki.algorithm, OID_RSA_ENCRYPTION);
    let (seq, _) = read(&spki.key);
    let (n, rest) = read(seq.content);
    let (e, _) = read(rest);
    assert_eq!((n.tag, e.tag), (0x02, 0x02));
    (strip_zeros(n.content), strip_zeros(e.content))
}

pub fn strip_zeros(b: &[u8]) -> Vec<u8> {
    let first = b
        .iter()
        .position(|&x| x != 0)
        .unwrap_or(b.len().saturating_sub(1));
    b[first..].to_vec()
}

/// A DER DigestInfo for `hash_oid` (full OID encoding) over `digest`, with the
/// algorithm parameters NULL (the PKCS #1 form) or absent.
pub fn digest_info(hash_oid: &[u8], digest: &[u8], null_params: bool) -> Vec<u8> {
    let mut alg = hash_oid.to_vec();
    if null_params {
        alg.extend_from_slice(&[0x05, 0x00]);
    }
    let mut body = tlv(0x30, &alg);
    body.extend(octet_string(digest));
    tlv(0x30, &body)
}
