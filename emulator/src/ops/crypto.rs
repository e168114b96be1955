//! Sign, Verify, GenerateMac, VerifyMac, Encrypt, Decrypt,
//! DeriveSharedSecret and GenerateRandom.

use crate::error::KmsError;
use crate::material::SignInput;
use crate::request::{b64, Request};
use crate::spec::{
    EncryptionAlgorithm, KeyFamily, KeyUsage, MacAlgorithm, MessageType, SigningAlgorithm,
};
use crate::store::{Key, Store};
use aws_lc_rs::digest;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::Arc;

/// The largest RAW message KMS signs or MACs, and the largest plaintext it encrypts.
const MAX_MESSAGE: usize = 4096;
const MAX_CIPHERTEXT: usize = 6144;

fn usable_for(
    store: &Store,
    req: &Request,
    usage: KeyUsage,
    op: &str,
) -> Result<Arc<Key>, KmsError> {
    let key = store.resolve(&req.region, req.key_id("KeyId")?, true)?;
    key.check_usable()?;
    if key.usage != usage {
        return Err(KmsError::invalid_key_usage(format!(
            "{} key usage is {} which is not valid for {op}.",
            key.arn,
            key.usage.as_str()
        )));
    }
    Ok(key)
}

fn dry_run(req: &Request) -> Result<(), KmsError> {
    if req.bool_opt("DryRun")?.unwrap_or(false) {
        return Err(KmsError::new(
            "DryRunOperationException",
            "The request would have succeeded, but the DryRun option is set.",
        ));
    }
    Ok(())
}

/// What the key signs: for RSA and ECDSA the digest, computed here from a
/// RAW message or received as a DIGEST of the length the algorithm's checks
/// already allowed; for Ed25519 and ML-DSA the message as received, or for
/// EXTERNAL_MU the μ.
fn sign_input(
    alg: SigningAlgorithm,
    message_type: MessageType,
    message: Vec<u8>,
) -> Result<SignInput, KmsError> {
    let unchecked = || KmsError::internal("signing input of an unchecked length");
    Ok(match (message_type, alg.digest()) {
        (MessageType::EXTERNAL_MU, _) => {
            SignInput::Mu(message.as_slice().try_into().map_err(|_| unchecked())?)
        }
        _ if alg.takes_message() => SignInput::Message(message),
        (MessageType::RAW, Some(hash)) => SignInput::Digest(digest::digest(hash, &message)),
        (MessageType::DIGEST, Some(hash)) => SignInput::Digest(
            digest::Digest::import_less_safe(&message, hash).map_err(|_| unchecked())?,
        ),
        (_, None) => return Err(unchecked()),
    })
}

/// The signing request common to Sign and Verify: the key, the algorithm
/// and what the key signs (`sign_input`), once the algorithm is one of the
/// key's, the MessageType one the algorithm takes and the message of the
/// length that type needs.
fn signing_input(
    store: &Store,
    req: &Request,
    op: &str,
) -> Result<(Arc<Key>, SigningAlgorithm, SignInput), KmsError> {
    let message = req.blob("Message", 1, MAX_MESSAGE)?;
    let alg = SigningAlgorithm::parse(req.str("SigningAlgorithm")?)?;
    let message_type = match req.str_opt("MessageType")? {
        Some(t) => MessageType::parse(t)?,
        None => MessageType::RAW,
    };
    let key = usable_for(store, req, KeyUsage::SIGN_VERIFY, op)?;
    if !key.spec.signing_algorithms().contains(&alg) {
        return Err(KmsError::invalid_key_usage(format!(
            "Algorithm {} is incompatible with key spec {}.",
            alg.as_str(),
            key.spec.as_str()
        )));
    }
    if !alg.message_types().contains(&message_type) {
        return Err(KmsError::validation(format!(
            "Message type {} is incompatible with algorithm {}.",
            message_type.as_str(),
            alg.as_str()
        )));
    }
    if alg
        .input_len(message_type)
        .is_some_and(|len| message.len() != len)
    {
        let what = match message_type {
            MessageType::EXTERNAL_MU => "External mu",
            _ => "Digest",
        };
        return Err(KmsError::validation(format!(
            "{what} is invalid length for algorithm {}.",
            alg.as_str()
        )));
    }
    Ok((key, alg, sign_input(alg, message_type, message)?))
}

pub fn sign(store: &Store, req: &Request) -> Result<Value, KmsError> {
    let (key, alg, input) = signing_input(store, req, "Sign")?;
    dry_run(req)?;
    let signature = key.material()?.sign(alg, &input)?;
    Ok(json!({
        "KeyId": key.arn,
        "Signature": b64(&signature),
        "SigningAlgorithm": alg.as_str(),
    }))
}

