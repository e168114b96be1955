//! RSA keys of usage ENCRYPT_DECRYPT: objects that decrypt and encrypt and
//! do not sign; CKM_RSA_PKCS_OAEP with SHA-1 and SHA-256 (KMS's
//! RSAES_OAEP_SHA_1/_256). Ciphertexts made by pyca/cryptography with the
//! public key KMS returns decrypt through the module (one KMS Decrypt
//! each); ciphertexts the module's C_Encrypt makes (locally, no KMS call)
//! decrypt with pyca and the key's material. The size convention: a NULL
//! buffer asks KMS nothing, a short buffer keeps the plaintext for the next
//! call, so KMS is asked once.

mod common;

use common::util::Rng;
use common::verify::python_oaep;
use common::*;

const RSA2048: &str = "alias/dec-2048";
const RSA4096: &str = "alias/dec-4096";
const SIGNER: &str = "alias/sign-2048";

static SETUP: Setup = Setup {
    keys: &[
        decrypt_key_with_material(RSA2048, "RSA_2048"),
        decrypt_key_with_material(RSA4096, "RSA_4096"),
        key_with_material(SIGNER, "RSA_2048"),
    ],
    config: Config::OneToken,
    aws_extra: "",
    emulator_args: &[],
};

fn fx() -> (&'static Fixture, std::sync::MutexGuard<'static, ()>) {
    // The tests count the emulator's requests: one test at a time.
    fixture_alone(&SETUP)
}

fn sha1() -> Mech {
    Mech::oaep(CKM_SHA_1, CKG_MGF1_SHA1, b"")
}

fn sha256() -> Mech {
    Mech::oaep(CKM_SHA256, CKG_MGF1_SHA256, b"")
}

#[test]
fn decrypt_keys_decrypt_and_do_not_sign() {
    let (fx, _turn) = fx();
    let s = fx.session();
    for name in [RSA2048, RSA4096] {
        let private = fx.private(&s, name);
        let public = fx.public(&s, name);
        assert!(ok(s.attr_bool(private, CKA_DECRYPT), "CKA_DECRYPT"));
        assert!(!ok(s.attr_bool(private, CKA_SIGN), "CKA_SIGN"));
        assert!(ok(s.attr_bool(public, CKA_ENCRYPT), "CKA_ENCRYPT"));
        assert!(!ok(s.attr_bool(public, CKA_VERIFY), "CKA_VERIFY"));
        assert_eq!(
            ok(
                s.attr(private, CKA_ALLOWED_MECHANISMS),
                "CKA_ALLOWED_MECHANISMS"
            ),
            CKM_RSA_PKCS_OAEP.to_ne_bytes()
        );
        assert_rv(
            s.sign_init(&Mech::new(CKM_SHA256_RSA_PKCS), private),
            CKR_KEY_FUNCTION_NOT_PERMITTED,
            "C_SignInit with a decryption key",
        );
    }
    let signer = fx.private(&s, SIGNER);
    assert_rv(
        s.decrypt_init(&sha256(), signer),
        CKR_KEY_FUNCTION_NOT_PERMITTED,
        "C_DecryptInit with a signing key",
    );
    let slot = fx.slot(fx.token);
    // RSA keys that sign and decrypt: RSA mechanisms and OAEP, no EC.
    let list = ok(fx.m.mechanisms(slot), "C_GetMechanismList");
    assert!(list.contains(&CKM_RSA_PKCS_OAEP) && list.contains(&CKM_SHA256_RSA_PKCS_PSS));
    assert!(!list.contains(&CKM_ECDSA) && !list.contains(&CKM_EDDSA));
    let info = ok(
        fx.m.mechanism_info(slot, CKM_RSA_PKCS_OAEP),
        "C_GetMechanismInfo",
    );
    assert_eq!(
        info.flags & (CKF_ENCRYPT | CKF_DECRYPT),
        CKF_ENCRYPT | CKF_DECRYPT
    );
}

#[test]
fn ciphertexts_made_elsewhere_decrypt_with_one_kms_call_each() {
    let (fx, _turn) = fx();
    let s = fx.session();
    let mut rng = Rng::new();
    for name in [RSA2048, RSA4096] {
        let k = fx.key(name);
        let key = fx.private(&s, name);
        let spki = common::util::hex(&k.spki);
        // The longest messages OAEP takes: k - 2hLen - 2.
        let modulus = k.rsa_bits() / 8;
        let cases = [
            ("sha1", sha1(), rng.bytes(0)),
            ("sha1", sha1(), rng.bytes(modulus - 42)),
            ("sha256", sha256(), rng.bytes(32)),
            ("sha256", sha256(), rng.bytes(modulus - 66)),
        ];
        let reqs: Vec<_> = cases.iter().map(|(h, _, m)| (*h, &m[..])).collect();
        let ciphertexts = python_oaep("oaep_encrypt", &spki, &reqs);
        for ((hash, mech, msg), ct) in cases.iter().zip(&ciphertexts) {
            let before = fx.count("Decrypt");
            ok(s.decrypt_init(mech, key), "C_DecryptInit");
            let pt = ok(
                s.decrypt(ct),
                &format!("{name} {hash}: C_Decrypt of {} bytes", msg.len()),
            );
            assert_eq!(&pt, msg, "{name} {hash}: the plaintext");
            assert_eq!(fx.count("Decrypt") - before, 1);
        }
        // A corrupted ciphertext, and one of the other hash.
        let mut bad = ciphertexts[2].clone();
        bad[10] ^= 1;
        ok(s.decrypt_init(&sha256(), key), "C_DecryptInit");
        assert_rv(
            s.decrypt(&bad),
            CKR_ENCRYPTED_DATA_INVALID,
            "a corrupted ciphertext",
        );
        ok(s.decrypt_init(&sha1(), key), "C_DecryptInit");
        assert_rv(
            s.decrypt(&ciphertexts[2]),
            CKR_ENCRYPTED_DATA_INVALID,
            "SHA-256 ciphertext as SHA-1",
        );
        ok(s.decrypt_init(&sha256(), key), "C_DecryptInit");
        assert_rv(
            s.decrypt(&ciphertexts[2][1..]),
            CKR_ENCRYPTED_DATA_LEN_RANGE,
            "a ciphertext one byte short",
        );
    }
}

