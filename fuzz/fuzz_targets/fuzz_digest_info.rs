//! CKM_RSA_PKCS input: a DER DigestInfo from the application.
//!
//! Properties: a parsed DigestInfo is DER, so it is exactly one of the two
//! encodings of its hash (parameters NULL or absent) followed by the
//! digest, and the digest has the hash's length; `Mechanism::to_kms` for
//! CKM_RSA_PKCS agrees with the parser.

#![no_main]

use kms11::mechanism::{digest_info, Mechanism, Param};
use kms11::vocabulary::{KeySpec, SigningAlgorithm};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let parsed = digest_info::parse(data);
    if let Ok((hash, digest)) = &parsed {
        assert_eq!(digest.len(), hash.output_len());
        let with_null = [digest_info::prefix(*hash), digest].concat();
        // The same without the NULL: drop `05 00`, two bytes shorter.
        let mut without_null = with_null.clone();
        without_null.drain(15..17);
        without_null[1] -= 2;
        without_null[3] -= 2;
        assert!(
            data == with_null.as_slice() || data == without_null.as_slice(),
            "accepted a DigestInfo that is not its hash's DER encoding: {data:02x?}"
        );
    }
    // The mechanism refuses input longer than the modulus allows, then parses.
    let rsa_pkcs = Mechanism::new(cryptoki_sys::CKM_RSA_PKCS, Param::None, KeySpec::Rsa2048)
        .expect("CKM_RSA_PKCS is a mechanism of RSA keys");
    let to_kms = rsa_pkcs.to_kms(KeySpec::Rsa2048, data);
    match (&parsed, &to_kms) {
        (Ok((hash, digest)), Ok((alg, sent))) => {
            assert_eq!(*alg, SigningAlgorithm::RsaPkcs1(*hash));
            assert_eq!(sent.as_slice(), *digest);
        }
        (Err(_), Err(_)) => {}
        (Ok(_), Err(e)) => assert!(data.len() > 256 - 11, "{e:?}"),
        (Err(_), Ok(_)) => panic!("to_kms accepted what the parser refused"),
    }
});