pub fn verify(store: &Store, req: &Request) -> Result<Value, KmsError> {
    let signature = req.blob("Signature", 1, MAX_CIPHERTEXT)?;
    let (key, alg, input) = signing_input(store, req, "Verify")?;
    dry_run(req)?;
    if !key.material()?.verify(alg, &input, &signature) {
        return Err(KmsError::new("KMSInvalidSignatureException", ""));
    }
    Ok(json!({
        "KeyId": key.arn,
        "SignatureValid": true,
        "SigningAlgorithm": alg.as_str(),
    }))
}

fn mac_input(
    store: &Store,
    req: &Request,
    op: &str,
) -> Result<(Arc<Key>, MacAlgorithm, Vec<u8>), KmsError> {
    let message = req.blob("Message", 1, MAX_MESSAGE)?;
    let alg = MacAlgorithm::parse(req.str("MacAlgorithm")?)?;
    let key = usable_for(store, req, KeyUsage::GENERATE_VERIFY_MAC, op)?;
    if key.spec.mac_algorithm() != Some(alg) {
        return Err(KmsError::invalid_key_usage(format!(
            "Algorithm {} is incompatible with key spec {}.",
            alg.as_str(),
            key.spec.as_str()
        )));
    }
    let mac = key
        .material()?
        .mac(&message)
        .ok_or_else(|| KmsError::internal("HMAC key without HMAC material"))?;
    Ok((key, alg, mac))
}

pub fn generate_mac(store: &Store, req: &Request) -> Result<Value, KmsError> {
    let (key, alg, mac) = mac_input(store, req, "GenerateMac")?;
    dry_run(req)?;
    Ok(json!({"KeyId": key.arn, "Mac": b64(&mac), "MacAlgorithm": alg.as_str()}))
}

pub fn verify_mac(store: &Store, req: &Request) -> Result<Value, KmsError> {
    let given = req.blob("Mac", 1, 6144)?;
    let (key, alg, mac) = mac_input(store, req, "VerifyMac")?;
    dry_run(req)?;
    #[allow(deprecated)]
    let equal = aws_lc_rs::constant_time::verify_slices_are_equal(&given, &mac).is_ok();
    if !equal {
        return Err(KmsError::new("KMSInvalidMacException", ""));
    }
    Ok(json!({"KeyId": key.arn, "MacValid": true, "MacAlgorithm": alg.as_str()}))
}

/// Our SYMMETRIC_DEFAULT ciphertext, opaque to clients as KMS's is:
/// version byte, the 36-character key ID, a 12-byte nonce, AES-256-GCM
/// output. The header and the encryption context are authenticated.
const BLOB_VERSION: u8 = 1;
const BLOB_HEADER: usize = 1 + 36 + 12;

fn context_aad(header: &[u8], context: &BTreeMap<String, String>) -> Vec<u8> {
    let mut aad = header.to_vec();
    aad.extend_from_slice(&serde_json::to_vec(context).unwrap_or_default());
    aad
}

fn encryption_algorithm(req: &Request) -> Result<EncryptionAlgorithm, KmsError> {
    match req.str_opt("EncryptionAlgorithm")? {
        Some(a) => EncryptionAlgorithm::parse(a),
        None => Ok(EncryptionAlgorithm::SYMMETRIC_DEFAULT),
    }
}

fn check_encryption_algorithm(key: &Key, alg: EncryptionAlgorithm) -> Result<(), KmsError> {
    if key.spec.encryption_algorithms().contains(&alg) {
        Ok(())
    } else {
        Err(KmsError::invalid_key_usage(format!(
            "Algorithm {} is incompatible with key spec {}.",
            alg.as_str(),
            key.spec.as_str()
        )))
    }
}

pub fn encrypt(store: &Store, req: &Request) -> Result<Value, KmsError> {
    let plaintext = req.blob("Plaintext", 1, MAX_MESSAGE)?;
    let alg = encryption_algorithm(req)?;
    let context = req.string_map("EncryptionContext")?;
    let key = usable_for(store, req, KeyUsage::ENCRYPT_DECRYPT, "Encrypt")?;
    check_encryption_algorithm(&key, alg)?;
    dry_run(req)?;
    let blob = if key.spec.family() == KeyFamily::Symmetric {
        let mut nonce = [0u8; 12];
        aws_lc_rs::rand::fill(&mut nonce).map_err(|_| KmsError::internal("random"))?;
        let mut blob = vec![BLOB_VERSION];
        blob.extend_from_slice(key.id.as_bytes());
        blob.extend_from_slice(&nonce);
        let sealed = key
            .material()?
            .seal(nonce, &context_aad(&blob, &context), &plaintext)
            .ok_or_else(|| KmsError::internal("encryption failed"))?;
        blob.extend_from_slice(&sealed);
        blob
    } else {
        if !context.is_empty() {
            return Err(KmsError::validation(
                "EncryptionContext is not supported with asymmetric KMS keys",
            ));
        }
        key.material()?.rsa_encrypt(alg, &plaintext)?
    };
    Ok(json!({"KeyId": key.arn, "CiphertextBlob": b64(&blob), "EncryptionAlgorithm": alg.as_str()}))
}