#[test]
fn the_size_convention_asks_kms_once() {
    let (fx, _turn) = fx();
    let s = fx.session();
    let k = fx.key(RSA2048);
    let key = fx.private(&s, RSA2048);
    let msg = b"a 32-byte data key for the vault".to_vec();
    let ct = python_oaep(
        "oaep_encrypt",
        &common::util::hex(&k.spki),
        &[("sha256", &msg)],
    )
    .remove(0);
    let before = fx.count("Decrypt");
    ok(s.decrypt_init(&sha256(), key), "C_DecryptInit");
    // NULL buffer: the modulus length, no KMS call.
    let mut len: CK_ULONG = 0;
    assert_eq!(s.decrypt_raw(&ct, None, &mut len), CKR_OK);
    assert_eq!(len, 256);
    assert_eq!(fx.count("Decrypt"), before, "a size query asks KMS nothing");
    // Too small: KMS answers once, the plaintext waits for the next call.
    let mut small = [0u8; 8];
    let mut len = small.len() as CK_ULONG;
    assert_eq!(
        s.decrypt_raw(&ct, Some(&mut small), &mut len),
        CKR_BUFFER_TOO_SMALL
    );
    assert_eq!(len as usize, msg.len());
    let mut len: CK_ULONG = 0;
    assert_eq!(s.decrypt_raw(&ct, None, &mut len), CKR_OK);
    assert_eq!(len as usize, msg.len(), "the exact length, once known");
    let mut out = vec![0u8; msg.len()];
    let mut len = out.len() as CK_ULONG;
    assert_eq!(s.decrypt_raw(&ct, Some(&mut out), &mut len), CKR_OK);
    assert_eq!(out, msg);
    assert_eq!(fx.count("Decrypt") - before, 1, "KMS was asked once");
    assert_rv(
        s.decrypt(&ct),
        CKR_OPERATION_NOT_INITIALIZED,
        "the operation ended",
    );
}

#[test]
fn c_encrypt_is_local_and_pyca_decrypts_it() {
    let (fx, _turn) = fx();
    let s = fx.session();
    let mut rng = Rng::new();
    for name in [RSA2048, RSA4096] {
        let k = fx.key(name);
        let public = fx.public(&s, name);
        let pkcs8 = k.pkcs8.as_deref().expect("seeded with material");
        let before: u64 = fx.emu.stats().requests.values().sum();
        let mut cases = Vec::new();
        for (hash, mech) in [("sha1", sha1()), ("sha256", sha256())] {
            let msg = rng.bytes(48);
            ok(s.encrypt_init(&mech, public), "C_EncryptInit");
            let ct = ok(s.encrypt(&msg), "C_Encrypt");
            assert_eq!(ct.len(), k.rsa_bits() / 8);
            cases.push((hash, msg, ct));
        }
        let after: u64 = fx.emu.stats().requests.values().sum();
        assert_eq!(after, before, "C_Encrypt asks KMS nothing");
        let reqs: Vec<_> = cases.iter().map(|(h, _, c)| (*h, &c[..])).collect();
        for ((_, msg, _), pt) in cases.iter().zip(python_oaep("oaep_decrypt", pkcs8, &reqs)) {
            assert_eq!(&pt, msg, "{name}: pyca decrypts the module's ciphertext");
        }
        // And the module decrypts its own through KMS.
        ok(
            s.decrypt_init(&sha256(), fx.private(&s, name)),
            "C_DecryptInit",
        );
        assert_eq!(ok(s.decrypt(&cases[1].2), "C_Decrypt"), cases[1].1);
        // Longer than OAEP-SHA-256 takes.
        ok(s.encrypt_init(&sha256(), public), "C_EncryptInit");
        let too_long = vec![0u8; k.rsa_bits() / 8 - 65];
        assert_rv(
            s.encrypt(&too_long),
            CKR_DATA_LEN_RANGE,
            "C_Encrypt past k - 2hLen - 2",
        );
    }
}

#[test]
fn parameters_kms_cannot_honour_are_refused() {
    let (fx, _turn) = fx();
    let s = fx.session();
    let key = fx.private(&s, RSA2048);
    for (mech, what) in [
        (Mech::oaep(CKM_SHA384, CKG_MGF1_SHA384, b""), "SHA-384"),
        (
            Mech::oaep(CKM_SHA256, CKG_MGF1_SHA1, b""),
            "MGF1 of another hash",
        ),
        (Mech::oaep(CKM_SHA256, CKG_MGF1_SHA256, b"label"), "a label"),
        (Mech::new(CKM_RSA_PKCS_OAEP), "no parameter"),
    ] {
        assert_rv(
            s.decrypt_init(&mech, key),
            CKR_MECHANISM_PARAM_INVALID,
            what,
        );
    }
    assert_rv(
        s.decrypt_init(&Mech::new(CKM_RSA_PKCS), key),
        CKR_MECHANISM_INVALID,
        "CKM_RSA_PKCS decryption",
    );
    ok(s.decrypt_init(&sha256(), key), "C_DecryptInit");
    assert_rv(
        s.decrypt_init(&sha256(), key),
        CKR_OPERATION_ACTIVE,
        "a second C_DecryptInit",
    );
}