fn invalid_ciphertext() -> KmsError {
    KmsError::new("InvalidCiphertextException", "")
}

pub fn decrypt(store: &Store, req: &Request) -> Result<Value, KmsError> {
    let blob = req.blob("CiphertextBlob", 1, MAX_CIPHERTEXT)?;
    let alg = encryption_algorithm(req)?;
    let context = req.string_map("EncryptionContext")?;
    let named = match req.str_opt("KeyId")? {
        Some(k) => Some(store.resolve(&req.region, k, true)?),
        None => None,
    };
    let (key, plaintext) = if alg == EncryptionAlgorithm::SYMMETRIC_DEFAULT {
        if blob.len() < BLOB_HEADER + 16 || blob[0] != BLOB_VERSION {
            return Err(invalid_ciphertext());
        }
        let id = std::str::from_utf8(&blob[1..37]).map_err(|_| invalid_ciphertext())?;
        let key = store
            .resolve(&req.region, id, false)
            .map_err(|_| invalid_ciphertext())?;
        if let Some(named) = &named {
            if named.id != key.id {
                return Err(KmsError::new(
                    "IncorrectKeyException",
                    "The key ID in the request does not identify a KMS key that can perform this operation.",
                ));
            }
        }
        key.check_usable()?;
        let mut nonce = [0u8; 12];
        nonce.copy_from_slice(&blob[37..BLOB_HEADER]);
        let plain = key
            .material()?
            .open(
                nonce,
                &context_aad(&blob[..BLOB_HEADER], &context),
                &blob[BLOB_HEADER..],
            )
            .ok_or_else(invalid_ciphertext)?;
        (key, plain)
    } else {
        let key = named.ok_or_else(|| {
            KmsError::validation("KeyId is required to decrypt with an asymmetric KMS key")
        })?;
        key.check_usable()?;
        if key.usage != KeyUsage::ENCRYPT_DECRYPT {
            return Err(KmsError::invalid_key_usage(format!(
                "{} key usage is {} which is not valid for Decrypt.",
                key.arn,
                key.usage.as_str()
            )));
        }
        check_encryption_algorithm(&key, alg)?;
        let plain = key
            .material()?
            .rsa_decrypt(alg, &blob)
            .ok_or_else(invalid_ciphertext)?;
        (key, plain)
    };
    dry_run(req)?;
    Ok(json!({"KeyId": key.arn, "Plaintext": b64(&plaintext), "EncryptionAlgorithm": alg.as_str()}))
}

pub fn derive_shared_secret(store: &Store, req: &Request) -> Result<Value, KmsError> {
    let algorithm = req.str("KeyAgreementAlgorithm")?;
    if algorithm != "ECDH" {
        return Err(KmsError::validation(format!(
            "1 validation error detected: Value '{algorithm}' at 'keyAgreementAlgorithm' failed to satisfy constraint: Member must satisfy enum value set: [ECDH]"
        )));
    }
    let public = req.blob("PublicKey", 1, 8192)?;
    let key = usable_for(store, req, KeyUsage::KEY_AGREEMENT, "DeriveSharedSecret")?;
    dry_run(req)?;
    let secret = key.material()?.derive(&public)?;
    Ok(json!({
        "KeyId": key.arn,
        "SharedSecret": b64(&secret),
        "KeyAgreementAlgorithm": "ECDH",
        "KeyOrigin": "AWS_KMS",
    }))
}

pub fn generate_random(_store: &Store, req: &Request) -> Result<Value, KmsError> {
    let n = req
        .int_opt("NumberOfBytes", 1, 1024)?
        .ok_or_else(|| KmsError::missing("NumberOfBytes"))? as usize;
    let mut out = vec![0u8; n];
    aws_lc_rs::rand::fill(&mut out).map_err(|_| KmsError::internal("random"))?;
    Ok(json!({ "Plaintext": b64(&out) }))
}
